//! The memory's public value types: an entry to store ([`NewMemory`]), a stored entry as
//! reads return it ([`MemoryEntry`]), what a store did, per-namespace counts, and the rows a
//! vector ranking may score. No SQL here; `memory.rs` reads and writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An entry to store. Build it with [`NewMemory::text`], [`NewMemory::json`] or
/// [`NewMemory::json_value`], then add tags and an expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMemory {
    pub namespace: String,
    pub key: String,
    /// Kept exactly as given, JSON or not.
    pub value: String,
    /// The value is JSON (storing checks that it parses).
    pub is_json: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the entry expires, Unix milliseconds; `None` keeps it until deleted.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
}

impl NewMemory {
    /// A plain-text entry.
    pub fn text(
        namespace: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> NewMemory {
        NewMemory {
            namespace: namespace.into(),
            key: key.into(),
            value: value.into(),
            is_json: false,
            tags: Vec::new(),
            expires_at_ms: None,
        }
    }

    /// An entry whose value is JSON text, kept as written (storing checks that it parses).
    pub fn json(
        namespace: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> NewMemory {
        NewMemory {
            is_json: true,
            ..NewMemory::text(namespace, key, value)
        }
    }

    /// An entry whose value is `value` written as compact JSON.
    pub fn json_value(
        namespace: impl Into<String>,
        key: impl Into<String>,
        value: &serde_json::Value,
    ) -> NewMemory {
        NewMemory::json(namespace, key, value.to_string())
    }

    pub fn with_tags<I, S>(mut self, tags: I) -> NewMemory
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Expires `ttl_ms` milliseconds after `now_ms`.
    pub fn with_ttl(mut self, now_ms: i64, ttl_ms: u64) -> NewMemory {
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        self.expires_at_ms = Some(now_ms.saturating_add(ttl));
        self
    }
}

/// A stored entry as reads return it (the embedding vector itself only comes out of
/// [`Store::candidates_for_vector`](crate::Store::candidates_for_vector)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub namespace: String,
    pub key: String,
    /// Exactly as stored.
    pub value: String,
    pub is_json: bool,
    pub tags: Vec<String>,
    /// When the key was first stored, Unix milliseconds; an upsert keeps it.
    pub created_at_ms: i64,
    /// When the value, tags or expiry were last written, Unix milliseconds.
    pub updated_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    /// Reads by [`Store::memory_get`](crate::Store::memory_get) plus appearances in search
    /// results; a `get` returns the count including itself.
    pub access_count: u64,
    /// The model the stored embedding was made by, if the entry has one.
    pub embedding_model: Option<String>,
    pub embedding_dim: Option<u32>,
}

/// What [`Store::memory_store`](crate::Store::memory_store) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StoreOutcome {
    /// The key was new (or its old entry had expired): event `memory.stored`.
    Created,
    /// An upsert replaced value, tags and expiry, keeping `created_at_ms`: event
    /// `memory.updated`. A changed value drops the embedding, which described the old text.
    Updated {
        value_changed: bool,
        embedding_cleared: bool,
    },
}

/// What [`Store::memory_store_many`](crate::Store::memory_store_many) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreManySummary {
    pub created: usize,
    pub updated: usize,
}

/// One namespace in [`Store::memory_stats`](crate::Store::memory_stats).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceStats {
    pub namespace: String,
    /// Entries not expired.
    pub entries: u64,
    /// Entries expired but not yet purged (invisible to reads, still on disk).
    pub expired: u64,
    /// Entries not expired that have an embedding, by the model that made it.
    pub embedded: BTreeMap<String, u64>,
    /// Bytes of key, value, tags and embedding of every row, expired ones included.
    pub bytes: u64,
}

/// A row a vector ranking may score: its embedding was made by the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorCandidate {
    pub namespace: String,
    pub key: String,
    pub model: String,
    pub vector: Vec<f32>,
    pub updated_at_ms: i64,
}

/// An entry a re-embedding has to (re-)embed: see [`crate::Store::memory_to_embed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToEmbed {
    pub namespace: String,
    pub key: String,
    /// The text to embed, as stored.
    pub value: String,
    /// The model whose embedding it has now; `None`: not embedded.
    pub embedded_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_counts_from_now_and_saturates() {
        let entry = NewMemory::text("n", "k", "v").with_ttl(1_000, 500);
        assert_eq!(entry.expires_at_ms, Some(1_500));
        let entry = NewMemory::text("n", "k", "v").with_ttl(i64::MAX - 1, u64::MAX);
        assert_eq!(entry.expires_at_ms, Some(i64::MAX));
    }
}

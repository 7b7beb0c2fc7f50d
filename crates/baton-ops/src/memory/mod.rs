//! The shared memory's actions: store, get, search (hybrid when `[memory] embeddings` is
//! set), list, delete, re-embed and per-namespace stats. Each validates its request once, so
//! the CLI and MCP refuse the same things with the same hints.
//!
//! Parts: this file (the actions and their request and response types), `embed.rs`
//! ([`Embedder`], async embeddings), `hybrid.rs` (hybrid ranking and re-embedding).

mod embed;
mod hybrid;

use std::time::Duration;

use baton_store::{
    MemoryEntry, MemoryQuery, NamespaceStats, NewMemory, SearchHit, SearchReply, StoreOutcome,
};
use serde::Serialize;

pub use embed::{EmbedError, Embedder};
pub use hybrid::{HYBRID_METHOD, HYBRID_NORMALIZATION, ReembedResponse, VectorReport};

use crate::{OpsError, Project};

/// The namespace of store, get and delete when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A value to remember.
#[derive(Debug, Clone, PartialEq)]
pub enum MemoryValue {
    /// Plain text.
    Text(String),
    /// JSON text, kept exactly as written (it must parse).
    Json(String),
}

impl MemoryValue {
    /// Text that is a JSON object or array is kept as JSON; anything else is text.
    pub fn detect(text: String) -> MemoryValue {
        let is_json = serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|value| value.is_object() || value.is_array());
        if is_json {
            MemoryValue::Json(text)
        } else {
            MemoryValue::Text(text)
        }
    }

    /// A JSON value: a string is text, anything else but null is JSON (written compactly).
    pub fn from_json(value: serde_json::Value) -> Result<MemoryValue, OpsError> {
        match value {
            serde_json::Value::String(text) => Ok(MemoryValue::Text(text)),
            serde_json::Value::Null => Err(OpsError::invalid(
                "the value must not be null",
                "pass a JSON object, array, number, boolean or string",
            )),
            other => Ok(MemoryValue::Json(other.to_string())),
        }
    }
}

/// Store a value under a key.
#[derive(Debug, Clone)]
pub struct StoreRequest {
    pub namespace: String,
    pub key: String,
    pub value: MemoryValue,
    pub tags: Vec<String>,
    /// Forget the entry this long after storing it.
    pub ttl: Option<Duration>,
    /// Replace an entry already stored under the key (else that is an error).
    pub upsert: bool,
}

/// Whether a store created the entry or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreAction {
    Created,
    Updated,
}

/// The embedding recorded with a stored entry, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingOutcome {
    pub model: String,
    /// The vector's length, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// Why it was not recorded (the entry is kept and stays searchable by text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a store did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreResponse {
    pub namespace: String,
    pub key: String,
    pub outcome: StoreAction,
    /// False when an upsert wrote the value already there.
    pub value_changed: bool,
    pub is_json: bool,
    pub expires_at_ms: Option<i64>,
    /// Present when `[memory] embeddings` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingOutcome>,
}

/// A search's answer: the text search's reply (what was searched, how it was ranked, each
/// hit with its scores) and, with hybrid ranking, what the vector side did.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    #[serde(flatten)]
    pub reply: SearchReply,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorReport>,
}

/// A page of entries.
#[derive(Debug, Clone, Serialize)]
pub struct ListResponse {
    pub namespace: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
    pub offset: usize,
    pub count: usize,
    pub entries: Vec<MemoryEntry>,
}

/// A page of entries to list.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub namespace: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteResponse {
    pub namespace: String,
    pub key: String,
    /// False when there was no such entry.
    pub deleted: bool,
}

impl DeleteResponse {
    /// For front ends that treat a missing entry as a failure.
    pub fn missing(&self) -> Option<OpsError> {
        (!self.deleted).then(|| OpsError::NoEntry {
            namespace: self.namespace.clone(),
            key: self.key.clone(),
        })
    }
}

/// Rejects an empty or blank string, naming it.
fn non_empty(what: &str, value: &str) -> Result<(), OpsError> {
    if value.trim().is_empty() {
        return Err(OpsError::invalid(
            format!("the {what} must not be empty"),
            format!("give a {what}"),
        ));
    }
    Ok(())
}

fn embedder(project: &Project) -> Result<Option<Embedder>, OpsError> {
    Embedder::from_settings(&*project.settings()?)
}

/// Stores an entry, then embeds it when embeddings are configured (a failure there keeps the
/// entry and says why in `embedding.error`).
pub async fn store(project: &Project, request: StoreRequest) -> Result<StoreResponse, OpsError> {
    non_empty("key", &request.key)?;
    non_empty("namespace", &request.namespace)?;
    if request.ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(OpsError::invalid(
            "the time to live must be more than zero",
            "give a duration such as 7d, 12h or 30m, or none to keep the entry",
        ));
    }
    // A bad `[memory]` config fails the store before anything is written.
    let embedder = embedder(project)?;
    let now = baton_core::now_ms();
    let (is_json, value) = match request.value {
        MemoryValue::Text(text) => (false, text),
        MemoryValue::Json(text) => (true, text),
    };
    let mut entry = if is_json {
        NewMemory::json(&request.namespace, &request.key, &value)
    } else {
        NewMemory::text(&request.namespace, &request.key, &value)
    }
    .with_tags(request.tags);
    if let Some(ttl) = request.ttl {
        entry = entry.with_ttl(now, u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
    }
    let outcome = project.store()?.memory_store(&entry, request.upsert, now)?;
    let (outcome, value_changed) = match outcome {
        StoreOutcome::Created => (StoreAction::Created, true),
        StoreOutcome::Updated { value_changed, .. } => (StoreAction::Updated, value_changed),
    };
    let embedding = match &embedder {
        Some(embedder) => {
            let pool = project.pool()?;
            let recorded = embedder
                .embed_entry(&pool, &entry.namespace, &entry.key, &entry.value)
                .await;
            Some(EmbeddingOutcome {
                model: embedder.model.clone(),
                dim: recorded.as_ref().ok().copied(),
                error: recorded.err().map(|error| error.to_string()),
            })
        }
        None => None,
    };
    Ok(StoreResponse {
        namespace: entry.namespace,
        key: entry.key,
        outcome,
        value_changed,
        is_json,
        expires_at_ms: entry.expires_at_ms,
        embedding,
    })
}

/// One entry by namespace and key (counts an access).
pub async fn get(project: &Project, namespace: &str, key: &str) -> Result<MemoryEntry, OpsError> {
    non_empty("key", key)?;
    non_empty("namespace", namespace)?;
    project
        .store()?
        .memory_get(namespace, key, baton_core::now_ms())?
        .ok_or_else(|| OpsError::NoEntry {
            namespace: namespace.into(),
            key: key.into(),
        })
}

/// Searches, hybrid when embeddings are configured. The hits handed back count as accessed;
/// call [`count_accesses`] after the reply is out (a reader waits for nothing it does not
/// see), or let this do it with `count = true`.
pub async fn search(project: &Project, query: MemoryQuery) -> Result<SearchResponse, OpsError> {
    if query.limit == 0 {
        return Err(OpsError::invalid(
            "the search limit must be at least 1",
            "give a limit of 1 or more",
        ));
    }
    if !(0.0..=1.0).contains(&query.min_score) {
        return Err(OpsError::invalid(
            format!(
                "the minimum score must be within 0..=1, got {}",
                query.min_score
            ),
            "give a minimum score between 0 and 1 (0.7 keeps strong matches)",
        ));
    }
    let now = baton_core::now_ms();
    match embedder(project)? {
        Some(embedder) => {
            let ranked = hybrid::search(&project.pool()?, &embedder, &query, now).await?;
            Ok(SearchResponse {
                reply: ranked.reply,
                vector: Some(ranked.vector),
            })
        }
        None => Ok(SearchResponse {
            reply: project.store()?.memory_search(&query, now)?,
            vector: None,
        }),
    }
}

/// Counts the accesses of the hits a search handed on. A failure (the store busy beyond its
/// timeout) loses a count, never the reply already given: it is logged, not an error.
pub fn count_accesses(project: &Project, hits: &[SearchHit]) {
    let counted = project
        .store()
        .and_then(|store| Ok(store.count_search_accesses(hits)?));
    if let Err(error) = counted {
        tracing::warn!(%error, "could not count the accesses of the search hits");
    }
}

/// Entries, newest updated first.
pub async fn list(project: &Project, request: ListRequest) -> Result<ListResponse, OpsError> {
    if let Some(namespace) = &request.namespace {
        non_empty("namespace", namespace)?;
    }
    let entries = project.store()?.memory_list(
        request.namespace.as_deref(),
        request.tag.as_deref(),
        request.limit,
        request.offset,
        baton_core::now_ms(),
    )?;
    Ok(ListResponse {
        count: entries.len(),
        namespace: request.namespace,
        tag: request.tag,
        limit: request.limit,
        offset: request.offset,
        entries,
    })
}

/// Deletes one entry; `deleted: false` when there was none.
pub async fn delete(
    project: &Project,
    namespace: &str,
    key: &str,
) -> Result<DeleteResponse, OpsError> {
    non_empty("key", key)?;
    non_empty("namespace", namespace)?;
    let deleted = project.store()?.memory_delete(namespace, key)?;
    Ok(DeleteResponse {
        namespace: namespace.into(),
        key: key.into(),
        deleted,
    })
}

/// Re-embeds, with the configured model, every entry in `namespaces` (all when empty) that
/// another model or none embedded, `batch` values per request.
pub async fn reembed(
    project: &Project,
    namespaces: &[String],
    batch: usize,
) -> Result<ReembedResponse, OpsError> {
    let embedder = embedder(project)?.ok_or(OpsError::EmbeddingsOff)?;
    let batch = batch.max(1);
    hybrid::reembed(
        &project.pool()?,
        &embedder,
        namespaces,
        batch,
        baton_core::now_ms(),
    )
    .await
}

/// Entries, expired entries, embeddings and bytes per namespace.
pub async fn stats(project: &Project) -> Result<Vec<NamespaceStats>, OpsError> {
    Ok(project.store()?.memory_stats(baton_core::now_ms())?)
}

//! The exact-request reply cache: a reply stored under the hash of its normalized request
//! (the model layer computes the key and decides what may be cached), and how often it was
//! served.

use baton_core::Usage;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::codec::json;
use crate::{Store, StoreError};

/// A cached reply and what producing it originally took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedReply {
    pub backend: String,
    pub model: String,
    pub reply: String,
    /// The usage of the call that produced the reply (not of any later hit).
    pub usage: Usage,
    /// When the reply was stored, Unix milliseconds.
    pub created_at_ms: i64,
}

impl Store {
    /// The reply cached under `key`, counting the lookup as a hit when there is one.
    pub fn cache_get(&self, key: &str) -> Result<Option<CachedReply>, StoreError> {
        const WHAT: &str = "read the reply cache";
        // One statement reads and counts, so no transaction is needed and two processes
        // hitting the same key at once both get counted.
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE cache SET hits = hits + 1 WHERE key = ?1
                 RETURNING backend, model, reply, usage, created_at_ms",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.query_row([key], |row| {
            Ok(CachedReply {
                backend: row.get(0)?,
                model: row.get(1)?,
                reply: row.get(2)?,
                usage: json(row, 3)?,
                created_at_ms: row.get(4)?,
            })
        })
        .optional()
        .map_err(self.query_err(WHAT))
    }

    /// Stores `reply` under `key`, replacing what was there. A replaced entry is a new reply,
    /// so its hit count starts again at zero.
    pub fn cache_put(&self, key: &str, reply: &CachedReply) -> Result<(), StoreError> {
        const WHAT: &str = "write the reply cache";
        let usage = serde_json::to_string(&reply.usage).map_err(|source| StoreError::Encode {
            what: "cached usage",
            source,
        })?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO cache (key, created_at_ms, backend, model, reply, usage, hits)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
                 ON CONFLICT (key) DO UPDATE SET
                    created_at_ms = excluded.created_at_ms, backend = excluded.backend,
                    model = excluded.model, reply = excluded.reply, usage = excluded.usage,
                    hits = 0",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.execute(params![
            key,
            reply.created_at_ms,
            reply.backend,
            reply.model,
            reply.reply,
            usage
        ])
        .map_err(self.query_err(WHAT))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(store: &Store, key: &str) -> i64 {
        store
            .conn
            .query_row("SELECT hits FROM cache WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn every_get_counts_a_hit_and_a_put_starts_the_count_again() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("baton.db")).unwrap();
        let reply = CachedReply {
            backend: "local".into(),
            model: "qwen3-coder".into(),
            reply: "fn main() {}".into(),
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                ..Usage::default()
            },
            created_at_ms: 1_000,
        };
        store.cache_put("k", &reply).unwrap();
        assert_eq!(hits(&store, "k"), 0);
        for _ in 0..3 {
            store.cache_get("k").unwrap();
        }
        assert_eq!(hits(&store, "k"), 3);
        assert_eq!(store.cache_get("missing").unwrap(), None);
        store
            .cache_put(
                "k",
                &CachedReply {
                    created_at_ms: 2_000,
                    ..reply
                },
            )
            .unwrap();
        assert_eq!(hits(&store, "k"), 0);
    }
}

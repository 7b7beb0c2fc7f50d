//! The shared memory workers read and write (DESIGN.md section 1: `baton memory`, the MCP tools
//! `memory_store` and `memory_search`): entries in the `memory` table, unique per
//! (namespace, key), and everything that writes, reads, lists, counts, expires and embeds them.
//! Search lives in `memory/search.rs` (its terms and stop words in `memory/terms.rs`, its
//! score in `memory/score.rs`, its reads of the full-text index in `memory/candidates.rs` and `memory/bm25.rs`),
//! the public value types in `memory/types.rs`.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction together with the `events` row that
//! records it (kinds `memory.stored`, `memory.updated`, `memory.deleted`, `memory.embedded`;
//! subject `namespace/key`). An event never carries the value, only its length in bytes and
//! its SHA-256. Counting an access (by [`Store::memory_get`], and of the hits a search's caller
//! hands on, [`Store::count_search_accesses`]) is not recorded as an event: it is bookkeeping, not a change of what is stored.
//!
//! Time is passed in (`now_ms`, Unix milliseconds) so that expiry is decided by the caller's
//! clock and tests need not sleep. An entry with `expires_at_ms <= now_ms` is expired: no read
//! returns it, storing its key again starts a fresh entry, and it is deleted by
//! [`Store::purge_expired`] or, a few at a time, by any store.

mod bm25;
mod candidates;
mod score;
mod search;
mod terms;
mod types;

use std::collections::BTreeMap;

use baton_core::Event;
use baton_core::event::{DeleteReason, MemoryDeleted, MemoryEmbedded, MemoryWritten};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

use crate::codec::json;
use crate::{Store, StoreError};

pub use score::MEMORY_SCORE_NORMALIZATION;
pub use search::{MEMORY_SEARCH_METHOD, MemoryQuery, SearchHit, SearchReply, SearchTerm};
pub use terms::{MEMORY_MAX_TERMS, MEMORY_STOP_WORDS};
pub use types::{
    MemoryEntry, NamespaceStats, NewMemory, StoreManySummary, StoreOutcome, ToEmbed,
    VectorCandidate,
};

/// How many expired entries a store deletes on the side, so that a store never pays for a
/// large backlog; [`Store::purge_expired`] deletes them all.
const OPPORTUNISTIC_PURGE: i64 = 64;

/// A [`Store::memory_store_many`] of at least this many entries checkpoints the WAL after it.
const BULK_CHECKPOINT_AFTER: usize = 1000;

/// The columns [`entry_from_row`] reads, in its order.
const ENTRY_COLUMNS: &str = "namespace, key, value, is_json, tags, created_at_ms, updated_at_ms,
    expires_at_ms, access_count, embedding_model, embedding_dim";

/// The SQL condition "not expired at the time in parameter `?{param}`".
fn live(param: usize) -> String {
    format!("(expires_at_ms IS NULL OR expires_at_ms > ?{param})")
}

/// The row a write found under its (namespace, key).
struct Existing {
    id: i64,
    value: String,
    expires_at_ms: Option<i64>,
    embedded: bool,
}

impl Store {
    /// Stores one entry. A key already live in the namespace is
    /// [`StoreError::MemoryKeyExists`] unless `upsert`, which replaces value, tags and expiry,
    /// keeps `created_at_ms` and the access count, sets `updated_at_ms` to `now_ms`, and drops
    /// the embedding when the value text changed. An expired entry under the key is deleted
    /// first (event `memory.deleted`, reason `expired`) and the key stored afresh. Also
    /// deletes up to a few dozen other expired entries.
    pub fn memory_store(
        &self,
        entry: &NewMemory,
        upsert: bool,
        now_ms: i64,
    ) -> Result<StoreOutcome, StoreError> {
        const WHAT: &str = "store a memory entry";
        let tx = self.write_tx(WHAT)?;
        self.purge(&tx, now_ms, OPPORTUNISTIC_PURGE)?;
        let outcome = self.store_one(&tx, entry, upsert, now_ms)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(outcome)
    }

    /// Stores many entries in one transaction, each as [`Store::memory_store`] would and each
    /// with its event: for imports and benchmarks. All or nothing: the first entry that fails
    /// (a duplicate key without `upsert` included) rolls back the whole batch.
    pub fn memory_store_many(
        &self,
        entries: &[NewMemory],
        upsert: bool,
        now_ms: i64,
    ) -> Result<StoreManySummary, StoreError> {
        const WHAT: &str = "store memory entries";
        let tx = self.write_tx(WHAT)?;
        self.purge(&tx, now_ms, OPPORTUNISTIC_PURGE)?;
        let mut summary = StoreManySummary::default();
        for entry in entries {
            match self.store_one(&tx, entry, upsert, now_ms)? {
                StoreOutcome::Created => summary.created += 1,
                StoreOutcome::Updated { .. } => summary.updated += 1,
            }
        }
        tx.commit().map_err(self.query_err(WHAT))?;
        if entries.len() >= BULK_CHECKPOINT_AFTER {
            // A large batch leaves a large WAL; copying it into the database now, while the
            // import is already slow, spares the next small write (a search counting its
            // hits) from doing it, and readers from searching a long WAL meanwhile. PASSIVE
            // never waits for other connections; what it cannot copy the automatic
            // checkpoint copies later, so a failure here loses nothing.
            if let Err(error) = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                tracing::warn!(
                    path = %self.path.display(),
                    %error,
                    "checkpoint after a bulk memory store failed"
                );
            }
        }
        Ok(summary)
    }

    /// The live entry under (namespace, key), counting this read as an access (the count
    /// returned includes it). `None` when there is none or it has expired.
    pub fn memory_get(
        &self,
        namespace: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<MemoryEntry>, StoreError> {
        self.read_entry(namespace, key, now_ms, true)
    }

    /// The live entry under (namespace, key) without counting an access: for a ranking that
    /// reads candidates it may not hand on, and counts the ones it does with
    /// [`Store::count_search_accesses`]. `None` when there is none or it has expired.
    pub fn memory_peek(
        &self,
        namespace: &str,
        key: &str,
        now_ms: i64,
    ) -> Result<Option<MemoryEntry>, StoreError> {
        self.read_entry(namespace, key, now_ms, false)
    }

    /// [`Store::memory_get`] (`count`) or [`Store::memory_peek`].
    fn read_entry(
        &self,
        namespace: &str,
        key: &str,
        now_ms: i64,
        count: bool,
    ) -> Result<Option<MemoryEntry>, StoreError> {
        const WHAT: &str = "read a memory entry";
        // Counting reads and counts in one statement: two processes reading at once are
        // both counted.
        let sql = if count {
            format!(
                "UPDATE memory SET access_count = access_count + 1
                 WHERE namespace = ?1 AND key = ?2 AND {}
                 RETURNING {ENTRY_COLUMNS}",
                live(3)
            )
        } else {
            format!(
                "SELECT {ENTRY_COLUMNS} FROM memory WHERE namespace = ?1 AND key = ?2 AND {}",
                live(3)
            )
        };
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_row(params![namespace, key, now_ms], entry_from_row)
                    .optional()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Live entries, newest updated first (then newest stored), in `namespace` or all of them,
    /// optionally only those carrying `tag` (exact match); `limit` of them after skipping
    /// `offset`. Listing does not count as an access.
    pub fn memory_list(
        &self,
        namespace: Option<&str>,
        tag: Option<&str>,
        limit: usize,
        offset: usize,
        now_ms: i64,
    ) -> Result<Vec<MemoryEntry>, StoreError> {
        const WHAT: &str = "list memory entries";
        let scope = if namespace.is_some() {
            "namespace = ?1"
        } else {
            "?1 IS NULL"
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM memory
             WHERE {scope} AND {}
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?3))
             ORDER BY updated_at_ms DESC, id DESC LIMIT ?4 OFFSET ?5",
            live(2)
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![namespace, now_ms, tag, sql_count(limit), sql_count(offset)],
                    entry_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Deletes the entry under (namespace, key), expired or not (event `memory.deleted`).
    /// `true` when there was a row to delete.
    pub fn memory_delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        const WHAT: &str = "delete a memory entry";
        let tx = self.write_tx(WHAT)?;
        let Some(existing) = existing(&tx, namespace, key).map_err(self.query_err(WHAT))? else {
            return Ok(false);
        };
        self.delete_row(&tx, &existing, namespace, key, DeleteReason::Deleted)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(true)
    }

    /// Deletes every entry expired at `now_ms`, each with its `memory.deleted` event (reason
    /// `expired`), and returns how many.
    pub fn purge_expired(&self, now_ms: i64) -> Result<usize, StoreError> {
        const WHAT: &str = "purge expired memory entries";
        let tx = self.write_tx(WHAT)?;
        // -1: SQLite's "no limit".
        let purged = self.purge(&tx, now_ms, -1)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(purged)
    }

    /// Per namespace, in name order: live entries, expired ones not yet purged, live entries
    /// embedded by each model, and bytes on disk.
    pub fn memory_stats(&self, now_ms: i64) -> Result<Vec<NamespaceStats>, StoreError> {
        const WHAT: &str = "count memory entries";
        let mut by_namespace: BTreeMap<String, NamespaceStats> = BTreeMap::new();
        self.conn
            .prepare_cached(&format!(
                "SELECT namespace,
                    count(*) FILTER (WHERE {live}),
                    count(*) FILTER (WHERE NOT {live}),
                    sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))
                        + length(CAST(tags AS BLOB)) + coalesce(length(embedding), 0))
                 FROM memory GROUP BY namespace",
                live = live(1)
            ))
            .and_then(|mut stmt| {
                let rows = stmt.query_map([now_ms], |r| {
                    Ok(NamespaceStats {
                        namespace: r.get(0)?,
                        entries: r.get(1)?,
                        expired: r.get(2)?,
                        embedded: BTreeMap::new(),
                        bytes: r.get(3)?,
                    })
                })?;
                for row in rows {
                    let row = row?;
                    by_namespace.insert(row.namespace.clone(), row);
                }
                Ok(())
            })
            .map_err(self.query_err(WHAT))?;
        self.conn
            .prepare_cached(&format!(
                "SELECT namespace, embedding_model, count(*) FROM memory
                 WHERE embedding_model IS NOT NULL AND {}
                 GROUP BY namespace, embedding_model",
                live(1)
            ))
            .and_then(|mut stmt| {
                let rows = stmt.query_map([now_ms], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u64>(2)?,
                    ))
                })?;
                for row in rows {
                    let (namespace, model, count) = row?;
                    if let Some(stats) = by_namespace.get_mut(&namespace) {
                        stats.embedded.insert(model, count);
                    }
                }
                Ok(())
            })
            .map_err(self.query_err(WHAT))?;
        Ok(by_namespace.into_values().collect())
    }

    /// Stores the embedding `model` made of the entry's value, as little-endian f32. Refused
    /// unless `vector` has `dim` finite values (`dim > 0`) and `model` is named. `false`, and
    /// nothing written, when the entry is gone or its value is no longer `embedded_value` (an
    /// upsert changed it while the embedding was being computed: the vector would describe
    /// text the entry no longer holds). Event `memory.embedded`.
    pub fn set_embedding(
        &self,
        namespace: &str,
        key: &str,
        embedded_value: &str,
        model: &str,
        dim: usize,
        vector: &[f32],
    ) -> Result<bool, StoreError> {
        const WHAT: &str = "store an embedding";
        let invalid = |why: String| StoreError::InvalidMemory { what: WHAT, why };
        if model.is_empty() {
            return Err(invalid("the model name is empty".into()));
        }
        if dim == 0 || vector.len() != dim {
            return Err(invalid(format!(
                "the vector has {} values, the model's dimension is {dim}",
                vector.len()
            )));
        }
        if vector.iter().any(|v| !v.is_finite()) {
            return Err(invalid("the vector holds NaN or infinite values".into()));
        }
        let blob: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
        let dim_sql = i64::try_from(dim).map_err(|_| invalid(format!("dimension {dim}")))?;
        let tx = self.write_tx(WHAT)?;
        let changed = tx
            .prepare_cached(
                "UPDATE memory SET embedding = ?4, embedding_model = ?5, embedding_dim = ?6
                 WHERE namespace = ?1 AND key = ?2 AND value = ?3",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    namespace,
                    key,
                    embedded_value,
                    blob,
                    model,
                    dim_sql
                ])
            })
            .map_err(self.query_err(WHAT))?;
        if changed == 0 {
            return Ok(false);
        }
        let event = Event::MemoryEmbedded(MemoryEmbedded {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            model: model.to_owned(),
            dim,
        });
        self.insert_event(&tx, &subject(namespace, key), &event)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(true)
    }

    /// The live entries in `namespaces` (all when empty) whose embedding was made by exactly
    /// `model`, in (namespace, key) order: what a vector ranking may score. Rows embedded by
    /// another model are never returned, so scores of different models are never mixed.
    pub fn candidates_for_vector(
        &self,
        namespaces: &[String],
        model: &str,
        now_ms: i64,
    ) -> Result<Vec<VectorCandidate>, StoreError> {
        const WHAT: &str = "read embeddings";
        let scope = namespace_param(namespaces)?;
        self.conn
            .prepare_cached(&format!(
                "SELECT namespace, key, embedding_model, embedding, updated_at_ms FROM memory
                 WHERE embedding_model = ?1
                   AND (?2 IS NULL OR namespace IN (SELECT value FROM json_each(?2)))
                   AND {}
                 ORDER BY namespace, key",
                live(3)
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![model, scope, now_ms], |r| {
                    Ok(VectorCandidate {
                        namespace: r.get(0)?,
                        key: r.get(1)?,
                        model: r.get(2)?,
                        vector: decode_vector(r, 3)?,
                        updated_at_ms: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Up to `limit` live entries in `namespaces` (all when empty) not embedded by exactly
    /// `model` (embedded by another model, or not at all), in (namespace, key) order after
    /// `after` (exclusive): what a re-embedding with `model` has left to do, one page at a
    /// time. Each item is (namespace, key, value, the model that embedded it).
    pub fn memory_to_embed(
        &self,
        namespaces: &[String],
        model: &str,
        after: Option<(&str, &str)>,
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<ToEmbed>, StoreError> {
        const WHAT: &str = "find entries to embed";
        let scope = namespace_param(namespaces)?;
        let (after_namespace, after_key) = after.unzip();
        self.conn
            .prepare_cached(&format!(
                "SELECT namespace, key, value, embedding_model FROM memory
                 WHERE embedding_model IS NOT ?1
                   AND (?2 IS NULL OR namespace IN (SELECT value FROM json_each(?2)))
                   AND (?4 IS NULL OR (namespace, key) > (?4, ?5))
                   AND {}
                 ORDER BY namespace, key LIMIT ?6",
                live(3)
            ))
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![
                        model,
                        scope,
                        now_ms,
                        after_namespace,
                        after_key,
                        sql_count(limit)
                    ],
                    |r| {
                        Ok(ToEmbed {
                            namespace: r.get(0)?,
                            key: r.get(1)?,
                            value: r.get(2)?,
                            embedded_by: r.get(3)?,
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Stores one entry inside the caller's write transaction; see [`Store::memory_store`].
    fn store_one(
        &self,
        conn: &Connection,
        entry: &NewMemory,
        upsert: bool,
        now_ms: i64,
    ) -> Result<StoreOutcome, StoreError> {
        const WHAT: &str = "store a memory entry";
        validate(entry, now_ms)?;
        let tags = serde_json::to_string(&entry.tags).map_err(|source| StoreError::Encode {
            what: "memory tags",
            source,
        })?;
        let (namespace, key) = (entry.namespace.as_str(), entry.key.as_str());
        let mut found = existing(conn, namespace, key).map_err(self.query_err(WHAT))?;
        if let Some(old) = found.take_if(|old| is_expired(old.expires_at_ms, now_ms)) {
            self.delete_row(conn, &old, namespace, key, DeleteReason::Expired)?;
        }
        let mut written = MemoryWritten {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            value_len: entry.value.len(),
            value_sha256: sha256_hex(&entry.value),
            is_json: entry.is_json,
            tags: entry.tags.clone(),
            expires_at_ms: entry.expires_at_ms,
            value_changed: None,
            embedding_cleared: None,
        };
        let (kind, outcome) = match found {
            None => {
                conn.prepare_cached(
                    "INSERT INTO memory (namespace, key, value, is_json, tags, created_at_ms,
                        updated_at_ms, expires_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        namespace,
                        key,
                        entry.value,
                        entry.is_json,
                        tags,
                        now_ms,
                        entry.expires_at_ms
                    ])
                })
                .map_err(self.query_err(WHAT))?;
                (
                    Event::MemoryStored as fn(MemoryWritten) -> Event,
                    StoreOutcome::Created,
                )
            }
            Some(_) if !upsert => {
                return Err(StoreError::MemoryKeyExists {
                    namespace: namespace.into(),
                    key: key.into(),
                });
            }
            Some(old) => {
                let value_changed = old.value != entry.value;
                let embedding_cleared = value_changed && old.embedded;
                conn.prepare_cached(
                    "UPDATE memory SET value = ?2, is_json = ?3, tags = ?4, updated_at_ms = ?5,
                        expires_at_ms = ?6,
                        embedding = iif(?7, NULL, embedding),
                        embedding_model = iif(?7, NULL, embedding_model),
                        embedding_dim = iif(?7, NULL, embedding_dim)
                     WHERE id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        old.id,
                        entry.value,
                        entry.is_json,
                        tags,
                        now_ms,
                        entry.expires_at_ms,
                        value_changed
                    ])
                })
                .map_err(self.query_err(WHAT))?;
                written.value_changed = Some(value_changed);
                written.embedding_cleared = Some(embedding_cleared);
                let outcome = StoreOutcome::Updated {
                    value_changed,
                    embedding_cleared,
                };
                (Event::MemoryUpdated as fn(MemoryWritten) -> Event, outcome)
            }
        };
        self.insert_event(conn, &subject(namespace, key), &kind(written))?;
        Ok(outcome)
    }

    /// Deletes up to `limit` (-1: all) entries expired at `now_ms`, oldest expiry first, each
    /// with its event, inside the caller's write transaction.
    fn purge(&self, conn: &Connection, now_ms: i64, limit: i64) -> Result<usize, StoreError> {
        const WHAT: &str = "purge expired memory entries";
        let expired: Vec<(String, String, Existing)> = conn
            .prepare_cached(
                "SELECT namespace, key, id, expires_at_ms FROM memory
                 WHERE expires_at_ms <= ?1 ORDER BY expires_at_ms, id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![now_ms, limit], |r| {
                    let row = Existing {
                        id: r.get(2)?,
                        value: String::new(),
                        expires_at_ms: r.get(3)?,
                        embedded: false,
                    };
                    Ok((r.get(0)?, r.get(1)?, row))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))?;
        for (namespace, key, row) in &expired {
            self.delete_row(conn, row, namespace, key, DeleteReason::Expired)?;
        }
        Ok(expired.len())
    }

    /// Deletes one row and records `memory.deleted` with why (`deleted` or `expired`).
    fn delete_row(
        &self,
        conn: &Connection,
        row: &Existing,
        namespace: &str,
        key: &str,
        reason: DeleteReason,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "delete a memory entry";
        conn.prepare_cached("DELETE FROM memory WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([row.id]))
            .map_err(self.query_err(WHAT))?;
        let event = Event::MemoryDeleted(MemoryDeleted {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            reason,
            expires_at_ms: row.expires_at_ms,
        });
        self.insert_event(conn, &subject(namespace, key), &event)?;
        Ok(())
    }
}

/// Refuses an entry the table would refuse less helpfully, or that could never be read.
fn validate(entry: &NewMemory, now_ms: i64) -> Result<(), StoreError> {
    const WHAT: &str = "store a memory entry";
    let invalid = |why: String| StoreError::InvalidMemory { what: WHAT, why };
    if entry.namespace.trim().is_empty() {
        return Err(invalid("the namespace is empty".into()));
    }
    if entry.key.trim().is_empty() {
        return Err(invalid(format!(
            "the key is empty (namespace \"{}\")",
            entry.namespace
        )));
    }
    if entry.tags.iter().any(|tag| tag.trim().is_empty()) {
        return Err(invalid(format!("key \"{}\" has an empty tag", entry.key)));
    }
    if entry.is_json
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&entry.value)
    {
        return Err(invalid(format!(
            "the value of key \"{}\" is marked JSON but does not parse ({e})",
            entry.key
        )));
    }
    if let Some(at) = entry
        .expires_at_ms
        .filter(|&at| is_expired(Some(at), now_ms))
    {
        return Err(invalid(format!(
            "key \"{}\" would expire at {at}, not after now ({now_ms})",
            entry.key
        )));
    }
    Ok(())
}

fn existing(conn: &Connection, namespace: &str, key: &str) -> rusqlite::Result<Option<Existing>> {
    conn.prepare_cached(
        "SELECT id, value, expires_at_ms, embedding_model IS NOT NULL FROM memory
         WHERE namespace = ?1 AND key = ?2",
    )?
    .query_row([namespace, key], |r| {
        Ok(Existing {
            id: r.get(0)?,
            value: r.get(1)?,
            expires_at_ms: r.get(2)?,
            embedded: r.get(3)?,
        })
    })
    .optional()
}

fn is_expired(expires_at_ms: Option<i64>, now_ms: i64) -> bool {
    expires_at_ms.is_some_and(|at| at <= now_ms)
}

/// The subject of a memory event.
fn subject(namespace: &str, key: &str) -> String {
    format!("{namespace}/{key}")
}

/// `sha256:` and the hex digest of `value`, which events carry instead of the value.
fn sha256_hex(value: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The namespaces as a JSON array for `json_each`, or `None` (SQL NULL) for "all".
pub(crate) fn namespace_param(namespaces: &[String]) -> Result<Option<String>, StoreError> {
    if namespaces.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(namespaces)
        .map(Some)
        .map_err(|source| StoreError::Encode {
            what: "namespaces",
            source,
        })
}

/// A count as an SQLite integer; beyond i64 is "all of them" anyway.
pub(crate) fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads the [`ENTRY_COLUMNS`].
pub(crate) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<MemoryEntry> {
    Ok(MemoryEntry {
        namespace: row.get(0)?,
        key: row.get(1)?,
        value: row.get(2)?,
        is_json: row.get(3)?,
        tags: json(row, 4)?,
        created_at_ms: row.get(5)?,
        updated_at_ms: row.get(6)?,
        expires_at_ms: row.get(7)?,
        access_count: row.get(8)?,
        embedding_model: row.get(9)?,
        embedding_dim: row.get(10)?,
    })
}

/// Reads a little-endian f32 vector from blob column `idx`.
fn decode_vector(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<f32>> {
    let blob: Vec<u8> = row.get(idx)?;
    let chunks = blob.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!(
                "embedding of {} bytes is not a whole number of f32",
                blob.len()
            )
            .into(),
        ));
    }
    Ok(chunks
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_hash_is_the_sha256_of_the_text() {
        assert_eq!(
            sha256_hex("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn expiry_is_at_or_before_now() {
        assert!(!is_expired(None, 10));
        assert!(!is_expired(Some(11), 10));
        assert!(is_expired(Some(10), 10));
        assert!(is_expired(Some(9), 10));
    }

    #[test]
    fn validation_names_the_problem() {
        let err = |entry: NewMemory| validate(&entry, 100).unwrap_err().to_string();
        assert_eq!(
            err(NewMemory::text(" ", "k", "v")),
            "cannot store a memory entry: the namespace is empty"
        );
        assert!(err(NewMemory::json("n", "k", "{oops")).contains("marked JSON but does not parse"));
        assert!(err(NewMemory::text("n", "k", "v").with_tags([""])).contains("empty tag"));
        let mut past = NewMemory::text("n", "k", "v");
        past.expires_at_ms = Some(100);
        assert!(err(past).contains("would expire at 100"));
        assert!(validate(&NewMemory::json("n", "k", " [1, 2] "), 100).is_ok());
    }
}

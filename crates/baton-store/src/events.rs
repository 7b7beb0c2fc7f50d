//! The append-only audit trail (DESIGN.md section 2): every state change is an `events` row,
//! written in the same transaction as the change it records (see `workers.rs`), so the trail
//! and the current-state tables never disagree.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::codec::json;
use crate::{Store, StoreError};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Increases with every append and is never reused; page with `events(after_id, ..)`.
    pub id: i64,
    /// When it was appended, Unix milliseconds.
    pub at_ms: i64,
    /// What happened, such as `run.started` or `worker.killed`.
    pub kind: String,
    /// What it happened to, such as a run or worker id.
    pub subject: String,
    pub data: serde_json::Value,
}

impl Store {
    /// Appends an event stamped with the current time, and returns its id.
    pub fn append_event(
        &self,
        kind: &str,
        subject: &str,
        data: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        self.insert_event(&self.conn, kind, subject, data)
    }

    /// Appends an event on `conn`: pass the open transaction of the state change it records
    /// (a [`rusqlite::Transaction`] derefs to its connection) so that both commit together.
    pub(crate) fn insert_event(
        &self,
        conn: &Connection,
        kind: &str,
        subject: &str,
        data: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        const WHAT: &str = "append an event";
        let data = serde_json::to_string(data).map_err(|source| StoreError::Encode {
            what: "event data",
            source,
        })?;
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO events (at_ms, kind, subject, data) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.execute(params![at_ms, kind, subject, data])
            .map_err(self.query_err(WHAT))?;
        Ok(conn.last_insert_rowid())
    }

    /// Up to `limit` events with an id above `after_id`, oldest first. Start with 0.
    pub fn events(&self, after_id: i64, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        const WHAT: &str = "read events";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at_ms, kind, subject, data FROM events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(self.query_err(WHAT))?;
        // SQLite limits are i64; anything beyond is "all of them" anyway.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![after_id, limit], event_from_row)
            .map_err(self.query_err(WHAT))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.query_err(WHAT))
    }

    /// Every event about `subject` (a run or worker id), oldest first.
    pub fn events_of(&self, subject: &str) -> Result<Vec<EventRow>, StoreError> {
        const WHAT: &str = "read the events of a subject";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at_ms, kind, subject, data FROM events
                 WHERE subject = ?1 ORDER BY id",
            )
            .map_err(self.query_err(WHAT))?;
        let rows = stmt
            .query_map([subject], event_from_row)
            .map_err(self.query_err(WHAT))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.query_err(WHAT))
    }
}

/// Reads `id, at_ms, kind, subject, data`.
fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        kind: row.get(2)?,
        subject: row.get(3)?,
        data: json(row, 4)?,
    })
}

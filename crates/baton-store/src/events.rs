//! The append-only audit trail (DESIGN.md section 2): every state change is an `events` row,
//! written in the same transaction as the change it records (see `workers.rs`), so the trail
//! and the current-state tables never disagree. A row holds a typed [`Event`]: its kind, its
//! payload's version and the payload as JSON; reads decode it back.

use baton_core::Event;
use rusqlite::{Connection, params};
use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::codec::json;
use crate::{Store, StoreError};

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Increases with every append and is never reused; page with `events(after_id, ..)`.
    pub id: i64,
    /// When it was appended, Unix milliseconds.
    pub at_ms: i64,
    /// What it happened to, such as a run or worker id.
    pub subject: String,
    pub event: Event,
}

impl EventRow {
    /// The event's kind: `worker.ended`.
    pub fn kind(&self) -> &str {
        self.event.kind()
    }

    /// The payload as JSON, as the `data` column holds it.
    pub fn data(&self) -> serde_json::Value {
        // Payloads are plain structs of strings, numbers and lists: encoding cannot fail.
        self.event.data().unwrap_or_default()
    }
}

impl Serialize for EventRow {
    /// The row as the `events.jsonl` mirror and the live stream carry it:
    /// `{id, at_ms, kind, version, subject, data}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = self.event.data().map_err(serde::ser::Error::custom)?;
        let mut row = serializer.serialize_struct("EventRow", 6)?;
        row.serialize_field("id", &self.id)?;
        row.serialize_field("at_ms", &self.at_ms)?;
        row.serialize_field("kind", self.event.kind())?;
        row.serialize_field("version", &self.event.version())?;
        row.serialize_field("subject", &self.subject)?;
        row.serialize_field("data", &data)?;
        row.end()
    }
}

impl Store {
    /// Appends an event stamped with the current time, and returns its id.
    pub fn append_event(&self, subject: &str, event: &Event) -> Result<i64, StoreError> {
        self.insert_event(&self.conn, subject, event)
    }

    /// Appends an event on `conn`: pass the open transaction of the state change it records
    /// (a [`rusqlite::Transaction`] derefs to its connection) so that both commit together.
    pub(crate) fn insert_event(
        &self,
        conn: &Connection,
        subject: &str,
        event: &Event,
    ) -> Result<i64, StoreError> {
        const WHAT: &str = "append an event";
        let encode = |source| StoreError::Encode {
            what: "event data",
            source,
        };
        let data = serde_json::to_string(&event.data().map_err(encode)?).map_err(encode)?;
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO events (at_ms, kind, version, subject, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.execute(params![at_ms, event.kind(), event.version(), subject, data])
            .map_err(self.query_err(WHAT))?;
        Ok(conn.last_insert_rowid())
    }

    /// Up to `limit` events with an id above `after_id`, oldest first. Start with 0.
    pub fn events(&self, after_id: i64, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        // SQLite limits are i64; anything beyond is "all of them" anyway.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_events(
            "read events",
            "WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![after_id, limit],
        )
    }

    /// Every event about `subject` (a run or worker id), oldest first.
    pub fn events_of(&self, subject: &str) -> Result<Vec<EventRow>, StoreError> {
        self.read_events(
            "read the events of a subject",
            "WHERE subject = ?1 ORDER BY id",
            params![subject],
        )
    }

    fn read_events(
        &self,
        what: &'static str,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, at_ms, kind, version, subject, data FROM events {filter}"
            ))
            .map_err(self.query_err(what))?;
        let rows = stmt
            .query_map(params, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, String>(4)?,
                    json(row, 5)?,
                ))
            })
            .map_err(self.query_err(what))?;
        let mut events = Vec::new();
        for row in rows {
            let (id, at_ms, kind, version, subject, data) = row.map_err(self.query_err(what))?;
            let event = Event::decode(&kind, version, data)
                .map_err(|source| StoreError::Decode { id, source })?;
            events.push(EventRow {
                id,
                at_ms,
                subject,
                event,
            });
        }
        Ok(events)
    }
}

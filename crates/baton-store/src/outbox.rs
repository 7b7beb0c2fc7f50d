//! The publishing outbox (`outbox`): a run's publications (a push, a pull request, a
//! comment, a status change, a webhook delivery) queued as the run makes them and delivered
//! from here. `(run, target, key)` is unique, so queueing a publication again adds nothing; a
//! delivery first claims its row with a lease, so two processes never deliver one row at
//! once; and each outcome is written with its `publish.sent` or `publish.failed` event in
//! one transaction.

use std::time::Duration;

use baton_core::Event;
use baton_core::event::Published;
use baton_core::publish::Target;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::codec::{json, text_enum};
use crate::{Store, StoreError};

const COLUMNS: &str = "id, run_id, target, key, action, payload, status, attempts, last_error,
    result, created_at_ms, updated_at_ms";

/// A publication to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPublication {
    pub target: Target,
    /// Unique within the run and target: the same key queued twice is one publication.
    pub key: String,
    /// What it does (`push`, `pr.open`, `comment`, ...), for people and the events.
    pub action: String,
    /// What the deliverer needs, whole: a retry sends what was meant at the time.
    pub payload: serde_json::Value,
}

/// Where a publication is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Not delivered yet (never tried, or every attempt failed).
    Pending,
    /// Delivered; never delivered again.
    Sent,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
        }
    }

    fn parse(text: &str) -> Option<OutboxStatus> {
        [OutboxStatus::Pending, OutboxStatus::Sent]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// One publication of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub run_id: String,
    pub target: Target,
    pub key: String,
    pub action: String,
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What the target answered (a pull request's number and URL, a comment's id).
    pub result: Option<serde_json::Value>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A row claimed for one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub row: OutboxRow,
    /// Attempts before this one. Above 0, an earlier attempt may have reached the target
    /// before failing (a timeout after the post): the deliverer looks before posting again.
    pub earlier_attempts: u32,
}

fn row_of(row: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    let result: Option<String> = row.get(9)?;
    Ok(OutboxRow {
        id: row.get(0)?,
        run_id: row.get(1)?,
        target: text_enum(row, 2, "target", Target::parse)?,
        key: row.get(3)?,
        action: row.get(4)?,
        payload: json(row, 5)?,
        status: text_enum(row, 6, "status", OutboxStatus::parse)?,
        attempts: row.get(7)?,
        last_error: row.get(8)?,
        result: result.and_then(|text| serde_json::from_str(&text).ok()),
        created_at_ms: row.get(10)?,
        updated_at_ms: row.get(11)?,
    })
}

impl Store {
    /// Queues `items` for run `run_id`, all or none; a key already queued is left as it is.
    /// How many were new.
    pub fn outbox_enqueue(
        &self,
        run_id: &str,
        items: &[NewPublication],
    ) -> Result<usize, StoreError> {
        const WHAT: &str = "queue a publication";
        if items.is_empty() {
            return Ok(0);
        }
        let tx = self.write_tx(WHAT)?;
        let now = baton_core::now_ms();
        let mut added = 0;
        for item in items {
            let payload =
                serde_json::to_string(&item.payload).map_err(|source| StoreError::Encode {
                    what: "publication payload",
                    source,
                })?;
            added += tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO outbox (run_id, target, key, action, payload, status,
                        created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
                )
                .and_then(|mut insert| {
                    insert.execute(params![
                        run_id,
                        item.target.as_str(),
                        item.key,
                        item.action,
                        payload,
                        now
                    ])
                })
                .map_err(self.query_err(WHAT))?;
        }
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(added)
    }

    /// Every publication of run `run_id`, in the order they were queued.
    pub fn outbox_of(&self, run_id: &str) -> Result<Vec<OutboxRow>, StoreError> {
        const WHAT: &str = "read the outbox";
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE run_id = ?1 ORDER BY id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([run_id], row_of)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// The runs with a publication still pending, oldest run first.
    pub fn outbox_pending_runs(&self) -> Result<Vec<String>, StoreError> {
        const WHAT: &str = "read the outbox";
        self.conn
            .prepare_cached(
                "SELECT run_id FROM outbox WHERE status = 'pending'
                 GROUP BY run_id ORDER BY MIN(id)",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(self.query_err(WHAT))
    }

    /// Claims publication `id` for one attempt of at most `lease`: its attempts go up by one.
    /// `None` when it is sent already or another delivery holds it.
    pub fn outbox_claim(&self, id: i64, lease: Duration) -> Result<Option<Delivery>, StoreError> {
        const WHAT: &str = "claim a publication";
        let tx = self.write_tx(WHAT)?;
        let now = baton_core::now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let claimed = tx
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, lease_until_ms = ?2, updated_at_ms = ?3
                 WHERE id = ?1 AND status = 'pending'
                   AND (lease_until_ms IS NULL OR lease_until_ms < ?3)",
            )
            .and_then(|mut update| update.execute(params![id, until, now]))
            .map_err(self.query_err(WHAT))?;
        if claimed == 0 {
            return Ok(None);
        }
        let row = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([id], row_of).optional())
            .map_err(self.query_err(WHAT))?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(row.map(|row| Delivery {
            earlier_attempts: row.attempts.saturating_sub(1),
            row,
        }))
    }

    /// Marks a claimed publication delivered, with what the target answered and its
    /// `publish.sent` event; returns the event's id and the event.
    pub fn outbox_sent(
        &self,
        delivery: &Delivery,
        result: Option<&serde_json::Value>,
        link: Option<&str>,
    ) -> Result<(i64, Event), StoreError> {
        let event = Event::PublishSent(published(delivery, link, None));
        let result = result
            .map(serde_json::to_string)
            .transpose()
            .map_err(|source| StoreError::Encode {
                what: "publication result",
                source,
            })?;
        self.outbox_settle(
            delivery,
            "UPDATE outbox SET status = 'sent', result = ?2, last_error = NULL,
                lease_until_ms = NULL, updated_at_ms = ?3 WHERE id = ?1",
            result,
            event,
        )
    }

    /// Records a failed attempt at a claimed publication, which stays pending, with its
    /// `publish.failed` event; returns the event's id and the event.
    pub fn outbox_failed(
        &self,
        delivery: &Delivery,
        error: &str,
    ) -> Result<(i64, Event), StoreError> {
        let event = Event::PublishFailed(published(delivery, None, Some(error)));
        self.outbox_settle(
            delivery,
            "UPDATE outbox SET last_error = ?2, lease_until_ms = NULL, updated_at_ms = ?3
             WHERE id = ?1",
            Some(error.to_string()),
            event,
        )
    }

    fn outbox_settle(
        &self,
        delivery: &Delivery,
        sql: &str,
        text: Option<String>,
        event: Event,
    ) -> Result<(i64, Event), StoreError> {
        const WHAT: &str = "settle a publication";
        let tx = self.write_tx(WHAT)?;
        tx.prepare_cached(sql)
            .and_then(|mut update| {
                update.execute(params![delivery.row.id, text, baton_core::now_ms()])
            })
            .map_err(self.query_err(WHAT))?;
        let id = self.insert_event(&tx, &delivery.row.run_id, &event)?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok((id, event))
    }
}

fn published(delivery: &Delivery, link: Option<&str>, error: Option<&str>) -> Published {
    Published {
        target: delivery.row.target,
        key: delivery.row.key.clone(),
        action: delivery.row.action.clone(),
        attempt: delivery.row.attempts,
        link: link.map(str::to_string),
        error: error.map(str::to_string),
    }
}

//! The call ledger: one `calls` row per attempt to get a reply from one endpoint, written by
//! the caller of the model layer and read back by `baton stats`, reports and the dashboard.

use baton_core::{CallOutcome, CallRecord, ErrorClass, Locality, Usage};
use rusqlite::{Row, params};

use crate::codec::{opt_text_enum, text_enum};
use crate::{Store, StoreError};

const INSERT: &str = "INSERT INTO calls (
        id, request_id, started_at_ms, profile, route, backend, endpoint, model, locality,
        attempt, prompt_tokens, completion_tokens, cached_tokens, estimated, latency_ms,
        ttft_ms, outcome, error_class, error, cache_hit, cost_usd, avoided_usd
    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
        ?19, ?20, ?21, ?22)";

const SELECT: &str = "SELECT
        id, request_id, started_at_ms, profile, route, backend, endpoint, model, locality,
        attempt, prompt_tokens, completion_tokens, cached_tokens, estimated, latency_ms,
        ttft_ms, outcome, error_class, error, cache_hit, cost_usd, avoided_usd
    FROM calls WHERE started_at_ms >= ?1 ORDER BY started_at_ms, id";

impl Store {
    /// Appends the attempts of one or more requests, all or none, in one transaction. An id
    /// already in the ledger is an error (and nothing of the batch is written).
    pub fn record_calls(&self, calls: &[CallRecord]) -> Result<(), StoreError> {
        const WHAT: &str = "record calls";
        if calls.is_empty() {
            // Not even the write lock is needed.
            return Ok(());
        }
        let tx = self.write_tx(WHAT)?;
        {
            let mut insert = tx.prepare_cached(INSERT).map_err(self.query_err(WHAT))?;
            for call in calls {
                insert
                    .execute(params![
                        call.id,
                        call.request_id,
                        call.started_at_ms,
                        call.profile,
                        call.route,
                        call.backend,
                        call.endpoint,
                        call.model,
                        call.locality.as_str(),
                        call.attempt,
                        call.usage.prompt_tokens,
                        call.usage.completion_tokens,
                        call.usage.cached_tokens,
                        call.usage.estimated,
                        call.latency_ms,
                        call.ttft_ms,
                        call.outcome.as_str(),
                        call.error_class.map(|c| c.as_str()),
                        call.error,
                        call.cache_hit,
                        call.cost_usd,
                        call.avoided_usd,
                    ])
                    .map_err(self.query_err(WHAT))?;
            }
        }
        tx.commit().map_err(self.query_err(WHAT))
    }

    /// The attempts that started at or after `since_ms` (all of them for `None`), oldest
    /// first; attempts started in the same millisecond are ordered by id.
    pub fn calls(&self, since_ms: Option<i64>) -> Result<Vec<CallRecord>, StoreError> {
        const WHAT: &str = "read calls";
        let mut select = self
            .conn
            .prepare_cached(SELECT)
            .map_err(self.query_err(WHAT))?;
        let rows = select
            .query_map([since_ms.unwrap_or(i64::MIN)], call_from_row)
            .map_err(self.query_err(WHAT))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.query_err(WHAT))
    }
}

fn call_from_row(row: &Row<'_>) -> rusqlite::Result<CallRecord> {
    Ok(CallRecord {
        id: row.get(0)?,
        request_id: row.get(1)?,
        started_at_ms: row.get(2)?,
        profile: row.get(3)?,
        route: row.get(4)?,
        backend: row.get(5)?,
        endpoint: row.get(6)?,
        model: row.get(7)?,
        locality: text_enum(row, 8, "locality", Locality::parse)?,
        attempt: row.get(9)?,
        usage: Usage {
            prompt_tokens: row.get(10)?,
            completion_tokens: row.get(11)?,
            cached_tokens: row.get(12)?,
            estimated: row.get(13)?,
        },
        latency_ms: row.get(14)?,
        ttft_ms: row.get(15)?,
        outcome: text_enum(row, 16, "outcome", CallOutcome::parse)?,
        error_class: opt_text_enum(row, 17, "error_class", ErrorClass::parse)?,
        error: row.get(18)?,
        cache_hit: row.get(19)?,
        cost_usd: row.get(20)?,
        avoided_usd: row.get(21)?,
    })
}

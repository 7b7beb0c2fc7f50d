//! Pipeline runs: the `runs` table (one row per `baton run`, its current status) and
//! `run_requests` (which dispatch requests a run made, for which subtask and role), so the
//! ledger's rows can be summed per run, role and locality. Every status change is written with
//! its event in one transaction, like the workers' (`workers.rs`).

use baton_core::event::RunEnded;
use baton_core::run::{RunRecord, RunStatus};
use baton_core::{Event, Locality};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::codec::text_enum;
use crate::{Store, StoreError};

const COLUMNS: &str = "id, ticket_id, title, ticket_path, status, why, repo, base_commit, branch,
    worktree, created_at_ms, updated_at_ms";

/// The pipeline role a request was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunRole {
    Orchestrator,
    Architect,
    Coder,
    Reviewer,
}

impl RunRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RunRole::Orchestrator => "orchestrator",
            RunRole::Architect => "architect",
            RunRole::Coder => "coder",
            RunRole::Reviewer => "reviewer",
        }
    }

    fn parse(text: &str) -> Option<RunRole> {
        [
            RunRole::Orchestrator,
            RunRole::Architect,
            RunRole::Coder,
            RunRole::Reviewer,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }
}

/// The ledger of one run, summed per role, model and locality (attempts that reached no
/// model count no tokens, as in `baton stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunUsage {
    pub role: RunRole,
    pub profile: String,
    pub backend: String,
    pub model: String,
    pub locality: Locality,
    /// Attempts, failed ones included.
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub avoided_usd: f64,
}

impl Store {
    /// Adds a run with its `run.started` event. An id already taken is an error.
    pub fn insert_run(&self, run: &RunRecord, started: &Event) -> Result<(), StoreError> {
        const WHAT: &str = "add a run";
        let tx = self.write_tx(WHAT)?;
        tx.prepare_cached(&format!(
            "INSERT INTO runs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))
        .and_then(|mut insert| {
            insert.execute(params![
                run.id,
                run.ticket_id,
                run.title,
                run.ticket_path,
                run.status.as_str(),
                run.why,
                run.repo,
                run.base_commit,
                run.branch,
                run.worktree,
                run.created_at_ms,
                run.updated_at_ms,
            ])
        })
        .map_err(self.query_err(WHAT))?;
        self.insert_event(&tx, &run.id, started)?;
        tx.commit().map_err(self.query_err(WHAT))
    }

    /// Sets a run's status, with its `run.ended` event when the status is final (or
    /// `awaiting_review`). An unknown id is [`StoreError::UnknownRun`].
    pub fn set_run_status(
        &self,
        id: &str,
        status: RunStatus,
        why: Option<&str>,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "change a run's status";
        let tx = self.write_tx(WHAT)?;
        let changed = tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, why = ?3, updated_at_ms = ?4 WHERE id = ?1",
            )
            .and_then(|mut update| {
                update.execute(params![id, status.as_str(), why, baton_core::now_ms()])
            })
            .map_err(self.query_err(WHAT))?;
        if changed == 0 {
            return Err(StoreError::UnknownRun { id: id.into() });
        }
        if status != RunStatus::Running {
            let event = Event::RunEnded(RunEnded {
                status,
                why: why.map(str::to_string),
            });
            self.insert_event(&tx, id, &event)?;
        }
        tx.commit().map_err(self.query_err(WHAT))
    }

    /// The run with this id, or with the only id starting with `key`.
    pub fn run(&self, key: &str) -> Result<Option<RunRecord>, StoreError> {
        const WHAT: &str = "read a run";
        let exact = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([key], run_from_row).optional())
            .map_err(self.query_err(WHAT))?;
        if exact.is_some() {
            return Ok(exact);
        }
        let pattern = format!("{}%", key.replace(['%', '_'], ""));
        let mut found = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs WHERE id LIKE ?1 ORDER BY id LIMIT 11"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([pattern], run_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.query_err(WHAT))?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(StoreError::AmbiguousRun {
                prefix: key.into(),
                candidates: found.into_iter().map(|run| run.id).collect(),
            }),
        }
    }

    /// Runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM runs ORDER BY created_at_ms DESC, id DESC LIMIT ?1"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([limit], run_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.query_err("list runs"))
    }

    /// Notes that dispatch `request_id` was made by run `run_id` (for `subtask`, as `role`,
    /// in `phase`), tagging its ledger rows.
    pub fn tag_run_request(
        &self,
        request_id: &str,
        run_id: &str,
        subtask: Option<&str>,
        role: RunRole,
        phase: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO run_requests (request_id, run_id, subtask, role, phase, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    request_id,
                    run_id,
                    subtask,
                    role.as_str(),
                    phase,
                    baton_core::now_ms()
                ])
            })
            .map_err(self.query_err("tag a run's request"))?;
        Ok(())
    }

    /// The run's ledger rows summed per role, profile, backend, model and locality.
    pub fn run_usage(&self, run_id: &str) -> Result<Vec<RunUsage>, StoreError> {
        const WHAT: &str = "sum a run's ledger";
        // Attempts that never reached a model (no first token and estimated usage) count no
        // tokens, as in `baton stats` (`stats.rs`).
        self.conn
            .prepare_cached(
                "SELECT r.role, c.profile, c.backend, c.model, c.locality, COUNT(*),
                    SUM(CASE WHEN c.ttft_ms IS NOT NULL OR c.estimated = 0
                        THEN c.prompt_tokens ELSE 0 END),
                    SUM(CASE WHEN c.ttft_ms IS NOT NULL OR c.estimated = 0
                        THEN c.completion_tokens ELSE 0 END),
                    SUM(c.latency_ms), SUM(c.cost_usd), SUM(c.avoided_usd)
                 FROM run_requests r JOIN calls c ON c.request_id = r.request_id
                 WHERE r.run_id = ?1
                 GROUP BY r.role, c.profile, c.backend, c.model, c.locality
                 ORDER BY MIN(c.started_at_ms)",
            )
            .and_then(|mut stmt| {
                stmt.query_map([run_id], |row| {
                    Ok(RunUsage {
                        role: text_enum(row, 0, "role", RunRole::parse)?,
                        profile: row.get(1)?,
                        backend: row.get(2)?,
                        model: row.get(3)?,
                        locality: text_enum(row, 4, "locality", Locality::parse)?,
                        calls: row.get(5)?,
                        prompt_tokens: row.get::<_, Option<u64>>(6)?.unwrap_or(0),
                        completion_tokens: row.get::<_, Option<u64>>(7)?.unwrap_or(0),
                        latency_ms: row.get::<_, Option<u64>>(8)?.unwrap_or(0),
                        cost_usd: row.get::<_, Option<f64>>(9)?.unwrap_or(0.0),
                        avoided_usd: row.get::<_, Option<f64>>(10)?.unwrap_or(0.0),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.query_err(WHAT))
    }
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        ticket_id: row.get(1)?,
        title: row.get(2)?,
        ticket_path: row.get(3)?,
        status: text_enum(row, 4, "status", RunStatus::parse)?,
        why: row.get(5)?,
        repo: row.get(6)?,
        base_commit: row.get(7)?,
        branch: row.get(8)?,
        worktree: row.get(9)?,
        created_at_ms: row.get(10)?,
        updated_at_ms: row.get(11)?,
    })
}

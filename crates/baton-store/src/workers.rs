//! Workers (DESIGN.md section 6): one `workers` row per agent CLI or model server that Baton
//! supervises, the queue that hands out agent slots, and the state changes the supervisors
//! and the worker commands make.
//!
//! Every change runs in one `BEGIN IMMEDIATE` transaction that reads the current status,
//! refuses a change that does not apply to it, updates the row and appends the `worker.*`
//! event recording it (subject: the worker id; data: at least the new `status` and the
//! status it came `from`). A change either happens with its event or not at all.
//!
//! The life of a worker:
//!
//! ```text
//! queued --claim_next_queued--> starting --mark_started--> running --mark_ended--> ended
//!   |                              ^                          |
//!   |                              +-----mark_restarting------+
//!   +--mark_queued_killed--> killed     starting, running --set_lost--> lost
//! ```
//!
//! `mark_ended` ends a worker from any of queued, starting and running; the first end
//! recorded stands. `mark_supervisor` records the supervisor without changing the status.

use baton_core::event::{
    WorkerCreated, WorkerEnded, WorkerRestarting, WorkerStarted, WorkerStarting, WorkerSupervised,
};
use baton_core::{Event, WorkerRecord, WorkerStatus};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{json, text_enum};
use crate::{EventRow, Store, StoreError};

/// Shortest id prefix [`Store::worker`] accepts: shorter ones match too much to be meant.
pub const MIN_ID_PREFIX: usize = 4;

/// The columns [`record_from_row`] reads, in its order.
const COLUMNS: &str = "id, status, why, spec, pid, pgid, process_start, supervisor_pid,
    supervisor_start, created_at_ms, started_at_ms, ended_at_ms, exit_code, log_path, restarts";

/// The oldest queued worker that may start now, with the number of agent slots taken.
/// Agents take a slot while `starting` or `running`; a worker may start while fewer slots
/// than its own `max_parallel` are taken. Servers and run coordinators take no slot, so they
/// wait for none (a coordinator waiting behind the agents it starts would never start).
const PICK_QUEUED: &str = "WITH busy AS (
        SELECT count(*) AS n FROM workers
        WHERE status IN ('starting', 'running') AND json_extract(spec, '$.role') = 'agent'
    )
    SELECT w.id, busy.n FROM workers AS w, busy
    WHERE w.status = 'queued'
      AND (json_extract(w.spec, '$.role') != 'agent'
           OR busy.n < json_extract(w.spec, '$.max_parallel'))
    ORDER BY w.created_at_ms, w.id
    LIMIT 1";

/// Statuses a worker is still going in.
const GOING: &[WorkerStatus] = &[
    WorkerStatus::Queued,
    WorkerStatus::Starting,
    WorkerStatus::Running,
];

/// Statuses a worker has a slot (and, soon or now, processes) in.
const ACTIVE: &[WorkerStatus] = &[WorkerStatus::Starting, WorkerStatus::Running];

impl Store {
    /// Adds a worker with the status it has (normally [`WorkerStatus::Queued`]) and records
    /// `worker.queued` (`worker.created` for any other status). An id already taken is an
    /// error and writes nothing.
    pub fn insert_worker(&self, record: &WorkerRecord) -> Result<(), StoreError> {
        const WHAT: &str = "add a worker";
        let spec = serde_json::to_string(&record.spec).map_err(|source| StoreError::Encode {
            what: "worker spec",
            source,
        })?;
        let tx = self.write_tx(WHAT)?;
        tx.prepare_cached(
            "INSERT INTO workers (
                id, name, created_at_ms, status, why, spec, pid, pgid, process_start,
                supervisor_pid, supervisor_start, started_at_ms, ended_at_ms, exit_code,
                log_path, restarts, remediation_of
            ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                record.id,
                record.spec.name,
                record.created_at_ms,
                record.status.as_str(),
                record.why,
                spec,
                record.pid,
                record.pgid,
                record.process_start,
                record.supervisor_pid,
                record.supervisor_start,
                record.started_at_ms,
                record.ended_at_ms,
                record.exit_code,
                record.log_path,
                record.restarts,
                record.spec.remediation_of,
            ])
        })
        .map_err(self.query_err(WHAT))?;
        let created = WorkerCreated {
            status: record.status,
            why: record.why.clone(),
            name: record.spec.name.clone(),
            kind: record.spec.kind.clone(),
            role: record.spec.role,
            max_parallel: record.spec.max_parallel,
            remediation_of: record.spec.remediation_of.clone(),
        };
        let event = match record.status {
            WorkerStatus::Queued => Event::WorkerQueued(created),
            _ => Event::WorkerCreated(created),
        };
        self.insert_event(&tx, &record.id, &event)?;
        tx.commit().map_err(self.query_err(WHAT))
    }

    /// Hands out one free slot: the oldest queued worker (by `created_at_ms`, then id) that
    /// may start now, moved to `starting` (event `worker.starting`) and returned. An agent
    /// may start while fewer agents than its `spec.max_parallel` are `starting` or `running`;
    /// a server takes no slot and waits for none. `None` when nothing may start; call again
    /// until `None` to fill every free slot.
    ///
    /// Count and claim happen in one `BEGIN IMMEDIATE` transaction, so processes claiming at
    /// the same time never overfill the slots nor claim the same worker twice.
    pub fn claim_next_queued(&self) -> Result<Option<WorkerRecord>, StoreError> {
        const WHAT: &str = "claim a queued worker";
        let tx = self.write_tx(WHAT)?;
        let picked: Option<(String, i64)> = tx
            .prepare_cached(PICK_QUEUED)
            .and_then(|mut pick| {
                pick.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(self.query_err(WHAT))?;
        let Some((id, busy)) = picked else {
            // Nothing written: dropping the transaction releases the lock.
            return Ok(None);
        };
        set_status(&tx, &id, WorkerStatus::Starting).map_err(self.query_err(WHAT))?;
        let event = Event::WorkerStarting(WorkerStarting {
            status: WorkerStatus::Starting,
            from: WorkerStatus::Queued,
            agents_busy: busy,
        });
        self.insert_event(&tx, &id, &event)?;
        let record = record_by_id(&tx, &id).map_err(self.query_err(WHAT))?;
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(record)
    }

    /// Records the supervisor that owns the worker (event `worker.supervised`). `false`, and
    /// nothing written, when the worker has already ended.
    pub fn mark_supervisor(
        &self,
        id: &str,
        supervisor_pid: u32,
        supervisor_start: u64,
    ) -> Result<bool, StoreError> {
        self.change(
            "record a worker's supervisor",
            id,
            GOING,
            "UPDATE workers SET supervisor_pid = ?2, supervisor_start = ?3 WHERE id = ?1",
            params![id, supervisor_pid, supervisor_start],
            |from| {
                Event::WorkerSupervised(WorkerSupervised {
                    status: from,
                    from,
                    supervisor_pid,
                    supervisor_start,
                })
            },
        )
    }

    /// The supervisor started the worker's process (again, when `restarts > 0`): the worker
    /// is `running` with that process, its `why` and `exit_code` cleared. Event
    /// `worker.started`, or `worker.restarted` when `restarts > 0`. `false`, and nothing
    /// written, unless the worker is `starting` or `running` (a worker killed or lost in the
    /// meantime stays so).
    pub fn mark_started(
        &self,
        id: &str,
        pid: u32,
        pgid: u32,
        process_start: u64,
        at_ms: i64,
        restarts: u32,
    ) -> Result<bool, StoreError> {
        self.change(
            "mark a worker started",
            id,
            ACTIVE,
            "UPDATE workers SET status = 'running', why = NULL, exit_code = NULL, pid = ?2,
                pgid = ?3, process_start = ?4, started_at_ms = ?5, restarts = ?6
             WHERE id = ?1",
            params![id, pid, pgid, process_start, at_ms, restarts],
            |from| {
                let started = WorkerStarted {
                    status: WorkerStatus::Running,
                    from,
                    pid,
                    pgid,
                    process_start,
                    started_at_ms: at_ms,
                    restarts,
                };
                if restarts > 0 {
                    Event::WorkerRestarted(started)
                } else {
                    Event::WorkerStarted(started)
                }
            },
        )
    }

    /// The worker's process exited and its supervisor restarts it (a restart policy): back
    /// to `starting`, keeping its slot, with why, the exit code of the process that ended and
    /// the restarts so far (this one included). Event `worker.restarting`. `false`, and
    /// nothing written, unless it is `running`. The next [`Store::mark_started`] gives the new
    /// process.
    pub fn mark_restarting(
        &self,
        id: &str,
        why: Option<&str>,
        exit_code: Option<i32>,
        restarts: u32,
    ) -> Result<bool, StoreError> {
        self.change(
            "mark a worker restarting",
            id,
            &[WorkerStatus::Running],
            "UPDATE workers SET status = 'starting', why = ?2, exit_code = ?3 WHERE id = ?1",
            params![id, why, exit_code],
            |from| {
                Event::WorkerRestarting(WorkerRestarting {
                    from: Some(from),
                    why: why.map(str::to_owned),
                    exit_code,
                    restarts: Some(restarts),
                })
            },
        )
    }

    /// Ends the worker with `status` (one of the end statuses), why and exit code. Event
    /// `worker.ended`. `false`, and nothing written, when it had already ended: the first
    /// end recorded stands, so a supervisor and `baton kill` racing cannot overwrite each
    /// other.
    pub fn mark_ended(
        &self,
        id: &str,
        status: WorkerStatus,
        why: Option<&str>,
        exit_code: Option<i32>,
        ended_at_ms: i64,
    ) -> Result<bool, StoreError> {
        if !status.is_terminal() {
            return Err(StoreError::NotAnEnd {
                id: id.into(),
                status,
            });
        }
        self.change(
            "mark a worker ended",
            id,
            GOING,
            "UPDATE workers SET status = ?2, why = ?3, exit_code = ?4, ended_at_ms = ?5
             WHERE id = ?1",
            params![id, status.as_str(), why, exit_code, ended_at_ms],
            |from| {
                Event::WorkerEnded(WorkerEnded {
                    status,
                    from,
                    why: why.map(str::to_owned),
                    exit_code,
                    ended_at_ms,
                })
            },
        )
    }

    /// Kills a worker that never got a slot (it has no supervisor and no process): it
    /// becomes `killed`, ended now, with `why` (event `worker.ended`). `false`, and nothing
    /// written, unless it is still `queued`: one claimed meanwhile is its supervisor's to stop.
    pub fn mark_queued_killed(&self, id: &str, why: &str) -> Result<bool, StoreError> {
        let now = jiff::Timestamp::now().as_millisecond();
        self.change(
            "kill a queued worker",
            id,
            &[WorkerStatus::Queued],
            "UPDATE workers SET status = 'killed', why = ?2, ended_at_ms = ?3 WHERE id = ?1",
            params![id, why, now],
            |from| {
                Event::WorkerEnded(WorkerEnded {
                    status: WorkerStatus::Killed,
                    from,
                    why: Some(why.to_owned()),
                    exit_code: None,
                    ended_at_ms: now,
                })
            },
        )
    }

    /// Its supervisor died (found out by PID plus process start time): the worker is `lost`,
    /// ended now, with `why` (event `worker.lost`). `false`, and nothing written, unless it
    /// is `starting` or `running`.
    pub fn set_lost(&self, id: &str, why: &str) -> Result<bool, StoreError> {
        let now = jiff::Timestamp::now().as_millisecond();
        self.change(
            "mark a worker lost",
            id,
            ACTIVE,
            "UPDATE workers SET status = 'lost', why = ?2, ended_at_ms = ?3 WHERE id = ?1",
            params![id, why, now],
            |from| {
                Event::WorkerLost(WorkerEnded {
                    status: WorkerStatus::Lost,
                    from,
                    why: Some(why.to_owned()),
                    exit_code: None,
                    ended_at_ms: now,
                })
            },
        )
    }

    /// The worker `key` names, tried in this order: an exact id; else an exact name (the
    /// newest worker of that name); else, for at least [`MIN_ID_PREFIX`] characters, the
    /// start of exactly one id. A prefix of several ids is [`StoreError::AmbiguousWorker`].
    pub fn worker(&self, key: &str) -> Result<Option<WorkerRecord>, StoreError> {
        const WHAT: &str = "look up a worker";
        if let Some(record) = record_by_id(&self.conn, key).map_err(self.query_err(WHAT))? {
            return Ok(Some(record));
        }
        let by_name = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM workers WHERE name = ?1
                 ORDER BY created_at_ms DESC, id DESC LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row([key], record_from_row).optional())
            .map_err(self.query_err(WHAT))?;
        if by_name.is_some() || key.chars().count() < MIN_ID_PREFIX {
            return Ok(by_name);
        }
        let mut candidates = self
            .conn
            .prepare_cached("SELECT id FROM workers WHERE id GLOB ?1 ORDER BY id")
            .and_then(|mut stmt| {
                stmt.query_map([glob_prefix(key)], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(WHAT))?;
        match candidates.len() {
            0 => Ok(None),
            1 => {
                let id = candidates.remove(0);
                record_by_id(&self.conn, &id).map_err(self.query_err(WHAT))
            }
            _ => Err(StoreError::AmbiguousWorker {
                prefix: key.into(),
                candidates,
            }),
        }
    }

    /// Every worker (`include_ended`) or those still going (queued, starting, running),
    /// oldest first (by `created_at_ms`, then id).
    pub fn workers(&self, include_ended: bool) -> Result<Vec<WorkerRecord>, StoreError> {
        const WHAT: &str = "list workers";
        let filter = if include_ended {
            ""
        } else {
            "WHERE status IN ('queued', 'starting', 'running')"
        };
        self.select_workers(
            WHAT,
            &format!("SELECT {COLUMNS} FROM workers {filter} ORDER BY created_at_ms, id"),
            [],
        )
    }

    /// The workers with these ids, oldest first; ids of no worker are left out.
    pub fn workers_by_ids<I, S>(&self, ids: I) -> Result<Vec<WorkerRecord>, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        const WHAT: &str = "read workers by id";
        let ids: Vec<String> = ids.into_iter().map(|id| id.as_ref().to_owned()).collect();
        let ids = serde_json::to_string(&ids).map_err(|source| StoreError::Encode {
            what: "worker ids",
            source,
        })?;
        self.select_workers(
            WHAT,
            &format!(
                "SELECT {COLUMNS} FROM workers WHERE id IN (SELECT value FROM json_each(?1))
                 ORDER BY created_at_ms, id"
            ),
            [ids],
        )
    }

    /// The remediation chain after worker `id`: the workers remediating it, those
    /// remediating them, and so on, oldest first. Empty when there are none.
    pub fn remediations_of(&self, id: &str) -> Result<Vec<WorkerRecord>, StoreError> {
        const WHAT: &str = "read a worker's remediations";
        // UNION, not UNION ALL: a chain edited by hand into a cycle still ends.
        self.select_workers(
            WHAT,
            &format!(
                "WITH RECURSIVE chain (id) AS (
                    SELECT id FROM workers WHERE remediation_of = ?1
                    UNION
                    SELECT w.id FROM workers AS w JOIN chain ON w.remediation_of = chain.id
                )
                SELECT {COLUMNS} FROM workers WHERE id IN (SELECT id FROM chain)
                ORDER BY created_at_ms, id"
            ),
            [id],
        )
    }

    /// The `worker.*` events of worker `id`, oldest first.
    pub fn worker_events(&self, id: &str) -> Result<Vec<EventRow>, StoreError> {
        let mut events = self.events_of(id)?;
        events.retain(|row| row.event.kind().starts_with("worker."));
        Ok(events)
    }

    fn select_workers<P: rusqlite::Params>(
        &self,
        what: &'static str,
        sql: &str,
        params: P,
    ) -> Result<Vec<WorkerRecord>, StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_map(params, record_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.query_err(what))
    }

    /// One state change of worker `id`, with its event, in one write transaction: reads the
    /// status; an unknown id is [`StoreError::UnknownWorker`]; a status not in `from` is
    /// `Ok(false)` with nothing written; else runs `update` (`?1` is the id) and appends the
    /// event `event` makes from the old status.
    fn change(
        &self,
        what: &'static str,
        id: &str,
        from: &[WorkerStatus],
        update: &str,
        params: &[&dyn ToSql],
        event: impl FnOnce(WorkerStatus) -> Event,
    ) -> Result<bool, StoreError> {
        let tx = self.write_tx(what)?;
        let current = tx
            .prepare_cached("SELECT status FROM workers WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([id], |r| text_enum(r, 0, "status", parse_status))
                    .optional()
            })
            .map_err(self.query_err(what))?;
        let Some(current) = current else {
            return Err(StoreError::UnknownWorker { id: id.into() });
        };
        if !from.contains(&current) {
            return Ok(false);
        }
        tx.prepare_cached(update)
            .and_then(|mut stmt| stmt.execute(params))
            .map_err(self.query_err(what))?;
        self.insert_event(&tx, id, &event(current))?;
        tx.commit().map_err(self.query_err(what))?;
        Ok(true)
    }
}

fn set_status(conn: &Connection, id: &str, status: WorkerStatus) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE workers SET status = ?2 WHERE id = ?1")?
        .execute(params![id, status.as_str()])
}

fn record_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<WorkerRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM workers WHERE id = ?1"))?
        .query_row([id], record_from_row)
        .optional()
}

/// Reads the [`COLUMNS`]. Name and `remediation_of` come from the spec, which the table's
/// CHECKs keep equal to their columns.
fn record_from_row(row: &Row<'_>) -> rusqlite::Result<WorkerRecord> {
    Ok(WorkerRecord {
        id: row.get(0)?,
        status: text_enum(row, 1, "status", parse_status)?,
        why: row.get(2)?,
        spec: json(row, 3)?,
        pid: row.get(4)?,
        pgid: row.get(5)?,
        process_start: row.get(6)?,
        supervisor_pid: row.get(7)?,
        supervisor_start: row.get(8)?,
        created_at_ms: row.get(9)?,
        started_at_ms: row.get(10)?,
        ended_at_ms: row.get(11)?,
        exit_code: row.get(12)?,
        log_path: row.get(13)?,
        restarts: row.get(14)?,
    })
}

fn parse_status(value: &str) -> Option<WorkerStatus> {
    value.parse().ok()
}

/// A GLOB pattern matching the strings that start with `prefix`: its wildcard characters
/// are put in brackets, where they stand for themselves.
fn glob_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        match c {
            '*' | '?' | '[' => {
                pattern.push('[');
                pattern.push(c);
                pattern.push(']');
            }
            _ => pattern.push(c),
        }
    }
    pattern.push('*');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::WorkerRole;

    #[test]
    fn a_glob_prefix_takes_wildcards_literally() {
        assert_eq!(glob_prefix("0190a"), "0190a*");
        assert_eq!(glob_prefix("a*b?c[d]"), "a[*]b[?]c[[]d]*");
    }

    /// The names `PICK_QUEUED` compares the stored spec's `role` with.
    fn role_name(role: WorkerRole) -> &'static str {
        match role {
            WorkerRole::Agent => "agent",
            WorkerRole::Server => "server",
            WorkerRole::Coordinator => "coordinator",
        }
    }

    #[test]
    fn role_names_are_the_ones_serde_writes() {
        for role in [
            WorkerRole::Agent,
            WorkerRole::Server,
            WorkerRole::Coordinator,
        ] {
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role_name(role))
            );
        }
    }

    #[test]
    fn every_status_name_parses_back() {
        for status in WorkerStatus::ALL {
            assert_eq!(parse_status(status.as_str()), Some(status));
        }
    }
}

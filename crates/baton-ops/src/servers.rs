//! Model servers of `[servers.NAME]`: run under the same supervisor as workers, restarted on
//! failure with backoff, watched with a health probe. Up (and wait until healthy), down,
//! status, the record whose log to show, and `ensure_up`, which dispatch calls for a step
//! whose backend names a server.

use std::time::{Duration, Instant};

use baton_core::{WorkerRecord, WorkerRole, WorkerStatus};
use baton_exec::Signal;
use baton_store::Store;
use serde::Serialize;

use crate::notice::{Notice, Notices};
use crate::workers::{self, WorkerView};
use crate::{OpsError, Project};

/// How often `up` checks the health URL while the server loads.
const HEALTH_INTERVAL: Duration = Duration::from_millis(100);

/// A health check's own timeout while waiting for a server to come up, and in `status`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// A server that is up and healthy: its supervisor's worker (named as the server) and the
/// health URL that answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerUp {
    #[serde(flatten)]
    pub worker: WorkerView,
    pub health: String,
}

/// What stopping a server did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DownOutcome {
    NotRunning,
    Stopped { status: WorkerStatus },
    StillStopping,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerDown {
    pub name: String,
    #[serde(flatten)]
    pub outcome: DownOutcome,
}

/// One server of `[servers]` now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerStatus {
    pub name: String,
    /// Its supervisor's worker, when it runs.
    pub worker: Option<WorkerView>,
    pub health: String,
    /// Whether the health URL answers now.
    pub healthy: bool,
}

/// The servers `name` picks: that one, or all configured when `None`.
fn names(project: &Project, name: Option<&str>) -> Result<Vec<String>, OpsError> {
    let settings = project.settings()?;
    let names: Vec<String> = match name {
        Some(name) if !settings.servers.contains_key(name) => {
            return Err(OpsError::Unknown {
                what: "server",
                name: name.into(),
                known: settings.servers.keys().cloned().collect(),
            });
        }
        Some(name) => vec![name.to_string()],
        None => settings.servers.keys().cloned().collect(),
    };
    if names.is_empty() {
        return Err(OpsError::NoServers);
    }
    Ok(names)
}

/// The active supervisor record of a server, if it runs.
fn running(store: &Store, name: &str) -> Result<Option<WorkerRecord>, OpsError> {
    Ok(store.workers(false)?.into_iter().rev().find(|w| {
        w.spec.role == WorkerRole::Server && w.spec.name == name && !w.status.is_terminal()
    }))
}

/// Whether `url` answers 200 within `timeout` (a blocking check, off the runtime's threads).
async fn healthy(url: &str, timeout: Duration) -> bool {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || baton_exec::health::check(&url, timeout))
        .await
        .unwrap_or(false)
}

/// Starts servers (all configured when `name` is `None`) unless they run, and waits until
/// each is healthy.
pub async fn up(project: &Project, name: Option<&str>) -> Result<Vec<ServerUp>, OpsError> {
    let mut started = Vec::new();
    for name in names(project, name)? {
        started.push(up_one(project, &name).await?);
    }
    Ok(started)
}

/// Starts one server unless it runs, and waits until its health URL answers 200 (or the
/// server fails, or `start_timeout` passes).
async fn up_one(project: &Project, name: &str) -> Result<ServerUp, OpsError> {
    let settings = project.settings()?;
    let spec = workers::server_spec(&settings, name, project.cwd())?;
    let server = &settings.servers[name];
    let supervisor = project.supervisor()?;
    let pool = project.pool()?;
    {
        let store = pool.get()?;
        workers::reconcile(&store, Some(supervisor))?;
    }
    let existing = running(&*pool.get()?, name)?;
    let id = match existing {
        Some(record) => record.id,
        None => {
            if healthy(&server.health, Duration::from_secs(1)).await {
                return Err(OpsError::ServerForeign {
                    server: name.into(),
                    health: server.health.clone(),
                });
            }
            let store = pool.get()?;
            let record = workers::new_record(store.path(), spec);
            store.insert_worker(&record)?;
            workers::promote(&store, supervisor)?;
            record.id
        }
    };
    let started = Instant::now();
    loop {
        let current = workers::find(&*pool.get()?, &id)?;
        if current.status.is_terminal() {
            return Err(OpsError::ServerFailed {
                server: name.into(),
                why: current.why.unwrap_or_else(|| current.status.to_string()),
            });
        }
        if current.status == WorkerStatus::Running && healthy(&server.health, HEALTH_TIMEOUT).await
        {
            return Ok(ServerUp {
                worker: WorkerView::of(&current, baton_core::now_ms()),
                health: server.health.clone(),
            });
        }
        if started.elapsed() > server.start_timeout {
            return Err(OpsError::ServerUnhealthy {
                server: name.into(),
                health: server.health.clone(),
                after: server.start_timeout,
            });
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}

/// Stops servers (all configured when `name` is `None`).
pub async fn down(project: &Project, name: Option<&str>) -> Result<Vec<ServerDown>, OpsError> {
    let mut stopped = Vec::new();
    for name in names(project, name)? {
        let record = {
            let store = project.store()?;
            workers::reconcile(&store, project.supervisor().ok())?;
            running(&store, &name)?
        };
        let outcome = match record {
            None => DownOutcome::NotRunning,
            Some(record) => match workers::stop(project, &record, Signal::SIGTERM).await? {
                Some(status) => DownOutcome::Stopped { status },
                None => DownOutcome::StillStopping,
            },
        };
        stopped.push(ServerDown { name, outcome });
    }
    Ok(stopped)
}

/// Every configured server: its supervisor's worker when it runs, and whether its health URL
/// answers now.
pub async fn status(project: &Project) -> Result<Vec<ServerStatus>, OpsError> {
    let settings = project.settings()?;
    let store = project.store()?;
    workers::reconcile(&store, project.supervisor().ok())?;
    let now = baton_core::now_ms();
    let mut rows = Vec::new();
    for (name, server) in &settings.servers {
        let worker = running(&store, name)?.map(|record| WorkerView::of(&record, now));
        rows.push(ServerStatus {
            name: name.clone(),
            worker,
            health: server.health.clone(),
            healthy: healthy(&server.health, HEALTH_TIMEOUT).await,
        });
    }
    Ok(rows)
}

/// The newest supervisor record of a server, to show its log. A server no longer configured
/// still has the logs of its past runs.
pub async fn last_run(project: &Project, name: &str) -> Result<WorkerRecord, OpsError> {
    let settings = project.settings()?;
    let found = project
        .store()?
        .workers(true)?
        .into_iter()
        .rev()
        .find(|w| w.spec.role == WorkerRole::Server && w.spec.name == name);
    match found {
        Some(record) => Ok(record),
        None if settings.servers.contains_key(name) => Err(OpsError::ServerNeverRan {
            server: name.into(),
        }),
        None => Err(OpsError::Unknown {
            what: "server",
            name: name.into(),
            known: settings.servers.keys().cloned().collect(),
        }),
    }
}

/// Starts `server` (the server of `target`, a step's label) when its health URL does not
/// answer, unless `start` is false, which makes a down server an error.
pub async fn ensure_up(
    project: &Project,
    server: &str,
    target: &str,
    start: bool,
    notices: &dyn Notices,
) -> Result<(), OpsError> {
    let settings = project.settings()?;
    let health = settings
        .servers
        .get(server)
        .map(|s| s.health.clone())
        .ok_or_else(|| OpsError::Unknown {
            what: "server",
            name: server.into(),
            known: settings.servers.keys().cloned().collect(),
        })?;
    if healthy(&health, Duration::from_secs(1)).await {
        return Ok(());
    }
    if !start {
        return Err(OpsError::ServerDown {
            server: server.into(),
            target: target.into(),
            health,
        });
    }
    notices.notice(Notice::info(format!(
        "starting server `{server}` for {target}"
    )));
    up_one(project, server).await.map(drop)
}

//! Shared test helpers: the tool names, a recording [`Actions`] double and a store with
//! workers in it.

use std::sync::{Arc, Mutex};

use baton_core::{WorkerRecord, WorkerSpec, WorkerStatus};
use baton_mcp::{Actions, DispatchFuture, DispatchParams, WorkerSpawnParams};
use baton_store::Store;
use serde_json::json;

/// Every tool the server lists, in name order.
pub(crate) const TOOL_NAMES: [&str; 10] = [
    "dispatch",
    "memory_delete",
    "memory_get",
    "memory_list",
    "memory_search",
    "memory_store",
    "swarm_status",
    "worker_logs",
    "worker_spawn",
    "worker_status",
];

/// What the double was asked to do.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub spawned: Vec<WorkerSpawnParams>,
    pub dispatched: Vec<DispatchParams>,
}

/// An [`Actions`] that records its calls and answers from a script: a spawn named `broken`
/// and a dispatch whose task is `fail` fail with a message.
#[derive(Debug, Default, Clone)]
pub(crate) struct FakeActions {
    pub calls: Arc<Mutex<Calls>>,
}

impl Actions for FakeActions {
    fn spawn_worker(&self, params: WorkerSpawnParams) -> Result<serde_json::Value, String> {
        self.calls.lock().unwrap().spawned.push(params.clone());
        if params.name.as_deref() == Some("broken") {
            return Err("no worker template `nope`\nhint: `baton config show` lists them".into());
        }
        Ok(json!({
            "id": "w-fake-1",
            "name": params.name.unwrap_or_else(|| "fake".into()),
            "status": "queued",
            "log_path": "/tmp/w-fake-1.log",
        }))
    }

    fn dispatch(&self, params: DispatchParams) -> DispatchFuture {
        self.calls.lock().unwrap().dispatched.push(params.clone());
        Box::pin(async move {
            if params.task == "fail" {
                return Err("backend `local` is down\nhint: `baton doctor`".into());
            }
            Ok(json!({
                "reply": format!("done: {}", params.task),
                "backend": "local",
                "model": "fake-coder",
                "route": params.route.unwrap_or_else(|| "auto".into()),
                "usage": {"input_tokens": 12, "output_tokens": 3},
                "latency_ms": 5,
            }))
        })
    }
}

/// A temp dir with a store holding one queued worker `w-test-1` (name `builder`) whose log
/// has two timestamped lines, one that succeeded 5 s ago (`w-done`, no log file) and one
/// that ended two hours ago (`w-old`).
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub db: std::path::PathBuf,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let log = dir.path().join("w-test-1.log");
    std::fs::write(
        &log,
        "2026-11-21T10:00:00.000Z  starting build\n2026-11-21T10:00:01.500Z  compiled 3 crates\n",
    )
    .unwrap();
    let store = Store::open(&db).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let spec = WorkerSpec::new("builder", vec!["cargo".into(), "build".into()], "/tmp");
    let record = WorkerRecord::queued("w-test-1", spec, log.display().to_string(), now - 1000);
    store.insert_worker(&record).unwrap();
    // Two ended workers: one an hour and more ago (left out of `swarm_status`), one just now.
    for (id, ended_at_ms) in [("w-old", now - 2 * 3_600_000), ("w-done", now - 5_000)] {
        let spec = WorkerSpec::new(id, vec!["true".into()], "/tmp");
        let log = dir.path().join(format!("{id}.log")).display().to_string();
        let record = WorkerRecord::queued(id, spec, log, ended_at_ms - 60_000);
        store.insert_worker(&record).unwrap();
        let ended = store
            .mark_ended(
                id,
                WorkerStatus::Succeeded,
                Some("exit 0"),
                Some(0),
                ended_at_ms,
            )
            .unwrap();
        assert!(ended, "{id} was not marked ended");
    }
    Fixture { _dir: dir, db }
}

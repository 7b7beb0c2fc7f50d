//! Shared test helpers: the tool names, a store with workers in it, and the project over it.

use std::sync::Arc;

use baton_config::EnvSnapshot;
use baton_core::{WorkerRecord, WorkerSpec, WorkerStatus};
use baton_ops::{Project, ProjectOptions, Supervisor};
use baton_store::Store;

/// Every tool the server lists, in name order.
pub(crate) const TOOL_NAMES: [&str; 15] = [
    "dispatch",
    "memory_delete",
    "memory_get",
    "memory_list",
    "memory_search",
    "memory_store",
    "run_list",
    "run_resume",
    "run_review",
    "run_start",
    "run_status",
    "swarm_status",
    "worker_logs",
    "worker_spawn",
    "worker_status",
];

/// A project over the fixture's store (`BATON_HOME` is its directory), configured from
/// `env` pairs (e.g. `CODER_API_URL`), whose workers are supervised by the `mcp_fixture`
/// example.
pub(crate) fn project(fixture: &Fixture, env: &[(&str, &str)]) -> Arc<Project> {
    let dir = fixture.db.parent().unwrap();
    let mut snapshot = EnvSnapshot::from_pairs(env.iter().copied(), Some(dir.join("home")));
    snapshot = snapshot.with("BATON_HOME", dir.display().to_string());
    Arc::new(Project::new(ProjectOptions {
        cwd: dir.to_path_buf(),
        env: snapshot,
        overrides: Vec::new(),
        supervisor: Some(Supervisor {
            program: crate::python::fixture_binary(),
            args: vec!["__supervise".into()],
        }),
    }))
}

/// A temp dir with a store holding one queued worker `w-test-1` (name `builder`) whose log
/// has two timestamped lines, one that succeeded 5 s ago (`w-done`, no log file) and one
/// that ended two hours ago (`w-old`).
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
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
    Fixture { dir, db }
}

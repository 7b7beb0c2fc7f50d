//! Many writers on one database file at once, as happens when several workers and CLI calls
//! record their calls together: with `busy_timeout` and `BEGIN IMMEDIATE` none may fail and
//! no row may be lost, and a fresh file is migrated exactly once.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use baton_core::{CallOutcome, CallRecord, Locality, Usage};
use baton_store::{SCHEMA_VERSION, Store};
use pretty_assertions::assert_eq;
use tempfile::TempDir;

const PER_WRITER: usize = 200;

fn call(id: String) -> CallRecord {
    CallRecord {
        request_id: id.clone(),
        id,
        started_at_ms: 1,
        profile: "code".into(),
        route: "local".into(),
        backend: "local".into(),
        endpoint: "http://127.0.0.1:11438/v1".into(),
        model: "qwen3-coder".into(),
        locality: Locality::Local,
        attempt: 1,
        usage: Usage {
            prompt_tokens: 10,
            completion_tokens: 2,
            cached_tokens: 0,
            estimated: false,
        },
        latency_ms: 5,
        ttft_ms: Some(1),
        outcome: CallOutcome::Ok,
        error_class: None,
        error: None,
        cache_hit: false,
        cost_usd: 0.0,
        avoided_usd: 0.0,
    }
}

/// Opens its own store on `path` and records `PER_WRITER` calls one transaction each.
fn write_calls(path: &Path, writer: &str) {
    let store = Store::open(path).unwrap();
    for i in 0..PER_WRITER {
        store
            .record_calls(&[call(format!("{writer}-{i:03}"))])
            .unwrap();
    }
}

fn ids(writers: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    writers
        .into_iter()
        .flat_map(|w| (0..PER_WRITER).map(move |i| format!("{w}-{i:03}")))
        .collect()
}

fn stored_ids(path: &Path) -> BTreeSet<String> {
    Store::open(path)
        .unwrap()
        .calls(None)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn user_version(path: &Path) -> u32 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn eight_threads_writing_to_a_fresh_file_at_once_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".baton/baton.db");
    let writers: Vec<String> = (0..8).map(|t| format!("thread{t}")).collect();
    // All threads open the not-yet-existing file together, so they also race to migrate it.
    let start = Arc::new(Barrier::new(writers.len()));
    let handles: Vec<_> = writers
        .iter()
        .map(|writer| {
            let (path, writer, start) = (path.clone(), writer.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                write_calls(&path, &writer);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let stored = stored_ids(&path);
    assert_eq!(stored.len(), writers.len() * PER_WRITER);
    assert_eq!(stored, ids(writers));
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

/// Set on the child processes of the test below; this test does nothing without it.
const CHILD_DB: &str = "BATON_STORE_TEST_CHILD_DB";
const CHILD_NAME: &str = "BATON_STORE_TEST_CHILD_NAME";

#[test]
fn child_process_writer() {
    if let (Ok(path), Ok(name)) = (std::env::var(CHILD_DB), std::env::var(CHILD_NAME)) {
        write_calls(Path::new(&path), &name);
    }
}

#[test]
fn four_processes_writing_to_a_fresh_file_at_once_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".baton/baton.db");
    let exe = std::env::current_exe().unwrap();
    let writers: Vec<String> = (0..4).map(|p| format!("process{p}")).collect();
    // Each child is this test binary running only `child_process_writer`.
    let children: Vec<_> = writers
        .iter()
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "child_process_writer",
                    "--exact",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env(CHILD_DB, &path)
                .env(CHILD_NAME, writer)
                .output_spawned()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(stored_ids(&path), ids(writers));
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

/// Spawns with piped output so a failing child's panic shows up in the assertion.
trait SpawnPiped {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnPiped for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

//! Many writers on one database file at once, as happens when several workers and CLI calls
//! record their calls together: with `busy_timeout` and `BEGIN IMMEDIATE` none may fail and
//! no row may be lost, and a fresh file is migrated exactly once. Supervisors claiming queued
//! workers at once never fill more slots than `max_parallel` nor claim a worker twice. Worker
//! processes storing memory entries at once lose none, and the search index keeps up.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests start the binary under test and tools directly"
)]

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use baton_core::{
    CallOutcome, CallRecord, Locality, Usage, WorkerRecord, WorkerSpec, WorkerStatus,
};
use baton_store::{MemoryQuery, NewMemory, SCHEMA_VERSION, Store};
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
    let writers: Vec<String> = (0..4).map(|p| format!("process{p}")).collect();
    run_children("child_process_writer", CHILD_DB, &path, &writers);
    assert_eq!(stored_ids(&path), ids(writers));
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

const MEMORY_WRITERS: usize = 8;
const MEMORY_PER_WRITER: usize = 500;
/// Set on the child processes of the memory test below; this test does nothing without it.
const MEMORY_CHILD_DB: &str = "BATON_STORE_TEST_MEMORY_CHILD_DB";

/// Opens its own store on `path` and stores `MEMORY_PER_WRITER` entries, one transaction
/// each, every fifth as an upsert of a key it stored before (the first write of a key is
/// never an upsert, so each key ends with its second value).
fn store_memories(path: &Path, writer: &str) {
    let store = Store::open(path).unwrap();
    for i in 0..MEMORY_PER_WRITER {
        let entry = NewMemory::text(
            format!("ns-{writer}"),
            format!("pattern-{writer}-{i:03}"),
            format!("shared word and {writer} entry {i}"),
        )
        .with_tags(["parallel"]);
        store.memory_store(&entry, false, 1 + i as i64).unwrap();
        if i.is_multiple_of(5) {
            let revised = NewMemory {
                value: format!("shared word and {writer} entry {i} revised"),
                ..entry
            };
            store.memory_store(&revised, true, 2 + i as i64).unwrap();
        }
    }
}

#[test]
fn child_process_memory_writer() {
    if let (Ok(path), Ok(name)) = (std::env::var(MEMORY_CHILD_DB), std::env::var(CHILD_NAME)) {
        store_memories(Path::new(&path), &name);
    }
}

#[test]
fn eight_processes_storing_500_memory_entries_each_at_once_lose_none() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".baton/baton.db");
    let writers: Vec<String> = (0..MEMORY_WRITERS).map(|p| format!("p{p}")).collect();
    run_children(
        "child_process_memory_writer",
        MEMORY_CHILD_DB,
        &path,
        &writers,
    );

    let store = Store::open(&path).unwrap();
    let now = i64::MAX - 1;
    for writer in &writers {
        let namespace = format!("ns-{writer}");
        let entries = store
            .memory_list(Some(&namespace), None, usize::MAX, 0, now)
            .unwrap();
        let keys: BTreeSet<String> = entries.iter().map(|e| e.key.clone()).collect();
        let expected: BTreeSet<String> = (0..MEMORY_PER_WRITER)
            .map(|i| format!("pattern-{writer}-{i:03}"))
            .collect();
        assert_eq!(keys, expected, "{namespace}");
        for entry in &entries {
            let i: usize = entry.key.rsplit('-').next().unwrap().parse().unwrap();
            let suffix = if i.is_multiple_of(5) { " revised" } else { "" };
            assert_eq!(
                entry.value,
                format!("shared word and {writer} entry {i}{suffix}")
            );
        }
    }
    // The full-text index saw every write: each entry is found, once, by a word all share.
    let reply = store
        .memory_search(&MemoryQuery::new("shared").with_limit(0), now)
        .unwrap();
    assert_eq!(reply.total_candidates, MEMORY_WRITERS * MEMORY_PER_WRITER);
    assert_eq!(reply.namespaces_searched.len(), MEMORY_WRITERS);
    let revised = store
        .memory_search(&MemoryQuery::new("revised").with_limit(0), now)
        .unwrap();
    assert_eq!(
        revised.total_candidates,
        MEMORY_WRITERS * MEMORY_PER_WRITER / 5
    );
    let stored = store
        .events(0, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind() == "memory.stored")
        .count();
    assert_eq!(stored, MEMORY_WRITERS * MEMORY_PER_WRITER);
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

/// Runs one child process per writer at once, each being this test binary running only
/// `test` with `db_var` set to `path` and [`CHILD_NAME`] to its writer, and checks that
/// every child succeeded. Output is piped so a failing child's panic shows up in the
/// assertion.
fn run_children(test: &str, db_var: &str, path: &Path, writers: &[String]) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = writers
        .iter()
        .map(|writer| {
            Command::new(&exe)
                .args([test, "--exact", "--test-threads=1", "--quiet"])
                .env(db_var, path)
                .env(CHILD_NAME, writer)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
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
}

const QUEUED: usize = 50;
const SLOTS: u32 = 8;
const CLAIMERS: usize = 8;

fn queued_agent(i: usize) -> WorkerRecord {
    let id = format!("w{i:02}");
    let mut spec = WorkerSpec::new(id.clone(), vec!["true".into()], "/tmp");
    spec.grace_ms = 100;
    spec.max_parallel = SLOTS;
    spec.log_cap_bytes = 1024;
    WorkerRecord::queued(
        id.clone(),
        spec,
        format!("/tmp/{id}.log"),
        i64::try_from(i).unwrap(),
    )
}

/// Workers holding a slot in one consistent read of the table.
fn busy(store: &Store) -> usize {
    store
        .workers(false)
        .unwrap()
        .iter()
        .filter(|w| matches!(w.status, WorkerStatus::Starting | WorkerStatus::Running))
        .count()
}

/// One supervisor's loop on its own connection: claims, starts, and ends its workers (the
/// oldest it holds once it holds more than `keep`, or when nothing could be claimed) until
/// no worker is queued. Returns the ids it claimed.
fn claim_and_run(path: &Path, keep: usize) -> Vec<String> {
    let store = Store::open(path).unwrap();
    let mut claimed = Vec::new();
    let mut held = VecDeque::new();
    loop {
        let got = store.claim_next_queued().unwrap();
        let got_one = got.is_some();
        if let Some(worker) = got {
            assert_eq!(worker.status, WorkerStatus::Starting);
            assert!(store.mark_started(&worker.id, 1, 1, 1, 1, 0).unwrap());
            let now = busy(&store);
            assert!(now <= SLOTS as usize, "{now} workers hold a slot");
            claimed.push(worker.id.clone());
            held.push_back(worker.id);
        }
        if held.len() > keep || (!got_one && !held.is_empty()) {
            let id = held.pop_front().unwrap();
            assert!(
                store
                    .mark_ended(&id, WorkerStatus::Succeeded, None, Some(0), 2)
                    .unwrap()
            );
        }
        if !got_one && held.is_empty() {
            let queued = store
                .workers(false)
                .unwrap()
                .iter()
                .any(|w| w.status == WorkerStatus::Queued);
            if !queued {
                return claimed;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn eight_threads_claiming_at_once_never_exceed_max_parallel_nor_claim_a_worker_twice() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".baton/baton.db");
    let store = Store::open(&path).unwrap();
    for i in 0..QUEUED {
        store.insert_worker(&queued_agent(i)).unwrap();
    }
    let start = Arc::new(Barrier::new(CLAIMERS));
    let handles: Vec<_> = (0..CLAIMERS)
        .map(|t| {
            let (path, start) = (path.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                // Supervisors that keep one, two or three workers each: more than the slots.
                claim_and_run(&path, 1 + t % 3)
            })
        })
        .collect();
    let mut claimed: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    claimed.sort();
    let all: Vec<String> = (0..QUEUED).map(|i| queued_agent(i).id).collect();
    assert_eq!(claimed, all, "every worker claimed exactly once");

    // Events are numbered in commit order: replaying them gives the slots taken after every
    // commit, not only at the moments the threads looked.
    let mut taken = 0usize;
    let mut peak = 0usize;
    for event in store.events(0, usize::MAX).unwrap() {
        match event.kind() {
            "worker.starting" => taken += 1,
            "worker.ended" => taken -= 1,
            _ => {}
        }
        peak = peak.max(taken);
    }
    assert_eq!(taken, 0);
    assert!((1..=SLOTS as usize).contains(&peak), "peak {peak}");
    for worker in store.workers(true).unwrap() {
        assert_eq!(worker.status, WorkerStatus::Succeeded, "{}", worker.id);
        let kinds: Vec<String> = store
            .worker_events(&worker.id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "worker.queued",
                "worker.starting",
                "worker.started",
                "worker.ended"
            ]
        );
    }
}

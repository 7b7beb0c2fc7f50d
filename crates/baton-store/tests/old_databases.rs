//! Databases written by older versions of baton still open, migrate and read back the same
//! values. Each fixture under `tests/fixtures/` is frozen at the schema version it names.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::path::PathBuf;

use baton_core::{
    CallOutcome, CallRecord, ErrorClass, Locality, RestartPolicy, Usage, WorkerRecord, WorkerRole,
    WorkerSpec, WorkerStatus,
};
use baton_store::{
    CachedReply, EndpointProbe, MemoryEntry, MemoryQuery, NewMemory, SCHEMA_VERSION, Store,
    StoreOutcome,
};
use pretty_assertions::assert_eq;
use tempfile::TempDir;

/// A database file built from a fixture's SQL, as that version of baton left it.
fn database_from(dir: &TempDir, sql: &str) -> PathBuf {
    let path = dir.path().join("baton.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(sql).unwrap();
    path
}

#[test]
fn a_schema_v1_database_opens_and_reads_back_its_rows() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v1.sql"));
    let store = Store::open(&path).unwrap();

    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);

    assert_eq!(
        store.calls(None).unwrap(),
        [
            CallRecord {
                id: "0190a1b2-0000-7000-8000-000000000001".into(),
                request_id: "req-1".into(),
                started_at_ms: 1_760_000_000_000,
                profile: "code".into(),
                route: "auto".into(),
                backend: "local".into(),
                endpoint: "http://127.0.0.1:11438/v1".into(),
                model: "qwen3-coder".into(),
                locality: Locality::Local,
                attempt: 1,
                usage: Usage {
                    prompt_tokens: 1200,
                    completion_tokens: 340,
                    cached_tokens: 1000,
                    estimated: false
                },
                latency_ms: 2500,
                ttft_ms: Some(180),
                outcome: CallOutcome::Ok,
                error_class: None,
                error: None,
                cache_hit: false,
                cost_usd: 0.0,
                avoided_usd: 0.0084,
            },
            CallRecord {
                id: "0190a1b2-0000-7000-8000-000000000002".into(),
                request_id: "req-2".into(),
                started_at_ms: 1_760_000_001_000,
                profile: "code".into(),
                route: "api".into(),
                backend: "claude".into(),
                endpoint: "https://api.anthropic.com/v1".into(),
                model: "claude-sonnet-4-5".into(),
                locality: Locality::Cloud,
                attempt: 2,
                usage: Usage {
                    prompt_tokens: 900,
                    completion_tokens: 0,
                    cached_tokens: 0,
                    estimated: true
                },
                latency_ms: 30_000,
                ttft_ms: None,
                outcome: CallOutcome::Error,
                error_class: Some(ErrorClass::Retryable),
                error: Some("timed out after 30s".into()),
                cache_hit: false,
                cost_usd: 0.0027,
                avoided_usd: 0.0,
            },
        ]
    );
    assert_eq!(
        store.cache_get("sha256:ab12").unwrap(),
        Some(CachedReply {
            backend: "local".into(),
            model: "qwen3-coder".into(),
            reply: "fn main() {}".into(),
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 4,
                cached_tokens: 0,
                estimated: false
            },
            created_at_ms: 1_760_000_002_000,
        })
    );
    assert_eq!(
        store.get_probe("http://127.0.0.1:11438/v1").unwrap(),
        Some(EndpointProbe {
            url: "http://127.0.0.1:11438/v1".into(),
            probed_at_ms: 1_760_000_003_000,
            ok: true,
            server_kind: Some("llama.cpp".into()),
            models: vec!["qwen3-coder".into()],
            n_ctx: Some(8192),
            error: None,
        })
    );
    let events = store.events(0, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].at_ms,
            events[0].kind(),
            events[0].subject.as_str()
        ),
        (1_760_000_004_000, "ticket.noted", "run-1")
    );
    assert_eq!(events[0].data(), serde_json::json!({ "ticket": "T-1.md" }));
    // New rows go in beside the old ones.
    let next = store
        .append_event(
            "run-1",
            &baton_core::Event::Other {
                kind: "run.resumed".into(),
                version: 1,
                data: serde_json::json!({}),
            },
        )
        .unwrap();
    assert!(next > events[0].id);
}

fn user_version(path: &std::path::Path) -> u32 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn a_schema_v1_database_migrates_to_v2_keeping_its_rows_and_takes_workers() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v1.sql"));
    assert_eq!(user_version(&path), 1);
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);

    // The v1 rows are all there (the test above reads them field by field).
    assert_eq!(store.calls(None).unwrap().len(), 2);
    assert!(store.cache_get("sha256:ab12").unwrap().is_some());
    assert!(
        store
            .get_probe("http://127.0.0.1:11438/v1")
            .unwrap()
            .is_some()
    );
    let old_events = store.events(0, 10).unwrap();
    assert_eq!(old_events.len(), 1);
    assert_eq!(store.events_of("run-1").unwrap(), old_events);

    // The new table is empty and works beside them.
    assert_eq!(store.workers(true).unwrap(), []);
    let worker = v2_workers().remove(2);
    store.insert_worker(&worker).unwrap();
    assert_eq!(store.worker(&worker.id).unwrap(), Some(worker.clone()));
    let events = store.events(0, 10).unwrap();
    assert_eq!(events[0], old_events[0]);
    assert_eq!(
        events[1..].iter().map(|e| e.kind()).collect::<Vec<_>>(),
        ["worker.queued"]
    );
    drop(store);
    // Opening again migrates nothing more.
    Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

/// The workers in `fixtures/v2.sql`, oldest first.
fn v2_workers() -> Vec<WorkerRecord> {
    let spec = |name: &str| WorkerSpec {
        name: name.into(),
        kind: Some("codex".into()),
        role: WorkerRole::Agent,
        command: vec!["codex".into(), "exec".into(), "fix it".into()],
        cwd: "/home/me/p".into(),
        prompt: Some("fix it".into()),
        env_set: vec![],
        env_pass: vec![],
        env_from: Vec::new(),
        timeout_ms: None,
        idle_timeout_ms: None,
        grace_ms: 5000,
        expect: vec![],
        expect_pass: false,
        check: None,
        remediate: 0,
        remediation_of: None,
        max_parallel: 4,
        log_cap_bytes: 1_048_576,
        tmux: false,
        restart: RestartPolicy::Never,
        health_url: None,
    };
    let ended = WorkerRecord {
        id: "0190c000-0000-7000-8000-000000000001".into(),
        spec: WorkerSpec {
            env_set: vec![("RUST_LOG".into(), "debug".into())],
            env_pass: vec!["OPENAI_API_KEY".into()],
            env_from: Vec::new(),
            timeout_ms: Some(1_800_000),
            idle_timeout_ms: Some(600_000),
            expect: vec!["REPORT.md".into()],
            expect_pass: true,
            check: None,
            remediate: 1,
            ..spec("fix-parser")
        },
        status: WorkerStatus::Failed,
        why: Some("exit code 3".into()),
        pid: Some(4242),
        pgid: Some(4242),
        process_start: Some(987_654),
        supervisor_pid: Some(4241),
        supervisor_start: Some(987_650),
        created_at_ms: 1_760_000_010_000,
        started_at_ms: Some(1_760_000_010_100),
        ended_at_ms: Some(1_760_000_020_000),
        exit_code: Some(3),
        log_path: "/home/me/p/.baton/workers/0190c000-0000-7000-8000-000000000001.log".into(),
        restarts: 0,
    };
    let queued = WorkerRecord::queued(
        "0190c000-0000-7000-8000-000000000002",
        WorkerSpec {
            command: vec!["codex".into(), "exec".into(), "fix it again".into()],
            prompt: Some("fix it again".into()),
            remediation_of: Some(ended.id.clone()),
            ..spec("fix-parser-r1")
        },
        "/home/me/p/.baton/workers/0190c000-0000-7000-8000-000000000002.log",
        1_760_000_020_001,
    );
    let server = WorkerRecord {
        id: "0190c000-0000-7000-8000-000000000003".into(),
        spec: WorkerSpec {
            kind: None,
            role: WorkerRole::Server,
            command: vec!["llama-server".into(), "--port".into(), "11438".into()],
            prompt: None,
            grace_ms: 10_000,
            log_cap_bytes: 10_485_760,
            tmux: true,
            restart: RestartPolicy::OnFailure,
            health_url: Some("http://127.0.0.1:11438/health".into()),
            ..spec("coder1")
        },
        status: WorkerStatus::Running,
        why: None,
        pid: Some(5151),
        pgid: Some(5151),
        process_start: Some(555),
        supervisor_pid: Some(5150),
        supervisor_start: Some(550),
        created_at_ms: 1_760_000_000_000,
        started_at_ms: Some(1_760_000_005_000),
        ended_at_ms: None,
        exit_code: None,
        log_path: "/home/me/p/.baton/workers/0190c000-0000-7000-8000-000000000003.log".into(),
        restarts: 2,
    };
    vec![server, ended, queued]
}

#[test]
fn a_schema_v2_database_opens_and_reads_back_its_workers() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v2.sql"));
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);

    let workers = v2_workers();
    assert_eq!(store.workers(true).unwrap(), workers);
    let [server, ended, queued] = &workers[..] else {
        unreachable!()
    };
    assert_eq!(
        store.workers(false).unwrap(),
        [server.clone(), queued.clone()]
    );
    assert_eq!(store.worker("fix-parser").unwrap().as_ref(), Some(ended));
    assert_eq!(
        store.remediations_of(&ended.id).unwrap(),
        std::slice::from_ref(queued)
    );
    assert_eq!(
        store
            .worker_events(&ended.id)
            .unwrap()
            .iter()
            .map(|e| (
                e.kind().to_string(),
                e.data()["status"].as_str().map(str::to_string)
            ))
            .collect::<Vec<_>>(),
        [
            ("worker.queued".to_string(), Some("queued".to_string())),
            ("worker.ended".to_string(), Some("failed".to_string()))
        ]
    );
    // The server holds no agent slot: the queued agent starts.
    assert_eq!(
        store.claim_next_queued().unwrap().map(|w| w.id),
        Some(queued.id.clone())
    );
}

#[test]
fn a_schema_v2_database_migrates_to_v3_keeping_its_rows_and_takes_memory() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v2.sql"));
    assert_eq!(user_version(&path), 2);
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);

    // The v2 rows are all there (the test above reads them field by field).
    assert_eq!(store.workers(true).unwrap(), v2_workers());
    let old_events = store.events(0, 10).unwrap();
    assert_eq!(old_events.len(), 2);

    // The memory starts empty and works beside them.
    assert_eq!(store.memory_stats(1).unwrap(), []);
    let reply = store.memory_search(&MemoryQuery::new("parser"), 1).unwrap();
    assert_eq!(
        (reply.total_candidates, reply.namespaces_searched.len()),
        (0, 0)
    );
    let entry = NewMemory::text("patterns", "pattern-parser", "fix the parser by hand");
    assert_eq!(
        store.memory_store(&entry, false, 1).unwrap(),
        StoreOutcome::Created
    );
    let reply = store.memory_search(&MemoryQuery::new("parser"), 1).unwrap();
    assert_eq!(reply.hits[0].key, "pattern-parser");
    let events = store.events(0, 10).unwrap();
    assert_eq!(events[..2], old_events[..]);
    assert_eq!(events[2].kind(), "memory.stored");
    drop(store);
    Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

#[test]
fn a_schema_v3_database_opens_and_reads_back_its_memory() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v3.sql"));
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let now = 1_760_000_050_000;

    assert_eq!(
        store.memory_get("patterns", "pattern-auth-retry", now).unwrap(),
        Some(MemoryEntry {
            namespace: "patterns".into(),
            key: "pattern-auth-retry".into(),
            value: r#"{"problem":"401 after the session token expired","fix":"refresh the token, then retry with backoff"}"#.into(),
            is_json: true,
            tags: vec!["auth".into(), "http".into()],
            created_at_ms: 1_760_000_030_000,
            updated_at_ms: 1_760_000_040_000,
            expires_at_ms: None,
            access_count: 4,
            embedding_model: Some("nomic-embed-text".into()),
            embedding_dim: Some(2),
        })
    );
    assert_eq!(
        store.memory_get("results", "result-run-1", now).unwrap(),
        Some(MemoryEntry {
            namespace: "results".into(),
            key: "result-run-1".into(),
            value: "tests passed after adding a retry".into(),
            is_json: false,
            tags: vec![],
            created_at_ms: 1_760_000_032_000,
            updated_at_ms: 1_760_000_032_000,
            expires_at_ms: Some(1_760_000_100_000),
            access_count: 2,
            embedding_model: None,
            embedding_dim: None,
        })
    );
    // The full-text index the fixture's triggers built is searched as is.
    let reply = store
        .memory_search(&MemoryQuery::new("retry token"), now)
        .unwrap();
    assert_eq!(reply.namespaces_searched, ["patterns", "results"]);
    assert_eq!(
        reply
            .hits
            .iter()
            .map(|h| h.key.as_str())
            .collect::<Vec<_>>(),
        ["pattern-auth-retry", "result-run-1"]
    );
    let vectors = store
        .candidates_for_vector(&[], "nomic-embed-text", now)
        .unwrap();
    assert_eq!(vectors.len(), 1);
    assert_eq!(vectors[0].vector, [0.5, -1.0]);
    // After its expiry the result is gone from reads, and a purge deletes it.
    assert!(
        store
            .memory_get("results", "result-run-1", 1_760_000_100_000)
            .unwrap()
            .is_none()
    );
    assert_eq!(store.purge_expired(1_760_000_100_000).unwrap(), 1);
    assert_eq!(
        store
            .events_of("patterns/pattern-auth-retry")
            .unwrap()
            .iter()
            .map(|e| e.kind())
            .collect::<Vec<_>>(),
        ["memory.stored", "memory.updated", "memory.embedded"]
    );
}

#[test]
fn a_schema_v3_database_migrates_to_v4_keeping_its_memory_and_takes_edits() {
    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v3.sql"));
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 4) };
    let now = 1_760_000_050_000;
    assert!(
        store
            .memory_get("patterns", "pattern-auth-retry", now)
            .unwrap()
            .is_some()
    );
    let record = baton_core::EditRecord {
        id: "e1".into(),
        request_id: None,
        at_ms: now,
        model: Some("qwen".into()),
        format: baton_core::EditFormat::Udiff,
        parsed_as: Some(baton_core::EditFormat::Udiff),
        well_formed: true,
        edits: 1,
        applied: 1,
        already_applied: 0,
        failed: 0,
        refused: 0,
        written: true,
        dry_run: false,
    };
    store.record_edit(&record, &[]).unwrap();
    assert_eq!(store.edits(None).unwrap(), [record]);
}

#[test]
fn a_schema_v4_database_migrates_to_v5_and_reads_every_event_back_typed() {
    use baton_core::Event;
    use baton_core::event::{FileStatus, WorkerRestarting};

    let dir = TempDir::new().unwrap();
    let path = database_from(&dir, include_str!("fixtures/v4.sql"));
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 5) };
    let events = store.events(0, 100).unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind()).collect::<Vec<_>>(),
        [
            "memory.stored",
            "memory.stored",
            "memory.stored",
            "memory.updated",
            "memory.embedded",
            "edit.applied",
            "worker.ready",
            "worker.restarting"
        ]
    );
    // Every row was written before versions existed: all are version 1, and all decode.
    assert!(events.iter().all(|e| e.event.version() == 1));
    let Event::MemoryUpdated(updated) = &events[3].event else {
        panic!("{:?}", events[3]);
    };
    assert_eq!(
        (updated.value_len, updated.value_changed),
        (100, Some(true))
    );
    let Event::EditApplied(applied) = &events[5].event else {
        panic!("{:?}", events[5]);
    };
    assert_eq!(applied.record.model.as_deref(), Some("qwen2.5-coder-0.5b"));
    assert_eq!(applied.files[0].status, FileStatus::Modified);
    // The supervisor of that time wrote `worker.restarting` without the status it left.
    assert_eq!(
        events[7].event,
        Event::WorkerRestarting(WorkerRestarting {
            from: None,
            why: Some("exited with code 1".into()),
            exit_code: None,
            restarts: Some(1),
        })
    );
    // The typed events serialize back to the rows' own data.
    let mirrored = serde_json::to_value(&events[4]).unwrap();
    assert_eq!(mirrored["kind"], "memory.embedded");
    assert_eq!(mirrored["version"], 1);
    assert_eq!(mirrored["data"]["model"], "nomic-embed-text");
}

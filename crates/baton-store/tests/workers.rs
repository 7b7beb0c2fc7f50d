//! Workers in the store through its public API, on real SQLite files in temp dirs: records
//! round trip, the queue hands out slots oldest first within `max_parallel`, every state
//! change writes exactly one event, and workers are found by id, name or id prefix.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use baton_core::{RestartPolicy, WorkerRecord, WorkerRole, WorkerSpec, WorkerStatus};
use baton_store::{Store, StoreError};
use pretty_assertions::assert_eq;
use serde_json::json;
use tempfile::TempDir;

fn open(dir: &TempDir) -> Store {
    Store::open(&dir.path().join(".baton/baton.db")).unwrap()
}

/// A queued agent with the defaults `baton spawn` would give; tests change what they need.
fn agent(id: &str, name: &str, created_at_ms: i64, max_parallel: u32) -> WorkerRecord {
    let spec = WorkerSpec {
        prompt: Some("do it".into()),
        grace_ms: 2000,
        max_parallel,
        log_cap_bytes: 1 << 20,
        ..WorkerSpec::new(
            name,
            vec!["fake-agent".into(), "do it".into()],
            "/tmp/project",
        )
    };
    let log_path = format!("/tmp/project/.baton/workers/{id}.log");
    WorkerRecord::queued(id, spec, log_path, created_at_ms)
}

fn server(id: &str, created_at_ms: i64) -> WorkerRecord {
    let mut record = agent(id, id, created_at_ms, 1);
    record.spec.role = WorkerRole::Server;
    record.spec.restart = RestartPolicy::OnFailure;
    record.spec.health_url = Some("http://127.0.0.1:11438/health".into());
    record
}

fn claimed_ids(store: &Store) -> Vec<String> {
    std::iter::from_fn(|| store.claim_next_queued().unwrap())
        .map(|w| w.id)
        .collect()
}

fn kinds(store: &Store, id: &str) -> Vec<String> {
    store
        .worker_events(id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind().to_string())
        .collect()
}

#[test]
fn a_full_record_round_trips_exactly() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let full = WorkerRecord {
        id: "0190b000-0000-7000-8000-000000000001".into(),
        spec: WorkerSpec {
            name: "fix-parser".into(),
            kind: Some("codex".into()),
            role: WorkerRole::Agent,
            command: vec![
                "codex".into(),
                "exec".into(),
                "fix the \"parser\"\nand ünïcode".into(),
            ],
            cwd: "/home/me/project".into(),
            prompt: Some("fix the \"parser\"\nand ünïcode".into()),
            env_set: vec![("RUST_LOG".into(), "debug".into()), ("A".into(), "".into())],
            env_pass: vec!["OPENAI_API_KEY".into()],
            env_from: Vec::new(),
            timeout_ms: Some(1_800_000),
            idle_timeout_ms: Some(600_000),
            grace_ms: 5000,
            expect: vec!["out/*.txt".into(), "REPORT.md".into()],
            expect_pass: true,
            check: None,
            remediate: 2,
            remediation_of: Some("0190b000-0000-7000-8000-000000000000".into()),
            max_parallel: 4,
            log_cap_bytes: u64::from(u32::MAX) + 7,
            tmux: true,
            restart: RestartPolicy::Always,
            health_url: Some("http://127.0.0.1:11438/health".into()),
        },
        status: WorkerStatus::TimedOut,
        why: Some("ran past its 30m deadline".into()),
        pid: Some(u32::MAX),
        pgid: Some(4242),
        process_start: Some(i64::MAX as u64),
        supervisor_pid: Some(4241),
        supervisor_start: Some(123_456_789),
        created_at_ms: 1_760_000_000_000,
        started_at_ms: Some(1_760_000_000_500),
        ended_at_ms: Some(1_760_001_800_500),
        exit_code: Some(-9),
        log_path: "/home/me/project/.baton/workers/fix-parser.log".into(),
        restarts: 3,
    };
    let bare = agent("0190b000-0000-7000-8000-000000000002", "bare", 1, 1);
    store.insert_worker(&full).unwrap();
    store.insert_worker(&bare).unwrap();

    assert_eq!(store.worker(&full.id).unwrap(), Some(full.clone()));
    assert_eq!(store.worker(&bare.id).unwrap(), Some(bare.clone()));
    assert_eq!(
        store.workers(true).unwrap(),
        [bare.clone(), full.clone()],
        "oldest first"
    );
    assert_eq!(
        store.workers(false).unwrap(),
        std::slice::from_ref(&bare),
        "ended left out"
    );
    assert_eq!(
        store
            .workers_by_ids([full.id.as_str(), "no-such-id", bare.id.as_str()])
            .unwrap(),
        [bare.clone(), full.clone()]
    );
    assert_eq!(
        store.workers_by_ids(Vec::<String>::new()).unwrap(),
        Vec::<WorkerRecord>::new()
    );
    assert_eq!(kinds(&store, &full.id), ["worker.created"]);
    assert_eq!(kinds(&store, &bare.id), ["worker.queued"]);

    let err = store.insert_worker(&bare).unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert_eq!(
        kinds(&store, &bare.id),
        ["worker.queued"],
        "a refused insert writes no event"
    );
}

#[test]
fn the_queue_starts_the_oldest_first_within_max_parallel_and_servers_take_no_slot() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    // Inserted out of order on purpose: age, then id, decides.
    for record in [
        agent("a4", "a4", 4, 2),
        agent("a3", "a3", 3, 2),
        server("srv", 5),
        agent("a5", "a5", 6, 3),
        agent("a2", "a2", 1, 2),
        agent("a1", "a1", 1, 2),
    ] {
        store.insert_worker(&record).unwrap();
    }
    // a1 and a2 fill two slots; a3 and a4 (max 2) must wait, but the server takes no slot
    // and waits for none, and a5 (max 3) may take a third.
    assert_eq!(claimed_ids(&store), ["a1", "a2", "srv", "a5"]);
    let claimed = store.worker("a1").unwrap().unwrap();
    assert_eq!(claimed.status, WorkerStatus::Starting);

    // A running server still takes no slot; three agents are busy.
    assert!(store.mark_started("srv", 10, 10, 1, 100, 0).unwrap());
    assert!(store.mark_started("a1", 11, 11, 1, 100, 0).unwrap());
    assert_eq!(claimed_ids(&store), Vec::<String>::new());

    // Two agents left busy: still not fewer than a3's max_parallel of 2.
    assert!(
        store
            .mark_ended("a1", WorkerStatus::Succeeded, None, Some(0), 200)
            .unwrap()
    );
    assert_eq!(claimed_ids(&store), Vec::<String>::new());
    // Lost frees a slot too; a3 is older than a4 and takes it.
    assert!(store.set_lost("a2", "supervisor 4711 is gone").unwrap());
    assert_eq!(claimed_ids(&store), ["a3"]);
    assert!(store.mark_queued_killed("a4", "baton kill a4").unwrap());
    assert_eq!(claimed_ids(&store), Vec::<String>::new());

    let status = |id| store.worker(id).unwrap().unwrap().status;
    assert_eq!(
        ["a1", "a2", "a3", "a4", "a5", "srv"].map(status),
        [
            WorkerStatus::Succeeded,
            WorkerStatus::Lost,
            WorkerStatus::Starting,
            WorkerStatus::Killed,
            WorkerStatus::Starting,
            WorkerStatus::Running,
        ]
    );
}

#[test]
fn a_running_run_coordinator_takes_no_slot_from_the_agents_it_starts() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let mut coordinator = agent("run", "run:20261203-120000-abcd", 1, 1);
    coordinator.spec.role = WorkerRole::Coordinator;
    store.insert_worker(&coordinator).unwrap();
    assert_eq!(claimed_ids(&store), ["run"]);
    assert!(store.mark_started("run", 10, 10, 1, 100, 0).unwrap());
    // With one slot in all, the coordinator's agent still starts: were the coordinator
    // counted, the run would wait for ever on its own subtask.
    store.insert_worker(&agent("a1", "a1", 2, 1)).unwrap();
    assert_eq!(claimed_ids(&store), ["a1"]);
    assert_eq!(
        store.worker("run").unwrap().unwrap().spec.role,
        WorkerRole::Coordinator
    );
}

#[test]
fn max_parallel_zero_never_starts_an_agent() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.insert_worker(&agent("a", "a", 1, 0)).unwrap();
    assert_eq!(store.claim_next_queued().unwrap(), None);
    assert_eq!(kinds(&store, "a"), ["worker.queued"]);
}

#[test]
fn mark_ended_is_idempotent_and_the_first_end_stands() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.insert_worker(&agent("w", "w", 1, 1)).unwrap();
    store.claim_next_queued().unwrap().unwrap();
    assert!(store.mark_started("w", 7, 7, 99, 10, 0).unwrap());

    assert!(
        store
            .mark_ended("w", WorkerStatus::Failed, Some("exit code 3"), Some(3), 20)
            .unwrap()
    );
    assert!(
        !store
            .mark_ended("w", WorkerStatus::Killed, Some("baton kill"), None, 30)
            .unwrap()
    );
    let ended = store.worker("w").unwrap().unwrap();
    assert_eq!(
        (
            ended.status,
            ended.why.as_deref(),
            ended.exit_code,
            ended.ended_at_ms
        ),
        (WorkerStatus::Failed, Some("exit code 3"), Some(3), Some(20))
    );
    // Nothing moves an ended worker, and nothing of it is recorded.
    assert!(!store.set_lost("w", "gone").unwrap());
    assert!(!store.mark_queued_killed("w", "gone").unwrap());
    assert!(!store.mark_started("w", 8, 8, 100, 40, 1).unwrap());
    assert!(!store.mark_restarting("w", None, None, 1).unwrap());
    assert!(!store.mark_supervisor("w", 1, 1).unwrap());
    assert_eq!(
        kinds(&store, "w"),
        [
            "worker.queued",
            "worker.starting",
            "worker.started",
            "worker.ended"
        ]
    );
    assert_eq!(store.worker("w").unwrap().unwrap(), ended);

    let err = store
        .mark_ended("w", WorkerStatus::Running, None, None, 50)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotAnEnd {
                status: WorkerStatus::Running,
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .mark_ended("nope", WorkerStatus::Failed, None, None, 50)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownWorker { id } if id == "nope"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no worker `nope`");
}

#[test]
fn every_transition_writes_exactly_one_event_in_order() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let mut record = server("srv", 1);
    record.spec.name = "coder1".into();
    store.insert_worker(&record).unwrap();
    store.claim_next_queued().unwrap().unwrap();
    assert!(store.mark_supervisor("srv", 500, 9000).unwrap());
    assert!(store.mark_started("srv", 501, 501, 9001, 100, 0).unwrap());
    assert!(
        store
            .mark_restarting("srv", Some("exited with code 1"), Some(1), 1)
            .unwrap()
    );
    // A start refused while queued or ended is covered elsewhere; starting -> running again.
    assert!(store.mark_started("srv", 502, 502, 9002, 200, 1).unwrap());
    assert!(
        store
            .mark_ended(
                "srv",
                WorkerStatus::Killed,
                Some("baton server down"),
                None,
                300
            )
            .unwrap()
    );

    let events = store.worker_events("srv").unwrap();
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(events.iter().all(|e| e.subject == "srv"));
    let got: Vec<(&str, serde_json::Value)> = events.iter().map(|e| (e.kind(), e.data())).collect();
    assert_eq!(
        got,
        [
            (
                "worker.queued",
                json!({"status": "queued", "why": null, "name": "coder1", "kind": null,
                        "role": "server", "max_parallel": 1, "remediation_of": null})
            ),
            (
                "worker.starting",
                json!({"status": "starting", "from": "queued", "agents_busy": 0})
            ),
            (
                "worker.supervised",
                json!({"status": "starting", "from": "starting",
                        "supervisor_pid": 500, "supervisor_start": 9000})
            ),
            (
                "worker.started",
                json!({"status": "running", "from": "starting", "pid": 501, "pgid": 501,
                        "process_start": 9001, "started_at_ms": 100, "restarts": 0})
            ),
            (
                "worker.restarting",
                json!({"from": "running", "why": "exited with code 1", "exit_code": 1,
                        "restarts": 1})
            ),
            (
                "worker.restarted",
                json!({"status": "running", "from": "starting", "pid": 502, "pgid": 502,
                        "process_start": 9002, "started_at_ms": 200, "restarts": 1})
            ),
            (
                "worker.ended",
                json!({"status": "killed", "from": "running", "why": "baton server down",
                        "exit_code": null, "ended_at_ms": 300})
            ),
        ]
    );
    let expected = WorkerRecord {
        status: WorkerStatus::Killed,
        why: Some("baton server down".into()),
        pid: Some(502),
        pgid: Some(502),
        process_start: Some(9002),
        supervisor_pid: Some(500),
        supervisor_start: Some(9000),
        started_at_ms: Some(200),
        ended_at_ms: Some(300),
        restarts: 1,
        ..record
    };
    assert_eq!(store.worker("srv").unwrap(), Some(expected));
    // The whole trail holds these events and nothing else.
    assert_eq!(store.events(0, 100).unwrap(), events);
}

#[test]
fn lost_and_killed_while_queued_record_why_and_when() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.insert_worker(&agent("q", "q", 1, 1)).unwrap();
    store.insert_worker(&agent("r", "r", 2, 5)).unwrap();
    let before = jiff::Timestamp::now().as_millisecond();

    // A queued worker is not lost (it has no supervisor to lose), but can be killed.
    assert!(!store.set_lost("q", "no supervisor").unwrap());
    assert!(store.mark_queued_killed("q", "baton kill q").unwrap());
    assert!(!store.mark_queued_killed("q", "again").unwrap());
    // A claimed worker is its supervisor's to stop; it can be lost.
    assert_eq!(store.claim_next_queued().unwrap().unwrap().id, "r");
    assert!(!store.mark_queued_killed("r", "too late").unwrap());
    assert!(store.set_lost("r", "supervisor 77 is gone").unwrap());

    let now = jiff::Timestamp::now().as_millisecond();
    for (id, status, why, kind) in [
        ("q", WorkerStatus::Killed, "baton kill q", "worker.ended"),
        (
            "r",
            WorkerStatus::Lost,
            "supervisor 77 is gone",
            "worker.lost",
        ),
    ] {
        let worker = store.worker(id).unwrap().unwrap();
        assert_eq!((worker.status, worker.why.as_deref()), (status, Some(why)));
        let ended = worker.ended_at_ms.unwrap();
        assert!(before <= ended && ended <= now, "{ended}");
        let last = store.worker_events(id).unwrap().pop().unwrap();
        assert_eq!(last.kind(), kind);
        assert_eq!(
            (&last.data()["status"], &last.data()["why"]),
            (&json!(status.as_str()), &json!(why))
        );
    }
    assert_eq!(kinds(&store, "q"), ["worker.queued", "worker.ended"]);
    assert_eq!(
        kinds(&store, "r"),
        ["worker.queued", "worker.starting", "worker.lost"]
    );
}

#[test]
fn a_worker_is_found_by_id_then_newest_name_then_unique_id_prefix() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    for record in [
        agent("0190aaaa-0001", "fix", 1, 1),
        agent("0190aaaa-0002", "fix", 2, 1),
        agent("0190bbbb-0003", "lint", 3, 1),
        // A name that is another worker's id: the id wins.
        agent("0190cccc-0004", "0190bbbb-0003", 4, 1),
        agent("x*y?[z]", "odd", 5, 1),
    ] {
        store.insert_worker(&record).unwrap();
    }
    let id_of = |key: &str| store.worker(key).map(|w| w.map(|w| w.id));

    assert_eq!(
        id_of("0190aaaa-0001").unwrap().as_deref(),
        Some("0190aaaa-0001")
    );
    assert_eq!(id_of("fix").unwrap().as_deref(), Some("0190aaaa-0002"));
    assert_eq!(
        id_of("0190bbbb-0003").unwrap().as_deref(),
        Some("0190bbbb-0003")
    );
    assert_eq!(id_of("0190b").unwrap().as_deref(), Some("0190bbbb-0003"));
    assert_eq!(id_of("0190cc").unwrap().as_deref(), Some("0190cccc-0004"));
    assert_eq!(id_of("x*y?").unwrap().as_deref(), Some("x*y?[z]"));
    // Wildcards in the key are not wildcards.
    assert_eq!(id_of("x*y*").unwrap(), None);
    // Too short to be a prefix, and no match at all.
    assert_eq!(id_of("019").unwrap(), None);
    assert_eq!(id_of("nothing-like-it").unwrap(), None);
    assert_eq!(id_of("0190aaaa-0001-").unwrap(), None);

    let err = id_of("0190").unwrap_err();
    match &err {
        StoreError::AmbiguousWorker { prefix, candidates } => {
            assert_eq!(prefix, "0190");
            assert_eq!(
                candidates,
                &[
                    "0190aaaa-0001",
                    "0190aaaa-0002",
                    "0190bbbb-0003",
                    "0190cccc-0004"
                ]
            );
        }
        other => panic!("expected AmbiguousWorker, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "`0190` is the start of 4 worker ids: 0190aaaa-0001, 0190aaaa-0002, 0190bbbb-0003, \
         0190cccc-0004"
    );
    assert!(err.hint().is_some());
    assert!(matches!(
        id_of("0190aaaa").unwrap_err(),
        StoreError::AmbiguousWorker { candidates, .. } if candidates.len() == 2
    ));
}

#[test]
fn remediations_of_follow_the_whole_chain_oldest_first() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let remediation = |id: &str, of: &str, at| {
        let mut record = agent(id, id, at, 1);
        record.spec.remediation_of = Some(of.into());
        record
    };
    for record in [
        agent("root", "root", 1, 1),
        agent("other", "other", 2, 1),
        remediation("fix2", "fix1", 4),
        remediation("fix1", "root", 3),
        remediation("other-fix", "other", 5),
        remediation("fix3", "fix2", 6),
    ] {
        store.insert_worker(&record).unwrap();
    }
    let ids = |id| {
        store
            .remediations_of(id)
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("root"), ["fix1", "fix2", "fix3"]);
    assert_eq!(ids("fix2"), ["fix3"]);
    assert_eq!(ids("fix3"), Vec::<String>::new());
    assert_eq!(ids("other"), ["other-fix"]);
    assert_eq!(ids("no-such-worker"), Vec::<String>::new());
    assert_eq!(
        store
            .worker("fix1")
            .unwrap()
            .unwrap()
            .spec
            .remediation_of
            .as_deref(),
        Some("root")
    );
}

#[test]
fn the_table_refuses_a_spec_that_disagrees_with_its_columns() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store.insert_worker(&agent("w", "w", 1, 1)).unwrap();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    for sql in [
        "UPDATE workers SET name = 'other' WHERE id = 'w'",
        "UPDATE workers SET remediation_of = 'x' WHERE id = 'w'",
        "UPDATE workers SET status = 'paused' WHERE id = 'w'",
        "UPDATE workers SET spec = '{not json' WHERE id = 'w'",
        "UPDATE workers SET spec = json_set(spec, '$.role', 'boss') WHERE id = 'w'",
        "UPDATE workers SET spec = json_remove(spec, '$.max_parallel') WHERE id = 'w'",
        "UPDATE workers SET spec = json_remove(spec, '$.role') WHERE id = 'w'",
        "UPDATE workers SET spec = json_remove(spec, '$.name') WHERE id = 'w'",
        "UPDATE workers SET restarts = -1 WHERE id = 'w'",
        "UPDATE workers SET pid = 'abc' WHERE id = 'w'",
    ] {
        let Err(err) = conn.execute(sql, []) else {
            panic!("{sql}: accepted");
        };
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation),
            "{sql}: {err}"
        );
    }
    assert_eq!(store.worker("w").unwrap(), Some(agent("w", "w", 1, 1)));
}

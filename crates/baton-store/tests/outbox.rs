//! The publishing outbox on a real SQLite file: a publication queued twice is one, a claimed
//! one is held from a second claimer until its lease runs out, a sent one is never claimed
//! again, and a failed attempt keeps it pending with its error and event.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on setup errors")]

use std::time::Duration;

use baton_core::Event;
use baton_core::event::RunStarted;
use baton_core::publish::Target;
use baton_core::run::{RunRecord, RunStatus};
use baton_store::{NewPublication, OutboxStatus, Store};

fn store_with_run(dir: &tempfile::TempDir, id: &str) -> Store {
    let store = Store::open(&dir.path().join(".baton/baton.db")).unwrap();
    let run = RunRecord {
        id: id.into(),
        ticket_id: "T-1".into(),
        title: "t".into(),
        ticket_path: "/t.md".into(),
        status: RunStatus::Running,
        why: None,
        repo: "/repo".into(),
        base_commit: "abc".into(),
        branch: format!("baton/{id}"),
        worktree: "/repo/.baton/worktrees/x".into(),
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    let started = Event::RunStarted(RunStarted {
        ticket_id: "T-1".into(),
        title: "t".into(),
        ticket_path: "/t.md".into(),
        base_commit: "abc".into(),
        branch: run.branch.clone(),
        worktree: run.worktree.clone(),
        base_branch: Some("main".into()),
        merge: false,
        publish: Default::default(),
    });
    store.insert_run(&run, &started).unwrap();
    store
}

fn publication(key: &str) -> NewPublication {
    NewPublication {
        target: Target::Webhook,
        key: key.into(),
        action: "event".into(),
        payload: serde_json::json!({"do": "event", "body": {"key": key}}),
    }
}

#[test]
fn a_publication_queued_twice_is_one_and_keeps_its_first_payload() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_run(&dir, "r1");
    assert_eq!(
        store
            .outbox_enqueue("r1", &[publication("a"), publication("b")])
            .unwrap(),
        2
    );
    let mut again = publication("a");
    again.payload = serde_json::json!({"changed": true});
    assert_eq!(store.outbox_enqueue("r1", &[again]).unwrap(), 0);
    let rows = store.outbox_of("r1").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].payload["body"]["key"], "a");
    assert_eq!(store.outbox_pending_runs().unwrap(), vec!["r1".to_string()]);
}

#[test]
fn a_claimed_publication_is_held_from_a_second_claimer_and_a_sent_one_is_never_claimed_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_run(&dir, "r1");
    let other = Store::open(&dir.path().join(".baton/baton.db")).unwrap();
    store.outbox_enqueue("r1", &[publication("a")]).unwrap();
    let id = store.outbox_of("r1").unwrap()[0].id;
    let claimed = store
        .outbox_claim(id, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(claimed.earlier_attempts, 0);
    assert!(
        other
            .outbox_claim(id, Duration::from_secs(60))
            .unwrap()
            .is_none(),
        "leased"
    );
    let (_, event) = store
        .outbox_sent(&claimed, Some(&serde_json::json!({"url": "u"})), Some("u"))
        .unwrap();
    assert!(matches!(event, Event::PublishSent(ref sent) if sent.link.as_deref() == Some("u")));
    assert!(
        other.outbox_claim(id, Duration::ZERO).unwrap().is_none(),
        "sent"
    );
    let row = &store.outbox_of("r1").unwrap()[0];
    assert_eq!(row.status, OutboxStatus::Sent);
    assert_eq!(row.result.as_ref().unwrap()["url"], "u");
    assert!(store.outbox_pending_runs().unwrap().is_empty());
}

#[test]
fn a_failed_attempt_keeps_the_publication_pending_with_its_error_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_run(&dir, "r1");
    store.outbox_enqueue("r1", &[publication("a")]).unwrap();
    let id = store.outbox_of("r1").unwrap()[0].id;
    let first = store
        .outbox_claim(id, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    store.outbox_failed(&first, "POST answered 500").unwrap();
    let row = &store.outbox_of("r1").unwrap()[0];
    assert_eq!(row.status, OutboxStatus::Pending);
    assert_eq!(row.last_error.as_deref(), Some("POST answered 500"));
    // The lease is given back at once: the retry need not wait for it.
    let second = store
        .outbox_claim(id, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(
        second.earlier_attempts, 1,
        "the retry knows it may have got through"
    );
    let kinds: Vec<String> = store
        .events_of("r1")
        .unwrap()
        .iter()
        .map(|row| row.event.kind().to_string())
        .collect();
    assert_eq!(kinds, ["run.started", "publish.failed"]);
}

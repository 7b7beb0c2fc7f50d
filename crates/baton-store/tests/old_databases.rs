//! Databases written by older versions of baton still open, migrate and read back the same
//! values. Each fixture under `tests/fixtures/` is frozen at the schema version it names.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::path::PathBuf;

use baton_core::{CallOutcome, CallRecord, ErrorClass, Locality, Usage};
use baton_store::{CachedReply, EndpointProbe, SCHEMA_VERSION, Store};
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
            events[0].kind.as_str(),
            events[0].subject.as_str()
        ),
        (1_760_000_004_000, "run.started", "run-1")
    );
    assert_eq!(events[0].data, serde_json::json!({ "ticket": "T-1.md" }));
    // New rows go in beside the old ones.
    let next = store
        .append_event("run.resumed", "run-1", &serde_json::json!({}))
        .unwrap();
    assert!(next > events[0].id);
}

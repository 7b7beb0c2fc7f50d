//! The store through its public API, on real SQLite files in temp dirs.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use baton_core::{CallOutcome, CallRecord, ErrorClass, Locality, Usage};
use baton_store::{
    CachedReply, EndpointProbe, GroupStats, Percentiles, SCHEMA_VERSION, Store, StoreError,
    TokenSplit,
};
use pretty_assertions::assert_eq;
use tempfile::TempDir;

fn db(dir: &TempDir) -> PathBuf {
    dir.path().join(".baton/baton.db")
}

/// A raw connection beside the store, to look at what the store itself does not show.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn pragma(conn: &rusqlite::Connection, name: &str) -> i64 {
    conn.pragma_query_value(None, name, |r| r.get(0)).unwrap()
}

fn tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An ok local attempt; tests change the fields they care about.
fn call(id: &str, request_id: &str, started_at_ms: i64) -> CallRecord {
    CallRecord {
        id: id.into(),
        request_id: request_id.into(),
        started_at_ms,
        profile: "code".into(),
        route: "auto".into(),
        backend: "local".into(),
        endpoint: "http://127.0.0.1:11438/v1".into(),
        model: "qwen3-coder".into(),
        locality: Locality::Local,
        attempt: 1,
        usage: Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
            cached_tokens: 0,
            estimated: false,
        },
        latency_ms: 500,
        ttft_ms: Some(50),
        outcome: CallOutcome::Ok,
        error_class: None,
        error: None,
        cache_hit: false,
        cost_usd: 0.0,
        avoided_usd: 0.0,
    }
}

#[test]
fn opening_a_fresh_file_applies_the_migrations_once_and_sets_user_version() {
    let dir = TempDir::new().unwrap();
    let path = db(&dir);
    Store::open(&path).unwrap();
    let conn = raw(&path);
    assert_eq!(pragma(&conn, "user_version"), i64::from(SCHEMA_VERSION));
    assert_eq!(
        tables(&conn),
        [
            "cache",
            "calls",
            "edits",
            "endpoints",
            "events",
            "memory",
            "memory_fts",
            "memory_fts_config",
            "memory_fts_data",
            "memory_fts_docsize",
            "memory_fts_idx",
            "outbox",
            "run_requests",
            "runs",
            "workers"
        ]
    );
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn reopening_an_up_to_date_database_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let path = db(&dir);
    let store = Store::open(&path).unwrap();
    store.record_calls(&[call("a", "r", 1)]).unwrap();
    drop(store);
    let conn = raw(&path);
    // schema_version goes up with every schema change, data_version with every commit seen by
    // this connection from another one: neither may move when the store is opened again.
    let before = (
        pragma(&conn, "schema_version"),
        pragma(&conn, "data_version"),
    );
    for _ in 0..3 {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.calls(None).unwrap(), [call("a", "r", 1)]);
    }
    let after = (
        pragma(&conn, "schema_version"),
        pragma(&conn, "data_version"),
    );
    assert_eq!(after, before);
    assert_eq!(pragma(&conn, "user_version"), i64::from(SCHEMA_VERSION));
}

#[test]
fn a_database_from_a_newer_baton_is_refused_with_a_hint_to_upgrade() {
    let dir = TempDir::new().unwrap();
    let path = db(&dir);
    Store::open(&path).unwrap();
    let newer = SCHEMA_VERSION + 1;
    raw(&path)
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known, .. } if found == newer && known == SCHEMA_VERSION),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "database {} is schema v{newer}, this baton knows up to v{SCHEMA_VERSION}",
            path.display()
        )
    );
    assert_eq!(err.hint().as_deref(), Some("upgrade baton"));
}

#[test]
fn recorded_calls_read_back_exactly_in_start_order() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let failed = CallRecord {
        attempt: 1,
        locality: Locality::Cloud,
        backend: "claude".into(),
        model: "claude-sonnet-4-5".into(),
        usage: Usage {
            prompt_tokens: 7,
            completion_tokens: 0,
            cached_tokens: 3,
            estimated: true,
        },
        ttft_ms: None,
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Retryable),
        error: Some("HTTP 529 from https://api.anthropic.com/v1/messages".into()),
        cost_usd: 0.000_021,
        ..call("b-first-attempt", "req-1", 2_000)
    };
    let fell_back = CallRecord {
        attempt: 2,
        route: "api".into(),
        latency_ms: u64::from(u32::MAX) + 1,
        avoided_usd: 0.125,
        ..call("a-second-attempt", "req-1", 2_000)
    };
    let cached = CallRecord {
        outcome: CallOutcome::CacheHit,
        cache_hit: true,
        latency_ms: 0,
        ttft_ms: None,
        error_class: Some(ErrorClass::Final),
        ..call("c", "req-2", 1_000)
    };
    store
        .record_calls(&[failed.clone(), fell_back.clone()])
        .unwrap();
    store.record_calls(std::slice::from_ref(&cached)).unwrap();
    store.record_calls(&[]).unwrap();

    // By start time, then id: `cached` started first; the two attempts share a millisecond.
    assert_eq!(store.calls(None).unwrap(), [cached, fell_back, failed]);
}

#[test]
fn a_batch_with_a_duplicate_id_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    store.record_calls(&[call("a", "r", 1)]).unwrap();
    let err = store
        .record_calls(&[call("b", "r", 2), call("a", "r", 3)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Query {
                what: "record calls",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.calls(None).unwrap(), [call("a", "r", 1)]);
}

/// Nearest rank, computed the textbook way (float ceil) to check the store's integer one.
fn nearest_rank(sorted: &[u64], p: f64) -> u64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

fn percentiles(values: &[u64]) -> Option<Percentiles> {
    let mut sorted = values.to_vec();
    sorted.sort();
    (!sorted.is_empty()).then(|| Percentiles {
        p50: nearest_rank(&sorted, 50.0),
        p95: nearest_rank(&sorted, 95.0),
    })
}

/// What the report must say about `calls`, derived from them directly.
fn expected_group(calls: &[&CallRecord], key: Option<(&str, &str, Locality)>) -> GroupStats {
    let hit = |c: &&&CallRecord| c.cache_hit || c.outcome == CallOutcome::CacheHit;
    let spent: Vec<&&CallRecord> = calls.iter().filter(|c| !hit(c)).collect();
    let ok: Vec<&&CallRecord> = spent
        .iter()
        .copied()
        .filter(|c| c.outcome == CallOutcome::Ok)
        .collect();
    let latencies: Vec<u64> = ok.iter().map(|c| c.latency_ms).collect();
    let ttfts: Vec<u64> = ok.iter().filter_map(|c| c.ttft_ms).collect();
    // A failed attempt with estimated usage and no first token never reached a model.
    let never_reached = |c: &&&CallRecord| {
        c.outcome == CallOutcome::Error && c.usage.estimated && c.ttft_ms.is_none()
    };
    let counted: Vec<&&CallRecord> = calls.iter().filter(|c| !never_reached(c)).collect();
    let sum = |locality, f: fn(&Usage) -> u64| -> u64 {
        counted
            .iter()
            .filter(|c| !hit(c))
            .filter(|c| c.locality == locality)
            .map(|c| f(&c.usage))
            .sum()
    };
    let tokens = TokenSplit {
        local_in: sum(Locality::Local, |u| u.prompt_tokens),
        local_out: sum(Locality::Local, |u| u.completion_tokens),
        cloud_in: sum(Locality::Cloud, |u| u.prompt_tokens),
        cloud_out: sum(Locality::Cloud, |u| u.completion_tokens),
        estimated_calls: counted
            .iter()
            .filter(|c| !hit(c) && c.usage.estimated)
            .count() as u64,
    };
    let local = tokens.local_in + tokens.local_out;
    let all = local + tokens.cloud_in + tokens.cloud_out;
    GroupStats {
        backend: key.map(|k| k.0.to_owned()),
        model: key.map(|k| k.1.to_owned()),
        locality: key.map(|k| k.2),
        calls: calls.len() as u64,
        ok: ok.len() as u64,
        errors: (spent.len() - ok.len()) as u64,
        cache_hits: (calls.len() - spent.len()) as u64,
        requests: calls
            .iter()
            .map(|c| &c.request_id)
            .collect::<HashSet<_>>()
            .len() as u64,
        latency_ms: percentiles(&latencies),
        ttft_ms: percentiles(&ttfts),
        tokens,
        local_share: (all > 0).then(|| local as f64 / all as f64),
        cost_spent_usd: counted.iter().map(|c| c.cost_usd).sum(),
        cost_avoided_usd: counted.iter().map(|c| c.avoided_usd).sum(),
    }
}

/// A small ledger: many local calls, a cloud fallback, errors, a cache hit, estimates.
/// Costs are sums of powers of two so float sums are exact in any order.
fn ledger() -> Vec<CallRecord> {
    let mut calls = Vec::new();
    let local_latencies = [120, 80, 300, 200, 150, 90, 1000, 410, 95, 60, 700];
    for (i, latency) in local_latencies.into_iter().enumerate() {
        let i = i as i64;
        calls.push(CallRecord {
            latency_ms: latency,
            ttft_ms: (i % 3 != 0).then_some(latency / 4),
            usage: Usage {
                prompt_tokens: 1_000 + 10 * i as u64,
                completion_tokens: 200 + i as u64,
                cached_tokens: 0,
                estimated: i % 4 == 0,
            },
            avoided_usd: 0.015_625,
            ..call(
                &format!("local-{i:02}"),
                &format!("req-{i:02}"),
                10_000 + 900 * i,
            )
        });
    }
    // req-03's local attempt also had a failed first try on the second local model.
    calls.push(CallRecord {
        model: "devstral".into(),
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Retryable),
        error: Some("connection refused".into()),
        latency_ms: 3,
        ttft_ms: None,
        usage: Usage {
            prompt_tokens: 900,
            completion_tokens: 0,
            cached_tokens: 0,
            estimated: true,
        },
        ..call("local-err", "req-03", 12_500)
    });
    // A request that failed locally and went to the cloud.
    calls.push(CallRecord {
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Retryable),
        latency_ms: 30_000,
        ttft_ms: None,
        ..call("fb-1", "req-fb", 20_000)
    });
    for (i, (latency, cost)) in [(900, 0.25), (1_500, 0.5), (1_100, 0.125)]
        .into_iter()
        .enumerate()
    {
        calls.push(CallRecord {
            backend: "claude".into(),
            model: "claude-sonnet-4-5".into(),
            locality: Locality::Cloud,
            attempt: 2,
            latency_ms: latency,
            ttft_ms: Some(latency / 3),
            usage: Usage {
                prompt_tokens: 3_000,
                completion_tokens: 800,
                cached_tokens: 500,
                estimated: false,
            },
            cost_usd: cost,
            ..call(
                &format!("fb-{}", i + 2),
                "req-fb",
                21_000 + 1_000 * i as i64,
            )
        });
    }
    // A cloud error, and a cache hit whose tokens must not count.
    calls.push(CallRecord {
        backend: "claude".into(),
        model: "claude-sonnet-4-5".into(),
        locality: Locality::Cloud,
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Final),
        latency_ms: 40,
        ttft_ms: None,
        usage: Usage {
            prompt_tokens: 3_000,
            completion_tokens: 0,
            cached_tokens: 0,
            estimated: true,
        },
        ..call("cloud-err", "req-x", 30_000)
    });
    calls.push(CallRecord {
        outcome: CallOutcome::CacheHit,
        cache_hit: true,
        latency_ms: 1,
        ttft_ms: None,
        avoided_usd: 0.5,
        ..call("hit", "req-hit", 31_000)
    });
    calls
}

fn expected_report(calls: &[CallRecord], since_ms: Option<i64>) -> (GroupStats, Vec<GroupStats>) {
    let calls: Vec<&CallRecord> = calls
        .iter()
        .filter(|c| since_ms.is_none_or(|t| c.started_at_ms >= t))
        .collect();
    let mut keys: Vec<(&str, &str, Locality)> = calls
        .iter()
        .map(|c| (c.backend.as_str(), c.model.as_str(), c.locality))
        .collect();
    keys.sort_by_key(|k| (k.0, k.1));
    keys.dedup();
    let groups = keys
        .into_iter()
        .map(|key| {
            let members: Vec<&CallRecord> = calls
                .iter()
                .copied()
                .filter(|c| (c.backend.as_str(), c.model.as_str(), c.locality) == key)
                .collect();
            expected_group(&members, Some(key))
        })
        .collect();
    (expected_group(&calls, None), groups)
}

#[test]
fn stats_give_percentiles_token_split_and_local_share_per_backend_model() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let calls = ledger();
    store.record_calls(&calls).unwrap();

    let report = store.stats(None).unwrap();
    let (overall, groups) = expected_report(&calls, None);
    assert_eq!(report.since_ms, None);
    assert_eq!(report.overall, overall);
    assert_eq!(report.by_backend_model, groups);

    // Spot checks against numbers worked out by hand, so a shared mistake in the expectation
    // above cannot hide: claude's ok latencies are 900, 1100, 1500.
    let claude = &report.by_backend_model[0];
    assert_eq!(claude.backend.as_deref(), Some("claude"));
    assert_eq!(
        claude.latency_ms,
        Some(Percentiles {
            p50: 1_100,
            p95: 1_500
        })
    );
    assert_eq!(
        (claude.calls, claude.ok, claude.errors, claude.requests),
        (4, 3, 1, 2)
    );
    assert_eq!(claude.cost_spent_usd, 0.875);
    assert_eq!(claude.local_share, Some(0.0));
    // Local ok latencies sorted: 60 80 90 95 120 150 200 300 410 700 1000 -> p50 is the 6th.
    let qwen = &report.by_backend_model[2];
    assert_eq!(qwen.model.as_deref(), Some("qwen3-coder"));
    assert_eq!(
        qwen.latency_ms,
        Some(Percentiles {
            p50: 150,
            p95: 1_000
        })
    );
    assert_eq!(qwen.cache_hits, 1);
    assert_eq!(report.overall.calls, calls.len() as u64);
    let share = report.overall.local_share.unwrap();
    assert!(share > 0.5 && share < 1.0, "{share}");
}

#[test]
fn since_leaves_out_older_calls_from_the_list_and_the_stats() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let calls = ledger();
    store.record_calls(&calls).unwrap();
    let since = 20_000;

    let mut recent: Vec<CallRecord> = calls
        .iter()
        .filter(|c| c.started_at_ms >= since)
        .cloned()
        .collect();
    recent.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
    assert_eq!(store.calls(Some(since)).unwrap(), recent);

    let report = store.stats(Some(since)).unwrap();
    let (overall, groups) = expected_report(&calls, Some(since));
    assert_eq!(report.since_ms, Some(since));
    assert_eq!(report.overall, overall);
    assert_eq!(report.by_backend_model, groups);
    assert_eq!(report.overall.calls, 6, "fb-1..fb-4, cloud-err, hit");

    let empty = store.stats(Some(i64::MAX)).unwrap();
    assert_eq!(empty.overall, GroupStats::default());
    assert_eq!(empty.by_backend_model, []);
}

/// A failed local attempt that never reached a model, as older ledgers recorded it: the
/// estimated prompt as its usage and that prompt priced as avoided cost.
fn refused_attempt(id: &str, attempt: u32) -> CallRecord {
    CallRecord {
        attempt,
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Retryable),
        error: Some("cannot connect to http://127.0.0.1:11438/v1: connection refused".into()),
        latency_ms: 2,
        ttft_ms: None,
        usage: Usage {
            prompt_tokens: 900,
            completion_tokens: 0,
            cached_tokens: 0,
            estimated: true,
        },
        avoided_usd: 0.0027,
        ..call(id, "req-dead", 40_000 + i64::from(attempt))
    }
}

#[test]
fn attempts_that_never_reached_a_model_count_as_errors_and_nothing_else() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let dead: Vec<CallRecord> = (1..=3)
        .map(|attempt| refused_attempt(&format!("dead-{attempt}"), attempt))
        .collect();
    store.record_calls(&dead).unwrap();

    let report = store.stats(None).unwrap();
    let overall = &report.overall;
    assert_eq!((overall.calls, overall.ok, overall.errors), (3, 0, 3));
    assert_eq!(overall.requests, 1);
    assert_eq!(overall.tokens, TokenSplit::default());
    assert_eq!(overall.local_share, None);
    assert_eq!(
        (overall.cost_spent_usd, overall.cost_avoided_usd),
        (0.0, 0.0)
    );
    assert_eq!(overall.latency_ms, None, "latency is over ok attempts only");
    assert_eq!(report.by_backend_model.len(), 1);
    assert_eq!(report.by_backend_model[0].tokens, TokenSplit::default());

    // Beside a cloud reply, they do not raise the local share from zero.
    let cloud = CallRecord {
        backend: "claude".into(),
        locality: Locality::Cloud,
        cost_usd: 0.25,
        ..call("cloud-ok", "req-cloud", 50_000)
    };
    // A stream that broke after tokens came did reach the model: it counts.
    let broken = CallRecord {
        outcome: CallOutcome::Error,
        error_class: Some(ErrorClass::Retryable),
        error: Some("stream broke after 12 characters".into()),
        ttft_ms: Some(40),
        usage: Usage {
            prompt_tokens: 50,
            completion_tokens: 3,
            cached_tokens: 0,
            estimated: true,
        },
        avoided_usd: 0.5,
        ..call("broken", "req-broken", 60_000)
    };
    store.record_calls(&[cloud]).unwrap();
    let report = store.stats(None).unwrap();
    assert_eq!(report.overall.local_share, Some(0.0));
    assert_eq!(report.overall.cost_avoided_usd, 0.0);

    store.record_calls(&[broken]).unwrap();
    let report = store.stats(None).unwrap();
    let tokens = report.overall.tokens;
    assert_eq!(
        (
            tokens.local_in,
            tokens.local_out,
            tokens.cloud_in,
            tokens.cloud_out
        ),
        (50, 3, 100, 20)
    );
    assert_eq!(tokens.estimated_calls, 1);
    assert_eq!(report.overall.cost_avoided_usd, 0.5);
    assert_eq!(report.overall.errors, 4);
}

#[test]
fn a_cached_reply_round_trips_and_a_miss_is_none() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let reply = CachedReply {
        backend: "local".into(),
        model: "qwen3-coder".into(),
        reply: "```rust\nfn main() {}\n```\nänd ünicode".into(),
        usage: Usage {
            prompt_tokens: 321,
            completion_tokens: 45,
            cached_tokens: 300,
            estimated: true,
        },
        created_at_ms: 1_700_000_000_000,
    };
    assert_eq!(store.cache_get("key-1").unwrap(), None);
    store.cache_put("key-1", &reply).unwrap();
    assert_eq!(store.cache_get("key-1").unwrap(), Some(reply.clone()));
    assert_eq!(store.cache_get("key-1").unwrap(), Some(reply.clone()));

    let newer = CachedReply {
        reply: "fn main() { todo!() }".into(),
        created_at_ms: 1_800_000_000_000,
        ..reply
    };
    store.cache_put("key-1", &newer).unwrap();
    assert_eq!(store.cache_get("key-1").unwrap(), Some(newer));
    assert_eq!(store.cache_get("key-2").unwrap(), None);
}

#[test]
fn a_new_probe_of_a_url_replaces_the_old_one() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let url = "http://127.0.0.1:11438/v1";
    let up = EndpointProbe {
        url: url.into(),
        probed_at_ms: 1_000,
        ok: true,
        server_kind: Some("llama.cpp".into()),
        models: vec!["qwen3-coder".into(), "qwen3-coder-q8".into()],
        n_ctx: Some(u64::from(u32::MAX) * 2),
        error: None,
    };
    assert_eq!(store.get_probe(url).unwrap(), None);
    store.put_probe(&up).unwrap();
    assert_eq!(store.get_probe(url).unwrap(), Some(up));

    let down = EndpointProbe {
        url: url.into(),
        probed_at_ms: 2_000,
        ok: false,
        server_kind: None,
        models: vec![],
        n_ctx: None,
        error: Some("connection refused".into()),
    };
    store.put_probe(&down).unwrap();
    assert_eq!(store.get_probe(url).unwrap(), Some(down));
    assert_eq!(store.get_probe("http://127.0.0.1:11439/v1").unwrap(), None);
}

#[test]
fn events_are_appended_with_growing_ids_and_paged_after_an_id() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let before = jiff::Timestamp::now().as_millisecond();
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            store
                .append_event(
                    &format!("w{i}"),
                    &baton_core::Event::Other {
                        kind: "test.tick".into(),
                        version: 1,
                        data: serde_json::json!({ "pid": 100 + i }),
                    },
                )
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let first = store.events(0, 2).unwrap();
    assert_eq!(first.iter().map(|e| e.id).collect::<Vec<_>>(), &ids[..2]);
    let rest = store.events(first[1].id, 100).unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), &ids[2..]);
    let last = &rest[2];
    assert_eq!((last.kind(), last.subject.as_str()), ("test.tick", "w4"));
    assert_eq!(last.data(), serde_json::json!({ "pid": 104 }));
    assert!(last.at_ms >= before && last.at_ms <= jiff::Timestamp::now().as_millisecond());
    assert_eq!(store.events(ids[4], 10).unwrap(), []);
}

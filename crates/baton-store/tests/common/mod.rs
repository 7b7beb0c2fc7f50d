//! Shared fixtures of the memory tests: a fixed clock, a store in a temp dir seeded with two
//! patterns and a result, and search helpers.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;

use baton_store::{MemoryQuery, NewMemory, SearchReply, Store, StoreOutcome};
use serde_json::json;
use tempfile::TempDir;

/// A fixed "now" for every test: expiry is decided by the times passed in, never by sleeping.
pub(crate) const T0: i64 = 1_760_000_000_000;

pub(crate) fn db(dir: &TempDir) -> PathBuf {
    dir.path().join(".baton/baton.db")
}

pub(crate) fn open(dir: &TempDir) -> Store {
    Store::open(&db(dir)).unwrap()
}

/// Two patterns and a result, as workers would store them.
pub(crate) fn seeded(dir: &TempDir) -> Store {
    let store = open(dir);
    let entries = [
        NewMemory::json_value(
            "patterns",
            "pattern-auth-retry",
            &json!({
                "problem": "401 from the API after the session token expired",
                "fix": "refresh the token once, then retry the request with backoff"
            }),
        )
        .with_tags(["auth", "http"]),
        NewMemory::text(
            "patterns",
            "pattern-db-wal",
            "open sqlite in WAL mode with a busy timeout",
        )
        .with_tags(["db"]),
        NewMemory::text(
            "results",
            "result-run-1",
            "tests passed after adding a retry",
        ),
    ];
    for entry in &entries {
        assert_eq!(
            store.memory_store(entry, false, T0).unwrap(),
            StoreOutcome::Created
        );
    }
    store
}

pub(crate) fn search(store: &Store, query: MemoryQuery) -> SearchReply {
    store.memory_search(&query, T0).unwrap()
}

pub(crate) fn keys(reply: &SearchReply) -> Vec<String> {
    reply
        .hits
        .iter()
        .map(|h| format!("{}/{}", h.namespace, h.key))
        .collect()
}

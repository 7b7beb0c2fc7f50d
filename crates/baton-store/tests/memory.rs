//! The shared memory's writes and reads through the store's public API, on real SQLite files
//! in temp dirs: upserts and duplicates, expiry and purge, access counts, the events of every
//! write, listing, deleting, stats, and embeddings kept per model. Search is in
//! `memory_search.rs`; many processes storing at once in `concurrency.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeMap;

use baton_store::{MemoryQuery, NamespaceStats, NewMemory, Store, StoreError, StoreOutcome};
use pretty_assertions::assert_eq;
use serde_json::json;
use sha2::Digest as _;
use tempfile::TempDir;

mod common;

use common::{T0, keys, open, search, seeded};

#[test]
fn an_upsert_keeps_created_at_and_bumps_updated_at_and_without_upsert_a_duplicate_is_refused() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let replacement = NewMemory::text("patterns", "pattern-db-wal", "use WAL and IMMEDIATE")
        .with_tags(["db", "sqlite"])
        .with_ttl(T0 + 10, 60_000);

    let err = store
        .memory_store(&replacement, false, T0 + 10)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "key `pattern-db-wal` already exists in namespace `patterns`"
    );
    assert!(matches!(err, StoreError::MemoryKeyExists { .. }));
    assert_eq!(
        err.hint().as_deref(),
        Some("store it with upsert to replace the entry, or pick another key")
    );
    let kept = store.memory_get("patterns", "pattern-db-wal", T0).unwrap();
    assert_eq!(
        kept.unwrap().value,
        "open sqlite in WAL mode with a busy timeout"
    );

    let outcome = store.memory_store(&replacement, true, T0 + 10).unwrap();
    assert_eq!(
        outcome,
        StoreOutcome::Updated {
            value_changed: true,
            embedding_cleared: false
        }
    );
    let entry = store
        .memory_get("patterns", "pattern-db-wal", T0 + 20)
        .unwrap()
        .unwrap();
    assert_eq!(entry.value, "use WAL and IMMEDIATE");
    assert_eq!(entry.tags, ["db", "sqlite"]);
    assert_eq!(entry.expires_at_ms, Some(T0 + 60_010));
    assert_eq!((entry.created_at_ms, entry.updated_at_ms), (T0, T0 + 10));
    assert_eq!(
        entry.access_count, 2,
        "both gets count; the upsert keeps the count"
    );

    // The index follows the new text: the old words are gone, the new ones found.
    assert_eq!(search(&store, MemoryQuery::new("busy")).total_candidates, 0);
    let reply = search(&store, MemoryQuery::new("immediate"));
    assert_eq!(keys(&reply), ["patterns/pattern-db-wal"]);
    assert_eq!(reply.hits[0].created_at_ms, T0);
    assert_eq!(reply.hits[0].updated_at_ms, T0 + 10);
}

#[test]
fn expired_entries_are_never_read_and_purge_deletes_them() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let ttl = NewMemory::text("results", "result-tmp", "temporary retry note").with_ttl(T0, 1_000);
    store.memory_store(&ttl, false, T0).unwrap();

    let alive = T0 + 999;
    let gone = T0 + 1_000;
    assert!(
        store
            .memory_get("results", "result-tmp", alive)
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .memory_get("results", "result-tmp", gone)
            .unwrap()
            .is_none()
    );
    let in_search = |now| {
        store
            .memory_search(&MemoryQuery::new("temporary"), now)
            .unwrap()
            .total_candidates
    };
    assert_eq!((in_search(alive), in_search(gone)), (1, 0));
    let listed = |now| {
        store
            .memory_list(Some("results"), None, 10, 0, now)
            .unwrap()
            .len()
    };
    assert_eq!((listed(alive), listed(gone)), (2, 1));
    let results = |now| {
        store
            .memory_stats(now)
            .unwrap()
            .into_iter()
            .find(|s| s.namespace == "results")
            .unwrap()
    };
    assert_eq!((results(gone).entries, results(gone).expired), (1, 1));

    // Storing the key again after it expired starts a new entry, not a duplicate.
    let again = NewMemory::text("results", "result-tmp", "second life");
    assert_eq!(
        store.memory_store(&again, false, gone).unwrap(),
        StoreOutcome::Created
    );
    let entry = store
        .memory_get("results", "result-tmp", gone)
        .unwrap()
        .unwrap();
    assert_eq!((entry.created_at_ms, entry.access_count), (gone, 1));

    // An expiry in the past is refused rather than stored unreadable.
    let mut stale = NewMemory::text("results", "stale", "x");
    stale.expires_at_ms = Some(T0);
    assert!(matches!(
        store.memory_store(&stale, false, T0).unwrap_err(),
        StoreError::InvalidMemory { .. }
    ));

    let short = NewMemory::text("patterns", "short", "x").with_ttl(gone, 5);
    store.memory_store(&short, false, gone).unwrap();
    assert_eq!(store.purge_expired(gone + 5).unwrap(), 1);
    assert_eq!(store.purge_expired(gone + 5).unwrap(), 0);
    assert_eq!(results(gone + 5).expired, 0);
}

#[test]
fn an_expired_entry_is_purged_by_a_later_store() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let ttl = NewMemory::text("a", "old", "x").with_ttl(T0, 10);
    store.memory_store(&ttl, false, T0).unwrap();
    store
        .memory_store(&NewMemory::text("b", "new", "y"), false, T0 + 10)
        .unwrap();
    let stats = store.memory_stats(T0 + 10).unwrap();
    assert_eq!(
        stats
            .iter()
            .map(|s| s.namespace.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    let deleted: Vec<_> = store
        .events_of("a/old")
        .unwrap()
        .into_iter()
        .map(|e| (e.kind().to_string(), e.data()["reason"].clone()))
        .collect();
    assert_eq!(
        deleted,
        [
            ("memory.stored".into(), serde_json::Value::Null),
            ("memory.deleted".into(), json!("expired"))
        ]
    );
}

#[test]
fn gets_and_counted_search_hits_count_accesses_but_searches_lists_peeks_and_misses_do_not() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let count = |store: &Store| {
        store
            .memory_list(Some("patterns"), Some("db"), 1, 0, T0)
            .unwrap()[0]
            .access_count
    };
    assert_eq!(count(&store), 0);
    let get = || {
        store
            .memory_get("patterns", "pattern-db-wal", T0)
            .unwrap()
            .unwrap()
            .access_count
    };
    assert_eq!((get(), get()), (1, 2));
    // A search only reads; the caller counts the hits it hands on.
    let reply = search(&store, MemoryQuery::new("sqlite"));
    assert_eq!(count(&store), 2);
    assert_eq!(store.count_search_accesses(&reply.hits).unwrap(), 1);
    let reply = search(&store, MemoryQuery::new("sqlite").with_min_score(1.0));
    assert_eq!(store.count_search_accesses(&reply.hits).unwrap(), 1);
    assert_eq!(count(&store), 4);
    // Matched but not returned (dropped by a tag filter, or cut by the limit): not counted.
    let reply = search(&store, MemoryQuery::new("sqlite").with_tags(["auth"]));
    assert_eq!(store.count_search_accesses(&reply.hits).unwrap(), 0);
    let reply = search(&store, MemoryQuery::new("sqlite").with_limit(0));
    assert_eq!(store.count_search_accesses(&reply.hits).unwrap(), 0);
    assert!(store.memory_get("patterns", "nope", T0).unwrap().is_none());
    assert_eq!(count(&store), 4);
    // A peek reads without counting.
    let peeked = store.memory_peek("patterns", "pattern-db-wal", T0).unwrap();
    assert_eq!(peeked.map(|e| e.access_count), Some(4));
    assert!(store.memory_peek("patterns", "nope", T0).unwrap().is_none());
    assert_eq!(count(&store), 4);
    // A hit deleted between the search and the count is not counted, and not an error.
    let reply = search(&store, MemoryQuery::new("sqlite"));
    assert!(
        store
            .memory_delete(&reply.hits[0].namespace, &reply.hits[0].key)
            .unwrap()
    );
    assert_eq!(store.count_search_accesses(&reply.hits).unwrap(), 0);
}

#[test]
fn every_write_records_an_event_with_the_value_length_and_hash_but_not_the_value() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let secret_ish = "the value text itself";
    let entry = NewMemory::text("patterns", "p1", secret_ish).with_tags(["t"]);
    store.memory_store(&entry, false, T0).unwrap();
    store.memory_store(&entry, true, T0 + 1).unwrap();
    assert!(
        store
            .set_embedding("patterns", "p1", secret_ish, "m", 2, &[0.5, 1.0])
            .unwrap()
    );
    assert!(store.memory_delete("patterns", "p1").unwrap());
    assert!(!store.memory_delete("patterns", "p1").unwrap());

    let events = store.events_of("patterns/p1").unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "memory.stored",
            "memory.updated",
            "memory.embedded",
            "memory.deleted"
        ]
    );
    let stored = &events[0].data();
    assert_eq!(stored["value_len"], json!(secret_ish.len()));
    let digest: String = sha2::Sha256::digest(secret_ish.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored["value_sha256"], json!(format!("sha256:{digest}")));
    assert_eq!(stored["tags"], json!(["t"]));
    assert_eq!(events[1].data()["value_changed"], json!(false));
    assert_eq!(events[3].data()["reason"], json!("deleted"));
    for event in &events {
        assert!(
            !event.data().to_string().contains(secret_ish),
            "{}",
            event.data()
        );
    }
    // The failed duplicate store wrote nothing.
    store.memory_store(&entry, false, T0 + 2).unwrap();
    assert!(store.memory_store(&entry, false, T0 + 3).is_err());
    assert_eq!(store.events_of("patterns/p1").unwrap().len(), 5);
}

#[test]
fn a_list_is_newest_updated_first_and_filters_by_namespace_and_tag() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    for (i, (namespace, key, tags)) in [
        ("a", "one", vec!["x"]),
        ("a", "two", vec!["x", "y"]),
        ("b", "three", vec!["y"]),
        ("a", "four", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let entry = NewMemory::text(namespace, key, "v").with_tags(tags);
        store
            .memory_store(&entry, false, T0 + i64::try_from(i).unwrap())
            .unwrap();
    }
    // Updating `one` makes it the newest.
    store
        .memory_store(
            &NewMemory::text("a", "one", "v2").with_tags(["x"]),
            true,
            T0 + 9,
        )
        .unwrap();
    let list = |ns, tag, limit, offset| {
        store
            .memory_list(ns, tag, limit, offset, T0 + 10)
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(None, None, 10, 0), ["one", "four", "three", "two"]);
    assert_eq!(list(Some("a"), None, 10, 0), ["one", "four", "two"]);
    assert_eq!(list(Some("a"), None, 1, 1), ["four"]);
    assert_eq!(list(None, Some("y"), 10, 0), ["three", "two"]);
    assert_eq!(list(Some("a"), Some("y"), 10, 0), ["two"]);
    assert_eq!(list(Some("c"), None, 10, 0), Vec::<String>::new());
}

#[test]
fn a_deleted_entry_is_gone_from_reads_and_search() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    assert!(
        store
            .memory_delete("patterns", "pattern-auth-retry")
            .unwrap()
    );
    assert!(
        store
            .memory_get("patterns", "pattern-auth-retry", T0)
            .unwrap()
            .is_none()
    );
    assert_eq!(search(&store, MemoryQuery::new("auth")).total_candidates, 0);
    assert_eq!(
        keys(&search(&store, MemoryQuery::new("retry"))),
        ["results/result-run-1"]
    );
}

#[test]
fn embeddings_are_kept_per_model_and_dropped_when_the_value_changes() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let wal = "open sqlite in WAL mode with a busy timeout";
    assert!(
        store
            .set_embedding(
                "patterns",
                "pattern-db-wal",
                wal,
                "nomic",
                3,
                &[0.25, -1.0, 3.5]
            )
            .unwrap()
    );
    assert!(
        store
            .set_embedding(
                "results",
                "result-run-1",
                "tests passed after adding a retry",
                "bge",
                2,
                &[1.0, 2.0]
            )
            .unwrap()
    );
    // A value other than the stored one (it changed under the embedder): refused quietly.
    assert!(
        !store
            .set_embedding(
                "patterns",
                "pattern-db-wal",
                "older text",
                "nomic",
                1,
                &[1.0]
            )
            .unwrap()
    );
    assert!(
        !store
            .set_embedding("patterns", "missing", "x", "nomic", 1, &[1.0])
            .unwrap()
    );
    for (dim, vector) in [(2, &[1.0_f32][..]), (0, &[][..]), (1, &[f32::NAN][..])] {
        let err = store
            .set_embedding("patterns", "pattern-db-wal", wal, "nomic", dim, vector)
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidMemory { .. }), "{err:?}");
    }

    let nomic = store.candidates_for_vector(&[], "nomic", T0).unwrap();
    assert_eq!(nomic.len(), 1);
    assert_eq!(
        (
            nomic[0].key.as_str(),
            nomic[0].model.as_str(),
            &nomic[0].vector[..]
        ),
        ("pattern-db-wal", "nomic", &[0.25, -1.0, 3.5][..])
    );
    let bge = store
        .candidates_for_vector(&["results".into()], "bge", T0)
        .unwrap();
    assert_eq!(bge.len(), 1);
    assert!(
        store
            .candidates_for_vector(&["patterns".into()], "bge", T0)
            .unwrap()
            .is_empty()
    );
    let entry = store
        .memory_get("patterns", "pattern-db-wal", T0)
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.embedding_model.as_deref(), entry.embedding_dim),
        (Some("nomic"), Some(3))
    );

    // An upsert with the same value keeps the embedding; a new value drops it.
    let same = NewMemory::text("patterns", "pattern-db-wal", wal).with_tags(["db", "new"]);
    assert_eq!(
        store.memory_store(&same, true, T0 + 1).unwrap(),
        StoreOutcome::Updated {
            value_changed: false,
            embedding_cleared: false
        }
    );
    assert_eq!(
        store.candidates_for_vector(&[], "nomic", T0).unwrap().len(),
        1
    );
    let changed = NewMemory::text("patterns", "pattern-db-wal", "new text");
    assert_eq!(
        store.memory_store(&changed, true, T0 + 2).unwrap(),
        StoreOutcome::Updated {
            value_changed: true,
            embedding_cleared: true
        }
    );
    assert!(
        store
            .candidates_for_vector(&[], "nomic", T0)
            .unwrap()
            .is_empty()
    );
    let entry = store
        .memory_get("patterns", "pattern-db-wal", T0)
        .unwrap()
        .unwrap();
    assert_eq!((entry.embedding_model, entry.embedding_dim), (None, None));
}

#[test]
fn stats_count_entries_expired_embedded_and_bytes_per_namespace() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    store
        .memory_store(
            &NewMemory::text("a", "k1", "12345").with_tags(["t"]),
            false,
            T0,
        )
        .unwrap();
    store
        .memory_store(&NewMemory::text("a", "k2", "x").with_ttl(T0, 5), false, T0)
        .unwrap();
    store
        .memory_store(&NewMemory::json("b", "k3", "[1]"), false, T0)
        .unwrap();
    store
        .set_embedding("a", "k1", "12345", "m1", 2, &[1.0, 2.0])
        .unwrap();
    let stats = store.memory_stats(T0 + 5).unwrap();
    assert_eq!(
        stats,
        [
            NamespaceStats {
                namespace: "a".into(),
                entries: 1,
                expired: 1,
                embedded: BTreeMap::from([("m1".into(), 1)]),
                // k1: 2 + 5 + `["t"]` 5 + 8 of embedding; k2: 2 + 1 + `[]` 2.
                bytes: 20 + 5,
            },
            NamespaceStats {
                namespace: "b".into(),
                entries: 1,
                expired: 0,
                embedded: BTreeMap::new(),
                bytes: 2 + 3 + 2,
            },
        ]
    );
}

#[test]
fn json_values_are_kept_as_written_and_must_parse() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let text = "{ \"steps\": [1, 2],\n  \"ok\": true }";
    store
        .memory_store(&NewMemory::json("p", "j", text), false, T0)
        .unwrap();
    let entry = store.memory_get("p", "j", T0).unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.is_json), (text, true));
    let err = store
        .memory_store(&NewMemory::json("p", "bad", "{not json"), false, T0)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            r#"cannot store a memory entry: the value of key "bad" is marked JSON but does not parse"#
        ),
        "{err}"
    );
    // The same text stored as text is fine.
    store
        .memory_store(&NewMemory::text("p", "bad", "{not json"), false, T0)
        .unwrap();
}

#[test]
fn a_failed_entry_in_a_bulk_store_rolls_back_the_whole_batch() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let batch = [
        NewMemory::text("patterns", "new-one", "x"),
        NewMemory::text("patterns", "pattern-db-wal", "dup"),
    ];
    let err = store.memory_store_many(&batch, false, T0).unwrap_err();
    assert!(matches!(err, StoreError::MemoryKeyExists { .. }), "{err:?}");
    assert!(
        store
            .memory_get("patterns", "new-one", T0)
            .unwrap()
            .is_none()
    );
    let summary = store.memory_store_many(&batch, true, T0 + 1).unwrap();
    assert_eq!((summary.created, summary.updated), (1, 1));
}

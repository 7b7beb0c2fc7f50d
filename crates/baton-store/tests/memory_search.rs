//! Searching the shared memory through the store's public API, on real SQLite files in temp
//! dirs: what a query finds (keys, value words, tags), how the reply accounts for the
//! namespaces it searched and the hits it dropped, the score normalization, queries made of
//! FTS5 syntax, and a bulk load of 20k entries with search timings printed. Writes, reads and
//! expiry are in `memory.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeMap;

use baton_store::{MEMORY_SCORE_NORMALIZATION, MemoryQuery, NewMemory, StoreError};
use pretty_assertions::assert_eq;
use tempfile::TempDir;

mod common;

use common::{T0, db, keys, open, search, seeded};

#[test]
fn searching_for_the_exact_key_finds_that_entry_first() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let reply = search(&store, MemoryQuery::new("pattern-auth-retry"));
    assert_eq!(keys(&reply), ["patterns/pattern-auth-retry"]);
    let hit = &reply.hits[0];
    assert_eq!(hit.score, 1.0);
    assert!(hit.raw_score > 0.0);
    assert_eq!(hit.ranked_by, "fts5-bm25");
    assert!(hit.is_json);
    assert_eq!(hit.tags, ["auth", "http"]);
    assert_eq!((hit.created_at_ms, hit.updated_at_ms), (T0, T0));
    assert_eq!(reply.method, "fts5-bm25");
    assert_eq!(reply.normalization, MEMORY_SCORE_NORMALIZATION);
    assert_eq!(reply.fts_query, r#""pattern-auth-retry""#);
    assert_eq!(
        (reply.total_candidates, reply.dropped_below_min_score),
        (1, 0)
    );
}

#[test]
fn a_word_of_a_punctuated_key_matches_on_its_own() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    // `auth` is only in the key (split on `-`) and the tags; `wal` only in the key and value.
    assert_eq!(
        keys(&search(&store, MemoryQuery::new("auth"))),
        ["patterns/pattern-auth-retry"]
    );
    assert_eq!(
        keys(&search(&store, MemoryQuery::new("WAL"))),
        ["patterns/pattern-db-wal"]
    );
}

#[test]
fn words_from_the_value_find_the_entry_in_any_inflection() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    // Porter stemming: "refreshing tokens" matches "refresh the token".
    assert_eq!(
        keys(&search(&store, MemoryQuery::new("refreshing tokens"))),
        ["patterns/pattern-auth-retry"]
    );
    // Any term matches; the entry matching more of them ranks first.
    let reply = search(&store, MemoryQuery::new("retry busy"));
    assert_eq!(reply.total_candidates, 3);
    assert_eq!(reply.fts_query, r#""retry" OR "busy""#);
}

#[test]
fn a_tag_word_finds_the_entry_and_a_tag_filter_keeps_entries_with_every_tag() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    assert_eq!(
        keys(&search(&store, MemoryQuery::new("http"))),
        ["patterns/pattern-auth-retry"]
    );
    let retry = || MemoryQuery::new("retry");
    assert_eq!(search(&store, retry()).total_candidates, 2);
    let reply = search(&store, retry().with_tags(["auth"]));
    assert_eq!(keys(&reply), ["patterns/pattern-auth-retry"]);
    assert_eq!(reply.tags, ["auth"]);
    assert_eq!(
        keys(&search(&store, retry().with_tags(["auth", "http"]))),
        ["patterns/pattern-auth-retry"]
    );
    let reply = search(&store, retry().with_tags(["auth", "db"]));
    assert_eq!((reply.total_candidates, reply.hits.len()), (0, 0));
}

#[test]
fn a_namespace_filter_searches_only_those_and_the_reply_lists_what_was_searched() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    let reply = search(&store, MemoryQuery::new("retry").in_namespaces(["results"]));
    assert_eq!(keys(&reply), ["results/result-run-1"]);
    assert_eq!(reply.namespaces_searched, ["results"]);
    assert_eq!(reply.unknown_namespaces, Vec::<String>::new());

    // None asked: every namespace that holds an entry, and the reply names them.
    let reply = search(&store, MemoryQuery::new("retry"));
    assert_eq!(reply.namespaces_searched, ["patterns", "results"]);
    assert_eq!(reply.hits.len(), 2);

    // A misspelt namespace is searched (and finds nothing), and the reply says it is empty.
    let reply = search(
        &store,
        MemoryQuery::new("retry").in_namespaces(["pattern", "patterns", "pattern"]),
    );
    assert_eq!(reply.namespaces_searched, ["pattern", "patterns"]);
    assert_eq!(reply.unknown_namespaces, ["pattern"]);
    assert_eq!(keys(&reply), ["patterns/pattern-auth-retry"]);
}

#[test]
fn min_score_drops_weaker_hits_and_the_reply_counts_them() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let mut entries = vec![
        NewMemory::text("p", "strong", "alpha beta gamma"),
        NewMemory::text("p", "weak-1", "gamma and other words"),
        NewMemory::text("p", "weak-2", "only gamma here"),
    ];
    // Unrelated entries, so that the three words are rare and weigh something in bm25.
    entries.extend((0..20).map(|i| NewMemory::text("p", format!("filler-{i}"), "lorem ipsum")));
    store.memory_store_many(&entries, false, T0).unwrap();

    let query = || MemoryQuery::new("alpha beta gamma");
    let all = search(&store, query());
    assert_eq!(all.hits.len(), 3);
    assert_eq!(all.hits[0].key, "strong");
    assert!(all.hits[1..].iter().all(|h| h.score < 0.7), "{all:#?}");

    let reply = search(&store, query().with_min_score(0.7));
    assert_eq!(keys(&reply), ["p/strong"]);
    assert_eq!(reply.min_score, 0.7);
    assert_eq!(
        (reply.total_candidates, reply.dropped_below_min_score),
        (3, 2)
    );

    // The best hit scores 1.0, so even the strictest threshold keeps it.
    let reply = search(&store, query().with_min_score(1.0));
    assert_eq!(keys(&reply), ["p/strong"]);

    // A limit cuts what is left after min_score; the cut ones are not counted as dropped.
    let reply = search(&store, query().with_limit(1));
    assert_eq!(keys(&reply), ["p/strong"]);
    assert_eq!(
        (reply.total_candidates, reply.dropped_below_min_score),
        (3, 0)
    );

    for bad in [-0.1, 1.5, f64::NAN] {
        let err = store
            .memory_search(&query().with_min_score(bad), T0)
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidMemory { .. }), "{err:?}");
    }
}

#[test]
fn scores_are_between_0_and_1_and_follow_the_raw_bm25_order() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let entries: Vec<NewMemory> = (0..60)
        .map(|i| {
            // Entry i holds "needle" i % 5 times among i % 7 other words, some in the key.
            let words: Vec<&str> = std::iter::repeat_n("needle", i % 5)
                .chain(std::iter::repeat_n("hay", i % 7 + 1))
                .collect();
            let key = if i.is_multiple_of(3) {
                format!("needle-{i}")
            } else {
                format!("k{i}")
            };
            NewMemory::text("ns", key, words.join(" "))
        })
        .collect();
    store.memory_store_many(&entries, false, T0).unwrap();

    let reply = search(&store, MemoryQuery::new("needle hay").with_limit(100));
    assert_eq!(reply.total_candidates, 60);
    let best = reply.hits[0].raw_score;
    assert_eq!(reply.hits[0].score, 1.0);
    for pair in reply.hits.windows(2) {
        assert!(pair[0].raw_score >= pair[1].raw_score);
        assert!(pair[0].score >= pair[1].score);
    }
    for hit in &reply.hits {
        assert!((0.0..=1.0).contains(&hit.score), "{hit:?}");
        assert_eq!(hit.score, hit.raw_score / best);
    }

    // raw_score is SQLite's own -bm25 (weights key 2, value 1, tags 2) for that row.
    let conn = rusqlite::Connection::open(db(&dir)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.namespace, m.key, -bm25(memory_fts, 2.0, 1.0, 2.0)
             FROM memory_fts JOIN memory AS m ON m.id = memory_fts.rowid
             WHERE memory_fts MATCH '\"needle\" OR \"hay\"'",
        )
        .unwrap();
    let sqlite: BTreeMap<String, f64> = stmt
        .query_map([], |r| {
            Ok((
                format!("{}/{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get(2)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for hit in &reply.hits {
        assert_eq!(
            sqlite[&format!("{}/{}", hit.namespace, hit.key)],
            hit.raw_score
        );
    }
}

#[test]
fn queries_of_fts5_syntax_characters_match_literally_or_nothing_and_never_fail() {
    let dir = TempDir::new().unwrap();
    let store = seeded(&dir);
    store
        .memory_store(&NewMemory::text("misc", "a-b", "a-b c:d x*y"), false, T0)
        .unwrap();
    for query in [
        "", " ", "\"", "\"\"", "*", "-", ":", "a-b", "c:d", "x*", "NEAR(", "AND", "OR NOT", "(",
        ")", "^", "{", "key:auth", "'", "\\", "\u{0}", "ü", "🦀", "*auth*",
    ] {
        let reply = store
            .memory_search(&MemoryQuery::new(query), T0)
            .unwrap_or_else(|e| panic!("query {query:?}: {e}"));
        assert_eq!(reply.query, query);
        assert_eq!(
            reply.namespaces_searched,
            ["misc", "patterns", "results"],
            "{query:?}"
        );
    }
    let find = |q: &str| keys(&search(&store, MemoryQuery::new(q)));
    assert_eq!(find("a-b"), ["misc/a-b"]);
    assert_eq!(find("c:d"), ["misc/a-b"]);
    assert_eq!(
        find("key:auth"),
        Vec::<String>::new(),
        "not a column filter"
    );
    assert_eq!(
        find("*auth*"),
        ["patterns/pattern-auth-retry"],
        "not a prefix query"
    );
    let empty = search(&store, MemoryQuery::new("  "));
    assert_eq!((empty.fts_query.as_str(), empty.total_candidates), ("", 0));
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "the point of this check is the printed timing"
)]
fn twenty_thousand_entries_load_in_one_transaction_and_search_quickly() {
    const N: usize = 20_000;
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let entries: Vec<NewMemory> = (0..N)
        .map(|i| {
            NewMemory::text(
                format!("ns{}", i % 4),
                format!("pattern-{i}-topic{}", i % 500),
                format!(
                    "entry {i} about topic{} with word{} and common words",
                    i % 500,
                    i % 3000
                ),
            )
            .with_tags([format!("t{}", i % 10)])
        })
        .collect();
    let started = std::time::Instant::now();
    let summary = store.memory_store_many(&entries, false, T0).unwrap();
    let load = started.elapsed();
    assert_eq!(summary.created, N);

    let queries = [
        "topic42 word42",
        "pattern-17-topic17",
        "common",
        "nothing-like-this",
    ];
    let mut times = Vec::new();
    for round in 0..25_u32 {
        for query in queries {
            let query = MemoryQuery::new(query)
                .in_namespaces(if round.is_multiple_of(2) {
                    vec![]
                } else {
                    vec!["ns1".to_owned()]
                })
                .with_limit(5)
                .with_min_score(0.7);
            let started = std::time::Instant::now();
            let reply = store.memory_search(&query, T0).unwrap();
            times.push((started.elapsed(), query.query, reply.total_candidates));
        }
    }
    let exact = store
        .memory_search(&MemoryQuery::new("pattern-17-topic17"), T0)
        .unwrap();
    assert_eq!(exact.hits[0].key, "pattern-17-topic17");
    times.sort();
    let median = times[times.len() / 2].0;
    let (worst, worst_query, worst_candidates) = times.last().unwrap().clone();
    println!(
        "memory self-check: stored {N} entries in one transaction in {load:?}; {} searches \
         (limit 5), median {median:?}, slowest {worst:?} ({worst_query:?}, {worst_candidates} \
         candidates); a debug build, for orientation only",
        times.len()
    );
}

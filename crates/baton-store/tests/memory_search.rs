//! Searching the shared memory through the store's public API, on real SQLite files in temp
//! dirs: what a query finds (keys, value words, tags), how the reply accounts for the
//! namespaces it searched and the hits it dropped, the absolute score (its formula, recomputed
//! from SQLite's counts; stop words; unrelated queries and paraphrases; what a threshold of 0.7
//! keeps on the labelled set of `fixtures/memory_relevance.json`), ties, queries made of FTS5
//! syntax, and a bulk load of 20k entries with search timings printed. Writes, reads and
//! expiry are in `memory.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeMap;

use baton_store::{MEMORY_SCORE_NORMALIZATION, MemoryQuery, NewMemory, SearchHit, StoreError};
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
fn a_namespace_filter_drops_the_same_entries_for_few_candidates_and_for_many() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    // 160 entries in two namespaces. "rare" is in 4 of them, few enough that each row is
    // checked; "common" in 120, so many that the namespace's ids are read instead. Entry 2,
    // holding both, has expired by the time of the searches.
    let entries: Vec<NewMemory> = (0..160)
        .map(|i| {
            let namespace = if i % 2 == 0 { "even" } else { "odd" };
            let rare = if i < 4 { "rare " } else { "" };
            let common = if i < 120 { "common " } else { "" };
            let entry = NewMemory::text(namespace, format!("k{i}"), format!("{rare}{common}x"));
            if i == 2 {
                entry.with_ttl(T0, 1_000)
            } else {
                entry
            }
        })
        .collect();
    store.memory_store_many(&entries, false, T0).unwrap();
    let now = T0 + 1_000;
    let count = |word: &str, namespaces: &[&str]| {
        let reply = store
            .memory_search(
                &MemoryQuery::new(word)
                    .in_namespaces(namespaces.iter().copied())
                    .with_limit(1000),
                now,
            )
            .unwrap();
        assert!(
            reply
                .hits
                .iter()
                .all(|h| namespaces.is_empty() || namespaces.contains(&h.namespace.as_str())),
            "{reply:#?}"
        );
        assert!(reply.hits.iter().all(|h| h.key != "k2"), "expired");
        assert_eq!(reply.hits.len(), reply.total_candidates);
        reply.total_candidates
    };
    assert_eq!(count("rare", &["even"]), 1);
    assert_eq!(count("rare", &["odd"]), 2);
    assert_eq!(count("rare", &[]), 3);
    assert_eq!(count("common", &["even"]), 59);
    assert_eq!(count("common", &["odd"]), 60);
    assert_eq!(count("common", &["odd", "even"]), 119);
    assert_eq!(count("common", &[]), 119);
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

    // "strong" holds every word: it scores 1.0, which even the strictest threshold keeps.
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
fn every_score_follows_the_stated_formula_and_every_raw_score_is_sqlites_bm25() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let entries: Vec<NewMemory> = (0..60)
        .map(|i| {
            // Entry i holds "needle" i % 5 times among i % 7 + 1 "hay", some in the key, and
            // "thread" when i % 4 == 0.
            let words: Vec<&str> = std::iter::repeat_n("needle", i % 5)
                .chain(std::iter::repeat_n("hay", i % 7 + 1))
                .chain(std::iter::repeat_n("thread", usize::from(i % 4 == 0)))
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
    // Unrelated entries, so that the three words are not in every entry.
    let filler: Vec<NewMemory> = (0..40)
        .map(|i| NewMemory::text("other", format!("f{i}"), "lorem ipsum"))
        .collect();
    store.memory_store_many(&filler, false, T0).unwrap();

    let reply = search(
        &store,
        MemoryQuery::new("needle in the hay thread").with_limit(100),
    );
    assert_eq!(reply.fts_query, r#""needle" OR "hay" OR "thread""#);
    assert_eq!(reply.ignored_terms, ["in", "the"]);
    assert_eq!(reply.total_candidates, 60);
    assert_eq!(reply.hits.len(), 60);

    // Every score is 2M / (W + M) over idf = ln(1 + (N - n + 0.5) / (n + 0.5)), recomputed
    // here from SQLite's own counts.
    let conn = rusqlite::Connection::open(db(&dir)).unwrap();
    let count =
        |sql: &str| -> f64 { conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as f64 };
    let n_all = count("SELECT count(*) FROM memory");
    let holds = |word: &str| -> BTreeMap<String, bool> {
        let mut stmt = conn
            .prepare(
                "SELECT m.key, m.id IN (SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?1)
                 FROM memory AS m",
            )
            .unwrap();
        stmt.query_map([word], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let words = ["needle", "hay", "thread"];
    let held: Vec<BTreeMap<String, bool>> = words.iter().map(|w| holds(w)).collect();
    let idf: Vec<f64> = held
        .iter()
        .map(|h| {
            let n = h.values().filter(|&&b| b).count() as f64;
            (1.0 + (n_all - n + 0.5) / (n + 0.5)).ln()
        })
        .collect();
    for (term, weight) in reply.terms.iter().zip(&idf) {
        assert!((term.weight - weight).abs() < 1e-12, "{term:?}");
    }
    let total: f64 = idf.iter().sum();
    for hit in &reply.hits {
        let m: f64 = (0..3).filter(|&t| held[t][&hit.key]).map(|t| idf[t]).sum();
        let expected = 2.0 * m / (total + m);
        assert!((hit.score - expected).abs() < 1e-12, "{hit:?}: {expected}");
        assert!((0.0..=1.0).contains(&hit.score), "{hit:?}");
    }
    // Entries holding all three score exactly 1.0 and come first.
    let all_three = reply
        .hits
        .iter()
        .filter(|h| held.iter().all(|holds| holds[&h.key]))
        .count();
    assert!(all_three > 5, "{all_three}");
    assert!(reply.hits[..all_three].iter().all(|h| h.score == 1.0));
    assert!(reply.hits[all_three..].iter().all(|h| h.score < 1.0));

    // Best first: by score, then raw_score.
    for pair in reply.hits.windows(2) {
        assert!(pair[0].score >= pair[1].score, "{pair:?}");
        if pair[0].score == pair[1].score {
            assert!(pair[0].raw_score >= pair[1].raw_score, "{pair:?}");
        }
    }
    // raw_score is SQLite's own -bm25 (weights key 2, value 1, tags 2) under the reply's
    // fts_query, for every hit.
    let mut stmt = conn
        .prepare(
            "SELECT m.key, -bm25(memory_fts, 2.0, 1.0, 2.0)
             FROM memory_fts JOIN memory AS m ON m.id = memory_fts.rowid
             WHERE memory_fts MATCH ?1",
        )
        .unwrap();
    let sqlite: BTreeMap<String, f64> = stmt
        .query_map([&reply.fts_query], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sqlite.len(), 60);
    for hit in &reply.hits {
        assert_eq!(sqlite[&hit.key], hit.raw_score, "{}", hit.key);
    }
    // The same when only entries holding all three are compared (bm25 is then computed
    // under "needle AND hay AND thread"): the best three of them by bm25.
    let top = search(
        &store,
        MemoryQuery::new("needle in the hay thread").with_limit(3),
    );
    let mut best_of_all_three: Vec<(f64, &String)> = reply.hits[..all_three]
        .iter()
        .map(|h| (h.raw_score, &h.key))
        .collect();
    best_of_all_three.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (hit, (raw, key)) in top.hits.iter().zip(&best_of_all_three) {
        assert_eq!((hit.raw_score, &hit.key), (*raw, *key));
        assert_eq!(sqlite[&hit.key], hit.raw_score);
    }
}

/// The two entries a new user stored before finding that `for` and `the` made a hit of 1.0.
fn two_patterns(dir: &TempDir) -> baton_store::Store {
    let store = open(dir);
    store
        .memory_store_many(
            &[
                NewMemory::text(
                    "patterns",
                    "pattern-retry",
                    "exponential backoff on HTTP 429",
                ),
                NewMemory::text(
                    "patterns",
                    "pattern-tests",
                    "pytest fixtures for the database session",
                ),
            ],
            false,
            T0,
        )
        .unwrap();
    store
}

#[test]
fn an_unrelated_task_sharing_only_stop_words_with_an_entry_finds_nothing() {
    let dir = TempDir::new().unwrap();
    let store = two_patterns(&dir);
    let reply = search(
        &store,
        MemoryQuery::new("add a schema migration for the orders table client"),
    );
    assert_eq!(keys(&reply), Vec::<String>::new());
    assert_eq!(reply.total_candidates, 0);
    assert_eq!(reply.ignored_terms, ["a", "for", "the"]);
    assert_eq!(
        reply.fts_query,
        r#""add" OR "schema" OR "migration" OR "orders" OR "table" OR "client""#
    );
    assert_eq!(
        reply.note, None,
        "words were searched; none is in the memory"
    );
    assert!(
        reply.terms.iter().all(|t| t.entries == 0),
        "{:?}",
        reply.terms
    );
}

#[test]
fn a_paraphrase_of_an_entry_scores_above_0_7_and_the_other_entry_not_at_all() {
    let dir = TempDir::new().unwrap();
    let store = two_patterns(&dir);
    let reply = search(
        &store,
        MemoryQuery::new("retry with exponential backoff when the API returns 429"),
    );
    assert_eq!(keys(&reply), ["patterns/pattern-retry"]);
    // retry (from the key), exponential, backoff and 429 of six searched terms.
    assert!(reply.hits[0].score > 0.7, "{reply:#?}");
    assert_eq!(reply.ignored_terms, ["with", "when", "the"]);
    let kept = search(
        &store,
        MemoryQuery::new("retry with exponential backoff when the API returns 429")
            .with_min_score(0.7),
    );
    assert_eq!(keys(&kept), ["patterns/pattern-retry"]);
}

#[test]
fn a_weak_best_hit_scores_low_and_min_score_can_drop_every_hit() {
    let dir = TempDir::new().unwrap();
    let store = two_patterns(&dir);
    // The best (only) match holds one of four words: it is the best, and still weak.
    let query = || MemoryQuery::new("database sharding across regions");
    let reply = search(&store, query());
    assert_eq!(keys(&reply), ["patterns/pattern-tests"]);
    assert!(reply.hits[0].score < 0.5, "{reply:#?}");
    let reply = search(&store, query().with_min_score(0.7));
    assert_eq!(keys(&reply), Vec::<String>::new());
    assert_eq!(
        (reply.total_candidates, reply.dropped_below_min_score),
        (1, 1)
    );
}

#[test]
fn a_query_of_only_stop_words_searches_nothing_and_says_so() {
    let dir = TempDir::new().unwrap();
    let store = two_patterns(&dir);
    for query in ["for the", "The FOR", "what is it", "-- ? !"] {
        let reply = search(&store, MemoryQuery::new(query));
        assert_eq!(keys(&reply), Vec::<String>::new(), "{query:?}");
        assert_eq!((reply.total_candidates, reply.fts_query.as_str()), (0, ""));
        assert!(reply.terms.is_empty());
        let note = reply.note.as_deref().unwrap_or_default();
        assert!(note.contains("nothing was searched"), "{query:?}: {note}");
        assert_eq!(reply.namespaces_searched, ["patterns"]);
    }
    let reply = search(&store, MemoryQuery::new("for the"));
    assert_eq!(reply.ignored_terms, ["for", "the"]);
    assert!(reply.note.unwrap().contains("(for, the)"));
    let empty = search(&store, MemoryQuery::new("  "));
    assert!(empty.ignored_terms.is_empty());
    assert!(empty.note.unwrap().contains("no words"));
}

#[test]
fn among_many_entries_of_equal_score_the_newest_window_is_compared_by_bm25() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    // 500 entries holding "needle" once among 0 to 9 other words: all score 1.0; shorter
    // ones have the higher bm25.
    let entries: Vec<NewMemory> = (0..500)
        .map(|i| {
            let hay = "hay ".repeat((i * 7) % 10);
            NewMemory::text("ns", format!("k{i:03}"), format!("{hay}needle"))
        })
        .collect();
    store.memory_store_many(&entries, false, T0).unwrap();
    let reply = search(&store, MemoryQuery::new("needle").with_limit(5));
    assert_eq!(reply.total_candidates, 500);
    assert!(reply.hits.iter().all(|h| h.score == 1.0));

    // SQLite's bm25 of every entry; the hits are the best five of the newest 100 (the
    // window), best first.
    let conn = rusqlite::Connection::open(db(&dir)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.id, m.key, -bm25(memory_fts, 2.0, 1.0, 2.0)
             FROM memory_fts JOIN memory AS m ON m.id = memory_fts.rowid
             WHERE memory_fts MATCH '\"needle\"' ORDER BY m.id DESC LIMIT 100",
        )
        .unwrap();
    let mut window: Vec<(f64, i64, String)> = stmt
        .query_map([], |r| Ok((r.get(2)?, r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    window.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    let expected: Vec<String> = window[..5].iter().map(|w| format!("ns/{}", w.2)).collect();
    assert_eq!(keys(&reply), expected);
    assert!(
        reply
            .hits
            .windows(2)
            .all(|p| p[0].raw_score >= p[1].raw_score)
    );

    // With room for all of them, every one is compared: the shortest entries come first.
    let all = search(&store, MemoryQuery::new("needle").with_limit(500));
    assert_eq!(all.hits.len(), 500);
    assert!(all.hits[..50].iter().all(|h| h.value == "needle"));
}

/// The labelled set in `fixtures/memory_relevance.json`.
#[derive(serde::Deserialize)]
struct Labelled {
    entries: Vec<LabelledEntry>,
    queries: Vec<LabelledQuery>,
}

#[derive(serde::Deserialize)]
struct LabelledEntry {
    key: String,
    value: String,
    tags: Vec<String>,
}

#[derive(serde::Deserialize)]
struct LabelledQuery {
    query: String,
    relevant: Vec<String>,
}

/// What a threshold kept over the labelled queries.
#[derive(Debug, Default)]
struct Tally {
    relevant_kept: usize,
    relevant: usize,
    unrelated_kept: usize,
    /// Queries with no relevant entry for which something was kept.
    noisy_queries: usize,
}

impl Tally {
    fn add(&mut self, kept: &[String], relevant: &[String]) {
        self.relevant += relevant.len();
        self.relevant_kept += relevant.iter().filter(|k| kept.contains(k)).count();
        self.unrelated_kept += kept.iter().filter(|k| !relevant.contains(k)).count();
        self.noisy_queries += usize::from(relevant.is_empty() && !kept.is_empty());
    }
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "the figures printed are the measurement the score's definition rests on"
)]
fn on_a_labelled_set_a_threshold_of_0_7_keeps_most_relevant_patterns_and_no_unrelated_one() {
    let labelled: Labelled =
        serde_json::from_str(include_str!("fixtures/memory_relevance.json")).unwrap();
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let entries: Vec<NewMemory> = labelled
        .entries
        .iter()
        .map(|e| NewMemory::text("patterns", &e.key, &e.value).with_tags(e.tags.clone()))
        .collect();
    store.memory_store_many(&entries, false, T0).unwrap();

    let mut absolute = Tally::default();
    let mut share = Tally::default();
    let mut relative = Tally::default();
    let mut relevant_at_most_0_7 = Vec::new();
    let mut highest_unrelated = 0.0_f64;
    for q in &labelled.queries {
        let reply = search(&store, MemoryQuery::new(&q.query).with_limit(100));
        let kept = |above: &dyn Fn(&SearchHit) -> bool| -> Vec<String> {
            reply
                .hits
                .iter()
                .filter(|h| above(h))
                .map(|h| h.key.clone())
                .collect()
        };
        absolute.add(&kept(&|h| h.score > 0.7), &q.relevant);
        // The share of the query's weight itself, c = M / W (score = 2c / (1 + c)).
        share.add(&kept(&|h| h.score / (2.0 - h.score) > 0.7), &q.relevant);
        // The old normalization, over the same hits: raw_score relative to the best hit's.
        let best = reply.hits.iter().map(|h| h.raw_score).fold(0.0, f64::max);
        relative.add(&kept(&|h| h.raw_score / best > 0.7), &q.relevant);
        for hit in &reply.hits {
            if !q.relevant.contains(&hit.key) {
                highest_unrelated = highest_unrelated.max(hit.score);
            } else if hit.score <= 0.7 {
                relevant_at_most_0_7.push(format!("{:.2} {:?}", hit.score, q.query));
            }
        }
    }
    let nothing_for = labelled
        .queries
        .iter()
        .filter(|q| q.relevant.is_empty())
        .count();
    for (name, t) in [
        ("score", &absolute),
        ("M / W", &share),
        ("raw_score / best", &relative),
    ] {
        println!(
            "memory relevance ({} patterns, {} queries), hits above 0.7 by {name}: {} of {} \
             relevant entries, {} unrelated entries, a hit for {} of the {nothing_for} \
             queries the memory has nothing for",
            labelled.entries.len(),
            labelled.queries.len(),
            t.relevant_kept,
            t.relevant,
            t.unrelated_kept,
            t.noisy_queries,
        );
    }
    println!(
        "highest score of an unrelated entry {highest_unrelated:.3}; relevant entries at or \
         below 0.7: {relevant_at_most_0_7:?}"
    );
    assert_eq!((absolute.unrelated_kept, absolute.noisy_queries), (0, 0));
    assert!(highest_unrelated < 0.7, "{highest_unrelated}");
    assert!(absolute.relevant_kept >= 15, "{absolute:?}");
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
    // Operators that are stop words are not searched either: `AND` is the word "and".
    let reply = search(&store, MemoryQuery::new("OR NOT"));
    assert_eq!(reply.ignored_terms, ["OR", "NOT"]);
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

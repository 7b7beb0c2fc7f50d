//! Memory benchmark: store throughput and search latency of `baton-store`'s memory at 1k, 10k
//! and 100k entries. Goal: search p99 <= 2 ms at 100k.
//!
//! ```sh
//! cargo run --release -p baton-store --example memory_bench [-- --sizes 1000,10000,100000]
//!     [--searches 1000] [--one-by-one 2000] [--batch 1000] [--seed 42]
//! ```
//!
//! The data: keys `pattern-<topic>-<n>` (40 two-word topics such as `auth-retry`), JSON values
//! of ~200 bytes whose text is drawn from a fixed vocabulary of 2000 words with a Zipf-like
//! (log-uniform rank) distribution and a seeded PRNG, 2 to 3 tags, 3 namespaces. Std only.
//!
//! Store throughput: the N entries through `memory_store_many` in batches of `--batch`, and,
//! in a fresh store, 2000 entries one by one through `memory_store` (one transaction each),
//! against the same 2000 through one `memory_store_many` call in the same run.
//!
//! Searches (all namespaces, limit 10), 1000 per size, the kinds interleaved in a seeded
//! shuffle after 20 warm-up searches. A search only reads; the write that counts the returned
//! hits' accesses, which callers make after replying, is timed apart. The kinds:
//! - `rare`: the rarest word of a random stored entry that is not a stop word (at least one
//!   hit, checked);
//! - `two-word`: two vocabulary words of rank 100..2000 (the 100 most common words excluded);
//! - `key-like`: the words of a topic, such as `auth retry` (hits, checked);
//! - `miss`: a word no entry holds (no candidate, checked).
//!
//! `overall` is those four. Three more kinds are timed separately (200 searches each) and not
//! part of `overall`, because a search reads or counts every matching entry and their cost
//! grows with the number of matches: `common`, one of the 10 most common words that are not
//! stop words (found in most entries); `scoped`, a `key-like` query in one namespace of the
//! three, which also checks every candidate's namespace; and `task`, a sentence as a worker
//! would ask it, four vocabulary words of rank 20..500 joined by stop words (`W1 the W2 with W3
//! and W4`, the stop words ignored).

// A benchmark program: it prints its report, and a failed store or search ends it.
#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit
)]

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

use std::path::PathBuf;
use std::time::Instant;

use baton_store::{MEMORY_STOP_WORDS, MemoryQuery, NewMemory, Store};

const VOCAB: usize = 2000;
const NAMESPACES: [&str; 3] = ["patterns", "swarm", "project"];
const TOPICS: [&str; 40] = [
    "auth-retry",
    "cache-invalidation",
    "db-migration",
    "rate-limit",
    "error-handling",
    "config-reload",
    "token-refresh",
    "queue-backpressure",
    "schema-validation",
    "log-rotation",
    "circuit-breaker",
    "deploy-rollback",
    "feature-flag",
    "session-expiry",
    "index-rebuild",
    "batch-import",
    "webhook-delivery",
    "lock-contention",
    "memory-leak",
    "test-flake",
    "api-pagination",
    "file-upload",
    "search-ranking",
    "email-bounce",
    "payment-capture",
    "user-onboarding",
    "audit-trail",
    "secret-rotation",
    "health-check",
    "graceful-shutdown",
    "connection-pool",
    "timeout-tuning",
    "json-parsing",
    "date-parsing",
    "unicode-normalization",
    "cors-policy",
    "build-cache",
    "dependency-upgrade",
    "crash-recovery",
    "metric-export",
];
/// Real words first (the most common ranks), then made-up ones from consonant-vowel
/// syllables (never containing q, x or z, so a `q...` word is a sure miss).
const BASE_WORDS: &[&str] = &[
    "the",
    "use",
    "when",
    "call",
    "with",
    "error",
    "request",
    "value",
    "before",
    "after",
    "check",
    "return",
    "fails",
    "service",
    "client",
    "server",
    "should",
    "handler",
    "response",
    "state",
    "retry",
    "cache",
    "timeout",
    "update",
    "write",
    "read",
    "store",
    "query",
    "load",
    "task",
    "worker",
    "agent",
    "config",
    "result",
    "input",
    "output",
    "null",
    "empty",
    "list",
    "map",
    "key",
    "data",
    "event",
    "stream",
    "buffer",
    "file",
    "path",
    "token",
    "user",
    "session",
    "backoff",
    "jitter",
    "exponential",
    "idempotent",
    "transaction",
    "rollback",
    "commit",
    "index",
    "schema",
    "field",
    "column",
    "table",
    "migration",
    "version",
    "deploy",
    "build",
    "test",
    "mock",
    "fixture",
    "assert",
    "panic",
    "unwrap",
    "option",
    "future",
    "async",
    "await",
    "thread",
    "mutex",
    "channel",
    "queue",
    "pool",
    "connection",
    "socket",
    "header",
    "body",
    "status",
    "code",
    "limit",
    "rate",
    "window",
    "bucket",
    "quota",
    "metric",
    "counter",
    "gauge",
    "histogram",
    "trace",
    "span",
    "log",
    "level",
    "debug",
    "warn",
    "info",
];

fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = BASE_WORDS.iter().map(|w| w.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    const C: &[u8] = b"bcdfghjklmnprstvw";
    const V: &[u8] = b"aeiou";
    let mut rng = Rng(7);
    while words.len() < VOCAB {
        let syllables = 2 + rng.below(2);
        let mut w = String::new();
        for _ in 0..syllables {
            w.push(C[rng.below(C.len())] as char);
            w.push(V[rng.below(V.len())] as char);
        }
        // End on a consonant other than s, so that the porter stemmer leaves it alone.
        w.push(b"dkmnprt"[rng.below(7)] as char);
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Entry `i` of the data set and the vocabulary ranks of its text.
fn entry(seed: u64, i: usize, vocab: &[String]) -> (NewMemory, Vec<usize>) {
    let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let topic = TOPICS[rng.below(TOPICS.len())];
    let namespace = NAMESPACES[i % NAMESPACES.len()];
    let key = format!("pattern-{topic}-{i}");
    let mut ranks = Vec::new();
    let mut text = |rng: &mut Rng, n: usize| {
        let mut s = String::new();
        for j in 0..n {
            let r = rng.zipf(VOCAB);
            ranks.push(r);
            if j > 0 {
                s.push(' ');
            }
            s.push_str(&vocab[r]);
        }
        s
    };
    let n = 14 + rng.below(6);
    let pattern = text(&mut rng, n);
    let n = 6 + rng.below(4);
    let context = text(&mut rng, n);
    let confidence = 0.5 + rng.unit() / 2.0;
    let uses = rng.below(50);
    let outcome = if rng.below(4) == 0 {
        "failure"
    } else {
        "success"
    };
    let value = format!(
        "{{\"pattern\":\"{pattern}\",\"context\":\"{context}\",\"confidence\":{confidence:.2},\
         \"uses\":{uses},\"outcome\":\"{outcome}\"}}"
    );
    let (a, b) = topic.split_once('-').unwrap_or((topic, topic));
    let mut tags = vec![a.to_string(), b.to_string()];
    if rng.below(2) == 0 {
        tags.push(outcome.to_string());
    }
    (
        NewMemory::json(namespace, key, value).with_tags(tags),
        ranks,
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Rare,
    TwoWord,
    KeyLike,
    Miss,
    Common,
    Scoped,
    Task,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rare => "rare",
            Kind::TwoWord => "two-word",
            Kind::KeyLike => "key-like",
            Kind::Miss => "miss",
            Kind::Common => "common",
            Kind::Scoped => "scoped",
            Kind::Task => "task",
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

struct Args {
    sizes: Vec<usize>,
    searches: usize,
    one_by_one: usize,
    batch: usize,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![1_000, 10_000, 100_000],
        searches: 1000,
        one_by_one: 2000,
        batch: 1000,
        seed: 42,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = || {
            value
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("bad {flag} {value}"))
        };
        match flag.as_str() {
            "--sizes" => {
                a.sizes = value
                    .split(',')
                    .map(|s| s.parse().expect("--sizes takes numbers"))
                    .collect()
            }
            "--searches" => a.searches = num(),
            "--one-by-one" => a.one_by_one = num(),
            "--batch" => a.batch = num().max(1),
            "--seed" => a.seed = num() as u64,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memory_bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn main() {
    let args = args();
    let vocab = vocabulary();
    let now_ms: i64 = 1_800_000_000_000;
    let mut failed_checks = 0usize;
    println!(
        "memory_bench: sizes {:?}, {} searches per size, seed {}, vocabulary {} words",
        args.sizes,
        args.searches,
        args.seed,
        vocab.len()
    );

    // Store throughput, one by one against one batch, same entries, fresh stores.
    if args.one_by_one > 0 {
        let entries: Vec<NewMemory> = (0..args.one_by_one)
            .map(|i| entry(args.seed ^ 0xABCD, i, &vocab).0)
            .collect();
        let dir = temp_dir("one");
        let store = Store::open(&dir.join("baton.db")).expect("open store");
        let t = Instant::now();
        for e in &entries {
            store.memory_store(e, false, now_ms).expect("memory_store");
        }
        let one = t.elapsed().as_secs_f64();
        drop(store);
        let dir2 = temp_dir("many");
        let store = Store::open(&dir2.join("baton.db")).expect("open store");
        let t = Instant::now();
        store
            .memory_store_many(&entries, false, now_ms)
            .expect("memory_store_many");
        let many = t.elapsed().as_secs_f64();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
        let n = entries.len() as f64;
        println!(
            "\nstore {} entries into an empty store:\n  one by one (memory_store, a transaction each): {:>9.0} entries/s ({:.1} us/entry)\n  one batch  (memory_store_many):                 {:>9.0} entries/s ({:.1} us/entry)\n  ratio one-by-one / batch (time per entry): {:.1}x",
            entries.len(),
            n / one,
            one * 1e6 / n,
            n / many,
            many * 1e6 / n,
            one / many
        );
    }

    let mut summary = Vec::new();
    for &size in &args.sizes {
        let dir = temp_dir(&size.to_string());
        let db = dir.join("baton.db");
        let store = Store::open(&db).expect("open store");
        let mut all_ranks = Vec::with_capacity(size);
        let mut entries = Vec::with_capacity(size);
        for i in 0..size {
            let (e, ranks) = entry(args.seed, i, &vocab);
            entries.push(e);
            all_ranks.push(ranks);
        }
        let bytes: usize = entries.iter().map(|e| e.value.len()).sum();
        let t = Instant::now();
        for chunk in entries.chunks(args.batch) {
            store
                .memory_store_many(chunk, false, now_ms)
                .expect("memory_store_many");
        }
        let load = t.elapsed().as_secs_f64();
        let db_bytes: u64 = ["baton.db", "baton.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "\n== {size} entries (values {:.0} bytes on average; database {:.1} MiB)\nbulk load, memory_store_many in batches of {}: {:.2} s, {:.0} entries/s",
            bytes as f64 / size as f64,
            db_bytes as f64 / 1048576.0,
            args.batch,
            load,
            size as f64 / load
        );

        // The queries. A search ignores stop words, so `common` takes the most common others.
        let common: Vec<String> = vocab
            .iter()
            .filter(|w| !MEMORY_STOP_WORDS.contains(&w.as_str()))
            .take(10)
            .cloned()
            .collect();
        let mut rng = Rng(args.seed ^ 0x5EA2C4 ^ size as u64);
        let make = |kind: Kind, rng: &mut Rng| -> String {
            match kind {
                Kind::Rare => {
                    // A made-up word can spell a stop word ("weren"), which is not searched.
                    let ranks = &all_ranks[rng.below(size)];
                    let rarest = ranks
                        .iter()
                        .filter(|&&r| !MEMORY_STOP_WORDS.contains(&vocab[r].as_str()))
                        .max()
                        .expect("text");
                    vocab[*rarest].clone()
                }
                Kind::TwoWord => format!(
                    "{} {}",
                    vocab[100 + rng.below(VOCAB - 100)],
                    vocab[100 + rng.below(VOCAB - 100)]
                ),
                Kind::KeyLike | Kind::Scoped => {
                    let topic = if rng.below(4) == 0 {
                        "auth-retry"
                    } else {
                        TOPICS[rng.below(TOPICS.len())]
                    };
                    topic.replace('-', " ")
                }
                Kind::Miss => format!("q{}zx", rng.below(1_000_000)),
                Kind::Common => common[rng.below(common.len())].clone(),
                Kind::Task => {
                    let mut word = || vocab[20 + rng.below(480)].as_str();
                    format!("{} the {} with {} and {}", word(), word(), word(), word())
                }
            }
        };
        let main_kinds = [Kind::Rare, Kind::TwoWord, Kind::KeyLike, Kind::Miss];
        let mut plan: Vec<Kind> = (0..args.searches).map(|i| main_kinds[i % 4]).collect();
        plan.extend(std::iter::repeat_n(Kind::Common, args.searches / 5));
        plan.extend(std::iter::repeat_n(Kind::Scoped, args.searches / 5));
        plan.extend(std::iter::repeat_n(Kind::Task, args.searches / 5));
        for i in (1..plan.len()).rev() {
            plan.swap(i, rng.below(i + 1));
        }
        let queries: Vec<(Kind, String)> = plan.iter().map(|&k| (k, make(k, &mut rng))).collect();
        let search = |kind: Kind, q: &str| {
            let query = MemoryQuery::new(q);
            if kind == Kind::Scoped {
                query.in_namespaces([NAMESPACES[0]])
            } else {
                query
            }
        };
        for i in 0..20 {
            let (kind, q) = &queries[i % queries.len()];
            store
                .memory_search(&search(*kind, q), now_ms)
                .expect("search");
        }
        let mut times: Vec<(Kind, f64, usize, usize)> = Vec::with_capacity(queries.len());
        // The write a caller makes after handing the hits on, timed apart from the search.
        let mut counting: Vec<f64> = Vec::with_capacity(queries.len());
        for (kind, q) in &queries {
            let query = search(*kind, q);
            let t = Instant::now();
            let reply = store.memory_search(&query, now_ms).expect("search");
            let us = t.elapsed().as_secs_f64() * 1e6;
            std::hint::black_box(&reply);
            let ok = match kind {
                Kind::Rare | Kind::KeyLike | Kind::Common | Kind::Scoped => !reply.hits.is_empty(),
                Kind::Miss => reply.total_candidates == 0,
                Kind::TwoWord | Kind::Task => true,
            };
            if !ok {
                failed_checks += 1;
                eprintln!(
                    "CHECK FAILED: {} query {q:?} at {size}: {} candidates",
                    kind.name(),
                    reply.total_candidates
                );
            }
            times.push((*kind, us, reply.total_candidates, reply.hits.len()));
            if !reply.hits.is_empty() {
                let t = Instant::now();
                store
                    .count_search_accesses(&reply.hits)
                    .expect("count accesses");
                counting.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        println!(
            "{:<10} {:>6} {:>9} {:>9} {:>9} {:>14}",
            "kind", "n", "p50 us", "p99 us", "max us", "candidates p50"
        );
        let row = |label: &str, filter: &dyn Fn(Kind) -> bool| -> (f64, f64) {
            let mut v: Vec<f64> = times.iter().filter(|t| filter(t.0)).map(|t| t.1).collect();
            let mut c: Vec<f64> = times
                .iter()
                .filter(|t| filter(t.0))
                .map(|t| t.2 as f64)
                .collect();
            v.sort_by(f64::total_cmp);
            c.sort_by(f64::total_cmp);
            let (p50, p99) = (percentile(&v, 0.5), percentile(&v, 0.99));
            println!(
                "{label:<10} {:>6} {:>9.0} {:>9.0} {:>9.0} {:>14.0}",
                v.len(),
                p50,
                p99,
                v.last().copied().unwrap_or(f64::NAN),
                percentile(&c, 0.5)
            );
            (p50, p99)
        };
        for k in main_kinds {
            row(k.name(), &|x| x == k);
        }
        let (p50, p99) = row("overall", &|x| {
            !matches!(x, Kind::Common | Kind::Scoped | Kind::Task)
        });
        let (cp50, cp99) = row("common*", &|x| x == Kind::Common);
        row("scoped*", &|x| x == Kind::Scoped);
        row("task*", &|x| x == Kind::Task);
        println!(
            "  (* not in overall: one of the 10 most common words that are not stop words, \
             matching most entries; a key-like query in one namespace of three; four words \
             of rank 20..500 joined by stop words)"
        );
        counting.sort_by(f64::total_cmp);
        println!(
            "counting the hits' accesses afterwards (one write transaction, not in the search \
             times): n {}, p50 {:.0} us, p99 {:.0} us, max {:.0} us",
            counting.len(),
            percentile(&counting, 0.5),
            percentile(&counting, 0.99),
            counting.last().copied().unwrap_or(f64::NAN)
        );
        summary.push((size, p50, p99, cp50, cp99));
        drop(store);
        if std::env::var_os("MEMORY_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            println!("kept {}", dir.display());
        }
    }

    println!(
        "\nsummary (search latency, us)\n{:>8} {:>12} {:>12} {:>12} {:>12}",
        "entries", "overall p50", "overall p99", "common p50", "common p99"
    );
    for (size, p50, p99, cp50, cp99) in &summary {
        println!("{size:>8} {p50:>12.0} {p99:>12.0} {cp50:>12.0} {cp99:>12.0}");
    }
    if let Some((_, _, p99, _, cp99)) = summary.iter().find(|s| s.0 == 100_000) {
        let verdict = if *p99 <= 2000.0 { "met" } else { "MISSED" };
        println!(
            "goal p99 <= 2 ms at 100k (overall: rare, two-word, key-like, miss): {:.2} ms, {verdict}",
            p99 / 1000.0
        );
        let common = if *cp99 <= 2000.0 {
            "within"
        } else {
            "NOT within"
        };
        println!(
            "common-word queries at 100k: p99 {:.2} ms, {common} the goal",
            cp99 / 1000.0
        );
    }
    if failed_checks > 0 {
        eprintln!("{failed_checks} correctness check(s) failed");
        std::process::exit(1);
    }
    println!(
        "checks: every rare, key-like, common and scoped query had hits; every miss had no \
         candidate"
    );
}

//! Full-text search over the memory: FTS5 (`memory_fts`, tokenizer `porter unicode61`) ranked
//! by `bm25()`, with a reply that says what was searched and how it was ranked, so that an
//! empty result can be told apart from a filter that hid everything.
//!
//! How a query is run:
//! - the query text is split on whitespace and control characters into terms (duplicates,
//!   ignoring case, dropped; at most [`MEMORY_MAX_TERMS`]); each term is quoted as an FTS5
//!   string, so no character of it is FTS5 syntax (`"`, `*`, `-`, `:`, `^`, `NEAR`, `OR` are
//!   plain text), and the tokenizer splits it as it split the indexed text:
//!   `pattern-auth-retry` becomes the phrase `pattern auth retry`. A term with no word
//!   characters is a phrase that matches nothing;
//! - terms are joined with `OR`: an entry matching any term is a candidate, and bm25 ranks
//!   those matching more, rarer terms first. The reply's `fts_query` is the exact expression;
//! - candidates are the live entries of the searched namespaces carrying every asked tag; only
//!   their ids and bm25 values are read (no row text), then the hits' rows by id;
//! - scores are normalized as [`MEMORY_SCORE_NORMALIZATION`] says; see [`normalize`] for why.
//!
//! Cost: FTS5 computes bm25 for every entry matching a term (it has no top-k pruning), and the
//! reply counts all candidates, so a search costs 1 to 2 microseconds (release build) per
//! matching entry, about two thirds of it bm25 and one third the lookup of the entry's row for
//! the filters, on top of a fixed part of about a hundred microseconds: selective words are
//! cheap at any size, a word found in every one of 100k entries is not (`bench/memory.sh`).

use std::borrow::Cow;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::namespace_param;
use crate::codec::json;
use crate::{Store, StoreError};

/// The ranking every search reply and hit names in `method` / `ranked_by`.
pub const MEMORY_SEARCH_METHOD: &str = "fts5-bm25";

/// The score normalization, in one sentence, as every reply states it.
pub const MEMORY_SCORE_NORMALIZATION: &str = "score = raw_score / the best raw_score among this \
    search's candidates (raw_score = -bm25, higher is better), so the best hit scores 1.0 and \
    min_score is the fraction of the best hit's relevance a hit must reach";

/// At most this many distinct terms of a query are searched (the reply lists them in
/// `fts_query`); a longer query is cut, not refused.
pub const MEMORY_MAX_TERMS: usize = 32;

/// The `limit` of a [`MemoryQuery`] that does not give one.
const DEFAULT_LIMIT: usize = 10;

/// bm25 column weights (key, value, tags): a word in the key or a tag, which someone chose to
/// name the entry by, counts twice a word of the value.
const BM25: &str = "-bm25(memory_fts, 2.0, 1.0, 2.0)";

/// A search of the memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryQuery {
    /// Words to look for; see the module documentation for how they are matched.
    pub query: String,
    /// Namespaces to search; empty searches all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Most hits to return.
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Hits scoring below this (0..=1) are dropped, and counted in the reply.
    #[serde(default)]
    pub min_score: f64,
    /// Only entries carrying every one of these tags (exact match).
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_limit() -> usize {
    DEFAULT_LIMIT
}

impl MemoryQuery {
    /// A search of every namespace for `query`, up to 10 hits, no min_score, no tags.
    pub fn new(query: impl Into<String>) -> MemoryQuery {
        MemoryQuery {
            query: query.into(),
            namespaces: Vec::new(),
            limit: DEFAULT_LIMIT,
            min_score: 0.0,
            tags: Vec::new(),
        }
    }

    pub fn in_namespaces<I, S>(mut self, namespaces: I) -> MemoryQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.namespaces = namespaces.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_limit(mut self, limit: usize) -> MemoryQuery {
        self.limit = limit;
        self
    }

    pub fn with_min_score(mut self, min_score: f64) -> MemoryQuery {
        self.min_score = min_score;
        self
    }

    pub fn with_tags<I, S>(mut self, tags: I) -> MemoryQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// The answer to a [`MemoryQuery`], saying what was searched and how it was ranked.
///
/// Ranking and scores: entries are ranked by FTS5's `bm25()` (column weights key 2, value 1,
/// tags 2). `raw_score` is `-bm25`, so higher is better. `score` is `raw_score` divided by the
/// best `raw_score` among this search's candidates (after namespace, tag and expiry filters,
/// before `min_score` and `limit`): the best hit scores exactly 1.0, every score is in 0..=1,
/// and scores rise and fall with `raw_score`. `min_score` therefore keeps the hits at least
/// that fraction as relevant as the best one: 0.7 means "within 70% of the best match", the
/// same in a memory of three entries as in one of 100k, and it can never hide the best hit.
/// It says nothing about absolute relevance (a query matching only a common word still has a
/// 1.0 hit): use `raw_score`, which grows with how rare the matched words are, for that.
///
/// Counts: `total_candidates` entries matched; `dropped_below_min_score` of them scored below
/// `min_score`; the rest, best first, were cut to `limit` to give `hits`. So an empty `hits`
/// with `total_candidates == 0` means nothing matched in `namespaces_searched`, and with
/// `dropped_below_min_score > 0` that `min_score` hid them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReply {
    /// The query text as given.
    pub query: String,
    /// The FTS5 expression that ran: the quoted terms joined by `OR`; empty when the query
    /// had no terms (then nothing was searched and nothing matched).
    pub fts_query: String,
    /// The namespaces searched: those asked (duplicates dropped), or, when none were asked,
    /// every namespace that holds an entry.
    pub namespaces_searched: Vec<String>,
    /// The asked namespaces that hold no entry at all: a misspelt namespace shows up here
    /// instead of as a silently empty result.
    pub unknown_namespaces: Vec<String>,
    /// The tags every hit carries (as asked).
    pub tags: Vec<String>,
    pub min_score: f64,
    pub limit: usize,
    /// Always [`MEMORY_SEARCH_METHOD`].
    pub method: Cow<'static, str>,
    /// Always [`MEMORY_SCORE_NORMALIZATION`].
    pub normalization: Cow<'static, str>,
    pub total_candidates: usize,
    pub dropped_below_min_score: usize,
    /// Best first: by `raw_score`, then newest updated.
    pub hits: Vec<SearchHit>,
}

/// One entry found by a search. Handing it on counts as an access of the entry
/// ([`Store::count_search_accesses`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub namespace: String,
    pub key: String,
    /// Exactly as stored.
    pub value: String,
    pub is_json: bool,
    pub tags: Vec<String>,
    /// 0..=1, see [`SearchReply`].
    pub score: f64,
    /// `-bm25()`: higher is better; comparable only within one search.
    pub raw_score: f64,
    /// Always [`MEMORY_SEARCH_METHOD`] here; a hybrid ranking names what ranked the hit.
    pub ranked_by: Cow<'static, str>,
    /// The text search's score: `score` itself here; in a hybrid ranking the text side of the
    /// combined `score`, `None` for a hit found by vector only.
    #[serde(default)]
    pub text_score: Option<f64>,
    /// The vector side's similarity (0..=1) in a hybrid ranking; `None` when not compared.
    #[serde(default)]
    pub vector_score: Option<f64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A matching entry before its row is read.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    id: i64,
    raw: f64,
    updated_at_ms: i64,
}

impl Store {
    /// Searches the memory; see [`SearchReply`] for what comes back and the module
    /// documentation for how the query is matched. Entries expired at `now_ms` are not
    /// searched. Only reads: the caller counts the accesses of the hits it hands on with
    /// [`Store::count_search_accesses`]. A query that is
    /// empty or made only of punctuation is not an error: it matches nothing. A `min_score`
    /// outside 0..=1 is [`StoreError::InvalidMemory`].
    pub fn memory_search(
        &self,
        query: &MemoryQuery,
        now_ms: i64,
    ) -> Result<SearchReply, StoreError> {
        const WHAT: &str = "search the memory";
        if !(0.0..=1.0).contains(&query.min_score) {
            return Err(StoreError::InvalidMemory {
                what: WHAT,
                why: format!("min_score {} is not within 0..=1", query.min_score),
            });
        }
        let fts_query = fts_expression(&query_terms(&query.query));
        let asked = dedup(&query.namespaces);
        let scope = namespace_param(&asked)?;
        let tags = if query.tags.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&query.tags).map_err(|source| StoreError::Encode {
                    what: "search tags",
                    source,
                })?,
            )
        };

        // One snapshot for the namespaces, the candidates and the hits' rows.
        let read = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(self.query_err(WHAT))?;
        let (namespaces_searched, unknown_namespaces) = if asked.is_empty() {
            (
                all_namespaces(&read).map_err(self.query_err(WHAT))?,
                Vec::new(),
            )
        } else {
            let mut unknown = Vec::new();
            for namespace in &asked {
                if !namespace_exists(&read, namespace).map_err(self.query_err(WHAT))? {
                    unknown.push(namespace.clone());
                }
            }
            (asked, unknown)
        };
        let mut candidates = if fts_query.is_empty() {
            Vec::new()
        } else {
            candidates(&read, &fts_query, now_ms, scope.as_deref(), tags.as_deref())
                .map_err(self.query_err(WHAT))?
        };
        let total_candidates = candidates.len();
        let best = candidates
            .iter()
            .map(|c| c.raw)
            .fold(f64::NEG_INFINITY, f64::max);
        candidates.retain(|c| normalize(c.raw, best) >= query.min_score);
        let dropped_below_min_score = total_candidates - candidates.len();
        keep_best(&mut candidates, query.limit);
        let mut hits = Vec::with_capacity(candidates.len());
        for candidate in &candidates {
            if let Some(hit) = hit_by_id(&read, candidate, best).map_err(self.query_err(WHAT))? {
                hits.push(hit);
            }
        }
        // Only read: ending the snapshot either way is the same.
        read.commit().map_err(self.query_err(WHAT))?;

        Ok(SearchReply {
            query: query.query.clone(),
            fts_query,
            namespaces_searched,
            unknown_namespaces,
            tags: query.tags.clone(),
            min_score: query.min_score,
            limit: query.limit,
            method: Cow::Borrowed(MEMORY_SEARCH_METHOD),
            normalization: Cow::Borrowed(MEMORY_SCORE_NORMALIZATION),
            total_candidates,
            dropped_below_min_score,
            hits,
        })
    }

    /// Counts one access of each hit of `hits` still stored under its (namespace, key), in one
    /// write transaction, and returns how many were counted. Separate from
    /// [`Store::memory_search`], which only reads, so that a caller counts exactly the hits it
    /// hands on (a hybrid ranking searches a wider window than it returns), and can do so
    /// after replying: the write then costs the caller nothing it waits for.
    pub fn count_search_accesses(&self, hits: &[SearchHit]) -> Result<usize, StoreError> {
        const WHAT: &str = "count memory accesses";
        if hits.is_empty() {
            return Ok(0);
        }
        let tx = self.write_tx(WHAT)?;
        let mut counted = 0;
        for hit in hits {
            counted += tx
                .prepare_cached(
                    "UPDATE memory SET access_count = access_count + 1
                     WHERE namespace = ?1 AND key = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![hit.namespace, hit.key]))
                .map_err(self.query_err(WHAT))?;
        }
        tx.commit().map_err(self.query_err(WHAT))?;
        Ok(counted)
    }
}

/// The score of a candidate with bm25 relevance `raw` (`-bm25`) when the best candidate of the
/// same search has `best`: `raw / best`, in 0..=1, 1.0 for the best.
///
/// Why relative to the best hit and not a fixed curve such as `raw / (raw + k)`: bm25's raw
/// values are not comparable across memories. FTS5 weighs a word by
/// `ln((N - n + 0.5) / (n + 0.5))` (N rows, n rows with the word) and floors that at 1e-6, so
/// in a memory of one or two entries, or for a word in half the rows, `raw` is about 1e-6
/// whatever the match; in a memory of three entries a perfect match is about 0.7; at 100k
/// entries it is 10 or more. Any fixed `k` would make a threshold like 0.7 hide every hit of
/// a young memory (the silent empty result this crate exists to avoid) or pass everything in
/// a large one. Relative to the best hit, 0.7 means the same at every size: "at least 70% as
/// relevant as the best match of this search". `raw_score` stays in every hit for callers
/// that want the absolute value.
pub(crate) fn normalize(raw: f64, best: f64) -> f64 {
    if !(best > 0.0 && best.is_finite()) {
        // bm25 is always above 0 for a match; should it not be, no candidate is better than
        // another.
        return 1.0;
    }
    let score = raw / best;
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

/// The terms of `query`, separated by whitespace and control characters (FTS5's parser stops
/// at a NUL), first spelling kept for terms differing only in case, at most
/// [`MEMORY_MAX_TERMS`].
pub(crate) fn query_terms(query: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    query
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|term| !term.is_empty() && seen.insert(term.to_lowercase()))
        .take(MEMORY_MAX_TERMS)
        .map(str::to_owned)
        .collect()
}

/// The FTS5 expression for `terms`: each as a string (`"` doubled inside), joined by `OR`.
pub(crate) fn fts_expression(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn dedup(namespaces: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(namespaces.len());
    for namespace in namespaces {
        if !out.contains(namespace) {
            out.push(namespace.clone());
        }
    }
    out
}

/// Every namespace holding an entry, in name order: one index seek per namespace (a skip
/// scan over the (namespace, key) index), not a scan of the entries.
fn all_namespaces(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "WITH RECURSIVE ns (name) AS (
            SELECT min(namespace) FROM memory
            UNION ALL
            SELECT (SELECT min(namespace) FROM memory WHERE namespace > ns.name)
            FROM ns WHERE ns.name IS NOT NULL
        )
        SELECT name FROM ns WHERE name IS NOT NULL",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

fn namespace_exists(conn: &rusqlite::Connection, namespace: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM memory WHERE namespace = ?1)")?
        .query_row([namespace], |r| r.get(0))
}

/// Id, relevance and update time of every live entry matching `fts_query` in the namespaces
/// of `scope` (a JSON array; `None`: all) carrying every tag of `tags` (a JSON array).
/// CROSS JOIN keeps the full-text index as the outer loop: matches drive the lookups.
fn candidates(
    conn: &rusqlite::Connection,
    fts_query: &str,
    now_ms: i64,
    scope: Option<&str>,
    tags: Option<&str>,
) -> rusqlite::Result<Vec<Candidate>> {
    conn.prepare_cached(&format!(
        "SELECT m.id, {BM25}, m.updated_at_ms
         FROM memory_fts CROSS JOIN memory AS m ON m.id = memory_fts.rowid
         WHERE memory_fts MATCH ?1
           AND (m.expires_at_ms IS NULL OR m.expires_at_ms > ?2)
           AND (?3 IS NULL OR m.namespace IN (SELECT value FROM json_each(?3)))
           AND (?4 IS NULL OR NOT EXISTS (
                SELECT 1 FROM json_each(?4) AS want
                WHERE want.value NOT IN (SELECT value FROM json_each(m.tags))))"
    ))?
    .query_map(params![fts_query, now_ms, scope, tags], |r| {
        Ok(Candidate {
            id: r.get(0)?,
            raw: r.get(1)?,
            updated_at_ms: r.get(2)?,
        })
    })?
    .collect()
}

/// Cuts `candidates` to the best `limit`, best first (by relevance, then newest updated, then
/// newest stored), without sorting the ones cut.
fn keep_best(candidates: &mut Vec<Candidate>, limit: usize) {
    let order = |a: &Candidate, b: &Candidate| {
        b.raw
            .total_cmp(&a.raw)
            .then(b.updated_at_ms.cmp(&a.updated_at_ms))
            .then(b.id.cmp(&a.id))
    };
    if limit == 0 {
        candidates.clear();
        return;
    }
    if candidates.len() > limit {
        candidates.select_nth_unstable_by(limit - 1, order);
        candidates.truncate(limit);
    }
    candidates.sort_unstable_by(order);
}

fn hit_by_id(
    conn: &rusqlite::Connection,
    candidate: &Candidate,
    best: f64,
) -> rusqlite::Result<Option<SearchHit>> {
    conn.prepare_cached(
        "SELECT namespace, key, value, is_json, tags, created_at_ms, updated_at_ms
         FROM memory WHERE id = ?1",
    )?
    .query_row([candidate.id], |r| {
        Ok(SearchHit {
            namespace: r.get(0)?,
            key: r.get(1)?,
            value: r.get(2)?,
            is_json: r.get(3)?,
            tags: json(r, 4)?,
            score: normalize(candidate.raw, best),
            raw_score: candidate.raw,
            ranked_by: Cow::Borrowed(MEMORY_SEARCH_METHOD),
            text_score: Some(normalize(candidate.raw, best)),
            vector_score: None,
            created_at_ms: r.get(5)?,
            updated_at_ms: r.get(6)?,
        })
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_quoted_so_no_character_is_fts5_syntax() {
        let terms = query_terms(r#"pattern-auth-retry "quoted" a*b key:x NEAR OR"#);
        assert_eq!(
            fts_expression(&terms),
            r#""pattern-auth-retry" OR """quoted""" OR "a*b" OR "key:x" OR "NEAR" OR "OR""#
        );
        assert_eq!(fts_expression(&query_terms("   ")), "");
    }

    #[test]
    fn terms_are_deduplicated_ignoring_case_and_capped() {
        assert_eq!(query_terms("Auth auth AUTH retry"), ["Auth", "retry"]);
        assert_eq!(query_terms("a\u{0}b\tc"), ["a", "b", "c"]);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(query_terms(&many).len(), MEMORY_MAX_TERMS);
    }

    #[test]
    fn normalization_is_relative_to_the_best_and_stays_in_range() {
        assert_eq!(normalize(4.0, 4.0), 1.0);
        assert_eq!(normalize(1.0, 4.0), 0.25);
        assert_eq!(normalize(1e-6, 1e-6), 1.0);
        assert_eq!(normalize(5.0, 4.0), 1.0);
        assert_eq!(normalize(-1.0, 4.0), 0.0);
        assert_eq!(normalize(1.0, 0.0), 1.0);
        assert_eq!(normalize(f64::NAN, 4.0), 0.0);
    }

    #[test]
    fn keep_best_orders_by_relevance_then_recency() {
        let c = |id, raw, updated_at_ms| Candidate {
            id,
            raw,
            updated_at_ms,
        };
        let mut all = vec![c(1, 1.0, 5), c(2, 3.0, 1), c(3, 3.0, 2), c(4, 2.0, 9)];
        keep_best(&mut all, 3);
        assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), [3, 2, 4]);
        keep_best(&mut all, 0);
        assert!(all.is_empty());
    }
}

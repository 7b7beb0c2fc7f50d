//! Full-text search over the memory: FTS5 (`memory_fts`, tokenizer `porter unicode61`) finds
//! the entries holding the query's terms, each hit gets an absolute score in 0..=1 (how much
//! of the query's weight it holds, `memory/score.rs`), and the reply says what was searched,
//! what was ignored and how it was ranked, so that an empty result can be told apart from a
//! filter that hid everything.
//!
//! How a query is run:
//! - its terms are split and the stop words set aside as `memory/terms.rs` says; a query of
//!   nothing but stop words searches nothing and says so in `note`;
//! - the index gives how many entries hold each term (its weight), which terms each
//!   candidate holds (its score: `memory/score.rs`) and how many candidates there are, less
//!   those the search must not return (expired, outside the searched namespaces, without
//!   every asked tag): `memory/candidates.rs`, by reading every matching id, or, for one or
//!   two terms and nothing to filter, by counting;
//! - `min_score` drops candidates by score; of the rest, those that can be among the best
//!   `limit` (`score::to_compare`) get their bm25 from FTS5 (`memory/bm25.rs`), and the hits
//!   are ordered by score, then bm25, then newest updated.
//!
//! Cost (release build, 100k entries, `bench/memory.sh`): reading ids costs about 50 ns per
//! entry per term it matches, counting about 34 ns; FTS5 spends about 25 ns per matching entry
//! again to weigh the terms for bm25, and bm25 itself, about a microsecond an entry, is paid
//! only for the entries compared (the hits, and at most [`super::score::TIE_WINDOW`] more at
//! the cut). A namespace filter costs on top about 0.75 µs per candidate, or 45 ns per entry
//! of the searched namespaces, whichever is less; a tag filter 1 µs or more per candidate.
//! On top of all that a fixed part of about a hundred microseconds.

use std::borrow::Cow;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::bm25::{Ranked, with_bm25};
use super::candidates::{COUNT_FROM, Scope, entry_count, expired_ids, find};
use super::namespace_param;
use super::terms::{QueryTerms, fts_any};
use crate::codec::json;
use crate::{Store, StoreError};

/// The ranking every search reply and hit names in `method` / `ranked_by`: FTS5 matching,
/// scored as [`super::MEMORY_SCORE_NORMALIZATION`] says, ties ordered by bm25.
pub const MEMORY_SEARCH_METHOD: &str = "fts5-bm25";

/// The `limit` of a [`MemoryQuery`] that does not give one.
const DEFAULT_LIMIT: usize = 10;

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
/// Scores: a hit's `score` is absolute, as [`super::MEMORY_SCORE_NORMALIZATION`] states:
/// `2M / (W + M)` over the inverse document frequencies of the searched terms, `W` for all of
/// them and `M` for those the entry holds. It depends on the query and the memory's word
/// counts, not on the other candidates: 1.0 means the entry holds every searched term, a hit
/// holding only common words scores low however few candidates there are, and a threshold
/// such as 0.7 means the same in every search. `terms` shows each term's weight.
/// `raw_score` is `-bm25` (column weights key 2, value 1, tags 2) for the searched terms,
/// higher is better, comparable only within one search; it orders hits of equal score.
///
/// Order: best first, by `score`, then `raw_score`, then newest updated. When more entries
/// share the lowest score that makes the cut than there are hits left, only the newest 100
/// of them (or as many as the hits left, if more) are compared by `raw_score`; the hits'
/// scores are the best there are either way.
///
/// Counts: `total_candidates` entries hold at least one searched term (in the searched
/// namespaces, with every asked tag, not expired); `dropped_below_min_score` of them scored
/// below `min_score`; the rest, best first, were cut to `limit` to give `hits`. So an empty
/// `hits` with `total_candidates == 0` means nothing matched in `namespaces_searched` (or,
/// with `note` set, that nothing was searched), and with `dropped_below_min_score > 0` that
/// `min_score` hid them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReply {
    /// The query text as given.
    pub query: String,
    /// The FTS5 expression of the searched terms: each quoted, joined by `OR`. Empty when no
    /// term was searched (then nothing matched, and `note` says why).
    pub fts_query: String,
    /// The searched terms in query order, with how many entries hold each and its weight.
    #[serde(default)]
    pub terms: Vec<SearchTerm>,
    /// Terms of the query that were not searched: stop words
    /// ([`super::MEMORY_STOP_WORDS`]) and terms without a letter or digit.
    #[serde(default)]
    pub ignored_terms: Vec<String>,
    /// Why nothing was searched, when nothing was: the query is empty, or every term of it
    /// was ignored. `None` whenever a term was searched.
    #[serde(default)]
    pub note: Option<String>,
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
    /// Always [`super::MEMORY_SCORE_NORMALIZATION`].
    pub normalization: Cow<'static, str>,
    pub total_candidates: usize,
    pub dropped_below_min_score: usize,
    /// Best first: by `score`, then `raw_score`, then newest updated.
    pub hits: Vec<SearchHit>,
}

/// One searched term of a [`SearchReply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchTerm {
    /// As written in the query.
    pub term: String,
    /// Entries holding it, in the whole memory (every namespace, expired ones not yet purged
    /// included), as FTS5 counts them for bm25.
    pub entries: usize,
    /// Its weight in the score: `ln(1 + (N - n + 0.5) / (n + 0.5))`.
    pub weight: f64,
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
    /// 0..=1, absolute; see [`SearchReply`].
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

impl Store {
    /// Searches the memory; see [`SearchReply`] for what comes back and the module
    /// documentation for how the query is matched. Entries expired at `now_ms` are not
    /// searched. Only reads: the caller counts the accesses of the hits it hands on with
    /// [`Store::count_search_accesses`]. A query that is empty, or made only of stop words
    /// and punctuation, is not an error: it searches nothing, and the reply's `note` says so.
    /// A `min_score` outside 0..=1 is [`StoreError::InvalidMemory`].
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
        let terms = QueryTerms::parse(&query.query);
        let asked = dedup(&query.namespaces);
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
        let mut reply = SearchReply {
            query: query.query.clone(),
            fts_query: fts_any(&terms.searched),
            terms: Vec::new(),
            ignored_terms: terms.ignored.clone(),
            note: None,
            namespaces_searched: Vec::new(),
            unknown_namespaces: Vec::new(),
            tags: query.tags.clone(),
            min_score: query.min_score,
            limit: query.limit,
            method: Cow::Borrowed(MEMORY_SEARCH_METHOD),
            normalization: Cow::Borrowed(super::MEMORY_SCORE_NORMALIZATION),
            total_candidates: 0,
            dropped_below_min_score: 0,
            hits: Vec::new(),
        };

        // One snapshot for the namespaces, the counts, the candidates and the hits' rows.
        let read = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(self.query_err(WHAT))?;
        let every = all_namespaces(&read).map_err(self.query_err(WHAT))?;
        // Asked namespaces narrow the search only when some namespace is left out.
        let narrowed = !asked.is_empty() && every.iter().any(|n| !asked.contains(n));
        if asked.is_empty() {
            reply.namespaces_searched = every;
        } else {
            reply.unknown_namespaces = asked
                .iter()
                .filter(|n| !every.contains(n))
                .cloned()
                .collect();
            reply.namespaces_searched = asked;
        }
        if terms.searched.is_empty() {
            reply.note = Some(nothing_searched(&terms.ignored));
            read.commit().map_err(self.query_err(WHAT))?;
            return Ok(reply);
        }

        let entries = entry_count(&read).map_err(self.query_err(WHAT))?;
        let expired = expired_ids(&read, now_ms).map_err(self.query_err(WHAT))?;
        let namespaces = if narrowed {
            namespace_param(&reply.namespaces_searched)?
        } else {
            None
        };
        let scope = Scope {
            fts_query: &reply.fts_query,
            now_ms,
            entries,
            expired: &expired,
            namespaces: namespaces
                .as_deref()
                .map(|json| (json, reply.namespaces_searched.as_slice())),
            tags: tags.as_deref(),
        };
        let found = find(
            &read,
            &terms.searched,
            &scope,
            query.min_score,
            query.limit,
            COUNT_FROM,
        )
        .map_err(self.query_err(WHAT))?;
        let mut ranked = with_bm25(
            &read,
            &terms.searched,
            &found.holders,
            |low, high| found.in_range(low, high),
            &found.compared,
        )
        .map_err(self.query_err(WHAT))?;
        reply.terms = terms
            .searched
            .iter()
            .zip(&found.holders)
            .enumerate()
            .map(|(i, (term, &n))| SearchTerm {
                term: term.clone(),
                entries: n,
                weight: found.weights.of(i),
            })
            .collect();
        reply.total_candidates = found.total;
        reply.dropped_below_min_score = found.dropped;
        ranked.sort_unstable_by(|a, b| {
            b.scored
                .score
                .total_cmp(&a.scored.score)
                .then(b.raw.total_cmp(&a.raw))
                .then(b.updated_at_ms.cmp(&a.updated_at_ms))
                .then(b.scored.id.cmp(&a.scored.id))
        });
        ranked.truncate(query.limit);
        for candidate in &ranked {
            if let Some(hit) = hit_by_id(&read, candidate).map_err(self.query_err(WHAT))? {
                reply.hits.push(hit);
            }
        }
        // Only read: ending the snapshot either way is the same.
        read.commit().map_err(self.query_err(WHAT))?;
        Ok(reply)
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

/// The reply's `note` when no term is left to search.
fn nothing_searched(ignored: &[String]) -> String {
    if ignored.is_empty() {
        return "the query has no words, so nothing was searched; give words that name what \
            to find"
            .into();
    }
    format!(
        "every term of the query is a stop word or has no letter or digit ({}), so nothing \
         was searched; add a word that names what to find",
        ignored.join(", ")
    )
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
fn all_namespaces(conn: &Connection) -> rusqlite::Result<Vec<String>> {
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

fn hit_by_id(conn: &Connection, candidate: &Ranked) -> rusqlite::Result<Option<SearchHit>> {
    conn.prepare_cached(
        "SELECT namespace, key, value, is_json, tags, created_at_ms, updated_at_ms
         FROM memory WHERE id = ?1",
    )?
    .query_row([candidate.scored.id], |r| {
        Ok(SearchHit {
            namespace: r.get(0)?,
            key: r.get(1)?,
            value: r.get(2)?,
            is_json: r.get(3)?,
            tags: json(r, 4)?,
            score: candidate.scored.score,
            raw_score: candidate.raw,
            ranked_by: Cow::Borrowed(MEMORY_SEARCH_METHOD),
            text_score: Some(candidate.scored.score),
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
    fn the_note_names_the_ignored_terms() {
        assert!(nothing_searched(&[]).contains("no words"));
        let note = nothing_searched(&["for".into(), "the".into()]);
        assert!(
            note.contains("(for, the)") && note.contains("add a word"),
            "{note}"
        );
    }
}

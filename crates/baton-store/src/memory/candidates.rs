//! The candidates of a memory search, read from the full-text index: each term's matching
//! ids and how many there are ([`term_postings`]), the set of terms each entry holds
//! ([`merge`]), the filters that drop entries a search must not return ([`keep_in_scope`]),
//! and bm25 for the few candidates that are compared ([`with_bm25`]). `search.rs` puts them
//! together; see its documentation for the order and the costs.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params};

use super::score::Scored;
use super::terms::{fts_all, fts_any};

/// bm25 column weights (key, value, tags): a word in the key or a tag, which someone chose to
/// name the entry by, counts twice a word of the value.
const BM25: &str = "-bm25(memory_fts, 2.0, 1.0, 2.0)";

/// A candidate compared by bm25.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked {
    pub(crate) scored: Scored,
    /// `-bm25`.
    pub(crate) raw: f64,
    pub(crate) updated_at_ms: i64,
}

/// Rows in the memory, expired ones included: the N of the weights, counted as FTS5 counts
/// it for bm25 (SQLite counts a table from its smallest index's pages: microseconds).
pub(crate) fn entry_count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM memory")?
        .query_row([], |r| r.get(0))
}

/// The ids, ascending, of the entries expired by `now_ms` and not purged yet (the expiry
/// index; usually none, as every store purges some).
fn expired_ids(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<i64>> {
    let mut ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM memory WHERE expires_at_ms <= ?1")?
        .query_map([now_ms], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The ids, ascending, of the entries in `namespaces`, read from the (namespace, key) index.
fn namespace_ids(conn: &Connection, namespaces: &[String]) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM memory WHERE namespace = ?1")?;
    let mut ids = Vec::new();
    for namespace in namespaces {
        for id in stmt.query_map([namespace], |r| r.get(0))? {
            ids.push(id?);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// A row lookup per candidate (to check its namespace) costs about 0.75 µs at 100k entries,
/// reading one id from the namespace index about 45 ns: with more candidates than the
/// memory's entries over this, reading the searched namespaces' ids is the cheaper way, and
/// costs at most ~45 ns per entry of the memory.
const LOOKUPS_PER_ID_READ: usize = 16;

/// Keeps the entries of `matched` (ascending) that a search may return: not expired, in the
/// namespaces of `scope` (their JSON array and list; `None`: every namespace), carrying every
/// tag of `tags` (a JSON array). Expired ones are few and found by the expiry index; tags
/// need each candidate's row; a namespace is checked by row when the candidates are few and
/// against the namespaces' ids when they are many.
pub(crate) fn keep_in_scope(
    conn: &Connection,
    matched: &mut Vec<(i64, u32)>,
    fts_query: &str,
    now_ms: i64,
    entries: usize,
    scope: Option<(&str, &[String])>,
    tags: Option<&str>,
) -> rusqlite::Result<()> {
    let expired = expired_ids(conn, now_ms)?;
    if !expired.is_empty() {
        matched.retain(|(id, _)| expired.binary_search(id).is_err());
    }
    let by_row = tags.is_some()
        || scope.is_some() && matched.len().saturating_mul(LOOKUPS_PER_ID_READ) <= entries;
    if by_row {
        let live = in_scope(conn, fts_query, now_ms, scope.map(|s| s.0), tags)?;
        keep_ids(matched, &live);
    } else if let Some((_, namespaces)) = scope {
        keep_ids(matched, &namespace_ids(conn, namespaces)?);
    }
    Ok(())
}

/// The ids of the entries matching the FTS5 `phrase`, ascending, in any namespace, expired or
/// not: how many there are is the term's document frequency.
pub(crate) fn term_postings(conn: &Connection, phrase: &str) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached("SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?1 ORDER BY rowid")?
        .query_map([phrase], |r| r.get(0))?
        .collect()
}

/// The ids in `postings[i]` (each ascending), each with bit `i` set for every list holding
/// it, ascending.
pub(crate) fn merge(postings: &[Vec<i64>]) -> Vec<(i64, u32)> {
    let mut merged: Vec<(i64, u32)> = Vec::new();
    for (bit, ids) in postings.iter().enumerate() {
        let flag = 1_u32 << bit;
        let mut out = Vec::with_capacity(merged.len().max(ids.len()));
        let (mut a, mut b) = (merged.iter().peekable(), ids.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(id, mask)), Some(&&other)) => {
                    if id < other {
                        out.push((id, mask));
                        a.next();
                    } else if other < id {
                        out.push((other, flag));
                        b.next();
                    } else {
                        out.push((id, mask | flag));
                        a.next();
                        b.next();
                    }
                }
                (Some(&&entry), None) => {
                    out.push(entry);
                    a.next();
                }
                (None, Some(&&other)) => {
                    out.push((other, flag));
                    b.next();
                }
                (None, None) => break,
            }
        }
        merged = out;
    }
    merged
}

/// Keeps the entries of `matched` whose id is in `live` (both ascending).
fn keep_ids(matched: &mut Vec<(i64, u32)>, live: &[i64]) {
    let mut live = live.iter().peekable();
    matched.retain(|&(id, _)| {
        while live.next_if(|&&other| other < id).is_some() {}
        live.peek().is_some_and(|&&other| other == id)
    });
}

/// The ids, ascending, of the live entries matching `fts_query` in the namespaces of `scope`
/// (a JSON array; `None`: all) carrying every tag of `tags` (a JSON array). CROSS JOIN keeps
/// the full-text index as the outer loop: matches drive the lookups.
fn in_scope(
    conn: &Connection,
    fts_query: &str,
    now_ms: i64,
    scope: Option<&str>,
    tags: Option<&str>,
) -> rusqlite::Result<Vec<i64>> {
    let mut ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT m.id
             FROM memory_fts CROSS JOIN memory AS m ON m.id = memory_fts.rowid
             WHERE memory_fts MATCH ?1
               AND (m.expires_at_ms IS NULL OR m.expires_at_ms > ?2)
               AND (?3 IS NULL OR m.namespace IN (SELECT value FROM json_each(?3)))
               AND (?4 IS NULL OR NOT EXISTS (
                    SELECT 1 FROM json_each(?4) AS want
                    WHERE want.value NOT IN (SELECT value FROM json_each(m.tags))))",
        )?
        .query_map(params![fts_query, now_ms, scope, tags], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // They come in the index's order, ascending; sorting sorted ids costs one pass.
    ids.sort_unstable();
    Ok(ids)
}

/// Nanoseconds FTS5 spends per entry holding a term to weigh the term for bm25, once per
/// query that computes bm25 (it counts the term's entries); measured at 100k entries.
const WEIGH_NS: usize = 25;

/// Nanoseconds a row costs that a bm25 query walks past without computing bm25 for it.
const SKIP_NS: usize = 60;

/// `compared` with each one's bm25 under the reply's `fts_query` and its update time.
///
/// bm25 is computed only for the compared entries (a filter on their ids), by one of two
/// plans, whichever costs less by [`WEIGH_NS`] and [`SKIP_NS`]: one query under `fts_query`
/// over the id range of all of them, which walks past every other candidate in that range;
/// or, per set of held terms, a query under "holds all of these" over the id range of the
/// entries holding exactly that set, which weighs only those terms but weighs them again for
/// every set. Both give the same value: the terms an entry does not hold add nothing to its
/// bm25. `holders[i]` is how many entries hold term `i`; `matched` the candidates (ascending).
pub(crate) fn with_bm25(
    conn: &Connection,
    terms: &[String],
    holders: &[usize],
    matched: &[(i64, u32)],
    compared: &[Scored],
) -> rusqlite::Result<Vec<Ranked>> {
    let Some((low, high)) = id_range(compared.iter().map(|c| c.id)) else {
        return Ok(Vec::new());
    };
    let mut by_mask: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for candidate in compared {
        by_mask
            .entry(candidate.mask)
            .or_default()
            .push(candidate.id);
    }
    let weigh = |mask: u32| -> usize {
        let held = holders
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0);
        held.map(|(_, n)| n).sum::<usize>() * WEIGH_NS
    };
    let walked = matched.partition_point(|c| c.0 <= high) - matched.partition_point(|c| c.0 < low);
    let one_query = weigh(u32::MAX) + walked * SKIP_NS;
    let per_set: usize = by_mask.keys().map(|&mask| weigh(mask)).sum();

    let mut found: HashMap<i64, (f64, i64)> = HashMap::with_capacity(compared.len());
    if by_mask.len() == 1 || per_set <= one_query {
        for (&mask, ids) in &by_mask {
            let held = terms
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, term)| term.as_str());
            bm25_of(conn, &fts_all(held), ids, &mut found)?;
        }
    } else {
        let ids: Vec<i64> = compared.iter().map(|c| c.id).collect();
        bm25_of(conn, &fts_any(terms), &ids, &mut found)?;
    }
    // Every candidate was read from the same snapshot, so each has its row.
    Ok(compared
        .iter()
        .filter_map(|&scored| {
            let &(raw, updated_at_ms) = found.get(&scored.id)?;
            Some(Ranked {
                scored,
                raw,
                updated_at_ms,
            })
        })
        .collect())
}

fn id_range(ids: impl Iterator<Item = i64>) -> Option<(i64, i64)> {
    ids.fold(None, |range, id| match range {
        None => Some((id, id)),
        Some((low, high)) => Some((low.min(id), high.max(id))),
    })
}

/// Adds to `found` the bm25 under `fts_expression` and the update time of each entry of
/// `ids`. The unary `+` keeps the id filter out of FTS5's hands: given as a constraint, it
/// would run the full-text query, and weigh its terms, once per id.
fn bm25_of(
    conn: &Connection,
    fts_expression: &str,
    ids: &[i64],
    found: &mut HashMap<i64, (f64, i64)>,
) -> rusqlite::Result<()> {
    let Some((low, high)) = id_range(ids.iter().copied()) else {
        return Ok(());
    };
    let wanted = serde_json::Value::from(ids).to_string();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT memory_fts.rowid, {BM25},
            (SELECT updated_at_ms FROM memory WHERE id = memory_fts.rowid)
         FROM memory_fts
         WHERE memory_fts MATCH ?1 AND memory_fts.rowid BETWEEN ?2 AND ?3
           AND +memory_fts.rowid IN (SELECT value FROM json_each(?4))"
    ))?;
    let mut rows = stmt.query(params![fts_expression, low, high, wanted])?;
    while let Some(row) = rows.next()? {
        found.insert(row.get(0)?, (row.get(1)?, row.get(2)?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_sets_one_bit_per_list_holding_an_id() {
        let lists = vec![vec![1, 4, 9], vec![], vec![2, 4, 10], vec![9]];
        assert_eq!(
            merge(&lists),
            [(1, 0b1), (2, 0b100), (4, 0b101), (9, 0b1001), (10, 0b100)]
        );
        assert!(merge(&[]).is_empty());
    }

    #[test]
    fn keep_ids_keeps_only_the_live_ones() {
        let mut matched = vec![(1, 1), (2, 1), (5, 3), (7, 2), (9, 1)];
        keep_ids(&mut matched, &[2, 3, 7, 8, 9]);
        assert_eq!(matched, [(2, 1), (7, 2), (9, 1)]);
        keep_ids(&mut matched, &[]);
        assert!(matched.is_empty());
    }
}

//! bm25 for the few candidates of a memory search that are compared: which FTS5 query
//! computes it for them at the least cost, and the query itself. FTS5 spends about a
//! microsecond per entry on bm25 (it reads the entry's size and its terms' positions), and,
//! once per query, weighs each term by counting the entries holding it.

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

/// Nanoseconds FTS5 spends per entry holding a term to weigh the term for bm25, once per
/// query that computes bm25 (it counts the term's entries); measured at 100k entries.
const WEIGH_NS: usize = 25;

/// Nanoseconds a row costs that a bm25 query walks past without computing bm25 for it.
const SKIP_NS: usize = 60;

/// `compared` with each one's bm25 under the reply's `fts_query` and its update time.
///
/// bm25 is computed only for the compared entries (a filter on their ids), by one of two
/// plans, whichever costs less by [`WEIGH_NS`] and [`SKIP_NS`]: one query under `fts_query`
/// over the id range of all of them, which walks past every other candidate in that range
/// (`walked(low, high)` says how many there are); or, per set of held terms, a query under
/// "holds all of these" over the id range of the entries holding exactly that set, which
/// weighs only those terms but weighs them again for every set. Both give the same value: the
/// terms an entry does not hold add nothing to its bm25. `holders[i]` is how many entries
/// hold term `i`.
pub(crate) fn with_bm25(
    conn: &Connection,
    terms: &[String],
    holders: &[usize],
    walked: impl Fn(i64, i64) -> usize,
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
    let one_query = weigh(u32::MAX) + walked(low, high) * SKIP_NS;
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

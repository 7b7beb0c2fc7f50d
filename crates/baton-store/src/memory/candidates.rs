//! The candidates of a memory search, from the full-text index: how many entries hold each
//! term (its weight), how many candidates there are and how many `min_score` drops, and the
//! few that can become hits ([`Candidates`]). Two ways to the same answer:
//!
//! - [`by_ids`], for any search: each term's matching ids are read (about 50 ns an entry)
//!   and merged into the set of terms each entry holds; entries the search must not return
//!   are dropped (expired ones, found by the expiry index; those outside the searched
//!   namespaces, checked row by row when the candidates are few and against the namespaces'
//!   ids when they are many; those without every asked tag, row by row);
//! - [`by_counts`], for one or two terms held by many entries and nothing to drop: every
//!   entry holding the same terms scores the same, so counting the entries holding each term
//!   and both (about 34 and 15 ns an entry, inside SQLite) gives the counts, and only the newest
//!   entries of the best sets are read: at 15k entries and more a sixth to a third less time
//!   than reading every id. [`find`] reads the first ids of each term, and counts only when
//!   that shows a term held by many ([`CountFrom`]).
//!
//! Either way the compared candidates are those `score::to_compare` describes; a test checks
//! that both give the same.

use rusqlite::{Connection, params};

use super::score::{Scored, TIE_WINDOW, Weights, to_compare};
use super::terms::{fts_all, fts_phrase};

/// What a search found before bm25.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidates {
    /// Entries holding each searched term, in the whole memory.
    pub(crate) holders: Vec<usize>,
    pub(crate) weights: Weights,
    /// Entries holding any term that the search may return.
    pub(crate) total: usize,
    /// Of those, scoring below `min_score`.
    pub(crate) dropped: usize,
    /// Those that can be among the best `limit`, in no particular order.
    pub(crate) compared: Vec<Scored>,
    /// How many candidates lie in an id range: every one (`by_ids`), or an estimate from
    /// their share of the memory (`by_counts`).
    in_range: InRange,
}

#[derive(Debug, Clone, PartialEq)]
enum InRange {
    /// The candidates' ids, ascending.
    Ids(Vec<i64>),
    /// Candidates per entry of the memory.
    Share(f64),
}

impl Candidates {
    /// How many candidates have an id in `low..=high`.
    pub(crate) fn in_range(&self, low: i64, high: i64) -> usize {
        match &self.in_range {
            InRange::Ids(ids) => {
                ids.partition_point(|&id| id <= high) - ids.partition_point(|&id| id < low)
            }
            InRange::Share(share) => {
                let span = high.saturating_sub(low).saturating_add(1).max(0) as f64;
                (span * share).ceil() as usize
            }
        }
    }
}

/// What a search may return besides entries holding a term.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The reply's `fts_query`: any searched term.
    pub(crate) fts_query: &'a str,
    pub(crate) now_ms: i64,
    /// Entries in the memory.
    pub(crate) entries: usize,
    /// The ids, ascending, of entries expired and not purged yet.
    pub(crate) expired: &'a [i64],
    /// The searched namespaces (a JSON array, and the list) when some namespace is left out.
    pub(crate) namespaces: Option<(&'a str, &'a [String])>,
    /// The tags every hit must carry (a JSON array).
    pub(crate) tags: Option<&'a str>,
}

/// Rows in the memory, expired ones included: the N of the weights, counted as FTS5 counts
/// it for bm25 (SQLite counts a table from its smallest index's pages: microseconds).
pub(crate) fn entry_count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM memory")?
        .query_row([], |r| r.get(0))
}

/// The ids, ascending, of the entries expired by `now_ms` and not purged yet (the expiry
/// index; usually none, as every store purges some).
pub(crate) fn expired_ids(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<i64>> {
    let mut ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM memory WHERE expires_at_ms <= ?1")?
        .query_map([now_ms], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// The candidates of a search for `terms` within `scope`. Counted when there are one or two
/// terms and nothing to drop but entries holding none, and counting pays ([`CountFrom`]);
/// else from every matching id. The first ids of each term are read either way: they are
/// what reading would read first, and a term with fewer is known without counting.
pub(crate) fn find(
    conn: &Connection,
    terms: &[String],
    scope: &Scope<'_>,
    min_score: f64,
    limit: usize,
    from: CountFrom,
) -> rusqlite::Result<Candidates> {
    let pair = match terms {
        [first] => Some((first.as_str(), None)),
        [first, second] => Some((first.as_str(), Some(second.as_str()))),
        _ => None,
    };
    let countable = scope.namespaces.is_none() && scope.tags.is_none() && scope.expired.is_empty();
    let cap = pair.filter(|_| countable).map(|_| from.term);
    let phrases: Vec<String> = terms.iter().map(|t| fts_phrase(t)).collect();
    let mut postings = Vec::with_capacity(terms.len());
    for phrase in &phrases {
        postings.push(term_postings(conn, phrase, None, cap)?);
    }
    if let (Some(cap), Some((first, second))) = (cap, pair) {
        // A list cut at `cap` has more: count them, from where it was cut.
        let mut holders = Vec::with_capacity(postings.len());
        let mut cut = false;
        for (ids, phrase) in postings.iter().zip(&phrases) {
            match ids.last().filter(|_| ids.len() >= cap) {
                Some(&last) => {
                    cut = true;
                    holders.push(ids.len() + count_after(conn, phrase, last)?);
                }
                None => holders.push(ids.len()),
            }
        }
        if cut && (second.is_none() || holders.iter().sum::<usize>() >= from.pair) {
            let known = |i: usize| holders.get(i).copied();
            return by_counts(
                conn,
                first,
                second,
                [known(0), known(1)],
                scope.entries,
                min_score,
                limit,
            );
        }
        for ((ids, phrase), &n) in postings.iter_mut().zip(&phrases).zip(&holders) {
            if let Some(&last) = ids.last().filter(|_| ids.len() < n) {
                let rest = term_postings(conn, phrase, Some(last), None)?;
                ids.extend(rest);
            }
        }
    }
    by_ids(conn, postings, scope, min_score, limit)
}

/// The candidates from every matching id of each term (`postings[i]`, ascending).
fn by_ids(
    conn: &Connection,
    postings: Vec<Vec<i64>>,
    scope: &Scope<'_>,
    min_score: f64,
    limit: usize,
) -> rusqlite::Result<Candidates> {
    let holders: Vec<usize> = postings.iter().map(Vec::len).collect();
    let weights = Weights::new(&holders, scope.entries);
    let mut matched = merge(&postings);
    drop(postings);
    keep_in_scope(conn, &mut matched, scope)?;
    let total = matched.len();
    let scored: Vec<Scored> = matched
        .iter()
        .map(|&(id, mask)| Scored {
            id,
            mask,
            score: weights.score(mask),
        })
        .filter(|c| c.score >= min_score)
        .collect();
    Ok(Candidates {
        holders,
        weights,
        total,
        dropped: total - scored.len(),
        compared: to_compare(scored, limit),
        in_range: InRange::Ids(matched.into_iter().map(|(id, _)| id).collect()),
    })
}

/// When counting pays for a search of one or two terms, none of them filtered. Counting runs
/// more FTS5 queries than reading the ids (each costs some 20 µs to start: it finds its terms
/// in every segment of the index), and for two terms it counts the entries holding both on
/// top, so it pays only for terms held by many entries. Measured at 100k entries, counted
/// against read: one term held by 236 entries 203 and 181 µs, by 2480 331 and 368 µs, by
/// 15.8k 1001 and 1486 µs; two terms held by 1313 entries together 580 and 420 µs, by 11.7k
/// 1245 and 1243 µs, by 18.3k 1620 and 1950 µs.
/// (Between 1k and 10k entries for two terms, both ways cost about the same; the ids read
/// first, 1000 a term, are what makes counting not always pay.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct CountFrom {
    /// A term held by this many entries or more is counted: its first this many ids are read
    /// and the rest counted. A term held by fewer is read, and known from its ids.
    pub(crate) term: usize,
    /// Two terms, one of them counted, are counted on when they are held by this many entries
    /// together; else the counted one's ids are read on.
    pub(crate) pair: usize,
}

/// The [`CountFrom`] of every search.
pub(crate) const COUNT_FROM: CountFrom = CountFrom {
    term: 1_000,
    pair: 10_000,
};

/// The candidates of a search for `first` and maybe `second` that drops nothing but entries
/// holding neither (every namespace, no tag, nothing expired), from counts. `known[i]` is how
/// many entries hold term `i` when that is known already.
fn by_counts(
    conn: &Connection,
    first: &str,
    second: Option<&str>,
    known: [Option<usize>; 2],
    entries: usize,
    min_score: f64,
    limit: usize,
) -> rusqlite::Result<Candidates> {
    let holding = |known: Option<usize>, phrase: &str| match known {
        Some(n) => Ok(n),
        None => count_after(conn, phrase, i64::MIN),
    };
    // Each set of held terms: its mask, how many entries hold exactly those terms, and the
    // FTS5 expression matching exactly them.
    let a = fts_phrase(first);
    let na = holding(known[0], &a)?;
    let (holders, sets) = match second {
        None => (vec![na], vec![(0b1, na, a)]),
        Some(second) => {
            let b = fts_phrase(second);
            let nb = holding(known[1], &b)?;
            let both = count_after(conn, &fts_all([first, second].into_iter()), i64::MIN)?;
            let sets = vec![
                (0b11, both, format!("{a} AND {b}")),
                (0b01, na.saturating_sub(both), format!("{a} NOT {b}")),
                (0b10, nb.saturating_sub(both), format!("{b} NOT {a}")),
            ];
            (vec![na, nb], sets)
        }
    };
    let weights = Weights::new(&holders, entries);
    let total: usize = sets.iter().map(|s| s.1).sum();
    let mut kept: Vec<(f64, u32, usize, String)> = Vec::with_capacity(sets.len());
    let mut dropped = 0;
    for (mask, n, expression) in sets {
        let score = weights.score(mask);
        if score < min_score {
            dropped += n;
        } else if n > 0 {
            kept.push((score, mask, n, expression));
        }
    }
    kept.sort_by(|a, b| b.0.total_cmp(&a.0));

    // The sets in score order, those of equal score together, as `to_compare` takes them.
    let mut compared = Vec::new();
    let mut left = limit;
    let mut rest = kept.as_slice();
    while let Some(first) = rest.first()
        && left > 0
    {
        let same = rest.iter().take_while(|s| s.0 == first.0).count();
        let (group, after) = rest.split_at(same);
        rest = after;
        let n: usize = group.iter().map(|s| s.2).sum();
        let take = if n <= left { n } else { left.max(TIE_WINDOW) };
        let mut ids: Vec<Scored> = Vec::new();
        for (score, mask, _, expression) in group {
            for id in newest(conn, expression, take)? {
                ids.push(Scored {
                    id,
                    mask: *mask,
                    score: *score,
                });
            }
        }
        ids.sort_unstable_by_key(|c| std::cmp::Reverse(c.id));
        ids.truncate(take);
        compared.append(&mut ids);
        left = left.saturating_sub(n);
    }
    Ok(Candidates {
        holders,
        weights,
        total,
        dropped,
        compared,
        in_range: InRange::Share(total as f64 / entries.max(1) as f64),
    })
}

/// Entries with an id above `after` matching the FTS5 `expression`, in any namespace,
/// expired or not.
fn count_after(conn: &Connection, expression: &str, after: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?1 AND rowid > ?2")?
        .query_row(params![expression, after], |r| r.get(0))
}

/// The ids of the newest (highest id) `limit` entries matching the FTS5 `expression`.
fn newest(conn: &Connection, expression: &str, limit: usize) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
    )?
    .query_map(params![expression, super::sql_count(limit)], |r| r.get(0))?
    .collect()
}

/// The ids above `after` (all for `None`) of the entries matching the FTS5 `phrase`,
/// ascending, in any namespace, expired or not, the first `cap` of them (all for `None`).
fn term_postings(
    conn: &Connection,
    phrase: &str,
    after: Option<i64>,
    cap: Option<usize>,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?1 AND rowid > ?2
         ORDER BY rowid LIMIT ?3",
    )?;
    // -1: SQLite's "no limit".
    let cap = cap.map_or(-1, super::sql_count);
    let mut rows = stmt.query(params![phrase, after.unwrap_or(i64::MIN), cap])?;
    let mut ids = Vec::new();
    // Reading the column by reference skips a check per row that `get` makes: this loop is
    // most of a search's time.
    while let Some(row) = rows.next()? {
        ids.push(row.get_ref(0)?.as_i64()?);
    }
    Ok(ids)
}

/// The ids in `postings[i]` (each ascending), each with bit `i` set for every list holding
/// it, ascending.
fn merge(postings: &[Vec<i64>]) -> Vec<(i64, u32)> {
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

/// A row lookup per candidate (to check its namespace) costs about 0.75 µs at 100k entries,
/// reading one id from the namespace index about 45 ns: with more candidates than the
/// memory's entries over this, reading the searched namespaces' ids is the cheaper way, and
/// costs at most ~45 ns per entry of the memory.
const LOOKUPS_PER_ID_READ: usize = 16;

/// Keeps the entries of `matched` (ascending) that `scope` lets a search return.
fn keep_in_scope(
    conn: &Connection,
    matched: &mut Vec<(i64, u32)>,
    scope: &Scope<'_>,
) -> rusqlite::Result<()> {
    if !scope.expired.is_empty() {
        matched.retain(|(id, _)| scope.expired.binary_search(id).is_err());
    }
    let by_row = scope.tags.is_some()
        || scope.namespaces.is_some()
            && matched.len().saturating_mul(LOOKUPS_PER_ID_READ) <= scope.entries;
    if by_row {
        let live = in_scope(conn, scope)?;
        keep_ids(matched, &live);
    } else if let Some((_, namespaces)) = scope.namespaces {
        keep_ids(matched, &namespace_ids(conn, namespaces)?);
    }
    Ok(())
}

/// Keeps the entries of `matched` whose id is in `live` (both ascending).
fn keep_ids(matched: &mut Vec<(i64, u32)>, live: &[i64]) {
    let mut live = live.iter().peekable();
    matched.retain(|&(id, _)| {
        while live.next_if(|&&other| other < id).is_some() {}
        live.peek().is_some_and(|&&other| other == id)
    });
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

/// The ids, ascending, of the live entries matching the scope's `fts_query` in its
/// namespaces carrying its tags, each row looked up. CROSS JOIN keeps the full-text index as
/// the outer loop: matches drive the lookups.
fn in_scope(conn: &Connection, scope: &Scope<'_>) -> rusqlite::Result<Vec<i64>> {
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
        .query_map(
            params![
                scope.fts_query,
                scope.now_ms,
                scope.namespaces.map(|n| n.0),
                scope.tags
            ],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    // They come in the index's order, ascending; sorting sorted ids costs one pass.
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewMemory, Store};

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

    /// `compared` in a fixed order, for comparing the two ways.
    fn sorted(mut found: Candidates) -> Candidates {
        found.compared.sort_by_key(|c| std::cmp::Reverse(c.id));
        found.in_range = InRange::Share(0.0);
        found
    }

    #[test]
    fn counting_finds_what_reading_every_id_finds() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("baton.db")).unwrap();
        // 400 entries over a few words, so that the sets of held terms are of every size,
        // some beyond the window, and "blue" and "teal", held by 100 entries each and never
        // together, weigh the same: their sets tie.
        let words = ["red", "green", "blue", "teal", "grey"];
        let holds = |word: usize, i: usize| match word {
            0 => i.is_multiple_of(2),
            1 => i.is_multiple_of(3),
            2 => i % 4 == 2,
            3 => i.is_multiple_of(4),
            _ => i % 5 == 3,
        };
        let entries: Vec<NewMemory> = (0..400_usize)
            .map(|i| {
                let text: Vec<&str> = (0..words.len())
                    .filter(|&w| holds(w, i))
                    .map(|w| words[w])
                    .chain(["x"])
                    .collect();
                NewMemory::text("ns", format!("k{i}"), text.join(" "))
            })
            .collect();
        store.memory_store_many(&entries, false, 1).unwrap();
        let conn = &store.conn;
        let entries = entry_count(conn).unwrap();
        let scope = Scope {
            fts_query: "",
            now_ms: 1,
            entries,
            expired: &[],
            namespaces: None,
            tags: None,
        };
        let mut queries: Vec<Vec<String>> = words.iter().map(|w| vec![w.to_string()]).collect();
        for a in words {
            for b in words {
                if a != b {
                    queries.push(vec![a.to_string(), b.to_string()]);
                }
            }
        }
        queries.push(vec!["red".into(), "nothing".into()]);
        queries.push(vec!["nothing".into()]);
        let always = CountFrom { term: 1, pair: 0 };
        let resume = CountFrom {
            term: 7,
            pair: usize::MAX,
        };
        let never = CountFrom {
            term: usize::MAX,
            pair: usize::MAX,
        };
        for terms in &queries {
            let any = terms
                .iter()
                .map(|t| fts_phrase(t))
                .collect::<Vec<_>>()
                .join(" OR ");
            let scope = Scope {
                fts_query: &any,
                ..scope
            };
            for (limit, min_score) in [(10, 0.0), (1, 0.0), (0, 0.0), (500, 0.0), (3, 0.7)] {
                // Counting from one entry, and never.
                let from_counts = find(conn, terms, &scope, min_score, limit, always).unwrap();
                let read = find(conn, terms, &scope, min_score, limit, never).unwrap();
                assert!(matches!(from_counts.in_range, InRange::Share(_)) || terms[0] == "nothing");
                assert!(matches!(read.in_range, InRange::Ids(_)));
                // Two terms cut where the first ids were read, then read to the end.
                let resumed = find(conn, terms, &scope, min_score, limit, resume).unwrap();
                if terms.len() == 2 {
                    assert!(matches!(resumed.in_range, InRange::Ids(_)));
                    assert_eq!(
                        resumed, read,
                        "{terms:?} limit {limit} min_score {min_score}"
                    );
                }
                assert_eq!(
                    sorted(from_counts),
                    sorted(read),
                    "{terms:?} limit {limit} min_score {min_score}"
                );
            }
        }
        // Three terms, or a filter, are never counted.
        let three: Vec<String> = words[..3].iter().map(|w| w.to_string()).collect();
        let found = find(conn, &three, &scope, 0.0, 10, always).unwrap();
        assert!(matches!(found.in_range, InRange::Ids(_)));
        let expired = Scope {
            expired: &[5],
            ..scope
        };
        let found = find(conn, &queries[0], &expired, 0.0, 10, always).unwrap();
        assert!(matches!(found.in_range, InRange::Ids(_)));
    }
}

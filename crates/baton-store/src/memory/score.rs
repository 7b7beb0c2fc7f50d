//! The score of a memory search hit, an absolute relevance in 0..=1, and which candidates a
//! search goes on to compare by bm25.
//!
//! Each searched term weighs its inverse document frequency over the whole memory, and an
//! entry scores by the weight of the terms it holds ([`Weights::score`]). Scoring needs only
//! which terms each entry holds, which a search reads from the full-text index at a few tens
//! of nanoseconds an entry; bm25, which costs about a microsecond an entry (FTS5 reads each
//! entry's size and term positions for it), is computed only for the candidates that can
//! become hits ([`to_compare`]).

/// How a hit's `score` is computed, in one sentence, as every reply states it.
pub const MEMORY_SCORE_NORMALIZATION: &str = "score = 2M / (W + M), in 0..1, where each \
    searched term (the query's words less stop words and terms without a letter or digit) \
    weighs idf = ln(1 + (N - n + 0.5) / (n + 0.5)), N entries in the memory, n of them \
    holding the term (n = 1 for a term no entry holds), W is the weight of all the searched \
    terms and M of those the entry holds: 1.0 holds every term, 0.8 two thirds of the weight, \
    0.67 half, 0.5 a third, at any memory size, so min_score is an absolute threshold (0.7 \
    needs 54% of the weight); hits are listed best first, by score, then raw_score (-bm25 \
    with weights key 2, value 1, tags 2), then newest updated";

/// When more candidates share the lowest score that makes the cut than the hits left to
/// fill, the newest this many of them (at least as many as the hits left) are compared by
/// bm25; older ones of that score are not returned. Ties that large only come with words
/// held by thousands of entries, and comparing them all would cost about a microsecond each.
pub(crate) const TIE_WINDOW: usize = 100;

/// The weight of a term held by `holders` of the memory's `entries` entries: BM25's inverse
/// document frequency in the form that stays above 0 (Lucene's), `ln(1 + (N - n + 0.5) /
/// (n + 0.5))`. A term no entry holds weighs as one held by a single entry: it cannot be
/// matched, so it lowers every entry's score alike, but as the rarest possible word it would
/// outweigh every word the memory does hold.
pub(crate) fn weight(holders: usize, entries: usize) -> f64 {
    let n = holders.max(1) as f64;
    // An index and a table read in one snapshot agree; `max` keeps the weight above 0 if not.
    let total = entries.max(holders).max(1) as f64;
    (1.0 + (total - n + 0.5) / (n + 0.5)).ln()
}

/// The weights of a search's terms, in term order (bit `i` of a mask is term `i`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weights {
    each: Vec<f64>,
    total: f64,
}

impl Weights {
    /// The weights of terms held by `holders[i]` of `entries` entries each.
    pub(crate) fn new(holders: &[usize], entries: usize) -> Weights {
        let each: Vec<f64> = holders.iter().map(|&n| weight(n, entries)).collect();
        let total = each.iter().sum();
        Weights { each, total }
    }

    pub(crate) fn of(&self, term: usize) -> f64 {
        self.each.get(term).copied().unwrap_or(0.0)
    }

    /// The score of an entry holding the terms of `mask`: `2M / (W + M)`, M the weight of
    /// those terms, W of all. That is `2c / (1 + c)` for the share `c = M / W`: the F1 of an
    /// entry that holds a share `c` of what was asked and adds nothing wrong. Why not `c`
    /// itself: on the labelled set of `tests/fixtures/memory_relevance.json` (30 patterns, 34
    /// task-like queries), unrelated entries hold at most 48% of a query's weight and 15 of
    /// the 22 relevant ones 60% or more, so "score > 0.7", the rule workflows use, has to
    /// fall in between: `2c / (1 + c)` puts it at 54%. With `c`, 0.7 keeps 12 of the 22 and
    /// turns away the paraphrase of an entry that says a third of it in other words (4 of 6
    /// terms held: 0.67, here 0.8). Summing in term order makes a full mask exactly 1.0.
    pub(crate) fn score(&self, mask: u32) -> f64 {
        // Lowest bit first, which is term order.
        let mut held = 0.0;
        let mut bits = mask;
        while bits != 0 {
            held += self.of(bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
        // Every weight is above 0, so W is; an empty query has no mask to score.
        if self.total <= 0.0 || self.total.is_nan() {
            return 0.0;
        }
        (2.0 * held / (self.total + held)).clamp(0.0, 1.0)
    }
}

/// A candidate with its score, before bm25.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scored {
    pub(crate) id: i64,
    /// The searched terms the entry holds, bit `i` for term `i`.
    pub(crate) mask: u32,
    pub(crate) score: f64,
}

/// Of `candidates` (any order), those that can be among the best `limit`: every candidate
/// scoring above the `limit`-th best score, and of those scoring exactly that, all when they
/// fit in the hits left, else the newest (highest id) `max(left, TIE_WINDOW)`. Only these are
/// compared by bm25; the order among them is decided then.
pub(crate) fn to_compare(mut candidates: Vec<Scored>, limit: usize) -> Vec<Scored> {
    if limit == 0 {
        return Vec::new();
    }
    if candidates.len() <= limit {
        return candidates;
    }
    let (_, cut, _) =
        candidates.select_nth_unstable_by(limit - 1, |a, b| b.score.total_cmp(&a.score));
    let cut = cut.score;
    let (mut chosen, mut tied): (Vec<Scored>, Vec<Scored>) = candidates
        .into_iter()
        .filter(|c| c.score >= cut)
        .partition(|c| c.score > cut);
    let window = (limit - chosen.len()).max(TIE_WINDOW);
    if tied.len() > window {
        tied.select_nth_unstable_by(window - 1, |a, b| b.id.cmp(&a.id));
        tied.truncate(window);
    }
    chosen.append(&mut tied);
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_falls_as_more_entries_hold_the_term_and_stays_above_zero() {
        assert!((weight(1, 2) - 2.0_f64.ln()).abs() < 1e-12);
        assert!(weight(1, 1000) > weight(10, 1000));
        assert!(weight(10, 1000) > weight(999, 1000));
        assert!(weight(1000, 1000) > 0.0);
        assert_eq!(weight(0, 1000), weight(1, 1000), "a word no entry holds");
        assert!(weight(5, 0) > 0.0);
    }

    #[test]
    fn the_score_is_two_m_over_w_plus_m_and_one_for_every_term() {
        let w = Weights::new(&[1, 1, 1, 1, 0, 0], 2);
        assert_eq!(w.score(0b1111), 0.8, "4 of 6 equal weights");
        assert_eq!(w.score(0b11_1111), 1.0);
        assert_eq!(w.score(0), 0.0);
        let two = Weights::new(&[1, 0], 2);
        assert!((two.score(0b01) - 2.0 / 3.0).abs() < 1e-12, "half");
        // A common term weighs less: holding only it scores less than holding the rare one.
        let w = Weights::new(&[2, 900], 1000);
        assert!(w.score(0b01) > 0.7 && w.score(0b10) < 0.3, "{w:?}");
        let awkward = Weights::new(&[3, 7, 11, 13, 17], 101);
        assert_eq!(awkward.score(0b1_1111), 1.0);
        assert_eq!(Weights::new(&[], 10).score(0), 0.0);
    }

    fn c(id: i64, score: f64) -> Scored {
        Scored { id, mask: 1, score }
    }

    fn ids(mut chosen: Vec<Scored>) -> Vec<i64> {
        chosen.sort_by_key(|c| c.id);
        chosen.iter().map(|c| c.id).collect()
    }

    #[test]
    fn the_candidates_compared_are_those_above_the_cut_and_the_newest_at_it() {
        let all = vec![c(1, 0.9), c(2, 0.5), c(3, 0.7), c(4, 0.7), c(5, 0.2)];
        assert_eq!(ids(to_compare(all.clone(), 10)), [1, 2, 3, 4, 5]);
        assert_eq!(
            ids(to_compare(all.clone(), 2)),
            [1, 3, 4],
            "both at the cut"
        );
        assert!(to_compare(all, 0).is_empty());

        let mut many: Vec<Scored> = (1..=1000).map(|id| c(id, 0.5)).collect();
        many.push(c(5000, 0.9));
        let chosen = to_compare(many.clone(), 10);
        assert_eq!(chosen.len(), 1 + TIE_WINDOW);
        assert!(chosen.iter().any(|c| c.id == 5000));
        let newest = 1000 - TIE_WINDOW as i64;
        assert!(
            chosen
                .iter()
                .filter(|c| c.id != 5000)
                .all(|c| c.id > newest)
        );
        // A limit beyond the window compares as many tied ones as there are hits to fill.
        assert_eq!(to_compare(many, 500).len(), 500);
    }
}

//! The terms of a memory search: how query text becomes the FTS5 phrases that are searched,
//! and which of its words are not searched because they say nothing about a topic (the stop
//! words, [`MEMORY_STOP_WORDS`]).
//!
//! - The query is split on whitespace and control characters (FTS5's parser stops at a NUL);
//!   terms differing only in case count once, the first spelling kept.
//! - A term whose words are all stop words, or that has no letter or digit at all, is ignored:
//!   it is listed in the reply's `ignored_terms`, never searched, and weighs nothing in the
//!   score. "Words" here are the runs of letters and digits, as FTS5's `unicode61` tokenizer
//!   splits them, so `for-the` is ignored while `pattern-auth-retry` is searched.
//! - Every other term is searched as one FTS5 string: quoted, so no character of it is FTS5
//!   syntax (`"`, `*`, `-`, `:`, `^`, `NEAR`, `OR` are plain text), and split by the tokenizer
//!   as it split the indexed text: `pattern-auth-retry` is the phrase `pattern auth retry`.
//! - At most [`MEMORY_MAX_TERMS`] terms are searched (a longer query is cut, not refused);
//!   the score keeps one bit per searched term in a `u32`.

/// At most this many distinct terms of a query are searched (the reply lists them in
/// `fts_query`); a longer query is cut, not refused. Ignored terms do not count.
pub const MEMORY_MAX_TERMS: usize = 32;

/// The stop words: English function words (articles, pronouns, prepositions, conjunctions,
/// auxiliary verbs, question words) and the pieces contractions split into (`don't` is `don`
/// and `t`). A query term made only of these is not searched: such words are in nearly every
/// entry, so matching them says nothing about a topic, and before this list a query that
/// shared only "for" and "the" with an entry found it. Content words that are common in a
/// given memory are left to the weighting instead (a word most entries hold weighs little).
/// Sorted, lowercase; compared with a term's words lowercased.
pub const MEMORY_STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "aren", "as",
    "at", "be", "because", "been", "before", "being", "both", "but", "by", "can", "could",
    "couldn", "d", "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each",
    "either", "else", "few", "for", "from", "further", "had", "hadn", "has", "hasn", "have",
    "haven", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into",
    "is", "isn", "it", "its", "itself", "just", "ll", "m", "may", "me", "might", "more", "most",
    "must", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other",
    "our", "ours", "out", "over", "own", "re", "s", "same", "she", "should", "shouldn", "so",
    "some", "such", "t", "than", "that", "the", "their", "theirs", "them", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "upon", "us",
    "ve", "very", "via", "was", "wasn", "we", "were", "weren", "what", "when", "where", "whether",
    "which", "while", "who", "whom", "whose", "why", "will", "with", "within", "without", "won",
    "would", "wouldn", "you", "your", "yours",
];

/// A query's terms, split into those searched and those ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QueryTerms {
    /// Searched, in query order, at most [`MEMORY_MAX_TERMS`].
    pub(crate) searched: Vec<String>,
    /// Not searched: stop words only, or no letter or digit. At most [`MEMORY_MAX_TERMS`]
    /// are kept (a query of thousands of dashes need not come back in full).
    pub(crate) ignored: Vec<String>,
}

impl QueryTerms {
    /// Splits `query` into terms; see the module documentation.
    pub(crate) fn parse(query: &str) -> QueryTerms {
        let mut seen = std::collections::HashSet::new();
        let mut terms = QueryTerms::default();
        for term in query.split(|c: char| c.is_whitespace() || c.is_control()) {
            if terms.searched.len() == MEMORY_MAX_TERMS {
                break;
            }
            if term.is_empty() || !seen.insert(term.to_lowercase()) {
                continue;
            }
            if is_ignored(term) {
                if terms.ignored.len() < MEMORY_MAX_TERMS {
                    terms.ignored.push(term.to_owned());
                }
            } else {
                terms.searched.push(term.to_owned());
            }
        }
        terms
    }
}

/// A term says nothing about a topic: it has no word, or only stop words.
fn is_ignored(term: &str) -> bool {
    term.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .all(is_stop_word)
}

/// `word` (a run of letters and digits) is one of [`MEMORY_STOP_WORDS`], ignoring case.
pub(crate) fn is_stop_word(word: &str) -> bool {
    // Every stop word is short ASCII; anything else is not one, and needs no lowercasing.
    if word.len() > 8 || !word.is_ascii() {
        return false;
    }
    MEMORY_STOP_WORDS
        .binary_search(&word.to_ascii_lowercase().as_str())
        .is_ok()
}

/// `term` as an FTS5 string: quoted, `"` doubled inside.
pub(crate) fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The FTS5 expression matching an entry holding any of `terms`: their strings joined by
/// `OR`; empty for no terms.
pub(crate) fn fts_any(terms: &[String]) -> String {
    join(terms.iter().map(String::as_str), " OR ")
}

/// The FTS5 expression matching an entry holding every one of `terms`.
pub(crate) fn fts_all<'a>(terms: impl Iterator<Item = &'a str>) -> String {
    join(terms, " AND ")
}

fn join<'a>(terms: impl Iterator<Item = &'a str>, with: &str) -> String {
    terms.map(fts_phrase).collect::<Vec<_>>().join(with)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn searched(query: &str) -> Vec<String> {
        QueryTerms::parse(query).searched
    }

    #[test]
    fn the_stop_word_list_is_sorted_lowercase_and_short() {
        assert!(MEMORY_STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(
            MEMORY_STOP_WORDS
                .iter()
                .all(|w| { w.len() <= 8 && w.chars().all(|c| c.is_ascii_lowercase()) })
        );
    }

    #[test]
    fn every_term_is_quoted_so_no_character_is_fts5_syntax() {
        let terms = searched(r#"pattern-auth-retry "quoted" a*b key:x NEAR OR"#);
        assert_eq!(
            fts_any(&terms),
            r#""pattern-auth-retry" OR """quoted""" OR "a*b" OR "key:x" OR "NEAR""#
        );
        assert_eq!(fts_any(&searched("   ")), "");
        assert_eq!(fts_all(["a", "b\""].into_iter()), r#""a" AND "b""""#);
    }

    #[test]
    fn stop_words_and_terms_without_words_are_ignored_and_listed() {
        let terms = QueryTerms::parse("add a schema migration for THE orders -- table's");
        assert_eq!(
            terms.searched,
            ["add", "schema", "migration", "orders", "table's"]
        );
        assert_eq!(terms.ignored, ["a", "for", "THE", "--"]);
        // A term of several words is searched when any of them is not a stop word.
        assert_eq!(searched("for-the how-to re-run"), ["re-run"]);
        assert_eq!(QueryTerms::parse("don't").ignored, ["don't"]);
        assert!(searched("the of and").is_empty());
        assert_eq!(searched("ünïcode Über"), ["ünïcode", "Über"]);
    }

    #[test]
    fn terms_are_deduplicated_ignoring_case_and_capped() {
        assert_eq!(searched("Auth auth AUTH retry"), ["Auth", "retry"]);
        assert_eq!(searched("a\u{0}b\tc"), ["b", "c"]);
        let many: String = (0..100).map(|i| format!("w{i} the ")).collect();
        let terms = QueryTerms::parse(&many);
        assert_eq!(terms.searched.len(), MEMORY_MAX_TERMS);
        assert_eq!(terms.ignored, ["the"]);
        let dashes: String = (1..100).map(|i| format!("{} ", "-".repeat(i))).collect();
        assert_eq!(QueryTerms::parse(&dashes).ignored.len(), MEMORY_MAX_TERMS);
    }
}

//! Hybrid ranking of the shared memory (`[memory] embeddings = "BACKEND"`): text (FTS5 bm25)
//! and vector (cosine) scores combined, every hit saying which method ranked it; and
//! re-embedding the entries another model (or none) embedded.
//!
//! Honesty rules kept here:
//! - a vector is only ever compared with vectors of the same model (the store returns only
//!   those), and of the same dimension; rows embedded by another model, or not at all, are
//!   ranked by text only and counted in the reply's `vector` section;
//! - a hit's `ranked_by` is `hybrid(fts5-bm25+cosine:MODEL)` only when both scores went into
//!   it, `fts5-bm25` when only the text matched or the row has no usable vector, and
//!   `cosine:MODEL` when only the vector did;
//! - when the embeddings endpoint fails, the search is the text search, with the reason in
//!   `vector.error`: never a silent change of method.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use baton_llm::embeddings::cosine_01;
use baton_store::{MemoryQuery, SearchHit, SearchReply, Store};
use serde::Serialize;

use super::embed::Embedder;
use crate::OpsError;

/// The `method` of a search reply that ran hybrid ranking.
pub const HYBRID_METHOD: &str = "hybrid";

/// Rows found only by vector join the hits when their similarity (the cosine, 0 for an
/// unrelated or opposite vector) is at least this.
pub(crate) const VECTOR_ONLY_FLOOR: f64 = 0.5;

/// The text search of a hybrid search reads this many times the asked limit (at least
/// [`MIN_TEXT_WINDOW`]) of the best text matches, so that re-ranking can lift a weaker text
/// match with a close vector above a stronger one.
const TEXT_WINDOW_FACTOR: usize = 5;
const MIN_TEXT_WINDOW: usize = 50;

/// How a hybrid reply's scores are computed, as the reply states it.
pub const HYBRID_NORMALIZATION: &str = "text = the text search's absolute score (see \
    memory search's normalization: the share of the query's weight an entry holds, 0..1); vector \
    = max(0, cosine) against the query's vector of the same model (0 unrelated, 1 the same \
    direction); score = (1 - hybrid_weight) * text + hybrid_weight * vector, with text = 0 for a \
    match by vector only (ranked_by cosine:MODEL, raw_score = the cosine) and score = text for a \
    text match without a vector of this model (ranked_by fts5-bm25); a hit with both is ranked_by \
    hybrid; min_score applies to score";

/// What the vector side of a search did: the reply's `vector` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VectorReport {
    pub model: String,
    /// Length of the query's vector; absent when the query could not be embedded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    pub hybrid_weight: f64,
    /// Live rows in the searched namespaces compared with the query's vector.
    pub compared: usize,
    /// Live rows in the searched namespaces embedded by another model: ranked by text only.
    pub skipped_other_model: u64,
    /// Live rows in the searched namespaces without an embedding: ranked by text only.
    pub skipped_unembedded: u64,
    /// Rows of this model whose vector length differs from the query's: ranked by text only.
    pub skipped_dim_mismatch: usize,
    /// The best text matches that were re-ranked (the text side's limit).
    pub text_window: usize,
    /// Why vector ranking did not run; the hits are then ranked by text only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A search reply (each hit with its text and vector scores) and the vector report.
pub(crate) struct Ranked {
    pub(crate) reply: SearchReply,
    pub(crate) vector: VectorReport,
}

/// Searches with hybrid ranking; when the query cannot be embedded, the plain text search,
/// with the reason in `vector.error`.
pub(crate) async fn search(
    pool: &baton_store::StorePool,
    embedder: &Embedder,
    request: &MemoryQuery,
    now_ms: i64,
) -> Result<Ranked, OpsError> {
    let model = embedder.model.clone();
    let mut vector = VectorReport {
        model: model.clone(),
        hybrid_weight: embedder.weight,
        ..VectorReport::default()
    };
    let embedded = embedder.embed_one(&request.query).await;
    let store = pool.get()?;
    let query_vector = match embedded {
        Ok(query_vector) => query_vector,
        Err(error) => {
            let reply = store.memory_search(request, now_ms)?;
            vector.error = Some(format!("{error}; ranked by text only ({})", reply.method));
            vector.text_window = request.limit;
            return Ok(Ranked { reply, vector });
        }
    };
    vector.dim = Some(query_vector.len());

    // The text side: a wider window, no min_score (applied to the combined score).
    let window = request
        .limit
        .saturating_mul(TEXT_WINDOW_FACTOR)
        .max(MIN_TEXT_WINDOW);
    vector.text_window = window;
    let text_request = request.clone().with_limit(window).with_min_score(0.0);
    let mut reply = store.memory_search(&text_request, now_ms)?;

    // The vector side: only rows embedded by this very model.
    let candidates = store.candidates_for_vector(&request.namespaces, &model, now_ms)?;
    let mut similarity: HashMap<(String, String), (f64, f64)> = HashMap::new();
    for candidate in candidates {
        if candidate.vector.len() != query_vector.len() {
            vector.skipped_dim_mismatch += 1;
            continue;
        }
        vector.compared += 1;
        let cosine = cosine_01(&query_vector, &candidate.vector) * 2.0 - 1.0;
        let sim = cosine.max(0.0);
        similarity.insert((candidate.namespace, candidate.key), (sim, cosine));
    }
    count_skipped(&store, request, &model, now_ms, &mut vector)?;

    let weight = embedder.weight;
    let hybrid_label = format!("hybrid(fts5-bm25+cosine:{model})");
    let mut ranked: Vec<SearchHit> = Vec::new();
    for mut hit in std::mem::take(&mut reply.hits) {
        if let Some((sim, _)) = similarity.remove(&(hit.namespace.clone(), hit.key.clone())) {
            hit.score = (1.0 - weight) * hit.score + weight * sim;
            hit.ranked_by = Cow::Owned(hybrid_label.clone());
            hit.vector_score = Some(sim);
        }
        ranked.push(hit);
    }
    let vector_only = add_vector_only(
        &store,
        request,
        similarity,
        weight,
        &model,
        now_ms,
        &mut ranked,
    )?;
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.updated_at_ms.cmp(&a.updated_at_ms))
    });
    let before = ranked.len();
    ranked.retain(|hit| hit.score >= request.min_score);
    reply.dropped_below_min_score = before - ranked.len();
    reply.total_candidates += vector_only;
    ranked.truncate(request.limit);
    reply.limit = request.limit;
    reply.min_score = request.min_score;
    reply.method = Cow::Borrowed(HYBRID_METHOD);
    reply.normalization = Cow::Borrowed(HYBRID_NORMALIZATION);
    reply.hits = ranked;
    Ok(Ranked { reply, vector })
}

/// Counts the live rows in scope that only text can rank: embedded by another model, or not
/// embedded at all.
fn count_skipped(
    store: &Store,
    request: &MemoryQuery,
    model: &str,
    now_ms: i64,
    vector: &mut VectorReport,
) -> Result<(), OpsError> {
    let in_scope = |namespace: &str| {
        request.namespaces.is_empty() || request.namespaces.iter().any(|n| n == namespace)
    };
    for stats in store.memory_stats(now_ms)? {
        if !in_scope(&stats.namespace) {
            continue;
        }
        let embedded: u64 = stats.embedded.values().sum();
        let other: u64 = stats
            .embedded
            .iter()
            .filter(|(m, _)| m.as_str() != model)
            .map(|(_, count)| count)
            .sum();
        vector.skipped_other_model += other;
        vector.skipped_unembedded += stats.entries.saturating_sub(embedded);
    }
    Ok(())
}

/// Adds the rows close by vector that the text side did not return; returns how many. With
/// tags asked they are left out: the vector side does not filter by tag. They are read
/// without counting an access: the caller counts the hits it hands on, and some of these may
/// yet be cut.
fn add_vector_only(
    store: &Store,
    request: &MemoryQuery,
    similarity: HashMap<(String, String), (f64, f64)>,
    weight: f64,
    model: &str,
    now_ms: i64,
    ranked: &mut Vec<SearchHit>,
) -> Result<usize, OpsError> {
    if !request.tags.is_empty() {
        return Ok(0);
    }
    let cosine_label = format!("cosine:{model}");
    let mut close: Vec<((String, String), (f64, f64))> = similarity
        .into_iter()
        .filter(|(_, (sim, _))| *sim >= VECTOR_ONLY_FLOOR)
        .collect();
    close.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.0.cmp(&b.0)));
    close.truncate(request.limit);
    let mut added = 0;
    for ((namespace, key), (sim, cosine)) in close {
        let Some(entry) = store.memory_peek(&namespace, &key, now_ms)? else {
            continue;
        };
        added += 1;
        ranked.push(SearchHit {
            namespace: entry.namespace,
            key: entry.key,
            value: entry.value,
            is_json: entry.is_json,
            tags: entry.tags,
            score: weight * sim,
            raw_score: cosine,
            ranked_by: Cow::Owned(cosine_label.clone()),
            text_score: None,
            vector_score: Some(sim),
            created_at_ms: entry.created_at_ms,
            updated_at_ms: entry.updated_at_ms,
        });
    }
    Ok(added)
}

/// What re-embedding did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReembedResponse {
    /// The model the entries are now embedded by.
    pub model: String,
    /// Length of the vectors it returned; `None` when it returned none.
    pub dim: Option<usize>,
    /// Entries embedded by this run.
    pub embedded: usize,
    /// Of those, how many each previous model had embedded (`none`: not embedded).
    pub replaced: BTreeMap<String, usize>,
    /// Entries whose value changed while they were being embedded: left for the next run.
    pub changed_meanwhile: usize,
    /// Live entries in scope still not embedded by this model when the run ended.
    pub remaining: usize,
    /// Why the run stopped early: the endpoint's error. What was embedded before it is kept.
    pub error: Option<String>,
}

impl ReembedResponse {
    /// A run that stopped early, as an error (after the report is shown).
    pub fn failure(&self) -> Option<OpsError> {
        self.error.as_ref().map(|why| OpsError::ReembedStopped {
            embedded: self.embedded,
            why: why.clone(),
        })
    }
}

/// Embeds with `embedder`'s model every live entry in `namespaces` (all when empty) that it
/// did not embed, `batch` values per request, in (namespace, key) order. Each entry is
/// recorded as soon as its batch returns, so a failure part way keeps what was done; the run
/// then stops with the endpoint's error in the report.
pub(crate) async fn reembed(
    pool: &baton_store::StorePool,
    embedder: &Embedder,
    namespaces: &[String],
    batch: usize,
    now_ms: i64,
) -> Result<ReembedResponse, OpsError> {
    let mut report = ReembedResponse {
        model: embedder.model.clone(),
        ..ReembedResponse::default()
    };
    // An owned connection may be held across the embeddings call (it is `Send`).
    let store = pool.get()?;
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store.memory_to_embed(
            namespaces,
            &embedder.model,
            after.as_ref().map(|(n, k)| (n.as_str(), k.as_str())),
            batch,
            now_ms,
        )?;
        let Some(last) = page.last() else { break };
        after = Some((last.namespace.clone(), last.key.clone()));
        let texts: Vec<String> = page.iter().map(|entry| entry.value.clone()).collect();
        let vectors = match embedder.embed(&texts).await {
            Ok(vectors) => vectors,
            Err(error) => {
                report.error = Some(error.to_string());
                break;
            }
        };
        for (entry, vector) in page.iter().zip(&vectors) {
            let dim = vector.len();
            let recorded = store.set_embedding(
                &entry.namespace,
                &entry.key,
                &entry.value,
                &embedder.model,
                dim,
                vector,
            )?;
            if recorded {
                report.dim = Some(dim);
                report.embedded += 1;
                let previous = entry.embedded_by.as_deref().unwrap_or("none");
                *report.replaced.entry(previous.to_owned()).or_default() += 1;
            } else {
                report.changed_meanwhile += 1;
            }
        }
    }
    report.remaining = store
        .memory_to_embed(namespaces, &embedder.model, None, usize::MAX, now_ms)?
        .len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stated_normalization_names_every_label() {
        for label in ["hybrid", "fts5-bm25", "cosine:MODEL", "min_score"] {
            assert!(HYBRID_NORMALIZATION.contains(label), "{label}");
        }
    }
}

//! Optional hybrid ranking of the shared memory (`[memory] embeddings = "BACKEND"`): values
//! are embedded when stored, queries when searched, and text (FTS5 bm25) and vector (cosine)
//! scores are combined, with every hit saying which method ranked it.
//!
//! Honesty rules this module keeps:
//! - a vector is only ever compared with vectors of the same model (the store returns only
//!   those), and of the same dimension; rows embedded by another model, or not at all, are
//!   ranked by text only and counted in the reply's `vector` section;
//! - a hit's `ranked_by` is `hybrid(fts5-bm25+cosine:MODEL)` only when both scores went into
//!   it, `fts5-bm25` when only the text matched or the row has no usable vector, and
//!   `cosine:MODEL` when only the vector did;
//! - when the embeddings endpoint fails, storing keeps the entry (said on stderr: it is
//!   stored without an embedding) and searching falls back to text ranking with the error in
//!   the reply's `vector.error`: never a silent change of method.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use baton_config::{BackendSettings, Settings};
use baton_llm::embeddings::{cosine_01, embed};
use baton_llm::secret::ApiKey;
use baton_store::{MemoryQuery, SearchHit, SearchReply, Store};

use crate::error::{CliError, Exit};

/// The `method` of a search reply that ran hybrid ranking.
pub const HYBRID_METHOD: &str = "hybrid";

/// Rows found only by vector join the hits when their similarity (0..=1, 0.5 = unrelated) is
/// at least this: a cosine of 0.5 or more.
pub const VECTOR_ONLY_FLOOR: f64 = 0.75;

/// The text search of a hybrid search reads this many times the asked limit (at least
/// [`MIN_TEXT_WINDOW`]) of the best text matches, so that re-ranking can lift a weaker text
/// match with a close vector above a stronger one.
const TEXT_WINDOW_FACTOR: usize = 5;
const MIN_TEXT_WINDOW: usize = 50;

/// How a hybrid reply's scores are computed, as the reply states it.
pub const HYBRID_NORMALIZATION: &str = "text = raw_score / the best raw_score among the text \
    candidates (bm25, 0..1); vector = (cosine + 1) / 2 against the query's vector of the same \
    model (0..1); a hit with both: score = (1 - hybrid_weight) * text + hybrid_weight * vector \
    (ranked_by hybrid); a text match without a vector of this model: score = text (ranked_by \
    fts5-bm25); a vector match without a text match: score = hybrid_weight * vector (ranked_by \
    cosine:MODEL, raw_score = the cosine); min_score applies to score";

/// A configured embeddings backend.
pub struct Embedder {
    runtime: tokio::runtime::Runtime,
    backend_name: String,
    backend: BackendSettings,
    api_key: Option<ApiKey>,
    pub model: String,
    pub weight: f64,
    timeout: Duration,
}

impl Embedder {
    /// The embedder `[memory]` configures, or `None` when embeddings are off.
    pub fn from_settings(settings: &Settings) -> Result<Option<Embedder>, CliError> {
        let memory = &settings.memory;
        if memory.embeddings.is_empty() {
            return Ok(None);
        }
        let backend = settings
            .backends
            .get(&memory.embeddings)
            .cloned()
            .ok_or_else(|| {
                CliError::new(
                    Exit::Config,
                    format!(
                        "memory.embeddings names unknown backend `{}`",
                        memory.embeddings
                    ),
                )
                .hint("name a `[backends.NAME]` of the config (`baton config show`)")
            })?;
        let runtime = crate::app::runtime()?;
        let api_key = backend.api_key_env.as_deref().and_then(ApiKey::from_env);
        Ok(Some(Embedder {
            runtime,
            backend_name: memory.embeddings.clone(),
            backend,
            api_key,
            model: memory.embedding_model.clone(),
            weight: memory.hybrid_weight,
            timeout: memory.embed_timeout,
        }))
    }

    /// The vectors of `texts`, one each, trying the backend's URLs in order; the error of the
    /// last URL tried when none answered.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        if let (Some(var), None) = (&self.backend.api_key_env, &self.api_key) {
            return Err(format!(
                "backend `{}` needs an API key in ${var}, which is not set",
                self.backend_name
            ));
        }
        let http = baton_llm::client::http_client(&self.backend)
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let mut last = format!("backend `{}` has no URL", self.backend_name);
        for url in &self.backend.urls {
            let call = embed(
                &http,
                &self.backend,
                url,
                self.api_key.as_ref(),
                &self.model,
                texts,
            );
            match self
                .runtime
                .block_on(async { tokio::time::timeout(self.timeout, call).await })
            {
                Ok(Ok(vectors)) => return Ok(vectors),
                Ok(Err(error)) => last = error.to_string(),
                Err(_) => {
                    last = format!(
                        "no embeddings from {} within memory.embed_timeout ({:.1}s)",
                        baton_llm::secret::redact_url(url),
                        self.timeout.as_secs_f64()
                    );
                }
            }
        }
        Err(last)
    }

    /// Embeds `value` and records the vector on the entry. `Ok(dim)` when recorded; the
    /// reason otherwise (the entry itself is kept either way).
    pub fn embed_entry(
        &self,
        store: &Store,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<usize, String> {
        let vector = self
            .embed(&[value.to_owned()])?
            .into_iter()
            .next()
            .ok_or_else(|| "the endpoint returned no vector".to_string())?;
        let dim = vector.len();
        match store.set_embedding(namespace, key, value, &self.model, dim, &vector) {
            Ok(true) => Ok(dim),
            Ok(false) => Err("the entry changed while it was being embedded".into()),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// What `baton memory reembed` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReembedReport {
    /// The model the entries are now embedded by.
    pub model: String,
    /// Length of the vectors it returned; `None` when it returned none.
    pub dim: Option<usize>,
    /// Entries embedded by this run.
    pub embedded: usize,
    /// Of those, how many each previous model had embedded (`none`: not embedded).
    pub replaced: std::collections::BTreeMap<String, usize>,
    /// Entries whose value changed while they were being embedded: left for the next run.
    pub changed_meanwhile: usize,
    /// Live entries in scope still not embedded by this model when the run ended.
    pub remaining: usize,
    /// Why the run stopped early: the endpoint's error. What was embedded before it is kept.
    pub error: Option<String>,
}

/// Embeds with `embedder`'s model every live entry in `namespaces` (all when empty) that it
/// did not embed, `batch` values per request, in (namespace, key) order. Each entry is
/// recorded as soon as its batch returns, so a failure part way keeps what was done; the run
/// then stops with the endpoint's error in the report.
pub fn reembed(
    store: &Store,
    embedder: &Embedder,
    namespaces: &[String],
    batch: usize,
    now_ms: i64,
) -> Result<ReembedReport, CliError> {
    let mut report = ReembedReport {
        model: embedder.model.clone(),
        ..ReembedReport::default()
    };
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
        let vectors = match embedder.embed(&texts) {
            Ok(vectors) if vectors.len() == texts.len() => vectors,
            Ok(vectors) => {
                report.error = Some(format!(
                    "the endpoint returned {} vectors for {} values",
                    vectors.len(),
                    texts.len()
                ));
                break;
            }
            Err(error) => {
                report.error = Some(error);
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

/// What the vector side of a search did, printed as the reply's `vector` section.
#[derive(Debug, Clone, Default)]
pub struct VectorReport {
    pub model: String,
    /// Length of the query's vector; `None` when the query could not be embedded.
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
    pub error: Option<String>,
}

/// A search reply with per-hit text and vector scores and the vector report.
#[derive(Debug, Clone)]
pub struct HybridReply {
    pub reply: SearchReply,
    /// Per hit, in `reply.hits` order: (text score, vector score).
    pub parts: Vec<(Option<f64>, Option<f64>)>,
    pub vector: VectorReport,
}

impl HybridReply {
    /// The reply as printed by `--json`: the [`SearchReply`] fields, `text_score` and
    /// `vector_score` on every hit, and the `vector` section.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.reply).unwrap_or_default();
        if let Some(hits) = value.get_mut("hits").and_then(|h| h.as_array_mut()) {
            for (hit, (text, vector)) in hits.iter_mut().zip(&self.parts) {
                hit["text_score"] = serde_json::json!(text);
                hit["vector_score"] = serde_json::json!(vector);
            }
        }
        value["vector"] = self.vector.to_json();
        value
    }
}

impl VectorReport {
    /// The `vector` section: `dim` only when the query was embedded, `error` only on failure.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!({
            "model": self.model,
            "hybrid_weight": self.hybrid_weight,
            "compared": self.compared,
            "skipped_other_model": self.skipped_other_model,
            "skipped_unembedded": self.skipped_unembedded,
            "skipped_dim_mismatch": self.skipped_dim_mismatch,
            "text_window": self.text_window,
        });
        if let Some(dim) = self.dim {
            value["dim"] = serde_json::json!(dim);
        }
        if let Some(error) = &self.error {
            value["error"] = serde_json::json!(error);
        }
        value
    }
}

/// Searches with hybrid ranking; when the query cannot be embedded, the plain text search,
/// with the reason in `vector.error`.
pub fn hybrid_search(
    store: &Store,
    embedder: &Embedder,
    request: &MemoryQuery,
    now_ms: i64,
) -> Result<HybridReply, CliError> {
    let model = embedder.model.clone();
    let mut vector = VectorReport {
        model: model.clone(),
        hybrid_weight: embedder.weight,
        ..VectorReport::default()
    };
    let embedded = embedder
        .embed(std::slice::from_ref(&request.query))
        .and_then(|vectors| {
            vectors
                .into_iter()
                .next()
                .ok_or_else(|| "the endpoint returned no vector".to_string())
        });
    let query_vector = match embedded {
        Ok(query_vector) => query_vector,
        Err(error) => {
            let reply = store.memory_search(request, now_ms)?;
            vector.error = Some(format!("{error}; ranked by text only ({})", reply.method));
            vector.text_window = request.limit;
            let parts = reply
                .hits
                .iter()
                .map(|hit| (Some(hit.score), None))
                .collect();
            return Ok(HybridReply {
                reply,
                parts,
                vector,
            });
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
        let sim = cosine_01(&query_vector, &candidate.vector);
        let cosine = sim * 2.0 - 1.0;
        similarity.insert((candidate.namespace, candidate.key), (sim, cosine));
    }
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
            .filter(|(m, _)| **m != model)
            .map(|(_, count)| count)
            .sum();
        vector.skipped_other_model += other;
        vector.skipped_unembedded += stats.entries.saturating_sub(embedded);
    }

    let weight = embedder.weight;
    let hybrid_label = format!("hybrid(fts5-bm25+cosine:{model})");
    let cosine_label = format!("cosine:{model}");
    let mut ranked: Vec<(SearchHit, Option<f64>, Option<f64>)> = Vec::new();
    for mut hit in std::mem::take(&mut reply.hits) {
        let text = hit.score;
        match similarity.remove(&(hit.namespace.clone(), hit.key.clone())) {
            Some((sim, _)) => {
                hit.score = (1.0 - weight) * text + weight * sim;
                hit.ranked_by = Cow::Owned(hybrid_label.clone());
                ranked.push((hit, Some(text), Some(sim)));
            }
            None => ranked.push((hit, Some(text), None)),
        }
    }
    // Rows close by vector that the text side did not return. With tags asked they are left
    // out: the vector side does not filter by tag. They are read without counting an access:
    // the caller counts the hits it hands on, and some of these may yet be cut.
    let mut vector_only = 0;
    if request.tags.is_empty() {
        let mut close: Vec<((String, String), (f64, f64))> = similarity
            .into_iter()
            .filter(|(_, (sim, _))| *sim >= VECTOR_ONLY_FLOOR)
            .collect();
        close.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.0.cmp(&b.0)));
        close.truncate(request.limit);
        for ((namespace, key), (sim, cosine)) in close {
            let Some(entry) = store.memory_peek(&namespace, &key, now_ms)? else {
                continue;
            };
            vector_only += 1;
            ranked.push((
                SearchHit {
                    namespace: entry.namespace,
                    key: entry.key,
                    value: entry.value,
                    is_json: entry.is_json,
                    tags: entry.tags,
                    score: weight * sim,
                    raw_score: cosine,
                    ranked_by: Cow::Owned(cosine_label.clone()),
                    created_at_ms: entry.created_at_ms,
                    updated_at_ms: entry.updated_at_ms,
                },
                None,
                Some(sim),
            ));
        }
    }
    ranked.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then(b.0.updated_at_ms.cmp(&a.0.updated_at_ms))
    });
    let before = ranked.len();
    ranked.retain(|(hit, _, _)| hit.score >= request.min_score);
    reply.dropped_below_min_score = before - ranked.len();
    reply.total_candidates += vector_only;
    ranked.truncate(request.limit);
    reply.limit = request.limit;
    reply.min_score = request.min_score;
    reply.method = Cow::Borrowed(HYBRID_METHOD);
    reply.normalization = Cow::Borrowed(HYBRID_NORMALIZATION);
    let mut parts = Vec::with_capacity(ranked.len());
    for (hit, text, sim) in ranked {
        parts.push((text, sim));
        reply.hits.push(hit);
    }
    Ok(HybridReply {
        reply,
        parts,
        vector,
    })
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

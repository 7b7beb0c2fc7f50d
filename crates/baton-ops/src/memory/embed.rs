//! [`Embedder`]: the embeddings backend `[memory] embeddings = "BACKEND"` configures, called
//! asynchronously (it never builds a runtime of its own, so it runs inside any task), with
//! its failures as [`EmbedError`] values that replies carry as text: an entry stored while the
//! endpoint is down is kept and stays searchable by text.

use std::time::Duration;

use baton_config::{BackendSettings, Settings};
use baton_llm::CallError;
use baton_llm::embeddings::embed;
use baton_llm::secret::{ApiKey, redact_url};
use baton_store::Store;

use crate::OpsError;

/// Why texts could not be embedded. Shown in replies (`embedding.error`, `vector.error`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error("backend `{backend}` needs an API key in ${var}, which is not set")]
    MissingKey { backend: String, var: String },
    #[error("backend `{backend}` has no URL")]
    NoUrl { backend: String },
    #[error("cannot build the HTTP client: {why}")]
    Client { why: String },
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("no embeddings from {url} within memory.embed_timeout ({:.1}s)", after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    #[error("the endpoint returned {got} vectors for {asked} values")]
    Count { got: usize, asked: usize },
    #[error("the entry changed while it was being embedded")]
    Changed,
    #[error("cannot record the vector: {why}")]
    Record { why: String },
}

/// A configured embeddings backend.
#[derive(Debug, Clone)]
pub struct Embedder {
    backend_name: String,
    backend: BackendSettings,
    api_key: Option<ApiKey>,
    pub model: String,
    /// The weight of the vector score in a hybrid score (0..=1).
    pub weight: f64,
    timeout: Duration,
}

impl Embedder {
    /// The embedder `[memory]` configures, or `None` when embeddings are off.
    pub fn from_settings(settings: &Settings) -> Result<Option<Embedder>, OpsError> {
        let memory = &settings.memory;
        if memory.embeddings.is_empty() {
            return Ok(None);
        }
        let backend = settings
            .backends
            .get(&memory.embeddings)
            .cloned()
            .ok_or_else(|| OpsError::Unknown {
                what: "backend (memory.embeddings)",
                name: memory.embeddings.clone(),
                known: settings.backends.keys().cloned().collect(),
            })?;
        let api_key = backend.api_key_env.as_deref().and_then(ApiKey::from_env);
        Ok(Some(Embedder {
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
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if let (Some(var), None) = (&self.backend.api_key_env, &self.api_key) {
            return Err(EmbedError::MissingKey {
                backend: self.backend_name.clone(),
                var: var.clone(),
            });
        }
        let http =
            baton_llm::client::http_client(&self.backend).map_err(|error| EmbedError::Client {
                why: error.to_string(),
            })?;
        let mut last = EmbedError::NoUrl {
            backend: self.backend_name.clone(),
        };
        for url in &self.backend.urls {
            let call = embed(
                &http,
                &self.backend,
                url,
                self.api_key.as_ref(),
                &self.model,
                texts,
            );
            match tokio::time::timeout(self.timeout, call).await {
                Ok(Ok(vectors)) if vectors.len() == texts.len() => return Ok(vectors),
                Ok(Ok(vectors)) => {
                    last = EmbedError::Count {
                        got: vectors.len(),
                        asked: texts.len(),
                    };
                }
                Ok(Err(error)) => last = EmbedError::Call(error),
                Err(_) => {
                    last = EmbedError::Timeout {
                        url: redact_url(url),
                        after: self.timeout,
                    };
                }
            }
        }
        Err(last)
    }

    /// The vector of one text.
    pub async fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed(&[text.to_owned()]).await?;
        vectors.pop().ok_or(EmbedError::Count { got: 0, asked: 1 })
    }

    /// Embeds `value` and records the vector on the entry (unless the entry changed
    /// meanwhile). `Ok(dim)` when recorded.
    pub async fn embed_entry(
        &self,
        pool: &baton_store::StorePool,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Result<usize, EmbedError> {
        let vector = self.embed_one(value).await?;
        let store = pool.get().map_err(record_error)?;
        record(&store, namespace, key, value, &self.model, &vector)
    }
}

fn record_error(error: baton_store::StoreError) -> EmbedError {
    EmbedError::Record {
        why: error.to_string(),
    }
}

fn record(
    store: &Store,
    namespace: &str,
    key: &str,
    value: &str,
    model: &str,
    vector: &[f32],
) -> Result<usize, EmbedError> {
    let dim = vector.len();
    match store.set_embedding(namespace, key, value, model, dim, vector) {
        Ok(true) => Ok(dim),
        Ok(false) => Err(EmbedError::Changed),
        Err(error) => Err(record_error(error)),
    }
}

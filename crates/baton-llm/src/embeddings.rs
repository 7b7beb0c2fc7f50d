//! Embeddings from an OpenAI-compatible `POST {base}/embeddings` endpoint (llama-server
//! started with `--embeddings`, Ollama `/v1`, vLLM, OpenAI): one request for a batch of
//! texts, vectors returned in input order. Errors are classed as for chat calls: cannot
//! connect, HTTP status with the server's message, timeout, or a malformed reply (including
//! vectors of different lengths, or fewer vectors than texts).

use baton_config::BackendSettings;
use serde::Deserialize;

use crate::client::error_chain;
use crate::error::{CallError, TimeoutPhase};
use crate::secret::{ApiKey, redact_url};
use crate::wire;

/// Embeds every text of `inputs` with `model`; the result has one vector per input, in input
/// order (the reply's `index`, not its order, decides). The whole call is bounded by the
/// backend's `total_timeout`. The API key never appears in an error.
pub async fn embed(
    http: &reqwest::Client,
    backend: &BackendSettings,
    base_url: &str,
    api_key: Option<&ApiKey>,
    model: &str,
    inputs: &[String],
) -> Result<Vec<Vec<f32>>, CallError> {
    let outcome = embed_unredacted(http, backend, base_url, api_key, model, inputs).await;
    match (outcome, api_key) {
        (Err(error), Some(key)) => Err(error.redact_key(key)),
        (outcome, _) => outcome,
    }
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

async fn embed_unredacted(
    http: &reqwest::Client,
    backend: &BackendSettings,
    base_url: &str,
    api_key: Option<&ApiKey>,
    model: &str,
    inputs: &[String],
) -> Result<Vec<Vec<f32>>, CallError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let shown_url = redact_url(base_url);
    let started = std::time::Instant::now();
    let mut builder = http
        .post(format!("{}/embeddings", base_url.trim_end_matches('/')))
        .timeout(backend.total_timeout)
        .json(&serde_json::json!({ "model": model, "input": inputs }));
    if let Some(key) = api_key {
        builder = builder.bearer_auth(key.expose());
    }
    let transport = |error: reqwest::Error| {
        if error.is_timeout() {
            CallError::Timeout {
                url: shown_url.clone(),
                phase: TimeoutPhase::Total,
                after: started.elapsed(),
            }
        } else if error.is_connect() {
            CallError::Connect {
                url: shown_url.clone(),
                reason: error_chain(&error),
            }
        } else {
            CallError::StreamBroken {
                url: shown_url.clone(),
                received_chars: 0,
                reason: error_chain(&error),
            }
        }
    };
    let response = builder.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(CallError::Http {
            url: shown_url.clone(),
            status: status.as_u16(),
            message: wire::openai::body_error_message(&String::from_utf8_lossy(&body)),
            retry_after: None,
        });
    }
    let malformed = |reason: String| CallError::Malformed {
        url: shown_url.clone(),
        reason,
    };
    let reply: Reply = serde_json::from_slice(&body).map_err(|error| {
        malformed(format!(
            "not an embeddings reply ({error}): {}",
            wire::openai::preview(&String::from_utf8_lossy(&body))
        ))
    })?;
    order(reply, inputs.len()).map_err(malformed)
}

/// The vectors of `reply` in input order, checked: one per input, all of one non-zero length,
/// every value finite.
fn order(reply: Reply, expected: usize) -> Result<Vec<Vec<f32>>, String> {
    if reply.data.len() != expected {
        return Err(format!(
            "{} vectors for {expected} inputs",
            reply.data.len()
        ));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in reply.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        let slot = slots
            .get_mut(index)
            .ok_or_else(|| format!("index {index} is out of range for {expected} inputs"))?;
        if slot.is_some() {
            return Err(format!("index {index} appears twice"));
        }
        *slot = Some(item.embedding);
    }
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
    let dim = vectors.first().map_or(0, Vec::len);
    if dim == 0 {
        return Err("an empty vector".into());
    }
    if vectors.iter().any(|v| v.len() != dim) {
        return Err("vectors of different lengths".into());
    }
    if vectors.iter().flatten().any(|v| !v.is_finite()) {
        return Err("a vector holds NaN or infinite values".into());
    }
    Ok(vectors)
}

/// Cosine similarity of two vectors of one model, mapped from -1..=1 to 0..=1 (0.5 is
/// unrelated); 0 when the lengths differ or a vector is all zeros.
pub fn cosine_01(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= 0.0 || nb <= 0.0 {
        return 0.0;
    }
    let cosine = (dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0);
    (cosine + 1.0) / 2.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use baton_test_support::{Script, ScriptedServer};

    use super::*;

    fn texts(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn vectors_come_back_in_input_order_and_close_texts_are_close() {
        let server = ScriptedServer::start(Script::new().embedding_dim(16))
            .await
            .unwrap();
        let backend = BackendSettings::default();
        let http = crate::client::http_client(&backend).unwrap();
        let inputs = texts(&["refresh auth tokens", "Auth token refresh", "bake bread"]);
        let vectors = embed(&http, &backend, &server.openai_url(), None, "m", &inputs)
            .await
            .unwrap();
        assert_eq!(vectors.len(), 3);
        assert!(vectors.iter().all(|v| v.len() == 16));
        assert!(cosine_01(&vectors[0], &vectors[1]) > 0.99);
        assert!(cosine_01(&vectors[0], &vectors[2]) < cosine_01(&vectors[0], &vectors[1]));
        let request = server.requests().pop().unwrap();
        assert_eq!(request.path, "/v1/embeddings");
        assert_eq!(request.body["model"], "m");
        assert_eq!(request.body["input"][2], "bake bread");
    }

    #[tokio::test]
    async fn a_server_without_embeddings_is_an_http_error_with_its_message() {
        let server = ScriptedServer::start(Script::new()).await.unwrap();
        let backend = BackendSettings::default();
        let http = crate::client::http_client(&backend).unwrap();
        let error = embed(
            &http,
            &backend,
            &server.openai_url(),
            None,
            "m",
            &texts(&["x"]),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, CallError::Http { status: 404, message, .. } if message.contains("Not Found")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let server = ScriptedServer::start(Script::new()).await.unwrap();
        let url = server.openai_url();
        server.shutdown().await.unwrap();
        let backend = BackendSettings::default();
        let http = crate::client::http_client(&backend).unwrap();
        let error = embed(&http, &backend, &url, None, "m", &texts(&["x"]))
            .await
            .unwrap_err();
        assert!(matches!(error, CallError::Connect { .. }), "{error:?}");
    }

    #[test]
    fn replies_are_checked_and_ordered_by_index() {
        let reply = |json: &str| serde_json::from_str::<Reply>(json).unwrap();
        let ordered = order(
            reply(r#"{"data":[{"index":1,"embedding":[0,1]},{"index":0,"embedding":[1,0]}]}"#),
            2,
        )
        .unwrap();
        assert_eq!(ordered, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert!(order(reply(r#"{"data":[{"embedding":[1]}]}"#), 2).is_err());
        assert!(
            order(
                reply(r#"{"data":[{"embedding":[1]},{"embedding":[1,2]}]}"#),
                2
            )
            .is_err()
        );
        assert!(
            order(
                reply(r#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[1]}]}"#),
                2
            )
            .is_err()
        );
    }

    #[test]
    fn cosine_is_mapped_to_zero_one() {
        assert!((cosine_01(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!((cosine_01(&[1.0, 0.0], &[0.0, 1.0]) - 0.5).abs() < 1e-9);
        assert!(cosine_01(&[1.0, 0.0], &[-1.0, 0.0]).abs() < 1e-9);
        assert_eq!(cosine_01(&[1.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine_01(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}

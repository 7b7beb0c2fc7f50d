//! Preflight: does an endpoint answer, which models does it serve, and what context size
//! does it really serve (llama-server `/props`, Ollama `/api/show`, vLLM `max_model_len`).
//! Servers that silently truncate context are the commonest cause of bad local results.

use std::time::Duration;

use baton_config::BackendKind;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::client::error_chain;
use crate::secret::{ApiKey, redact_url};
use crate::wire::anthropic::API_VERSION;

/// Longest a single probe request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReport {
    pub url: String,
    pub ok: bool,
    /// `llama-server`, `ollama`, `vllm`, `openai-compatible` or `anthropic`.
    pub server_kind: Option<String>,
    pub models: Vec<String>,
    /// Context tokens the server serves per request (per slot for llama-server).
    pub n_ctx: Option<u64>,
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// `http://h:p/v1` -> `http://h:p` (llama-server and Ollama serve their own routes there).
pub fn server_root(base_url: &str) -> &str {
    let trimmed = base_url.trim_end_matches('/');
    trimmed.strip_suffix("/v1").unwrap_or(trimmed)
}

/// A quick liveness check used to put an endpoint back into a pool: `/health` answering
/// 200 (llama-server), else `/models` answering 200 (servers without `/health`). A server
/// error from either is believed at once: llama-server answers `/health` with 503 while it
/// loads the model but serves `/models` even then.
pub async fn is_healthy(http: &reqwest::Client, base_url: &str) -> bool {
    for url in [
        format!("{}/health", server_root(base_url)),
        format!("{}/models", base_url.trim_end_matches('/')),
    ] {
        if let Ok(Ok(response)) = tokio::time::timeout(PROBE_TIMEOUT, http.get(&url).send()).await {
            let status = response.status();
            // 401/403: a cloud API that wants a key for `/models` is up; liveness is all
            // this check is for (the call itself carries the key).
            if status.is_success() || status.as_u16() == 401 || status.as_u16() == 403 {
                return true;
            }
            if status.is_server_error() {
                return false;
            }
        }
    }
    false
}

async fn get_json(request: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let response = tokio::time::timeout(PROBE_TIMEOUT, request.send())
        .await
        .map_err(|_| format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))?
        .map_err(|error| error_chain(&error))?;
    let status = response.status().as_u16();
    let body = tokio::time::timeout(PROBE_TIMEOUT, response.bytes())
        .await
        .map_err(|_| "the body did not arrive in time".to_string())?
        .map_err(|error| error_chain(&error))?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Probes one endpoint of a backend. `model` is the model a profile will ask for (Ollama
/// reports context per model).
pub async fn probe(
    http: &reqwest::Client,
    kind: BackendKind,
    base_url: &str,
    api_key: Option<&ApiKey>,
    model: Option<&str>,
) -> ProbeReport {
    let started = Instant::now();
    let base = base_url.trim_end_matches('/');
    let mut report = ProbeReport {
        url: redact_url(base),
        ok: false,
        server_kind: None,
        models: Vec::new(),
        n_ctx: None,
        error: None,
        latency_ms: 0,
    };
    let mut models_request = http.get(format!("{base}/models"));
    match (kind, api_key) {
        (BackendKind::Openai, Some(key)) => {
            models_request = models_request.bearer_auth(key.expose())
        }
        (BackendKind::Anthropic, Some(key)) => {
            models_request = models_request
                .header("x-api-key", key.expose())
                .header("anthropic-version", API_VERSION);
        }
        (_, None) => {}
    }
    match get_json(models_request).await {
        Err(error) => report.error = Some(format!("cannot reach {}: {error}", report.url)),
        Ok((status, body)) if !(200..300).contains(&status) => {
            let message = body
                .get("error")
                .map(crate::wire::openai::error_message)
                .unwrap_or_default();
            report.error = Some(
                format!("GET {}/models answered HTTP {status} {message}", report.url)
                    .trim()
                    .to_string(),
            );
        }
        Ok((_, body)) => {
            report.ok = true;
            if let Some(data) = body.get("data").and_then(Value::as_array) {
                for entry in data {
                    if let Some(id) = entry.get("id").and_then(Value::as_str) {
                        report.models.push(id.to_string());
                    }
                    if let Some(max_len) = entry.get("max_model_len").and_then(Value::as_u64) {
                        report.n_ctx = Some(max_len);
                        report.server_kind = Some("vllm".into());
                    }
                }
            }
        }
    }
    if report.ok && kind == BackendKind::Openai && report.server_kind.is_none() {
        let root = server_root(base);
        if let Ok((200, props)) = get_json(http.get(format!("{root}/props"))).await
            && let Some(n_ctx) = props
                .pointer("/default_generation_settings/n_ctx")
                .and_then(Value::as_u64)
        {
            report.n_ctx = Some(n_ctx);
            report.server_kind = Some("llama-server".into());
        } else if let Some(model) = model.or(report.models.first().map(String::as_str)) {
            let request = http
                .post(format!("{root}/api/show"))
                .json(&serde_json::json!({ "model": model }));
            if let Ok((200, show)) = get_json(request).await {
                report.server_kind = Some("ollama".into());
                report.n_ctx = ollama_num_ctx(&show);
            }
        }
        if report.server_kind.is_none() {
            report.server_kind = Some("openai-compatible".into());
        }
    }
    if kind == BackendKind::Anthropic && report.ok {
        report.server_kind = Some("anthropic".into());
    }
    if let (Some(error), Some(key)) = (report.error.as_mut(), api_key) {
        // A server may echo the key it was sent in its error message.
        *error = key.redact_in(error);
    }
    report.latency_ms = started.elapsed().as_millis() as u64;
    report
}

/// Ollama's served context: `num_ctx` in the model's parameters. Without it Ollama uses
/// its own default (`OLLAMA_CONTEXT_LENGTH`), which `/api/show` does not report.
fn ollama_num_ctx(show: &Value) -> Option<u64> {
    let parameters = show.get("parameters").and_then(Value::as_str)?;
    parameters.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("num_ctx"))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_root_drops_v1() {
        assert_eq!(server_root("http://h:1/v1/"), "http://h:1");
        assert_eq!(server_root("http://h:1"), "http://h:1");
    }

    #[test]
    fn ollama_num_ctx_is_read_from_parameters() {
        let show = serde_json::json!({ "parameters": "stop \"<|im_end|>\"\nnum_ctx 8192" });
        assert_eq!(ollama_num_ctx(&show), Some(8192));
        assert_eq!(ollama_num_ctx(&serde_json::json!({})), None);
    }
}

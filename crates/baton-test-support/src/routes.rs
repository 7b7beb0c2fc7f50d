//! The scripted server's state and routes: one fallback handler records every request, then
//! dispatches on method and path to the chat endpoints (which consume the script) or to the
//! server-information endpoints of llama-server, OpenAI and Ollama (`/health`, `/props`,
//! `/v1/models`, `/api/show`, `/api/tags`), and `/v1/embeddings` when the script has an
//! `embedding_dim`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::respond::{self, ChatContext, Dialect, Headers};
use crate::script::{LOOP_MAX_TOKENS, Reply, Script};
use crate::scripted::{LoopReport, RecordedRequest};

/// Chat requests carry whole conversations and context files; axum's 2 MiB default would turn
/// a large but valid prompt into a 413 the real servers would not send.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// The trained context length `/api/show` reports, as a Qwen2.5 coder model does; `num_ctx`
/// (the configured window) comes from the script.
const OLLAMA_CONTEXT_LENGTH: u64 = 32_768;

/// Model name used when neither the request nor the script names one.
const FALLBACK_MODEL: &str = "scripted";

/// Everything the handlers and the server handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    routes: Mutex<Vec<crate::script::Route>>,
    default_reply: Reply,
    n_ctx: Option<u64>,
    models: Vec<String>,
    total_slots: u32,
    embedding_dim: Option<usize>,
    record: bool,
    health: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Requests received so far, recorded or not; a watch so that tests can wait on it.
    request_count: watch::Sender<usize>,
    /// Chat requests being served; a watch so that tests can wait for a count.
    in_flight: watch::Sender<usize>,
    max_in_flight: AtomicUsize,
    /// What became of each loop stream, as they end; a watch so that tests can wait.
    loop_reports: watch::Sender<Vec<LoopReport>>,
    next_id: AtomicU64,
    /// Becomes true once, when the server starts shutting down.
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(script: Script) -> Self {
        let Script {
            replies,
            routes,
            default,
            n_ctx,
            models,
            health,
            total_slots,
            record_requests,
            embedding_dim,
        } = script;
        Self {
            replies: Mutex::new(replies),
            routes: Mutex::new(routes),
            default_reply: default,
            n_ctx,
            models,
            total_slots,
            embedding_dim,
            record: record_requests,
            health: AtomicBool::new(health),
            requests: Mutex::new(Vec::new()),
            request_count: watch::Sender::new(0),
            in_flight: watch::Sender::new(0),
            max_in_flight: AtomicUsize::new(0),
            loop_reports: watch::Sender::new(Vec::new()),
            next_id: AtomicU64::new(1),
            shutdown: watch::Sender::new(false),
        }
    }

    pub(crate) fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub(crate) fn subscribe_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        // A panic elsewhere while holding the lock leaves a usable Vec; keep serving it.
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn request_count(&self) -> usize {
        *self.request_count.borrow()
    }

    pub(crate) async fn wait_for_requests(&self, count: usize) {
        let mut receiver = self.request_count.subscribe();
        // The sender lives in `self`, so the wait cannot fail while we hold `self`.
        let _ = receiver.wait_for(|received| *received >= count).await;
    }

    pub(crate) fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    pub(crate) async fn wait_for_in_flight(&self, mut until: impl FnMut(usize) -> bool) {
        let mut receiver = self.in_flight.subscribe();
        // The sender lives in `self`, so the wait cannot fail while we hold `self`.
        let _ = receiver.wait_for(|count| until(*count)).await;
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn loop_reports(&self) -> Vec<LoopReport> {
        self.loop_reports.borrow().clone()
    }

    pub(crate) async fn wait_for_loop_reports(&self, count: usize) -> Vec<LoopReport> {
        let mut receiver = self.loop_reports.subscribe();
        // The sender lives in `self`, so the wait cannot fail while we hold `self`.
        let _ = receiver.wait_for(|reports| reports.len() >= count).await;
        receiver.borrow().clone()
    }

    pub(crate) fn push_loop_report(&self, report: LoopReport) {
        self.loop_reports
            .send_modify(|reports| reports.push(report));
    }

    pub(crate) fn set_health(&self, healthy: bool) {
        self.health.store(healthy, Ordering::SeqCst);
    }

    pub(crate) fn push_reply(&self, reply: Reply) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(reply);
    }

    fn next_reply(&self, request: &Value) -> Reply {
        let text = request
            .get("messages")
            .map(Value::to_string)
            .unwrap_or_default();
        let routed = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
            .filter(|route| text.contains(&route.contains))
            .find_map(|route| route.replies.pop_front());
        if let Some(reply) = routed {
            return reply;
        }
        let next = self
            .replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        next.unwrap_or_else(|| self.default_reply.clone())
    }

    fn record(&self, request: impl FnOnce() -> RecordedRequest) {
        if self.record {
            let request = request();
            self.requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
        }
        self.request_count.send_modify(|count| *count += 1);
    }

    fn default_model(&self) -> &str {
        self.models.first().map_or(FALLBACK_MODEL, String::as_str)
    }
}

/// Counts one chat request in flight for as long as it lives.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> Self {
        shared.in_flight.send_modify(|count| {
            *count += 1;
            shared.max_in_flight.fetch_max(*count, Ordering::SeqCst);
        });
        Self(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .send_modify(|count| *count = count.saturating_sub(1));
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(shared)
}

/// Every request lands here so that all of them, unknown paths included, are recorded.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.record(|| RecordedRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: json.clone(),
    });
    match (method, uri.path()) {
        (Method::POST, "/v1/chat/completions" | "/chat/completions") => {
            chat(&shared, Dialect::OpenAi, &json).await
        }
        (Method::POST, "/v1/messages") => chat(&shared, Dialect::Anthropic, &json).await,
        // Served as chat: a test scripts its exact events with `Reply::Events`.
        (Method::POST, "/v1/responses") => chat(&shared, Dialect::OpenAi, &json).await,
        (Method::POST, "/v1/embeddings" | "/embeddings") => embeddings(&shared, &json),
        (Method::GET, "/health" | "/v1/health") => health(&shared),
        (Method::GET, "/v1/models" | "/models") => models(&shared),
        (Method::GET, "/props") => props(&shared),
        (Method::POST, "/api/show") => ollama_show(&shared),
        (Method::GET, "/api/tags") => ollama_tags(&shared),
        _ => error(StatusCode::NOT_FOUND, "File Not Found", "not_found_error"),
    }
}

async fn chat(shared: &Arc<Shared>, dialect: Dialect, request: &Value) -> Response {
    let guard = InFlight::enter(shared);
    let reply = shared.next_reply(request);
    let serial = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let id = match dialect {
        Dialect::OpenAi => format!("chatcmpl-scripted-{serial}"),
        Dialect::Anthropic => format!("msg_scripted_{serial}"),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_else(|| shared.default_model())
        .to_owned();
    let max_tokens = request
        .get("max_tokens")
        .or_else(|| request.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(LOOP_MAX_TOKENS);
    let reporter = Arc::clone(shared);
    let context = ChatContext {
        dialect,
        max_tokens,
        report_loop: Box::new(move |report| reporter.push_loop_report(report)),
        stream: request.get("stream").and_then(Value::as_bool) == Some(true),
        include_usage: request
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true),
        model,
        id,
        created: unix_seconds(),
        shutdown: shared.subscribe_shutdown(),
    };
    respond::chat_response(reply, context, Box::new(guard)).await
}

/// `POST /v1/embeddings`: one deterministic vector per input (see [`Script::embedding_dim`]),
/// or 404 when the script has no embeddings.
fn embeddings(shared: &Shared, request: &Value) -> Response {
    let Some(dim) = shared.embedding_dim.filter(|dim| *dim > 0) else {
        return error(StatusCode::NOT_FOUND, "File Not Found", "not_found_error");
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_else(|| shared.default_model())
        .to_owned();
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "\"input\" must be a string or an array of strings",
                "invalid_request_error",
            );
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            serde_json::json!({
                "object": "embedding",
                "index": index,
                "embedding": scripted_embedding(&model, text, dim),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "object": "list",
            "model": model,
            "data": data,
            "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()},
        }),
    )
}

/// The scripted vector of `text`: a count per component of the words (first four characters,
/// lowercased) hashed there with `model`, plus a small constant so no vector is all zeros.
pub(crate) fn scripted_embedding(model: &str, text: &str, dim: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dim];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        let stem: String = word.to_lowercase().chars().take(4).collect();
        // FNV-1a over the model name, a separator and the stem.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in model.bytes().chain([0u8]).chain(stem.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let slot = usize::try_from(hash % dim as u64).unwrap_or(0);
        if let Some(value) = vector.get_mut(slot) {
            *value += 1.0;
        }
    }
    if let Some(first) = vector.first_mut() {
        *first += 0.01;
    }
    vector
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    respond::whole_response(status, Headers::Json, crate::wire::json_bytes(value))
}

/// An error body shaped as llama-server's: `{"error":{"code":..,"message":..,"type":..}}`.
fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = serde_json::json!({
        "error": {"code": status.as_u16(), "message": message, "type": kind}
    });
    json_response(status, &body)
}

fn health(shared: &Shared) -> Response {
    if shared.health.load(Ordering::SeqCst) {
        json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
    } else {
        // What llama-server answers while it is still loading the model.
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Loading model",
            "unavailable_error",
        )
    }
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelEntry<'a>>,
}

#[derive(Serialize)]
struct ModelEntry<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<ModelMeta>,
}

#[derive(Serialize)]
struct ModelMeta {
    n_ctx: u64,
}

fn models(shared: &Shared) -> Response {
    let created = unix_seconds();
    let data = shared
        .models
        .iter()
        .map(|id| ModelEntry {
            id,
            object: "model",
            created,
            owned_by: "scripted",
            meta: shared.n_ctx.map(|n_ctx| ModelMeta { n_ctx }),
        })
        .collect();
    json_response(
        StatusCode::OK,
        &ModelList {
            object: "list",
            data,
        },
    )
}

#[derive(Serialize)]
struct Props<'a> {
    default_generation_settings: GenerationSettings<'a>,
    total_slots: u32,
    model_path: &'a str,
    build_info: &'static str,
}

#[derive(Serialize)]
struct GenerationSettings<'a> {
    n_ctx: u64,
    model: &'a str,
}

/// llama-server's `/props`; other servers have no such route, so without `n_ctx` it is a 404.
fn props(shared: &Shared) -> Response {
    let Some(n_ctx) = shared.n_ctx else {
        return error(StatusCode::NOT_FOUND, "File Not Found", "not_found_error");
    };
    let model = shared.default_model();
    json_response(
        StatusCode::OK,
        &Props {
            default_generation_settings: GenerationSettings { n_ctx, model },
            total_slots: shared.total_slots,
            model_path: model,
            build_info: "scripted",
        },
    )
}

#[derive(Serialize)]
struct OllamaShow {
    model_info: OllamaModelInfo,
    /// Ollama sends the Modelfile parameters as text and leaves the field out when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<String>,
}

#[derive(Serialize)]
struct OllamaModelInfo {
    #[serde(rename = "general.architecture")]
    architecture: &'static str,
    #[serde(rename = "qwen2.context_length")]
    context_length: u64,
}

fn ollama_show(shared: &Shared) -> Response {
    let context_length = shared.n_ctx.map_or(OLLAMA_CONTEXT_LENGTH, |n_ctx| {
        n_ctx.max(OLLAMA_CONTEXT_LENGTH)
    });
    json_response(
        StatusCode::OK,
        &OllamaShow {
            model_info: OllamaModelInfo {
                architecture: "qwen2",
                context_length,
            },
            parameters: shared.n_ctx.map(|n_ctx| format!("num_ctx {n_ctx}")),
        },
    )
}

fn ollama_tags(shared: &Shared) -> Response {
    let models: Vec<Value> = shared
        .models
        .iter()
        .map(|name| serde_json::json!({"name": name, "model": name}))
        .collect();
    json_response(StatusCode::OK, &serde_json::json!({"models": models}))
}

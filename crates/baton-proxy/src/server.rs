//! The HTTP face of the proxy (axum): the three dialects' endpoints, `/v1/models` with the
//! context each model is really served with, Anthropic's token count, embeddings, and
//! `HEAD /` for CLIs that check the server is up before they start.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use baton_config::Dialect;
use baton_core::Locality;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::adapt::prompt_tokens;
use crate::error::ProxyError;
use crate::relay::{self, Ingress, Shared, plan};
use crate::upstream::Passed;

/// The router of a proxy over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .fallback(not_found)
        .with_state(shared)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open answers finish.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "baton proxy serving");
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn root() -> &'static str {
    "baton proxy\n"
}

async fn not_found(headers: HeaderMap) -> Response {
    let dialect = if headers.contains_key("anthropic-version") {
        Dialect::Messages
    } else {
        Dialect::Chat
    };
    ProxyError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint; hint: the proxy serves /v1/chat/completions, /v1/responses, /v1/messages and /v1/models",
    )
    .into_response(dialect)
}

fn passed(headers: &HeaderMap) -> Passed {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    Passed {
        anthropic_version: text("anthropic-version"),
        anthropic_beta: text("anthropic-beta"),
    }
}

async fn handle(
    shared: Arc<Shared>,
    dialect: Dialect,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match Ingress::parse(dialect, &body, passed(&headers)) {
        Ok(ingress) => relay::relay(shared, ingress).await,
        Err(error) => error.into_response(dialect),
    }
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(shared, Dialect::Chat, headers, body).await
}

async fn responses(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(shared, Dialect::Responses, headers, body).await
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(shared, Dialect::Messages, headers, body).await
}

/// `/v1/messages/count_tokens`: the prompt's tokens as the proxy estimates them for the chat
/// pivot (the same estimate its context check uses).
async fn count_tokens(body: Bytes) -> Response {
    let ingress = match Ingress::parse(Dialect::Messages, &body, Passed::default()) {
        Ok(ingress) => ingress,
        Err(error) => return error.into_response(Dialect::Messages),
    };
    let chat = crate::translate::messages::request_to_chat(&Value::Object(ingress.body));
    match chat {
        Ok(Value::Object(chat)) => {
            axum::Json(json!({ "input_tokens": prompt_tokens(&chat) })).into_response()
        }
        Ok(_) => {
            ProxyError::invalid("the request could not be read").into_response(Dialect::Messages)
        }
        Err(unsupported) => ProxyError::invalid(unsupported.0).into_response(Dialect::Messages),
    }
}

/// `/v1/models`: every model name the proxy maps, and every profile, with the context its
/// first step's server really serves per slot (probed), under the names clients read it by.
async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let settings = &shared.settings;
    let mut names: Vec<String> = settings.proxy.models.keys().cloned().collect();
    names.extend(settings.profiles.keys().cloned());
    names.dedup();
    let mut data = Vec::new();
    for name in names {
        let mut context = None;
        if let Ok(chain) = plan(settings, &name)
            && let Some(first) = chain.first()
            && first.locality() == Locality::Local
        {
            context = baton_ops::doctor::served_context(&shared.project, first).await;
        }
        let mut entry = if headers.contains_key("anthropic-version") {
            json!({ "type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z" })
        } else {
            json!({ "id": name, "object": "model", "created": 0, "owned_by": "baton" })
        };
        if let Some(n_ctx) = context {
            entry["context_window"] = json!(n_ctx);
            entry["context_length"] = json!(n_ctx);
            entry["max_model_len"] = json!(n_ctx);
        }
        data.push(entry);
    }
    if headers.contains_key("anthropic-version") {
        let first = data.first().map(|entry| entry["id"].clone());
        let last = data.last().map(|entry| entry["id"].clone());
        axum::Json(json!({ "data": data, "has_more": false, "first_id": first, "last_id": last }))
            .into_response()
    } else {
        axum::Json(json!({ "object": "list", "data": data })).into_response()
    }
}

//! One proxied request, from the client's body to its answer: the model name becomes a chain
//! of steps (`[proxy.models]`, a profile, or the default profile), each step is checked
//! against the context its server really serves, the request is passed through or carried
//! across the chat pivot and adapted for the step, and sent with the retries, `Retry-After`
//! and fallback of `baton dispatch`. A stream is answered as soon as the first event for the
//! client is ready; until then a failure falls back to the next attempt, after it the stream
//! ends with the dialect's error event. A client that goes away cancels the backend request.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_config::{BackendKind, Dialect, ProxyAdapt, Settings};
use baton_core::{ErrorClass, Locality, Route};
use baton_llm::dispatch::retry_wait;
use baton_llm::repetition::RepetitionGuard;
use baton_llm::router::{self, RouteError, Target};
use baton_llm::secret::{ApiKey, redact_url};
use baton_llm::{CallError, Dispatcher};
use baton_ops::Project;
use baton_store::StorePool;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::adapt::{Adjust, MIN_REPLY_ROOM, declared_tools, force_tool_choice, prompt_tokens};
use crate::error::ProxyError;
use crate::ledger::{CANCELLED, InFlight, Ledger};
use crate::rescue::{Rescue, parse_calls};
use crate::session::{Out, Pivot, Session, Shape, chat_usage};
use crate::translate::{messages, responses};
use crate::upstream::{self, Deadlines, Opened, Outgoing, Passed};

/// What every request shares.
pub struct Shared {
    pub project: Arc<Project>,
    pub settings: Arc<Settings>,
    pub dispatcher: Arc<Dispatcher>,
    pub store: StorePool,
}

/// A client's request, read.
pub struct Ingress {
    pub dialect: Dialect,
    pub body: Map<String, Value>,
    /// The model name the client asked for.
    pub model: String,
    pub stream: bool,
    pub passed: Passed,
}

impl Ingress {
    /// Reads a request body in `dialect`.
    pub fn parse(dialect: Dialect, body: &[u8], passed: Passed) -> Result<Ingress, ProxyError> {
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ProxyError::invalid(format!("the request body is not JSON: {error}"))
        })?;
        let Value::Object(body) = value else {
            return Err(ProxyError::invalid(
                "the request body must be a JSON object",
            ));
        };
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        Ok(Ingress {
            dialect,
            body,
            model,
            stream,
            passed,
        })
    }
}

/// The profile serving model names that nothing else claims.
pub fn default_profile(settings: &Settings) -> &str {
    if settings.proxy.profile.is_empty() {
        &settings.dispatch.profile
    } else {
        &settings.proxy.profile
    }
}

/// The chain of steps serving `model`: its `[proxy.models]` entry (a profile, or
/// `backend:model` asked like the default profile), else the profile of that name, else the
/// default profile. Steps whose API key is not set are left out.
pub fn plan(settings: &Settings, model: &str) -> Result<Vec<Target>, ProxyError> {
    let fallback = default_profile(settings);
    let mapped = settings.proxy.models.get(model).map(String::as_str);
    let config_error = |error: RouteError| {
        ProxyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "model `{model}` cannot be served: {error}; hint: fix [proxy.models] or [proxy] profile in baton.toml"
            ),
        )
    };
    if let Some((backend, backend_model)) = mapped.and_then(|spec| spec.split_once(':')) {
        let step = router::step(settings, fallback, backend, backend_model)
            .map_err(config_error)?
            .ok_or_else(|| {
                config_error(RouteError::UnknownProfile {
                    name: format!("{backend} (a backend)"),
                    known: settings.backends.keys().cloned().collect(),
                })
            })?;
        if let Some(why) = router::unusable(&step) {
            return Err(ProxyError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "model `{model}` is served by {}, and {why}; hint: set it in the proxy's environment",
                    step.label()
                ),
            ));
        }
        return Ok(vec![step]);
    }
    let profile = mapped
        .or_else(|| settings.profiles.contains_key(model).then_some(model))
        .unwrap_or(fallback);
    let decided = Some((Route::Local, "proxy: local first".to_owned()));
    match router::plan(settings, profile, Route::Auto, decided) {
        Ok(plan) => Ok(plan.chain),
        Err(error @ RouteError::NoTarget { .. }) => Err(ProxyError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "model `{model}` cannot be served: {error}; hint: set the API key variables in the proxy's environment, or add a local step to profile `{profile}`"
            ),
        )),
        Err(error) => Err(config_error(error)),
    }
}

/// The ingress request on the chat pivot.
fn pivot_of(ingress: &Ingress) -> Result<Map<String, Value>, ProxyError> {
    let body = Value::Object(ingress.body.clone());
    let chat = match ingress.dialect {
        Dialect::Chat => Ok(body),
        Dialect::Messages => messages::request_to_chat(&body),
        Dialect::Responses => responses::request_to_chat(&body),
    }
    .map_err(|unsupported| ProxyError::invalid(unsupported.0))?;
    match chat {
        Value::Object(chat) => Ok(chat),
        _ => Err(ProxyError::invalid(
            "the request could not be carried to a chat backend",
        )),
    }
}

/// One step, made ready to send.
struct Prepared {
    egress: Dialect,
    body: Map<String, Value>,
    passthrough: bool,
    prompt: u64,
    rescue: Option<Rescue>,
    guard: bool,
    hide_usage: bool,
}

/// Makes `target`'s request, or says why the step cannot serve it.
async fn prepare(
    shared: &Shared,
    ingress: &Ingress,
    target: &Target,
    pivot: &mut Option<Result<Map<String, Value>, ProxyError>>,
) -> Result<Prepared, ProxyError> {
    let adapt: &ProxyAdapt = match target.locality() {
        Locality::Local => &shared.settings.proxy.local,
        Locality::Cloud => &shared.settings.proxy.cloud,
    };
    let has_tools = !declared_tools(ingress.dialect, &ingress.body).is_empty();
    let passthrough = target.backend.speaks(ingress.dialect)
        && !(has_tools && (adapt.rescue_tool_calls || adapt.force_tool_choice));
    let mut body = if passthrough {
        ingress.body.clone()
    } else {
        pivot.get_or_insert_with(|| pivot_of(ingress)).clone()?
    };
    let working = if passthrough {
        ingress.dialect
    } else {
        Dialect::Chat
    };
    let prompt = prompt_tokens(&body);
    let mut room = None;
    if target.locality() == Locality::Local
        && let Some(n_ctx) = baton_ops::doctor::served_context(&shared.project, target).await
    {
        if prompt + MIN_REPLY_ROOM > n_ctx {
            return Err(ProxyError::invalid(format!(
                "prompt is too long: ~{prompt} tokens > {n_ctx} maximum ({} serves {n_ctx} tokens per slot); hint: trim tools with [proxy.local] trim_tools, or give the server a larger -c",
                target.label()
            )));
        }
        room = Some(n_ctx - prompt);
    }
    body.insert("model".into(), Value::String(target.model.clone()));
    let mut rescue_names: Option<BTreeSet<String>> = None;
    if !passthrough {
        let declared = declared_tools(Dialect::Chat, &body);
        let forced = adapt
            .force_tool_choice
            .then(|| force_tool_choice(&mut body))
            .flatten();
        if adapt.rescue_tool_calls || forced.is_some() {
            rescue_names = forced.or((!declared.is_empty()).then_some(declared));
        }
    }
    Adjust {
        adapt,
        target,
        room,
    }
    .apply(working, &mut body);
    let usage_asked = body
        .get("stream_options")
        .and_then(|options| options.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut hide_usage = false;
    if working == Dialect::Chat
        && ingress.stream
        && target.backend.stream_usage
        && target.backend.kind == BackendKind::Openai
        && !usage_asked
    {
        body.insert("stream_options".into(), json!({ "include_usage": true }));
        hide_usage = true;
    }
    let egress = if passthrough {
        ingress.dialect
    } else {
        target.backend.kind.dialect()
    };
    if egress == Dialect::Messages && !passthrough {
        body = match messages::request_from_chat(&Value::Object(body)) {
            Ok(Value::Object(body)) => body,
            Ok(_) => {
                return Err(ProxyError::invalid(
                    "the request could not be written for Messages",
                ));
            }
            Err(unsupported) => return Err(ProxyError::invalid(unsupported.0)),
        };
    }
    Ok(Prepared {
        egress,
        body,
        passthrough,
        prompt,
        rescue: rescue_names.map(Rescue::new),
        guard: adapt.cut_repetition && target.repetition.cut,
        hide_usage,
    })
}

/// Serves `ingress`; see the module documentation.
pub async fn relay(shared: Arc<Shared>, ingress: Ingress) -> Response {
    let dialect = ingress.dialect;
    match relay_inner(shared, ingress).await {
        Ok(response) => response,
        Err(error) => error.into_response(dialect),
    }
}

async fn relay_inner(shared: Arc<Shared>, ingress: Ingress) -> Result<Response, ProxyError> {
    let chain = plan(&shared.settings, &ingress.model)?;
    let mut ledger = Ledger::new(
        shared.store.clone(),
        Arc::clone(&shared.settings),
        uuid::Uuid::now_v7().to_string(),
    );
    let mut pivot = None;
    let mut refused: Option<ProxyError> = None;
    let mut last: Option<CallError> = None;
    for target in &chain {
        let prepared = match prepare(&shared, &ingress, target, &mut pivot).await {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::debug!(step = %target.label(), %error.message, "step skipped");
                refused.get_or_insert(error);
                continue;
            }
        };
        let key = target
            .backend
            .api_key_env
            .as_deref()
            .and_then(ApiKey::from_env);
        let pool = match shared.dispatcher.pool(target) {
            Ok(pool) => pool,
            Err(error) => {
                last = Some(error);
                continue;
            }
        };
        let mut avoid: Option<String> = None;
        let mut try_index = 0;
        loop {
            let lease = match pool
                .acquire(avoid.as_deref(), target.backend.queue_timeout)
                .await
            {
                Ok(lease) => lease,
                Err(error) => {
                    last = Some(error);
                    break;
                }
            };
            let endpoint = redact_url(&lease.url);
            ledger.begin(InFlight::new(target, &endpoint, prepared.prompt));
            let deadlines = Deadlines::of(target);
            let outgoing = Outgoing {
                target,
                base_url: &lease.url,
                dialect: prepared.egress,
                body: &prepared.body,
                key: key.as_ref(),
                passed: &ingress.passed,
                passthrough: prepared.passthrough,
            };
            let error = match upstream::open(pool.http(), &outgoing, &deadlines).await {
                Ok(Opened::Whole(value)) => match whole(&ingress, &prepared, value, &mut ledger) {
                    Ok(answer) => {
                        lease.report(true);
                        ledger.end(None);
                        return Ok(axum::Json(answer).into_response());
                    }
                    Err(error) => error,
                },
                Ok(Opened::Stream(events)) => {
                    let shape = shape_of(&ingress, target, &prepared);
                    let mut session = Session::new(events, &lease.url, deadlines, shape);
                    match first_bytes(&mut session, &mut ledger).await {
                        Ok((bytes, ended)) => {
                            return Ok(stream_response(bytes, ended, session, ledger, lease));
                        }
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            lease.report(!error.blames_endpoint());
            drop(lease);
            ledger.end(Some(&error));
            tracing::debug!(step = %target.label(), %endpoint, %error, "attempt failed");
            let retryable = error.class() == ErrorClass::Retryable;
            let retry_after = error.retry_after();
            avoid = Some(endpoint);
            last = Some(error);
            if !retryable || try_index >= target.backend.retries {
                break;
            }
            match retry_wait(&target.backend, try_index, retry_after) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(_) => break,
            }
            try_index += 1;
        }
    }
    Err(match (last, refused) {
        (Some(error), _) => ProxyError::from_call(&error),
        (None, Some(refused)) => refused,
        (None, None) => ProxyError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no step could serve the request",
        ),
    })
}

/// How `target`'s streamed answer is carried back.
fn shape_of(ingress: &Ingress, target: &Target, prepared: &Prepared) -> Shape {
    if prepared.passthrough {
        return Shape::Pass {
            dialect: ingress.dialect,
            hide_usage: prepared.hide_usage,
        };
    }
    let out = match ingress.dialect {
        Dialect::Chat => Out::Chat {
            usage_asked: !prepared.hide_usage,
        },
        Dialect::Messages => {
            Out::Messages(messages::ToMessages::new(&ingress.model, prepared.prompt))
        }
        Dialect::Responses => Out::Responses(Box::new(responses::ToResponses::new(
            &Value::Object(ingress.body.clone()),
            prepared.prompt,
        ))),
    };
    let from =
        (prepared.egress == Dialect::Messages).then(|| messages::FromMessages::new(&target.model));
    Shape::Pivot(Box::new(Pivot::new(
        from,
        prepared.rescue.clone(),
        prepared.guard.then(RepetitionGuard::new),
        out,
        ingress.model.clone(),
    )))
}

/// Reads until the first bytes for the client are ready (or the answer ended).
async fn first_bytes(
    session: &mut Session,
    ledger: &mut Ledger,
) -> Result<(Vec<Bytes>, bool), CallError> {
    let mut bytes = Vec::new();
    loop {
        let step = session.step().await;
        note(session, ledger);
        let step = step?;
        bytes.extend(step.bytes);
        if !bytes.is_empty() || step.ended {
            return Ok((bytes, step.ended));
        }
    }
}

/// Copies what the session learnt into the attempt in flight.
fn note(session: &Session, ledger: &mut Ledger) {
    if let Some(attempt) = ledger.current() {
        if session.first_seen && attempt.ttft.is_none() {
            attempt.ttft = Some(attempt.started.elapsed());
        }
        attempt.usage = session.usage;
        attempt.received_chars = session.received_chars;
    }
}

/// The streamed response: the first bytes, then the rest as the backend sends it, from a
/// task that stops reading (and so cancels the backend's request) when the client goes. The
/// ledger is written before the last bytes go out, so a client that has the whole answer
/// finds its call recorded.
fn stream_response(
    first: Vec<Bytes>,
    ended: bool,
    mut session: Session,
    mut ledger: Ledger,
    lease: baton_llm::pool::Lease,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    if ended {
        lease.report(true);
        ledger.end(None);
        ledger.flush();
    }
    for bytes in first {
        // The channel is new and larger than any first step: this cannot be full.
        let _ = tx.try_send(bytes);
    }
    if ended {
        drop(tx);
    } else {
        tokio::spawn(async move {
            pump(&mut session, &mut ledger, &lease, &tx).await;
            ledger.flush();
        });
    }
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<Bytes, Infallible>(bytes), rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Carries the rest of the answer to the client and ends the attempt in the ledger.
async fn pump(
    session: &mut Session,
    ledger: &mut Ledger,
    lease: &baton_llm::pool::Lease,
    tx: &mpsc::Sender<Bytes>,
) {
    loop {
        let step = tokio::select! {
            biased;
            () = tx.closed() => {
                ledger.end_with(Some((ErrorClass::Final, CANCELLED.into())));
                return;
            }
            step = session.step() => step,
        };
        note(session, ledger);
        let bytes = match step {
            Ok(step) => {
                if step.ended {
                    lease.report(true);
                    ledger.end(None);
                    ledger.flush();
                }
                (step.bytes, step.ended)
            }
            Err(error) => {
                lease.report(!error.blames_endpoint());
                ledger.end(Some(&error));
                ledger.flush();
                (session.fail_bytes(&error.to_string()), true)
            }
        };
        for chunk in bytes.0 {
            if tx.send(chunk).await.is_err() {
                ledger.end_with(Some((ErrorClass::Final, CANCELLED.into())));
                return;
            }
        }
        if bytes.1 {
            return;
        }
    }
}

/// A whole (non-streamed) answer in the client's dialect.
fn whole(
    ingress: &Ingress,
    prepared: &Prepared,
    value: Value,
    ledger: &mut Ledger,
) -> Result<Value, CallError> {
    if let Some(error) = value.get("error").filter(|error| error.is_object()) {
        return Err(CallError::Remote {
            url: String::new(),
            message: error["message"].as_str().unwrap_or("an error").to_owned(),
            retryable: false,
        });
    }
    let usage = if prepared.passthrough {
        match ingress.dialect {
            Dialect::Chat => chat_usage(&value),
            Dialect::Messages => Some(messages::usage_of_response(&value)),
            Dialect::Responses => Some(responses::usage_of_response(&value)),
        }
    } else {
        None
    };
    let answer = if prepared.passthrough {
        value
    } else {
        let mut chat = match prepared.egress {
            Dialect::Messages => messages::response_to_chat(&value),
            Dialect::Chat | Dialect::Responses => value,
        };
        if let Some(rescue) = &prepared.rescue {
            rescue_whole(&mut chat, rescue.declared());
        }
        if let Some(attempt) = ledger.current() {
            attempt.usage = chat_usage(&chat).unwrap_or_default();
        }
        match ingress.dialect {
            Dialect::Chat => chat,
            Dialect::Messages => messages::response_from_chat(&chat, &ingress.model),
            Dialect::Responses => {
                responses::response_from_chat(&chat, &Value::Object(ingress.body.clone()))
            }
        }
    };
    if let (Some(usage), Some(attempt)) = (usage, ledger.current()) {
        attempt.usage = usage;
    }
    if let Some(attempt) = ledger.current() {
        attempt.ttft = Some(attempt.started.elapsed());
    }
    Ok(answer)
}

/// The rescue on a whole chat completion: a message whose text is calls of declared tools
/// becomes a message of tool calls.
fn rescue_whole(chat: &mut Value, declared: &BTreeSet<String>) {
    let Some(text) = chat
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
    else {
        return;
    };
    let Some(calls) = parse_calls(text)
        .filter(|calls| !calls.is_empty() && calls.iter().all(|(name, _)| declared.contains(name)))
    else {
        return;
    };
    let tool_calls: Vec<Value> = calls
        .iter()
        .map(|(name, arguments)| {
            json!({
                "id": format!("call_{}", uuid::Uuid::now_v7().simple()),
                "type": "function",
                "function": { "name": name, "arguments": arguments },
            })
        })
        .collect();
    if let Some(choice) = chat.pointer_mut("/choices/0") {
        choice["message"]["content"] = Value::Null;
        choice["message"]["tool_calls"] = Value::Array(tool_calls);
        choice["finish_reason"] = json!("tool_calls");
    }
}

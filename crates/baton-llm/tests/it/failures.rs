//! Failures on one backend: retryable ones are retried there with backoff (honouring
//! `Retry-After` up to `max_backoff`), final ones are not, and every attempt becomes a ledger
//! record; one that never reached a model carries no tokens and no cost.

use std::time::{Duration, Instant};

use baton_core::{CallOutcome, ErrorClass, Locality, Usage};
use baton_llm::CallError;
use baton_test_support::{Reply, Script};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::{chat_requests, dispatch, local, refused_url, settings, start, with_fallback};

#[tokio::test]
async fn http_500_twice_then_success_is_retried_on_the_same_backend_with_three_records() {
    let server = start(
        Script::new()
            .then(Reply::error(500, "boom"))
            .then(Reply::error(500, "boom again"))
            .default(Reply::text("third time lucky")),
    )
    .await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).retries = 2;

    let (outcome, sink) = dispatch(settings).await;
    let result = outcome.expect("the third attempt answers");

    assert_eq!(result.reply, "third time lucky");
    assert_eq!(result.target.backend_name, "local");
    assert_eq!(chat_requests(&server), 3);
    let attempts = &result.attempts;
    assert_eq!(
        attempts.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        attempts.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        vec![CallOutcome::Error, CallOutcome::Error, CallOutcome::Ok]
    );
    assert_eq!(
        attempts.iter().map(|r| r.error_class).collect::<Vec<_>>(),
        vec![
            Some(ErrorClass::Retryable),
            Some(ErrorClass::Retryable),
            None
        ]
    );
    for record in attempts {
        assert_eq!(record.backend, "local");
        assert_eq!(record.endpoint, server.openai_url());
        assert_eq!(record.request_id, "req-integration");
    }
    let first_error = attempts[0].error.as_deref().expect("an error text");
    assert!(
        first_error.contains("HTTP 500") && first_error.contains("boom"),
        "{first_error}"
    );
    assert_eq!(attempts[2].error, None);
    assert_eq!(
        sink.notices
            .iter()
            .filter(|n| n.starts_with("retrying"))
            .count(),
        2,
        "{:?}",
        sink.notices
    );
}

#[tokio::test]
async fn a_429_with_retry_after_1_is_honoured_then_succeeds() {
    let server = start(
        Script::new()
            .then(Reply::rate_limited(1))
            .default(Reply::text("after the wait")),
    )
    .await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).max_backoff = Duration::from_secs(10);

    let started = Instant::now();
    let (outcome, _sink) = dispatch(settings).await;
    let elapsed = started.elapsed();
    let result = outcome.expect("the retry answers");

    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}, before the asked second"
    );
    assert_eq!(result.reply, "after the wait");
    assert_eq!(chat_requests(&server), 2);
    assert_eq!(result.attempts.len(), 2);
    let error = result.attempts[0].error.as_deref().expect("an error text");
    assert!(error.contains("HTTP 429"), "{error}");
    assert_eq!(result.attempts[0].error_class, Some(ErrorClass::Retryable));
}

#[tokio::test]
async fn a_429_asking_longer_than_max_backoff_falls_back_at_once() {
    // An hour: a dispatch that waited would hit the PROMPTLY bound of `dispatch`.
    let limited = start(Script::always(Reply::rate_limited(3600))).await;
    let fallback = start(Script::always(Reply::text("from the fallback"))).await;
    let mut settings = settings(&[limited.openai_url()]);
    local(&mut settings).max_backoff = Duration::from_secs(2);
    local(&mut settings).retries = 2;
    with_fallback(&mut settings, fallback.openai_url());

    let (outcome, sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.reply, "from the fallback");
    assert_eq!(result.target.label(), "second:model-b");
    assert_eq!(
        chat_requests(&limited),
        1,
        "no retry on the rate-limited backend"
    );
    assert!(
        sink.notices.iter().any(|n| n.contains("not waiting")),
        "{:?}",
        sink.notices
    );
    assert_eq!(result.attempts.len(), 2);
    assert_eq!(result.attempts[0].backend, "local");
    assert_eq!(result.attempts[1].backend, "second");
}

#[tokio::test]
async fn a_llama_server_context_overflow_is_a_final_context_overflow_error() {
    let body = json!({"error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096
    }});
    let server = start(Script::always(Reply::status(400, body.to_string()))).await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).retries = 2;

    let (outcome, _sink) = dispatch(settings).await;
    let failure = outcome.expect_err("nothing else to try");

    match failure.error.last_call_error() {
        Some(CallError::ContextOverflow {
            prompt_tokens,
            n_ctx,
            url,
        }) => {
            assert_eq!((*prompt_tokens, *n_ctx), (5000, 4096));
            assert_eq!(url, &server.openai_url());
        }
        other => panic!("expected a context overflow, got {other:?}"),
    }
    let text = failure.error.to_string();
    assert!(text.contains("5000") && text.contains("4096"), "{text}");
    assert_eq!(chat_requests(&server), 1, "a final error is not retried");
    assert_eq!(failure.attempts.len(), 1);
    assert_eq!(failure.attempts[0].error_class, Some(ErrorClass::Final));
}

/// What a failed attempt that no model answered must carry: nothing.
const NO_TOKENS: Usage = Usage {
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    estimated: true,
};

#[tokio::test]
async fn attempts_at_a_refused_port_carry_no_tokens_and_no_cost_but_keep_their_error() {
    let refused = refused_url();
    let mut settings = settings(std::slice::from_ref(&refused));
    local(&mut settings).retries = 2;
    assert_eq!(settings.backends["local"].locality, Locality::Local);
    assert!(
        settings.stats.reference_price_per_mtok.input > 0.0,
        "local tokens would be priced as avoided cost"
    );

    let (outcome, _sink) = dispatch(settings).await;
    let failure = outcome.expect_err("nothing listens");

    assert_eq!(failure.attempts.len(), 3, "one try and two retries");
    for record in &failure.attempts {
        assert_eq!(record.outcome, CallOutcome::Error);
        assert_eq!(record.usage, NO_TOKENS, "{record:?}");
        assert_eq!((record.cost_usd, record.avoided_usd), (0.0, 0.0));
        assert_eq!(record.ttft_ms, None);
        assert_eq!(record.error_class, Some(ErrorClass::Retryable));
        let error = record.error.as_deref().expect("an error text");
        assert!(error.contains(&refused), "{error} should name {refused}");
    }
}

#[tokio::test]
async fn an_http_error_before_any_token_carries_no_tokens() {
    let server = start(Script::always(Reply::error(503, "loading model"))).await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).retries = 1;

    let (outcome, _sink) = dispatch(settings).await;
    let failure = outcome.expect_err("the server never answers");

    assert_eq!(chat_requests(&server), 2);
    assert_eq!(failure.attempts.len(), 2);
    for record in &failure.attempts {
        assert_eq!(record.usage, NO_TOKENS, "{record:?}");
        assert_eq!(record.avoided_usd, 0.0);
        assert!(
            record
                .error
                .as_deref()
                .is_some_and(|e| e.contains("HTTP 503"))
        );
    }
}

#[tokio::test]
async fn a_stream_that_broke_after_tokens_came_counts_its_prompt_and_what_it_received() {
    let server = start(
        Script::new()
            .then(Reply::cut_midway(["partial ", "text"]))
            .default(Reply::text("the full reply")),
    )
    .await;
    let settings = settings(&[server.openai_url()]);

    let (outcome, _sink) = dispatch(settings).await;
    let result = outcome.expect("the retry answers");

    let broken = &result.attempts[0];
    assert_eq!(broken.outcome, CallOutcome::Error);
    assert!(broken.ttft_ms.is_some(), "a token came: {broken:?}");
    assert!(broken.usage.estimated);
    assert!(broken.usage.prompt_tokens > 0, "{broken:?}");
    assert_eq!(
        broken.usage.completion_tokens, 3,
        "the 12 characters received, estimated"
    );
    assert!(
        broken.avoided_usd > 0.0,
        "local tokens that ran are avoided cloud cost"
    );
}

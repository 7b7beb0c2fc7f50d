//! API keys: read from the variable a backend names, sent only in the request header, and
//! never found in a ledger record, an error or a notice, even when a server echoes the key
//! back in its error message.
//!
//! Tests cannot set a variable (that is `unsafe`, which the workspace denies), so the "key"
//! is the value of a variable the test process already has, such as `HOME`.

use baton_llm::{DispatchFailure, DispatchResult};
use baton_test_support::{Reply, Script};
use pretty_assertions::assert_eq;

use crate::support::{RecordingSink, chat_requests, dispatch, local, plan, settings, start};

/// A variable that is set, with a value long enough that finding it by chance is unlikely.
fn key_variable() -> (&'static str, String) {
    ["HOME", "CARGO_MANIFEST_DIR", "PATH"]
        .into_iter()
        .find_map(|var| {
            let value = std::env::var(var).ok()?.trim().to_string();
            (value.len() >= 4).then_some((var, value))
        })
        .expect("HOME, CARGO_MANIFEST_DIR or PATH is set")
}

/// Panics if `key` appears in anything the dispatch produced.
fn assert_nowhere(
    key: &str,
    outcome: &Result<DispatchResult, DispatchFailure>,
    sink: &RecordingSink,
) {
    let (attempts, error) = match outcome {
        Ok(result) => (&result.attempts, None),
        Err(failure) => (&failure.attempts, Some(&failure.error)),
    };
    assert!(!attempts.is_empty());
    for record in attempts {
        let json = serde_json::to_string(record).expect("a record serializes");
        assert!(!json.contains(key), "the key is in a call record: {json}");
        assert!(!format!("{record:?}").contains(key), "{record:?}");
    }
    if let Some(error) = error {
        assert!(!error.to_string().contains(key), "the key is in {error}");
        assert!(
            !format!("{error:?}").contains(key),
            "the key is in {error:?}"
        );
    }
    for notice in &sink.notices {
        assert!(!notice.contains(key), "the key is in the notice {notice}");
    }
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_header_and_never_recorded_or_shown() {
    let (var, key) = key_variable();
    let server = start(
        Script::new()
            .then(Reply::error(500, "upstream hiccup"))
            .default(Reply::text("keyed reply")),
    )
    .await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).api_key_env = Some(var.into());
    assert!(
        plan(&settings).skipped.is_empty(),
        "the key variable is set"
    );

    let (outcome, sink) = dispatch(settings).await;

    assert_eq!(outcome.as_ref().expect("a reply").reply, "keyed reply");
    assert_eq!(chat_requests(&server), 2);
    for request in server.requests() {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {key}").as_str())
        );
    }
    assert!(!sink.notices.is_empty(), "the retry was announced");
    assert_nowhere(&key, &outcome, &sink);
}

#[tokio::test]
async fn a_key_echoed_in_a_servers_error_is_redacted() {
    let (var, key) = key_variable();
    let message = format!("Invalid API key: {key}");
    let server = start(
        Script::new()
            .then(Reply::error(503, &message))
            .default(Reply::error(401, &message)),
    )
    .await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).api_key_env = Some(var.into());

    let (outcome, sink) = dispatch(settings).await;

    let failure = outcome.as_ref().expect_err("the key is refused");
    assert_eq!(
        chat_requests(&server),
        2,
        "the 503 was retried, the 401 was final"
    );
    let error = failure.error.to_string();
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(
        error.contains("Invalid API key"),
        "the message is kept: {error}"
    );
    assert_nowhere(&key, &outcome, &sink);
}

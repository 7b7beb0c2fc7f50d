//! Falling back along the chain after a backend gives up (refused, hung, malformed), and
//! taking back a reply that broke midway before the next try is shown.

use std::time::Duration;

use baton_core::{CallOutcome, ErrorClass};
use baton_test_support::{Reply, Script};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::{
    SinkEvent, chat_requests, dispatch, local, refused_url, settings, start, with_fallback,
};

#[tokio::test]
async fn a_refused_connection_falls_back_to_the_next_step_of_the_chain() {
    let refused = refused_url();
    let second = start(Script::always(Reply::text("from model b"))).await;
    let mut settings = settings(std::slice::from_ref(&refused));
    local(&mut settings).retries = 1;
    with_fallback(&mut settings, second.openai_url());

    let (outcome, sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.reply, "from model b");
    assert_eq!(result.target.backend_name, "second");
    assert_eq!(result.target.model, "model-b");
    assert_eq!(result.endpoint, second.openai_url());
    assert_eq!(second.requests()[0].body["model"], json!("model-b"));
    let (failed, answered) = result.attempts.split_at(result.attempts.len() - 1);
    assert_eq!(
        failed.len(),
        2,
        "one try and one retry on the refused backend"
    );
    for record in failed {
        assert_eq!(record.backend, "local");
        assert_eq!(record.outcome, CallOutcome::Error);
        assert_eq!(record.error_class, Some(ErrorClass::Retryable));
        let error = record.error.as_deref().expect("an error text");
        assert!(error.contains(&refused), "{error} should name {refused}");
    }
    assert_eq!(answered[0].backend, "second");
    assert_eq!(answered[0].outcome, CallOutcome::Ok);
    assert!(
        sink.notices
            .iter()
            .any(|n| n.starts_with("falling back to second:model-b")),
        "{:?}",
        sink.notices
    );
}

#[tokio::test]
async fn a_hang_before_the_first_token_hits_the_first_token_timeout_and_falls_back() {
    let hung = start(Script::always(Reply::HangBeforeFirstToken)).await;
    let second = start(Script::always(Reply::text("from model b"))).await;
    let mut settings = settings(&[hung.openai_url()]);
    local(&mut settings).first_token_timeout = Duration::from_millis(300);
    local(&mut settings).retries = 0;
    with_fallback(&mut settings, second.openai_url());

    let (outcome, _sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.target.label(), "second:model-b");
    assert_eq!(result.reply, "from model b");
    assert_eq!(chat_requests(&hung), 1);
    let record = &result.attempts[0];
    assert_eq!(record.backend, "local");
    assert_eq!(record.error_class, Some(ErrorClass::Retryable));
    let error = record.error.as_deref().expect("an error text");
    assert!(error.contains("first token"), "{error}");
}

#[tokio::test]
async fn a_stream_cut_midway_is_discarded_exactly_before_the_retry_is_shown() {
    let server = start(
        Script::new()
            .then(Reply::cut_midway(["partial ", "text"]))
            .default(Reply::text("the full reply")),
    )
    .await;
    let settings = settings(&[server.openai_url()]);

    let (outcome, sink) = dispatch(settings).await;
    let result = outcome.expect("the retry answers");

    assert_eq!(sink.discarded, vec!["partial text".to_string()]);
    assert_eq!(sink.shown, "the full reply");
    assert_eq!(result.reply, "the full reply");
    assert!(!result.reply.contains("partial"), "{}", result.reply);
    let discard_at = sink
        .events
        .iter()
        .position(|event| *event == SinkEvent::Discard)
        .expect("a discard");
    let before: String = sink.events[..discard_at]
        .iter()
        .filter_map(|event| match event {
            SinkEvent::Delta(text) => Some(text.as_str()),
            SinkEvent::Discard | SinkEvent::Notice(_) => None,
        })
        .collect();
    assert_eq!(
        before, "partial text",
        "the discard comes right after the partial"
    );
    assert_eq!(chat_requests(&server), 2);
    let error = result.attempts[0].error.as_deref().expect("an error text");
    assert!(error.contains("broke after 12 characters"), "{error}");
    assert_eq!(result.attempts[0].error_class, Some(ErrorClass::Retryable));
}

#[tokio::test]
async fn malformed_sse_is_final_for_that_backend_and_falls_back() {
    let malformed = start(Script::always(Reply::MalformedSse)).await;
    let second = start(Script::always(Reply::text("from model b"))).await;
    let mut settings = settings(&[malformed.openai_url()]);
    local(&mut settings).retries = 2;
    with_fallback(&mut settings, second.openai_url());

    let (outcome, _sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(
        chat_requests(&malformed),
        1,
        "no retry on a malformed stream"
    );
    assert_eq!(result.target.label(), "second:model-b");
    assert_eq!(result.attempts.len(), 2);
    let record = &result.attempts[0];
    assert_eq!(record.error_class, Some(ErrorClass::Final));
    let error = record.error.as_deref().expect("an error text");
    assert!(error.starts_with("malformed reply from"), "{error}");
}

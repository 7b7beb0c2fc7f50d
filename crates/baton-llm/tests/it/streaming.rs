//! The normal path: a streamed reply reaches the sink piece by piece, with the usage the
//! server reported (or an estimate, marked so), in both wire dialects.

use std::sync::Arc;

use baton_config::{BackendKind, BackendSettings, ProfileSettings};
use baton_core::{CallOutcome, Locality, Usage, estimate_tokens};
use baton_llm::Dispatcher;
use baton_test_support::{Reply, Script, UsageSpec};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::{TASK, chat_requests, dispatch, plan_for, run, settings, start};

#[tokio::test]
async fn a_streamed_reply_arrives_in_pieces_with_the_servers_usage() {
    let server = start(Script::always(Reply::OpenAiStream {
        chunks: vec!["fn fizz".into(), "buzz() ".into(), "{}".into()],
        usage: Some(UsageSpec::new(77, 5)),
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    }))
    .await;

    let (outcome, sink) = dispatch(settings(&[server.openai_url()])).await;
    let result = outcome.expect("a reply");

    assert_eq!(sink.deltas(), vec!["fn fizz", "buzz() ", "{}"]);
    assert_eq!(result.reply, "fn fizzbuzz() {}");
    let reported = Usage {
        prompt_tokens: 77,
        completion_tokens: 5,
        cached_tokens: 0,
        estimated: false,
    };
    assert_eq!(result.usage, reported);
    assert_eq!(result.reported_prompt_tokens, Some(77));
    assert!(
        result.ttft.is_some(),
        "a stream measures time to first token"
    );
    assert_eq!(result.attempts.len(), 1);
    assert_eq!(result.attempts[0].outcome, CallOutcome::Ok);
    assert_eq!(result.attempts[0].usage, reported);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"]["include_usage"], json!(true));
    assert_eq!(body["model"], json!("qwen3-coder"));
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": TASK})
    );
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_and_marked_estimated() {
    let server = start(Script::always(Reply::OpenAiStream {
        chunks: vec!["println!(\"fizz\");".into(), " // done".into()],
        usage: None,
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    }))
    .await;

    let (outcome, _sink) = dispatch(settings(&[server.openai_url()])).await;
    let result = outcome.expect("a reply");

    assert!(result.usage.estimated, "{:?}", result.usage);
    assert_eq!(
        result.usage.completion_tokens,
        estimate_tokens(&result.reply)
    );
    assert!(
        result.usage.prompt_tokens > 0,
        "the prompt is estimated too"
    );
    assert_eq!(result.reported_prompt_tokens, None);
    assert!(result.attempts[0].usage.estimated, "the ledger says so too");
}

#[tokio::test]
async fn the_anthropic_dialect_streams_text_and_usage_with_its_headers_and_system() {
    let server = start(Script::always(Reply::AnthropicStream {
        chunks: vec!["Autumn ".into(), "moonlight".into()],
        input_tokens: 42,
        output_tokens: 7,
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    }))
    .await;
    let mut settings = settings(&[server.openai_url()]);
    settings.backends.insert(
        "claude".into(),
        BackendSettings {
            kind: BackendKind::Anthropic,
            urls: vec![server.openai_url()],
            locality: Locality::Local,
            api_key_env: None,
            ..BackendSettings::default()
        },
    );
    settings.profiles.insert(
        "poet".into(),
        ProfileSettings {
            backend: "claude".into(),
            model: "claude-test".into(),
            system_prompt: Some("You answer in haiku.".into()),
            max_tokens: 64,
            ..ProfileSettings::default()
        },
    );
    let plan = plan_for(&settings, "poet");
    let dispatcher = Dispatcher::new(Arc::new(settings));

    let (outcome, sink) = run(&dispatcher, &plan).await;
    let result = outcome.expect("a reply");

    assert_eq!(sink.deltas(), vec!["Autumn ", "moonlight"]);
    assert_eq!(result.reply, "Autumn moonlight");
    assert_eq!(
        result.usage,
        Usage {
            prompt_tokens: 42,
            completion_tokens: 7,
            cached_tokens: 0,
            estimated: false,
        }
    );
    assert_eq!(chat_requests(&server), 1);
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.body["system"], json!("You answer in haiku."));
    assert_eq!(
        request.body["messages"],
        json!([{"role": "user", "content": TASK}]),
        "the system prompt is not among the messages"
    );
    assert_eq!(request.body["model"], json!("claude-test"));
    assert_eq!(request.body["max_tokens"], json!(64));
    assert_eq!(request.body["stream"], json!(true));
}

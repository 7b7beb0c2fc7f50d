//! Replies that loop on themselves: the scripted server streams a loop, one chunk per token,
//! until the client goes away; the dispatch cuts it by its token count, takes it back from the
//! sink, records it as failed and retries once with anti-repetition sampling, then falls back.
//! Legitimately repetitive code streams through uncut.

use std::sync::Arc;

use baton_config::settings::SamplingParams;
use baton_config::{BackendKind, BackendSettings, ProfileSettings};
use baton_core::{CallOutcome, ErrorClass, Locality, REPETITION_ERROR_PREFIX};
use baton_llm::Dispatcher;
use baton_test_support::{LoopEnd, LoopReport, Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::{
    PROMPTLY, chat_requests, dispatch, local, plan_for, run, settings, start, with_fallback,
};

/// The loop the quickstart's task fell into on the rig's 0.5B model, verbatim.
const LOOPED_LINES: &str = "    assert add(100, -100) == 50\n    assert add(-100, -100) == 0\n";
/// What the model wrote before it started looping.
const BEFORE_THE_LOOP: &str =
    "```python\nimport pytest\n\ndef test_add():\n    assert add(1, 2) == 3\n";
/// Pace of the scripted model: slow enough that a loop it is left to finish would take
/// seconds (4096 tokens: 8 s), so that a cut shows as the client leaving early.
const TOKEN_MS: u64 = 2;
/// The reply of the retry.
const GOOD_REPLY: &str = "def test_add():\n    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n";

/// Text cut in pieces of four bytes, about a token each, as a server streams it.
fn tokens(text: &str) -> Vec<String> {
    text.as_bytes()
        .chunks(4)
        .map(|piece| String::from_utf8_lossy(piece).into_owned())
        .collect()
}

fn looping() -> Reply {
    Reply::looping(tokens(BEFORE_THE_LOOP), tokens(LOOPED_LINES), TOKEN_MS)
}

/// The loop reports of `count` streams, waiting at most [`PROMPTLY`] for them.
async fn loop_reports(server: &ScriptedServer, count: usize) -> Vec<LoopReport> {
    tokio::time::timeout(PROMPTLY, server.wait_for_loop_reports(count))
        .await
        .expect("the loop streams ended")
}

#[tokio::test]
async fn a_loop_is_cut_by_its_token_count_taken_back_and_retried_once_with_dry() {
    let server = start(
        Script::new()
            .then(looping())
            .default(Reply::stream(tokens(GOOD_REPLY))),
    )
    .await;

    let (outcome, sink) = dispatch(settings(&[server.openai_url()])).await;
    let result = outcome.expect("the retry answers");

    assert_eq!(result.reply, GOOD_REPLY, "the reply is the retry's");
    assert_eq!(sink.shown, GOOD_REPLY, "the loop never stays shown");
    assert_eq!(sink.discarded.len(), 1, "{:?}", sink.notices);
    assert!(
        sink.discarded[0].starts_with(BEFORE_THE_LOOP) && sink.discarded[0].contains(LOOPED_LINES),
        "the loop was shown, then taken back: {:?}",
        sink.discarded[0]
    );

    // Cut by its token count, far from max_tokens: the server saw the client leave.
    let report = loop_reports(&server, 1).await[0];
    assert_eq!(report.ended, LoopEnd::ClientLeft, "{report:?}");
    assert_eq!(report.max_tokens, 4096);
    assert!(report.chunks_sent < 1000, "{report:?}");
    let shown_tokens = sink.discarded[0].len().div_ceil(4);
    assert!(
        (200..400).contains(&shown_tokens),
        "cut after ~{shown_tokens} tokens"
    );

    // The ledger: the failed attempt with its error, then the retry.
    let attempts = &result.attempts;
    assert_eq!(
        attempts.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        vec![CallOutcome::Error, CallOutcome::Ok]
    );
    let cut = &attempts[0];
    assert!(cut.cut_for_repetition());
    assert_eq!(cut.error_class, Some(ErrorClass::Final));
    let error = cut.error.as_deref().expect("an error text");
    assert!(
        error.starts_with(REPETITION_ERROR_PREFIX)
            && error.contains("assert add(100, -100) == 50")
            && error.contains("times in a row")
            && error.contains(&format!("cut after ~{shown_tokens} tokens"))
            && error.contains(&server.openai_url()),
        "{error}"
    );
    assert_eq!(
        cut.usage.completion_tokens, shown_tokens as u64,
        "what was generated before the cut is counted"
    );
    assert!(cut.usage.estimated);
    assert!(!attempts[1].cut_for_repetition());

    // The retry carries the anti-repetition sampling over the profile's own.
    let bodies: Vec<serde_json::Value> = server
        .requests()
        .into_iter()
        .filter(|request| request.is_chat())
        .map(|request| request.body)
        .collect();
    assert_eq!(bodies.len(), 2);
    let fields = |body: &serde_json::Value| {
        [
            "top_k",
            "min_p",
            "repeat_penalty",
            "frequency_penalty",
            "dry_multiplier",
            "dry_base",
            "dry_allowed_length",
            "dry_penalty_last_n",
        ]
        .map(|name| body[name].clone())
    };
    assert_eq!(
        fields(&bodies[0]),
        [
            json!(40),
            json!(0.05),
            json!(1.05),
            json!(0.0),
            json!(0.0),
            json!(1.75),
            json!(2),
            json!(1024)
        ],
        "the first attempt sends the profile's sampling"
    );
    assert_eq!(
        fields(&bodies[1]),
        [
            json!(40),
            json!(0.05),
            json!(1.1),
            json!(0.3),
            json!(0.8),
            json!(1.75),
            json!(2),
            json!(1024)
        ],
        "the retry turns DRY on and the penalties up"
    );
    assert!(
        sink.notices
            .iter()
            .any(|n| n.contains("looped on itself") && n.contains("cut and discarded")),
        "{:?}",
        sink.notices
    );
    assert!(
        sink.notices.iter().any(|n| n
            .starts_with("retrying local:qwen3-coder once with anti-repetition sampling (")
            && n.contains("dry_multiplier=0.8")),
        "{:?}",
        sink.notices
    );
}

#[tokio::test]
async fn a_retry_that_loops_again_is_cut_again_and_the_chain_falls_back() {
    let server = start(Script::always(looping())).await;
    let second = start(Script::always(Reply::stream(tokens(GOOD_REPLY)))).await;
    let mut settings = settings(&[server.openai_url()]);
    with_fallback(&mut settings, second.openai_url());

    let (outcome, sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.reply, GOOD_REPLY);
    assert_eq!(result.target.backend_name, "second");
    assert_eq!(chat_requests(&server), 2, "one retry on the looping step");
    let attempts = &result.attempts;
    assert_eq!(
        attempts
            .iter()
            .map(|r| (r.backend.as_str(), r.cut_for_repetition()))
            .collect::<Vec<_>>(),
        vec![("local", true), ("local", true), ("second", false)]
    );
    assert_eq!(sink.discarded.len(), 2);
    assert_eq!(sink.shown, GOOD_REPLY);
    let reports = loop_reports(&server, 2).await;
    assert!(
        reports.iter().all(|r| r.ended == LoopEnd::ClientLeft),
        "{reports:?}"
    );
    assert!(
        sink.notices
            .iter()
            .any(|n| n.starts_with("falling back to second:model-b")
                && n.contains(REPETITION_ERROR_PREFIX)),
        "{:?}",
        sink.notices
    );
}

#[tokio::test]
async fn a_backend_that_takes_no_sampling_is_cut_but_not_retried_and_sends_nothing_new() {
    let server = start(Script::always(looping())).await;
    let second = start(Script::always(Reply::stream(tokens(GOOD_REPLY)))).await;
    let mut settings = settings(&[server.openai_url()]);
    local(&mut settings).sampling_params = SamplingParams::None;
    with_fallback(&mut settings, second.openai_url());

    let (outcome, _sink) = dispatch(settings).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.target.backend_name, "second");
    assert_eq!(
        chat_requests(&server),
        1,
        "the same request would loop again"
    );
    assert!(result.attempts[0].cut_for_repetition());
    let body = &server.requests()[0].body;
    let mut keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "max_tokens",
            "messages",
            "model",
            "stream",
            "stream_options",
            "temperature"
        ]
    );
}

#[tokio::test]
async fn an_anthropic_loop_is_cut_and_falls_back_without_a_sampling_retry() {
    let server = start(Script::always(looping())).await;
    let second = start(Script::always(Reply::stream(tokens(GOOD_REPLY)))).await;
    let mut settings = settings(&[second.openai_url()]);
    settings.backends.insert(
        "claude".into(),
        BackendSettings {
            kind: BackendKind::Anthropic,
            urls: vec![server.openai_url()],
            locality: Locality::Local,
            // Even when told otherwise: Messages has no repetition penalties.
            sampling_params: SamplingParams::LlamaCpp,
            ..BackendSettings::default()
        },
    );
    settings.profiles.insert(
        "poet".into(),
        ProfileSettings {
            backend: "claude".into(),
            model: "claude-test".into(),
            fallback: vec!["code".into()],
            ..ProfileSettings::default()
        },
    );
    let plan = plan_for(&settings, "poet");
    let dispatcher = Dispatcher::new(Arc::new(settings));

    let (outcome, sink) = run(&dispatcher, &plan).await;
    let result = outcome.expect("the fallback answers");

    assert_eq!(result.reply, GOOD_REPLY);
    assert_eq!(chat_requests(&server), 1);
    assert_eq!(server.requests()[0].path, "/v1/messages");
    assert!(result.attempts[0].cut_for_repetition());
    assert_eq!(sink.discarded.len(), 1);
    assert_eq!(loop_reports(&server, 1).await[0].ended, LoopEnd::ClientLeft);
}

#[tokio::test]
async fn legitimately_repetitive_code_streams_through_uncut() {
    let mut code = String::from("import pytest\n\n@pytest.mark.parametrize(\"a, b, total\", [\n");
    for i in 0..120 {
        code.push_str(&format!("    ({i}, {}, {}),\n", i * 2, i * 3));
    }
    code.push_str("])\ndef test_add(a, b, total):\n    assert add(a, b) == total\n\n\n\n\n");
    code.push_str("GRID = [\n");
    for _ in 0..12 {
        code.push_str("    [0, 0, 0, 0, 0, 0, 0, 0],\n");
    }
    code.push_str("]\n\nfn nested() {\n");
    for depth in 1..12 {
        code.push_str(&format!("{}if x {{\n", "    ".repeat(depth)));
    }
    for depth in (0..12).rev() {
        code.push_str(&format!("{}}}\n", "    ".repeat(depth)));
    }
    for _ in 0..30 {
        code.push_str("}\n");
    }
    assert!(code.len() > 3000, "long enough to matter: {}", code.len());
    let server = start(Script::always(Reply::stream(tokens(&code)))).await;

    let (outcome, sink) = dispatch(settings(&[server.openai_url()])).await;
    let result = outcome.expect("a reply");

    assert_eq!(result.reply, code);
    assert_eq!(result.attempts.len(), 1);
    assert!(sink.discarded.is_empty());
}

#[tokio::test]
async fn with_the_cut_turned_off_a_loop_runs_to_max_tokens() {
    let server = start(Script::always(Reply::looping(
        tokens(BEFORE_THE_LOOP),
        tokens(LOOPED_LINES),
        0,
    )))
    .await;
    let mut settings = settings(&[server.openai_url()]);
    let code = settings.profiles.get_mut("code").expect("a code profile");
    code.repetition.cut = false;
    code.max_tokens = 300;

    let (outcome, _sink) = dispatch(settings).await;
    let result = outcome.expect("the loop, whole");

    assert_eq!(result.attempts.len(), 1);
    assert_eq!(result.usage.completion_tokens, 300);
    assert!(result.reply.matches(LOOPED_LINES).count() > 10);
    assert_eq!(
        loop_reports(&server, 1).await,
        vec![LoopReport {
            chunks_sent: 300,
            max_tokens: 300,
            ended: LoopEnd::Finished,
        }]
    );
}

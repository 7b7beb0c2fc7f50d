//! The repetition cut against the real llama-server of the LLM rig (qwen2.5-coder-0.5b on
//! the CPU): a task that makes the model loop at temperature 0 is cut well before
//! `max_tokens`, the server stops generating it, and the retry with DRY does not loop (or is
//! cut again and says so). Tests whose names contain `llama` run one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_core::{CallOutcome, ErrorClass};
use baton_llm::repetition::RepetitionGuard;
use baton_llm::{DispatchInput, Dispatcher};
use baton_test_support::rig::LlamaServer;

use crate::support::{RecordingSink, SinkEvent, plan, settings};

/// At temperature 0 the model lists stop words for a while, then writes one of them over and
/// over until `max_tokens` (found on the rig's model with Baton's default system prompt and
/// sampling; which word depends on the server's context and slot settings).
const LOOPING_TASK: &str = "Write a Python list of 30 English stop words.";
const MAX_TOKENS: u32 = 1024;
/// Bound on the whole dispatch on a loaded 2-core machine (the loop to its cut, then a
/// retry of at most `MAX_TOKENS`); only a regression reaches it.
const DISPATCH_BOUND: Duration = Duration::from_secs(280);
/// How long the server may take to notice the client left and free the slot.
const SLOT_FREED_BOUND: Duration = Duration::from_secs(10);

/// Whether any slot of the server is generating (`GET /slots`).
async fn busy_slots(http: &reqwest::Client, server: &LlamaServer) -> usize {
    let slots: serde_json::Value = http
        .get(format!("{}/slots", server.base_url()))
        .send()
        .await
        .expect("GET /slots")
        .json()
        .await
        .expect("slots as JSON");
    slots
        .as_array()
        .expect("a list of slots")
        .iter()
        .filter(|slot| slot["is_processing"] == true)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_a_reply_looping_at_temperature_0_is_cut_well_before_max_tokens() {
    let server = tokio::task::spawn_blocking(LlamaServer::start)
        .await
        .expect("the start task")
        .expect("the rig's llama-server");
    let mut settings = settings(&[server.openai_url()]);
    let code = settings.profiles.get_mut("code").expect("a code profile");
    code.model = server.model_alias().to_owned();
    code.temperature = 0.0;
    code.max_tokens = MAX_TOKENS;
    let plan = plan(&settings);
    let dispatcher = Dispatcher::new(Arc::new(settings));
    let input = DispatchInput {
        request_id: "req-llama-loop".into(),
        user: LOOPING_TASK.into(),
        system_override: None,
        answer_format: None,
        answer_schema: None,
    };

    let mut sink = RecordingSink::default();
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        DISPATCH_BOUND,
        dispatcher.dispatch(&plan, &input, &mut sink),
    )
    .await
    .expect("the dispatch came back");
    eprintln!(
        "dispatch took {:.1} s; notices: {:#?}",
        started.elapsed().as_secs_f64(),
        sink.notices
    );

    let attempts = match &outcome {
        Ok(result) => &result.attempts,
        Err(failure) => &failure.attempts,
    };
    let cut = &attempts[0];
    assert!(cut.cut_for_repetition(), "{attempts:#?}");
    assert_eq!(cut.outcome, CallOutcome::Error);
    assert_eq!(cut.error_class, Some(ErrorClass::Final));
    let error = cut.error.as_deref().unwrap_or_default();
    // llama-server streams one token per chunk: the chunks shown before the cut count them.
    let tokens_before_cut = sink
        .events
        .iter()
        .take_while(|event| **event != SinkEvent::Discard)
        .filter(|event| matches!(event, SinkEvent::Delta(_)))
        .count();
    assert!(
        tokens_before_cut < (MAX_TOKENS as usize) * 6 / 10,
        "cut after {tokens_before_cut} of {MAX_TOKENS} tokens: {error}"
    );
    eprintln!(
        "cut after {tokens_before_cut} tokens; the retry: {:?}",
        attempts
            .get(1)
            .map(|r| (r.outcome, r.usage.completion_tokens, r.latency_ms))
    );
    assert!(
        RepetitionGuard::scan(&sink.discarded[0]).is_some(),
        "the text taken back is the loop: {}",
        sink.discarded[0]
    );

    match &outcome {
        Ok(result) => {
            assert_eq!(attempts.len(), 2, "{attempts:#?}");
            assert_eq!(
                RepetitionGuard::scan(&result.reply),
                None,
                "the retry's reply does not loop: {}",
                result.reply
            );
            assert_eq!(sink.shown, result.reply);
        }
        Err(failure) => {
            assert!(
                attempts.len() == 2 && attempts[1].cut_for_repetition(),
                "a failed dispatch here means the retry looped too, and says so: {} {attempts:#?}",
                failure.error
            );
        }
    }

    // Once the dispatch is back, nothing is left generating: without the cut closing the
    // connection the first attempt would still be running on its slot towards max_tokens.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + SLOT_FREED_BOUND;
    loop {
        let busy = busy_slots(&http, &server).await;
        if busy == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{busy} slots still generating after the dispatch came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

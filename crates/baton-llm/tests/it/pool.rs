//! The endpoint pool of one backend: requests spread over its URLs within `slots` each, and
//! an endpoint that keeps failing leaves the rotation until a health probe passes.

use std::sync::Arc;
use std::time::Duration;

use baton_config::BackendSettings;
use baton_llm::Dispatcher;
use baton_llm::client::http_client;
use baton_llm::probe::is_healthy;
use baton_test_support::{Reply, Script};
use futures::future::join_all;
use pretty_assertions::assert_eq;
use tokio::time::Instant;

use crate::support::{PROMPTLY, chat_requests, local, plan, refused_url, run, settings, start};

/// How often the re-admission test looks again. A poll interval, not a synchronisation
/// sleep: the loop ends on the observed outcome.
const POLL: Duration = Duration::from_millis(25);

#[tokio::test]
async fn concurrent_dispatches_spread_over_the_pool_within_its_slots() {
    let reply = || Reply::delayed(100, Reply::text("pooled"));
    let a = start(Script::always(reply())).await;
    let b = start(Script::always(reply())).await;
    let mut settings = settings(&[a.openai_url(), b.openai_url()]);
    local(&mut settings).slots = 2;
    let plan = plan(&settings);
    let dispatcher = Arc::new(Dispatcher::new(Arc::new(settings)));

    let runs = (0..8).map(|_| {
        let dispatcher = Arc::clone(&dispatcher);
        let plan = plan.clone();
        async move { run(&dispatcher, &plan).await }
    });
    let outcomes = join_all(runs).await;

    for (outcome, _sink) in outcomes {
        assert_eq!(outcome.expect("a reply").reply, "pooled");
    }
    assert!(
        a.max_in_flight() <= 2,
        "a served {} at once",
        a.max_in_flight()
    );
    assert!(
        b.max_in_flight() <= 2,
        "b served {} at once",
        b.max_in_flight()
    );
    assert!(chat_requests(&a) > 0, "a was never used");
    assert!(chat_requests(&b) > 0, "b was never used");
    assert_eq!(chat_requests(&a) + chat_requests(&b), 8);
    let status = dispatcher.pool(&plan.chain[0]).expect("pool").status();
    assert_eq!(status.iter().map(|s| s.served).sum::<u64>(), 8);
    assert!(
        status.iter().all(|s| s.in_flight == 0 && !s.ejected),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_failing_endpoint_leaves_the_rotation_and_returns_once_healthy() {
    let a = start(
        Script::new()
            .then(Reply::error(500, "a is broken"))
            .then(Reply::error(500, "a is still broken"))
            .default(Reply::text("from a"))
            .health(false),
    )
    .await;
    let b = start(Script::always(Reply::text("from b"))).await;
    let mut settings = settings(&[a.openai_url(), b.openai_url()]);
    let backend = local(&mut settings);
    backend.failures_before_eject = 2;
    backend.retries = 1;
    let plan = plan(&settings);
    let dispatcher = Dispatcher::new(Arc::new(settings));
    let pool = dispatcher.pool(&plan.chain[0]).expect("pool");

    // Each dispatch tries `a` first (least served), fails there, and retries on `b`.
    for _ in 0..2 {
        let (outcome, _sink) = run(&dispatcher, &plan).await;
        assert_eq!(outcome.expect("b answers").reply, "from b");
    }
    assert_eq!(chat_requests(&a), 2);
    assert!(pool.status()[0].ejected, "{:?}", pool.status());
    assert!(!pool.status()[1].ejected, "{:?}", pool.status());

    // Out of rotation: later requests go to the healthy endpoint only.
    for _ in 0..3 {
        let (outcome, _sink) = run(&dispatcher, &plan).await;
        let result = outcome.expect("b answers");
        assert_eq!(result.endpoint, b.openai_url());
        assert_eq!(
            result.attempts.len(),
            1,
            "no attempt on the ejected endpoint"
        );
    }
    assert_eq!(chat_requests(&a), 2);

    // Healthy again: a probe passes and `a` serves again.
    a.set_health(true);
    let deadline = Instant::now() + PROMPTLY;
    let back = loop {
        let (outcome, _sink) = run(&dispatcher, &plan).await;
        let result = outcome.expect("a reply");
        if result.endpoint == a.openai_url() {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "the endpoint never came back: {:?}",
            pool.status()
        );
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(back.reply, "from a");
    assert!(!pool.status()[0].ejected, "{:?}", pool.status());
    assert_eq!(chat_requests(&a), 3);
    assert!(
        a.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/health"),
        "re-admitted without a health probe"
    );
}

#[tokio::test]
async fn the_health_probe_believes_a_503_from_health_even_when_models_answers() {
    let server = start(Script::new().health(false)).await;
    let http = http_client(&BackendSettings::default()).expect("client");

    assert!(
        !is_healthy(&http, &server.openai_url()).await,
        "a server loading its model (/health 503) is not healthy"
    );
    server.set_health(true);
    assert!(is_healthy(&http, &server.openai_url()).await);
    assert!(!is_healthy(&http, &refused_url()).await);
}

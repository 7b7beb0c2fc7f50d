//! Preflight probes: what a server is and the context it really serves, or why it cannot be
//! reached.

use baton_config::{BackendKind, BackendSettings};
use baton_llm::client::http_client;
use baton_llm::probe::probe;
use baton_test_support::Script;
use pretty_assertions::assert_eq;

use crate::support::{refused_url, start};

#[tokio::test]
async fn a_llama_server_reports_its_kind_and_served_context() {
    let server = start(Script::new().n_ctx(4096).models(["qwen3-coder"])).await;
    let http = http_client(&BackendSettings::default()).expect("client");

    let report = probe(&http, BackendKind::Openai, &server.openai_url(), None, None).await;

    assert!(report.ok, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.server_kind.as_deref(), Some("llama-server"));
    assert_eq!(report.n_ctx, Some(4096));
    assert_eq!(report.models, vec!["qwen3-coder".to_string()]);
    assert_eq!(report.url, server.openai_url());
}

#[tokio::test]
async fn a_refused_port_reports_not_ok_with_an_error_naming_the_url() {
    let url = refused_url();
    let http = http_client(&BackendSettings::default()).expect("client");

    let report = probe(&http, BackendKind::Openai, &url, None, None).await;

    assert!(!report.ok, "{report:?}");
    let error = report.error.as_deref().expect("an error");
    assert!(error.contains(&url), "{error} should name {url}");
    assert_eq!(report.server_kind, None);
    assert_eq!(report.n_ctx, None);
}

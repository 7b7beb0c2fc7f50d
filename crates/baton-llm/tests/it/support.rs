//! Helpers shared by the tests: settings pointed at scripted servers (loaded through
//! `baton_config::load`, then tuned for fast tests), a sink that records what a dispatch
//! showed and took back, and a dispatch bounded in time so a regression fails instead of
//! hanging.

use std::sync::Arc;
use std::time::Duration;

use baton_config::{BackendKind, BackendSettings, LoadOptions, Settings};
use baton_core::{Locality, Route};
use baton_llm::router::{self, RoutePlan};
use baton_llm::{DispatchFailure, DispatchInput, DispatchResult, Dispatcher, ReplySink};
use baton_test_support::{Script, ScriptedServer};

/// A bound on anything that should finish promptly. Not a synchronisation sleep: only a
/// regression (a hang, a wait that should not happen) ever reaches it.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(10);

/// Backoff between retries in these tests: short, so retries do not slow the suite.
pub(crate) const TEST_BACKOFF: Duration = Duration::from_millis(5);

/// The task every test dispatches unless it needs another.
pub(crate) const TASK: &str = "Implement fizzbuzz in Rust";

/// Starts a scripted server.
pub(crate) async fn start(script: Script) -> ScriptedServer {
    ScriptedServer::start(script)
        .await
        .expect("scripted server")
}

/// Settings from the built-in defaults (no user or project file: `cwd` is an empty temp
/// dir and the environment snapshot is empty) with the `local` backend on `urls`, the `code`
/// profile without fallback, and a short backoff.
pub(crate) fn settings(urls: &[String]) -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    let quoted: Vec<String> = urls.iter().map(|url| format!("\"{url}\"")).collect();
    let loaded = baton_config::load(&LoadOptions {
        cwd: dir.path().to_path_buf(),
        overrides: vec![
            format!("backends.local.urls=[{}]", quoted.join(", ")),
            "profiles.code.fallback=[]".into(),
        ],
        ..Default::default()
    })
    .expect("settings load");
    let mut settings = loaded.settings;
    assert_eq!(settings.backends["local"].urls, urls, "the override took");
    local(&mut settings).backoff = TEST_BACKOFF;
    settings
}

/// The `local` backend of `settings`, to tune it.
pub(crate) fn local(settings: &mut Settings) -> &mut BackendSettings {
    settings
        .backends
        .get_mut("local")
        .expect("the defaults have a local backend")
}

/// Adds a second local OpenAI backend `second` on `url` and makes `second:model-b` the
/// fallback of the `code` profile.
pub(crate) fn with_fallback(settings: &mut Settings, url: String) {
    settings.backends.insert(
        "second".into(),
        BackendSettings {
            kind: BackendKind::Openai,
            urls: vec![url],
            locality: Locality::Local,
            backoff: TEST_BACKOFF,
            ..BackendSettings::default()
        },
    );
    settings
        .profiles
        .get_mut("code")
        .expect("the defaults have a code profile")
        .fallback = vec!["second:model-b".into()];
}

/// The plan of the `code` profile pinned local.
pub(crate) fn plan(settings: &Settings) -> RoutePlan {
    plan_for(settings, "code")
}

/// The plan of `profile` pinned local.
pub(crate) fn plan_for(settings: &Settings, profile: &str) -> RoutePlan {
    router::plan(settings, profile, Route::Local, None).expect("a plan")
}

/// The input every test sends.
pub(crate) fn input(task: &str) -> DispatchInput {
    DispatchInput {
        request_id: "req-integration".into(),
        user: task.into(),
        system_override: None,
        answer_format: None,
        answer_schema: None,
    }
}

/// Dispatches `TASK` along the `code` profile's local plan with a fresh dispatcher.
pub(crate) async fn dispatch(
    settings: Settings,
) -> (Result<DispatchResult, DispatchFailure>, RecordingSink) {
    let plan = plan(&settings);
    let dispatcher = Dispatcher::new(Arc::new(settings));
    run(&dispatcher, &plan).await
}

/// Dispatches `TASK` along `plan` with `dispatcher`, at most [`PROMPTLY`].
pub(crate) async fn run(
    dispatcher: &Dispatcher,
    plan: &RoutePlan,
) -> (Result<DispatchResult, DispatchFailure>, RecordingSink) {
    let mut sink = RecordingSink::default();
    let outcome =
        tokio::time::timeout(PROMPTLY, dispatcher.dispatch(plan, &input(TASK), &mut sink))
            .await
            .expect("the dispatch finished promptly");
    (outcome, sink)
}

/// A URL on which nothing listens: a port that was bound, then released.
pub(crate) fn refused_url() -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

/// How many chat requests a server received.
pub(crate) fn chat_requests(server: &ScriptedServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|request| request.is_chat())
        .count()
}

/// What a sink was told, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkEvent {
    Delta(String),
    Discard,
    Notice(String),
}

/// A sink that keeps everything, and what a terminal would show after discards.
#[derive(Debug, Default)]
pub(crate) struct RecordingSink {
    pub(crate) events: Vec<SinkEvent>,
    /// The text of the attempt being shown (what is left after the last discard).
    pub(crate) shown: String,
    /// Each text taken back, whole.
    pub(crate) discarded: Vec<String>,
    pub(crate) notices: Vec<String>,
}

impl RecordingSink {
    /// Every delta, in order.
    pub(crate) fn deltas(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|event| match event {
                SinkEvent::Delta(text) => Some(text.as_str()),
                SinkEvent::Discard | SinkEvent::Notice(_) => None,
            })
            .collect()
    }
}

impl ReplySink for RecordingSink {
    fn delta(&mut self, text: &str) -> std::io::Result<()> {
        self.events.push(SinkEvent::Delta(text.into()));
        self.shown.push_str(text);
        Ok(())
    }

    fn discard(&mut self) -> std::io::Result<()> {
        self.events.push(SinkEvent::Discard);
        self.discarded.push(std::mem::take(&mut self.shown));
        Ok(())
    }

    fn notice(&mut self, text: &str) {
        self.events.push(SinkEvent::Notice(text.into()));
        self.notices.push(text.into());
    }
}

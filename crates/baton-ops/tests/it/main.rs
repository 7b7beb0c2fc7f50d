//! `baton-ops` called in-process, as the pipeline, MCP and the web API call it: from async
//! tasks on a multi-thread runtime, in parallel, over one shared [`Project`] with a real store,
//! a scripted model server and real worker processes under the injected supervisor example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on setup errors"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_config::EnvSnapshot;
use baton_ops::apply::{ApplyRequest, ApplyTarget};
use baton_ops::dispatch::{DispatchRequest, DispatchResponse};
use baton_ops::memory::{MemoryValue, StoreRequest};
use baton_ops::notice::Silent;
use baton_ops::workers::{SpawnRequest, WaitRequest};
use baton_ops::{ErrorKind, NullSink, Project, ProjectOptions, Supervisor};
use baton_store::MemoryQuery;
use baton_test_support::{Reply, Script, ScriptedServer};

/// `target/debug/examples/supervisor`, next to this test's `deps/` directory.
fn supervisor_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join("supervisor");
    assert!(
        binary.exists(),
        "{} is missing; `cargo test -p baton-ops` builds it",
        binary.display()
    );
    binary
}

/// A project in a fresh temp dir, configured by `env` and `baton_toml`.
fn project(dir: &Path, env: &[(&str, &str)], baton_toml: &str) -> Arc<Project> {
    std::fs::write(dir.join("baton.toml"), baton_toml).unwrap();
    Arc::new(Project::new(ProjectOptions {
        cwd: dir.to_path_buf(),
        env: EnvSnapshot::from_pairs(env.iter().copied(), Some(dir.join("home")))
            .with("BATON_HOME", dir.join(".baton").display().to_string()),
        overrides: Vec::new(),
        supervisor: Some(Supervisor {
            program: supervisor_binary(),
            args: Vec::new(),
        }),
    }))
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_dispatches_from_tasks_share_one_project_and_every_call_is_recorded() {
    let server = ScriptedServer::start(Script::always(Reply::text("fn add() {}")))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/chat/completions", server.openai_url());
    let project = project(dir.path(), &[("CODER_API_URL", &url)], "");
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let project = Arc::clone(&project);
            // `tokio::spawn` needs the dispatch future to be `Send`.
            tokio::spawn(assert_send(async move {
                let request = DispatchRequest {
                    task: format!("write function {n}"),
                    route: Some(baton_core::Route::Local),
                    ..DispatchRequest::default()
                };
                baton_ops::dispatch::dispatch(&project, request, &mut NullSink, &Silent).await
            }))
        })
        .collect();
    let mut replies: Vec<DispatchResponse> = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap().unwrap());
    }
    assert!(replies.iter().all(|r| r.reply == "fn add() {}"));
    let ids: std::collections::BTreeSet<_> = replies.iter().map(|r| r.request_id.clone()).collect();
    assert_eq!(ids.len(), 6);
    let stats = baton_ops::stats::calls(&project, None).await.unwrap();
    assert_eq!(stats.overall.calls, 6);
    assert_eq!(stats.overall.ok, 6);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_memory_ranking_runs_inside_an_async_task() {
    // The embedder used to build a runtime of its own and block on it, which panics inside
    // one; now it is async all the way.
    let server = ScriptedServer::start(Script::new().embedding_dim(64))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[backends.embed]\nkind = \"openai\"\nurls = [\"{}\"]\nlocality = \"local\"\n\n[memory]\nembeddings = \"embed\"\nembedding_model = \"mini\"\n",
        server.openai_url()
    );
    let project = project(dir.path(), &[], &config);
    let stored = tokio::spawn(assert_send({
        let project = Arc::clone(&project);
        async move {
            baton_ops::memory::store(
                &project,
                StoreRequest {
                    namespace: "patterns".into(),
                    key: "pattern-retry".into(),
                    value: MemoryValue::Text("retry with exponential backoff on 429".into()),
                    tags: Vec::new(),
                    ttl: None,
                    upsert: false,
                },
            )
            .await
        }
    }))
    .await
    .unwrap()
    .unwrap();
    let embedding = stored.embedding.unwrap();
    assert_eq!((embedding.dim, embedding.error), (Some(64), None));
    let found = baton_ops::memory::search(&project, MemoryQuery::new("exponential backoff"))
        .await
        .unwrap();
    assert_eq!(found.reply.method, baton_ops::memory::HYBRID_METHOD);
    assert_eq!(found.reply.hits[0].key, "pattern-retry");
    assert!(found.reply.hits[0].vector_score.is_some());
    assert_eq!(found.vector.unwrap().compared, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_start_under_the_injected_supervisor_and_a_failed_chain_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path(), &[], "");
    let ok = baton_ops::workers::spawn(
        &project,
        SpawnRequest {
            command: vec!["sh".into(), "-c".into(), "echo done".into()],
            ..SpawnRequest::default()
        },
    )
    .await
    .unwrap();
    let bad = baton_ops::workers::spawn(
        &project,
        SpawnRequest {
            name: Some("breaks".into()),
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            ..SpawnRequest::default()
        },
    )
    .await
    .unwrap();
    let mut cycles = 0;
    let mut count = |_: &baton_ops::workers::Cycle| {
        cycles += 1;
        Ok(())
    };
    let waited = baton_ops::workers::wait(
        &project,
        WaitRequest {
            workers: vec![ok.id.clone(), bad.id.clone()],
            timeout: Some(Duration::from_secs(30)),
            ..WaitRequest::default()
        },
        &mut count,
    )
    .await
    .unwrap();
    assert_eq!(cycles, 0, "no cycles are reported without polling");
    assert!(!waited.succeeded);
    let error = waited.failure().unwrap();
    assert_eq!(error.kind(), ErrorKind::WorkersFailed);
    assert!(error.to_string().contains(&bad.id), "{error}");
    assert!(error.hint().contains(&format!("baton logs {}", bad.id)));
    let status = baton_ops::workers::status(&project, &ok.id).await.unwrap();
    assert_eq!(status.worker.status, baton_core::WorkerStatus::Succeeded);
    assert_eq!(status.worker.last_log_line.as_deref(), Some("done"));
}

#[tokio::test]
async fn a_reply_is_applied_and_recorded_and_a_bad_root_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path(), &[], "");
    std::fs::write(
        dir.path().join("calc.py"),
        "def add(a, b):\n    return a + b\n",
    )
    .unwrap();
    let reply = "calc.py\n<<<<<<< SEARCH\n    return a + b\n=======\n    return a + b  # sum\n>>>>>>> REPLACE\n";
    let applied = baton_ops::apply::apply(
        &project,
        ApplyRequest {
            reply: reply.into(),
            ..ApplyRequest::default()
        },
    )
    .await
    .unwrap();
    assert!(applied.written && applied.well_formed, "{applied:?}");
    assert!(applied.failure().is_none());
    assert!(applied.record_id.is_some());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("calc.py")).unwrap(),
        "def add(a, b):\n    return a + b  # sum\n"
    );
    let refused = baton_ops::apply::apply(
        &project,
        ApplyRequest {
            reply: reply.into(),
            target: ApplyTarget {
                root: Some("missing".into()),
                ..ApplyTarget::default()
            },
            ..ApplyRequest::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Input);
    assert!(!refused.hint().contains("--"), "{}", refused.hint());
}

#[tokio::test]
async fn an_edit_for_a_context_file_behind_the_examples_directory_edits_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path(), &[], "");
    std::fs::write(dir.path().join("stats.py"), "def mean(xs):\n    pass\n").unwrap();
    std::fs::write(dir.path().join("other.py"), "X = 1\n").unwrap();
    // Small models put the prompt example's `src/` in front of the file they were shown.
    let reply = "src/stats.py\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```\n";
    let applied = baton_ops::apply::apply(
        &project,
        ApplyRequest {
            reply: reply.into(),
            format: Some(baton_core::EditFormat::Whole),
            context_files: vec!["stats.py".into(), "other.py".into()],
            ..ApplyRequest::default()
        },
    )
    .await
    .unwrap();
    assert!(applied.failure().is_none(), "{applied:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stats.py")).unwrap(),
        "def mean(xs):\n    return sum(xs) / len(xs)\n"
    );
    assert!(!dir.path().join("src").exists());
    let edits = applied.edits.unwrap();
    assert!(
        edits[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("stats.py")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_reply_is_cut_retried_with_anti_repetition_sampling_and_reported() {
    let cycle = ["    assert add(1, 2) == 3\n", "    assert add(2, 2) == 4\n"];
    let server = ScriptedServer::start(
        Script::new()
            .then(Reply::looping(["def test_add():\n"], cycle, 0))
            .default(Reply::text("def test_add():\n    assert add(1, 2) == 3\n")),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/chat/completions", server.openai_url());
    let project = project(dir.path(), &[("CODER_API_URL", &url)], "");
    let request = DispatchRequest {
        task: "write tests for add".into(),
        route: Some(baton_core::Route::Local),
        ..DispatchRequest::default()
    };
    let response = baton_ops::dispatch::dispatch(&project, request, &mut NullSink, &Silent)
        .await
        .unwrap();
    assert_eq!(
        response.reply,
        "def test_add():\n    assert add(1, 2) == 3\n"
    );
    assert_eq!(response.failed_attempts.len(), 1, "{response:?}");
    let cut = &response.failed_attempts[0];
    assert!(cut.cut_for_repetition, "{cut:?}");
    assert!(cut.error.starts_with("degenerate repetition"), "{cut:?}");
    assert!(
        response
            .notices
            .iter()
            .any(|n| n.text.contains("anti-repetition")),
        "{:?}",
        response.notices
    );
    let chat: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .collect();
    assert_eq!(chat.len(), 2);
    assert!(
        chat[1].body.get("dry_multiplier").is_some(),
        "{}",
        chat[1].body
    );
    server.shutdown().await.unwrap();
}

//! `baton run` against the real llama-server of the LLM rig (the small Qwen coder on the
//! CPU), every role local: the README's example ticket, implemented, verified by its real
//! unittest suite, reviewed and signed off by the model. Tests whose names contain `llama`
//! run one at a time (`.config/nextest.toml`).

use std::path::Path;

use baton_config::EnvSnapshot;
use baton_core::run::RunStatus;
use baton_ops::{Project, ProjectOptions};
use baton_pipeline::{Quiet, RunRequest};
use baton_test_support::rig::LlamaServer;

use crate::support::{commit, git};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_the_example_ticket_ends_approved_with_every_role_on_the_local_model() {
    let server = tokio::task::spawn_blocking(LlamaServer::start)
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("calc");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/calc");
    copy_dir(&example, &repo);
    let verify = std::fs::read_to_string(repo.join("baton.toml")).unwrap();
    std::fs::write(
        repo.join("baton.toml"),
        format!(
            "{verify}\n[backends.local]\nurls = [\"{}\"]\n\n[profiles.code]\nmodel = \"{}\"\ntemperature = 0.0\nfallback = []\n",
            server.openai_url(),
            server.model_alias()
        ),
    )
    .unwrap();
    git(&repo, &["init", "--quiet", "-b", "main"]).await;
    commit(&repo, &["-A"], "calc").await;
    let project = Project::new(ProjectOptions {
        cwd: repo.clone(),
        env: EnvSnapshot::from_pairs(std::iter::empty(), Some(dir.path().join("home"))),
        overrides: Vec::new(),
        supervisor: None,
    });
    let summary = baton_pipeline::start(
        &project,
        &RunRequest {
            ticket: repo.join("TICKET.md"),
            plan: Some(repo.join("PLAN.json")),
            ..RunRequest::default()
        },
        &Quiet,
    )
    .await
    .unwrap();
    let run = summary.run.clone().unwrap();
    let trail: Vec<String> = project
        .store()
        .unwrap()
        .events_of(&run.id)
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e.kind(), e.data()))
        .collect();
    assert_eq!(
        run.status,
        RunStatus::Approved,
        "{:?}\n{}\n{}",
        run.why,
        trail.join("\n"),
        server.log_tail(20)
    );
    let worktree = Path::new(&run.worktree);
    let clamp = std::fs::read_to_string(worktree.join("clamp.py")).unwrap();
    assert!(clamp.contains("def clamp"), "{clamp}");
    assert!(!summary.commits.is_empty());
    let usage = project.store().unwrap().run_usage(&run.id).unwrap();
    assert!(
        usage
            .iter()
            .all(|row| row.locality == baton_core::Locality::Local),
        "{usage:#?}"
    );
    assert!(
        usage.iter().all(|row| row.prompt_tokens > 0),
        "real usage: {usage:#?}"
    );
    let pr = std::fs::read_to_string(summary.pr.unwrap()).unwrap();
    assert!(
        pr.contains("Closes CALC-1") && pr.contains("(100.0%)"),
        "{pr}"
    );
}

//! `baton-pipeline` end to end, in-process: a real git repository in a temp dir (a small
//! Python project verified by a real pytest), a real store, and the scripted server playing
//! coder and reviewer with replies matched to what each request asks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on setup errors"
)]

mod llama;
mod support;

use std::collections::BTreeSet;

use baton_core::Event;
use baton_core::event::{PhaseStatus, SubtaskOutcome};
use baton_core::run::RunStatus;
use baton_pipeline::{PipelineError, Quiet, ReviewMode, RunRequest};
use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;

use support::{Repo, commit, events_of, git, whole};

/// Starts a run that must come to an end (any status), showing nothing.
async fn start(project: &baton_ops::Project, request: RunRequest) -> baton_pipeline::RunSummary {
    baton_pipeline::start(project, &request, &Quiet)
        .await
        .unwrap()
}

/// Starts a run that must be refused.
async fn start_err(project: &baton_ops::Project, request: RunRequest) -> PipelineError {
    baton_pipeline::start(project, &request, &Quiet)
        .await
        .unwrap_err()
}

const CALC_BUGGY: &str = "def add(a, b):\n    return a - b\n";
const CALC_BOTH_BUGGY: &str =
    "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n";
const CALC_FIXED: &str = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n";
const CALC_DOCUMENTED: &str = "def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n";
const README: &str = "# calc\n\nadd(a, b) and sub(a, b).\n";

fn verdict(approved: bool, fixes: &[&str]) -> Reply {
    let findings: Vec<serde_json::Value> = baton_core::plan::Check::ALL
        .iter()
        .map(|check| serde_json::json!({"check": check, "passed": approved, "note": "looked"}))
        .collect();
    Reply::text(
        serde_json::json!({"approved": approved, "findings": findings, "required_fixes": fixes})
            .to_string(),
    )
}

/// The three-subtask plan of the tests: `add` and `sub` share `calc.py` (so they run one
/// after the other), `docs` owns `README.md` (so it runs beside them).
const PLAN: &str = r#"{
  "summary": "add and sub in calc.py, documented",
  "decisions": ["plain functions, no classes"],
  "interfaces": ["add(a, b) -> number", "sub(a, b) -> number"],
  "subtasks": [
    {"id": "add", "title": "add", "what": "Write add(a, b) in calc.py.", "kind": "code",
     "files": ["calc.py"], "context": ["tests/test_calc.py"]},
    {"id": "sub", "title": "sub", "what": "Write sub(a, b) in calc.py, keeping add.", "kind": "code",
     "files": ["calc.py"]},
    {"id": "docs", "title": "readme", "what": "Describe calc in README.md.", "kind": "docs",
     "files": ["README.md"]}
  ]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_with_a_plan_ends_approved_on_its_own_branch_after_a_fix_and_a_rejection() {
    let script = Script::new()
        // `docs` first writes a file it does not own: refused, sent back, then right.
        .when(
            "Subtask docs:",
            Reply::delayed(300, whole("calc.py", CALC_FIXED)),
        )
        .when("Subtask docs:", whole("README.md", README))
        .when(
            "Subtask add:",
            Reply::delayed(300, whole("calc.py", CALC_BUGGY)),
        )
        .when("Subtask sub:", whole("calc.py", CALC_BOTH_BUGGY))
        .when("The reviewer rejected", whole("calc.py", CALC_DOCUMENTED))
        .when("does not pass yet", whole("calc.py", CALC_FIXED))
        .when(
            "Review this change",
            verdict(false, &["add a docstring to add"]),
        )
        .when("Review this change", verdict(true, &[]));
    let server = ScriptedServer::start(script.total_slots(2)).await.unwrap();
    let repo = Repo::python(&server).await;
    let before_status = git(&repo.path, &["status", "--porcelain"]).await;
    let plan = repo.write_outside("plan.json", PLAN);

    let summary = start(
        &repo.project,
        RunRequest {
            id: None,
            ticket: repo.ticket.clone(),
            plan: Some(plan),
            dry_run: false,
            review: ReviewMode::Model,
            budget: Default::default(),
            merge: false,
            publish: Default::default(),
        },
    )
    .await;

    let run = summary.run.clone().unwrap();
    let trail: Vec<String> = events_of(&repo.project, &run.id)
        .iter()
        .map(|e| format!("{} {}", e.kind(), e.data()))
        .collect();
    assert_eq!(
        run.status,
        RunStatus::Approved,
        "{:?}\n{}",
        run.why,
        trail.join("\n")
    );
    assert_eq!(run.branch, format!("baton/{}", run.id));
    // The user's tree, index and uncommitted change are as they were.
    assert_eq!(
        git(&repo.path, &["status", "--porcelain"]).await,
        before_status
    );
    assert_eq!(
        std::fs::read_to_string(repo.path.join("README.md")).unwrap(),
        "user's own edit\n"
    );
    assert_eq!(
        git(&repo.path, &["rev-parse", "HEAD"]).await.trim(),
        run.base_commit
    );
    // The branch: one commit per applied dispatch, each with its trailers.
    let worktree = std::path::Path::new(&run.worktree);
    assert_eq!(
        std::fs::read_to_string(worktree.join("calc.py")).unwrap(),
        CALC_DOCUMENTED
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("README.md")).unwrap(),
        README
    );
    let subjects: Vec<String> = summary.commits.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(subjects.len(), 5, "{subjects:#?}");
    assert!(
        subjects.iter().all(|s| s.starts_with("T-1: Add and sub (")),
        "{subjects:#?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("(fix 1, dispatch")),
        "{subjects:#?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("(review fix 1, dispatch")),
        "{subjects:#?}"
    );
    let bodies = git(
        worktree,
        &[
            "log",
            "--format=%B%x00",
            &format!("{}..HEAD", run.base_commit),
        ],
    )
    .await;
    for body in bodies.split('\0').filter(|b| !b.trim().is_empty()) {
        assert!(body.contains(&format!("Baton-Run: {}", run.id)), "{body}");
        assert!(body.contains("Baton-Subtask: "), "{body}");
    }

    // The trail: events in the store and the same rows in events.jsonl.
    let events = events_of(&repo.project, &run.id);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds.first(), Some(&"run.started"));
    assert_eq!(kinds.last(), Some(&"run.ended"));
    let folder = std::path::Path::new(summary.folder.as_deref().unwrap());
    let jsonl = std::fs::read_to_string(folder.join("events.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), events.len());
    // The edit outside the owned files was refused and sent back.
    let refused = events.iter().any(|e| {
        matches!(&e.event, Event::SubtaskDispatched(d) if d.subtask == "docs" && !d.applied && d.feedback.is_some())
    });
    assert!(refused, "{kinds:?}");
    // add and sub never overlapped; docs ran beside add.
    let position =
        |want: &dyn Fn(&Event) -> bool| events.iter().position(|e| want(&e.event)).unwrap();
    let add_ended = position(&|e| matches!(e, Event::SubtaskEnded(x) if x.subtask == "add"));
    let sub_dispatched =
        position(&|e| matches!(e, Event::SubtaskDispatched(x) if x.subtask == "sub"));
    assert!(add_ended < sub_dispatched, "{kinds:?}");
    assert!(
        server.max_in_flight() >= 2,
        "docs and add ran one after the other"
    );
    // Verification failed once, then passed; the review rejected once, then approved.
    let gates: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::VerifyRan(ran) => Some(ran.passed),
            _ => None,
        })
        .collect();
    assert_eq!(gates.first(), Some(&false));
    assert_eq!(gates.last(), Some(&true));
    let verdicts: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ReviewVerdict(review) => Some(review.verdict.approved),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, vec![false, true]);
    assert!(events.iter().all(
        |e| !matches!(&e.event, Event::SubtaskEnded(x) if x.outcome == SubtaskOutcome::Failed)
    ));
    assert!(events.iter().any(|e| matches!(&e.event, Event::RunPhase(p) if p.status == PhaseStatus::Done && p.phase == baton_core::Phase::Signoff)));

    // Reports and the ledger.
    let pr = std::fs::read_to_string(summary.pr.as_deref().unwrap()).unwrap();
    assert!(pr.contains("Closes T-1"), "{pr}");
    assert!(pr.contains("| 3. Implementation | coder |"), "{pr}");
    assert!(pr.contains("- [x] add returns the sum"), "{pr}");
    assert!(pr.contains("Local tokens:"), "{pr}");
    let reports: BTreeSet<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in [
        "01-requirements.md",
        "02-architecture.md",
        "03-implementation.md",
        "04-verification.md",
        "05-review.md",
        "PR.md",
        "report.md",
    ] {
        assert!(reports.contains(name), "{name} missing from {reports:?}");
    }
    let usage = repo.project.store().unwrap().run_usage(&run.id).unwrap();
    let coder_calls: u64 = usage
        .iter()
        .filter(|row| row.role == baton_store::RunRole::Coder)
        .map(|row| row.calls)
        .sum();
    assert_eq!(coder_calls, 6, "{usage:#?}");
    assert!(
        usage
            .iter()
            .any(|row| row.role == baton_store::RunRole::Reviewer)
    );
    let listed = baton_pipeline::runs(&repo.project, 10).await.unwrap();
    assert_eq!(listed.first().map(|r| r.id.clone()), Some(run.id.clone()));

    // Rollback: worktree and branch gone, the user's tree as it was, the trail kept.
    let tip = git(&repo.path, &["rev-parse", &run.branch]).await;
    let done = baton_pipeline::rollback(&repo.project, &run.id[..12], false)
        .await
        .unwrap();
    assert!(done.worktree_removed && done.branch_deleted);
    assert_eq!(done.branch_tip.as_deref(), Some(tip.trim()));
    assert!(!worktree.exists());
    assert_eq!(
        git(&repo.path, &["branch", "--list", "baton/*"])
            .await
            .trim(),
        ""
    );
    assert_eq!(
        git(&repo.path, &["status", "--porcelain"]).await,
        before_status
    );
    assert!(folder.join("PR.md").is_file());
    let last = events_of(&repo.project, &run.id).pop().unwrap();
    assert_eq!(last.kind(), "run.rolled_back");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_a_cycle_is_refused_before_anything_is_created() {
    let server = ScriptedServer::start(Script::new()).await.unwrap();
    let repo = Repo::python(&server).await;
    let plan = repo.write_outside(
        "cycle.json",
        r#"{"summary": "s", "subtasks": [
            {"id": "a", "title": "a", "what": "a", "files": ["a.py"], "depends_on": ["b"]},
            {"id": "b", "title": "b", "what": "b", "files": ["b.py"], "depends_on": ["a"]}]}"#,
    );
    let error = start_err(
        &repo.project,
        RunRequest {
            ticket: repo.ticket.clone(),
            plan: Some(plan),
            ..RunRequest::default()
        },
    )
    .await;
    assert!(matches!(error, PipelineError::BadPlan { .. }), "{error}");
    assert!(error.to_string().contains("a -> b -> a"), "{error}");
    assert!(error.hint().is_some());
    assert!(
        baton_pipeline::runs(&repo.project, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        git(&repo.path, &["branch", "--list", "baton/*"])
            .await
            .trim(),
        ""
    );
    assert_eq!(server.request_count(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_plan_from_the_architect_is_sent_back_with_its_problems() {
    let bad = r#"{"summary": "s", "subtasks": [{"id": "a", "title": "a", "what": "a", "files": ["../escape.py"]}]}"#;
    let good = r#"{"summary": "s", "decisions": [], "interfaces": [], "subtasks": [{"id": "a", "title": "a", "what": "write add", "kind": "code", "files": ["calc.py"], "context": [], "constraints": [], "acceptance": [], "depends_on": []}]}"#;
    let script = Script::new()
        .when("Design this change", Reply::text(bad))
        .when(
            "Design this change",
            Reply::text(format!("Here is the plan:\n```json\n{good}\n```")),
        );
    let server = ScriptedServer::start(script).await.unwrap();
    let repo = Repo::python(&server).await;
    let summary = start(
        &repo.project,
        RunRequest {
            ticket: repo.ticket.clone(),
            dry_run: true,
            ..RunRequest::default()
        },
    )
    .await;
    assert!(summary.run.is_none());
    assert_eq!(summary.plan.subtasks[0].files, vec!["calc.py"]);
    let requests = server.requests();
    let chats: Vec<_> = requests.iter().filter(|r| r.is_chat()).collect();
    assert_eq!(chats.len(), 2);
    let second = chats[1].body.to_string();
    assert!(second.contains("was not a valid plan"), "{second}");
    assert!(second.contains("escape.py"), "{second}");
    // Structured output: the schema went as response_format.
    assert_eq!(chats[0].body["response_format"]["type"], "json_schema");
    assert!(
        chats[0].body["response_format"]["json_schema"]["schema"]["properties"]["subtasks"]
            .is_object()
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subtask_over_its_coders_budget_escalates_to_the_next_profile_of_the_chain() {
    let script = Script::new()
        .when("Subtask add:", whole("calc.py", CALC_FIXED))
        .when("Review this change", verdict(true, &[]));
    let server = ScriptedServer::start(script).await.unwrap();
    let repo = Repo::python(&server).await;
    // `code` takes 60 tokens of context, `big` (next in its chain) the local route's 8000.
    let toml = std::fs::read_to_string(repo.path.join("baton.toml")).unwrap();
    let toml = toml.replace(
        "fallback = []\n",
        "fallback = [\"big\"]\ncontext_budget = 60\n\n[profiles.big]\nbackend = \"local\"\nmodel = \"scripted\"\nfallback = []\n",
    );
    std::fs::write(repo.path.join("baton.toml"), toml).unwrap();
    std::fs::write(
        repo.path.join("notes.txt"),
        "the notes of the design, at length. ".repeat(40),
    )
    .unwrap();
    commit(&repo.path, &["notes.txt"], "notes").await;
    let plan = repo.write_outside(
        "big.json",
        r#"{"summary": "add", "subtasks": [{"id": "add", "title": "add", "what": "Write add and sub.",
            "files": ["calc.py"], "context": ["notes.txt", "tests/test_calc.py"]}]}"#,
    );
    let summary = start(
        &repo.project,
        RunRequest {
            ticket: repo.ticket.clone(),
            plan: Some(plan),
            ..RunRequest::default()
        },
    )
    .await;
    let run = summary.run.unwrap();
    assert_eq!(run.status, RunStatus::Approved, "{:?}", run.why);
    let events = events_of(&repo.project, &run.id);
    let escalated = events
        .iter()
        .find_map(|e| match &e.event {
            Event::RunEscalated(x) => Some(x.clone()),
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no escalation: {:#?}",
                events
                    .iter()
                    .map(|e| format!("{} {}", e.kind(), e.data()))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(
        (escalated.from.as_str(), escalated.to.as_str()),
        ("code", "big")
    );
    assert!(escalated.why.starts_with("add: "), "{}", escalated.why);
    let profiles: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::SubtaskDispatched(d) if d.subtask == "add" => Some(d.profile.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(profiles, vec!["big"]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_context_names_no_file_of_the_repository_is_refused() {
    let server = ScriptedServer::start(Script::new()).await.unwrap();
    let repo = Repo::python(&server).await;
    let plan = repo.write_outside(
        "none.json",
        r#"{"summary": "s", "subtasks": [
            {"id": "a", "title": "a", "what": "a", "files": ["new.py"], "context": ["None", "tests/test_calc.py", "new.py"]}]}"#,
    );
    let error = start_err(
        &repo.project,
        RunRequest {
            ticket: repo.ticket.clone(),
            plan: Some(plan),
            ..RunRequest::default()
        },
    )
    .await;
    let message = error.to_string();
    assert!(
        message.contains("subtasks[0].context[0]: `None` is not a file of the repository"),
        "{message}"
    );
    assert!(
        !message.contains("context[1]") && !message.contains("context[2]"),
        "{message}"
    );
    assert_eq!(server.request_count(), 0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_without_criteria_gets_its_spec_from_the_orchestrator_and_one_with_them_does_not()
{
    let spec = r#"{"goal": "add and sub in calc", "acceptance": ["add(2, 3) == 5", "sub(5, 3) == 2"], "scope": ["calc.py"], "constraints": []}"#;
    let script = Script::new()
        .when("Turn this ticket into a spec", Reply::text("not json"))
        .when("Turn this ticket into a spec", Reply::text(spec));
    let server = ScriptedServer::start(script).await.unwrap();
    let repo = Repo::python(&server).await;
    let toml = std::fs::read_to_string(repo.path.join("baton.toml")).unwrap();
    std::fs::write(
        repo.path.join("baton.toml"),
        format!("{toml}\n[roles]\norchestrator = \"code\"\n"),
    )
    .unwrap();
    let bare = repo.write_outside("T-2.md", "# Calc\n\nCalc needs add and sub.\n");
    let plan = repo.write_outside("p.json", PLAN);
    let summary = start(
        &repo.project,
        RunRequest {
            ticket: bare,
            plan: Some(plan.clone()),
            dry_run: true,
            ..RunRequest::default()
        },
    )
    .await;
    assert_eq!(
        summary.spec.acceptance,
        vec!["add(2, 3) == 5", "sub(5, 3) == 2"]
    );
    let chats = server.requests().iter().filter(|r| r.is_chat()).count();
    assert_eq!(chats, 2, "the invalid answer was asked again");
    // The ticket's own criteria are taken as written: no model call.
    let summary = start(
        &repo.project,
        RunRequest {
            ticket: repo.ticket.clone(),
            plan: Some(plan),
            dry_run: true,
            ..RunRequest::default()
        },
    )
    .await;
    assert_eq!(
        summary.spec.acceptance,
        vec!["add returns the sum", "sub returns the difference"]
    );
    assert_eq!(server.requests().iter().filter(|r| r.is_chat()).count(), 2);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_architect_gives_no_valid_plan_the_tickets_scope_becomes_one_subtask() {
    let script = Script::new()
        .when("Design this change", Reply::text("not a plan"))
        .when("Subtask ticket:", whole("calc.py", CALC_FIXED))
        .when("Review this change", verdict(true, &[]));
    let server = ScriptedServer::start(script).await.unwrap();
    let repo = Repo::python(&server).await;
    let ticket = repo.write_outside(
        "T-3.md",
        "---\nid: T-3\ntitle: Add and sub\n---\n\nMake `tests/test_calc.py` pass.\n\n## Acceptance criteria\n\n- add and sub work\n\n## Scope\n\n- `calc.py`\n",
    );
    let summary = start(
        &repo.project,
        RunRequest {
            ticket,
            ..RunRequest::default()
        },
    )
    .await;
    let run = summary.run.unwrap();
    assert_eq!(run.status, RunStatus::Approved, "{:?}", run.why);
    let subtask = &summary.plan.subtasks[0];
    assert_eq!(
        (subtask.id.as_str(), subtask.files.clone()),
        ("ticket", vec!["calc.py".to_string()])
    );
    assert_eq!(subtask.context, vec!["tests/test_calc.py"]);
    let made = events_of(&repo.project, &run.id)
        .into_iter()
        .find_map(|e| match e.event {
            Event::RunPlan(made) => Some(made),
            _ => None,
        })
        .unwrap();
    assert_eq!(made.source, baton_core::event::Source::TicketScope);
    assert_eq!(
        made.attempts, 3,
        "the architect was asked its three times first"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_crate_is_verified_by_cargo_and_its_failing_test_is_fixed() {
    let buggy = "/// The sum of a and b.\npub fn add(a: i64, b: i64) -> i64 {\n    a - b\n}\n";
    let fixed = "/// The sum of a and b.\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n";
    let rust = |content: &str| Reply::text(format!("src/lib.rs\n```rust\n{content}```\n"));
    let script = Script::new()
        .when("Subtask add:", rust(buggy))
        .when("does not pass yet", rust(fixed))
        .when("Review this change", verdict(true, &[]));
    let server = ScriptedServer::start(script).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adder");
    std::fs::create_dir_all(path.join("src")).unwrap();
    std::fs::create_dir_all(path.join("tests")).unwrap();
    std::fs::write(
        path.join("Cargo.toml"),
        "[package]\nname = \"adder\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(path.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        path.join("tests/add.rs"),
        "#[test]\nfn two_and_three_make_five() {\n    assert_eq!(adder::add(2, 3), 5);\n}\n",
    )
    .unwrap();
    std::fs::write(path.join(".gitignore"), "target/\n").unwrap();
    git(&path, &["init", "--quiet", "-b", "main"]).await;
    commit(&path, &["-A"], "adder").await;
    // The gates as detected from Cargo.toml, each build in the worktree's own target dir.
    std::fs::write(
        path.join("baton.toml"),
        format!(
            "[backends.local]\nurls = [\"{}\"]\nretries = 0\n\n[profiles.code]\nmodel = \"scripted\"\nfallback = []\n\n[verify]\ntest = \"CARGO_TARGET_DIR=target cargo test --quiet --offline\"\n",
            server.openai_url()
        ),
    )
    .unwrap();
    let ticket = dir.path().join("T-4.md");
    std::fs::write(
        &ticket,
        "---\nid: T-4\ntitle: add\n---\n\n## Acceptance criteria\n\n- add(2, 3) is 5\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(&plan, "summary = \"add in src/lib.rs\"\n\n[[subtasks]]\nid = \"add\"\ntitle = \"add\"\nwhat = \"Write add(a, b).\"\nfiles = [\"src/lib.rs\"]\ncontext = [\"tests/add.rs\"]\n").unwrap();
    let project = baton_ops::Project::new(baton_ops::ProjectOptions {
        cwd: path.clone(),
        env: baton_config::EnvSnapshot::from_pairs(
            std::iter::empty(),
            Some(dir.path().join("home")),
        ),
        overrides: Vec::new(),
        supervisor: None,
    });
    let summary = start(
        &project,
        RunRequest {
            ticket,
            plan: Some(plan),
            ..RunRequest::default()
        },
    )
    .await;
    let run = summary.run.unwrap();
    let trail: Vec<String> = events_of(&project, &run.id)
        .iter()
        .filter(|e| e.kind() == "verify.ran")
        .map(|e| e.data().to_string())
        .collect();
    assert_eq!(run.status, RunStatus::Approved, "{:?}\n{trail:#?}", run.why);
    assert_eq!(trail.len(), 2, "{trail:#?}");
    assert!(
        trail[0].contains("two_and_three_make_five"),
        "the failing test reached the fix: {}",
        trail[0]
    );
    let subjects: Vec<&str> = summary.commits.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "T-4: add (implementation, dispatch 1)",
            "T-4: add (fix 1, dispatch 2)"
        ]
    );
    server.shutdown().await.unwrap();
}

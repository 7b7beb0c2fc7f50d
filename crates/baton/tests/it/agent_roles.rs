//! Agent CLIs as the architect and the reviewer of `baton run`, through the binary: the fake
//! agent of baton-test-support as `[workers.KIND]` named by `[roles]`, under a real
//! supervisor in a real repository, with the scripted server as the coder's model.

use baton_test_support::{BlockingScriptedServer, FakeAgent, Reply, Script, fake_agent};

use crate::agents::{
    AgentSandbox, CLAMP, approve, assert_worker_usage, commit_config, events_of, git_out,
    only_the_runs_worktree, run_approved, worker_kind,
};
use crate::run::repo;
use crate::support::Sandbox;

/// The coder's model: writes `clamp.py` for the subtask, and a stricter one for a fix.
fn coder() -> BlockingScriptedServer {
    let script = Script::new()
        .when(
            "does not pass yet",
            Reply::text(
                "clamp.py\n```python\ndef clamp(value, low, high):\n    if low > high:\n        raise ValueError(low)\n    return max(low, min(value, high))\n```\n",
            ),
        )
        .when(
            "Subtask clamp:",
            Reply::text(format!("clamp.py\n```python\n{CLAMP}```\n")),
        );
    BlockingScriptedServer::start(script).unwrap()
}

/// A repository with the clamp ticket and plan, the coder's model at `server`, and
/// `baton.toml` (committed) holding `config` and a gate that needs `def clamp`
/// ([`commit_config`]).
fn sandbox_with(server: &BlockingScriptedServer, config: &str) -> Sandbox {
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    commit_config(&sandbox, config);
    sandbox
}

/// A reviewer agent `fake-review` (read-only unless `extra` says otherwise) doing `fake`.
fn reviewer_sandbox(fake: &FakeAgent, extra: &str) -> AgentSandbox {
    let server = coder();
    let tools = tempfile::tempdir().unwrap();
    let (agent, record) = fake_agent(tools.path(), "fake-review", fake);
    let config = format!(
        "{}[roles]\nreviewer = \"fake-review\"\n\n",
        worker_kind("fake-review", &agent, &format!("read_only = true\n{extra}"))
    );
    let sandbox = sandbox_with(&server, &config);
    (server, sandbox, tools, record)
}

#[test]
fn a_read_only_reviewer_agent_approves_the_run_without_committing_and_its_usage_is_in_the_ledger() {
    let (server, sandbox, _tools, record) = reviewer_sandbox(
        &FakeAgent {
            // A reviewer that writes anyway: its file must go nowhere.
            writes: vec![("notes.txt".into(), "my review notes\n".into())],
            message: format!(
                "I read the diff and it does what the ticket asks.\n\n```json\n{}\n```",
                approve()
            ),
            usage: Some((700, 30)),
            ..FakeAgent::default()
        },
        "",
    );
    let (id, shown) = run_approved(&sandbox);

    let verdicts = events_of(&shown, "review.verdict");
    assert_eq!(verdicts.len(), 1, "{shown}");
    assert_eq!(verdicts[0]["data"]["reviewer"], "fake-review");
    assert_eq!(verdicts[0]["data"]["verdict"]["approved"], true);
    assert!(
        verdicts[0]["data"]["request_id"]
            .as_str()
            .is_some_and(|w| w.starts_with('w')),
        "{shown}"
    );
    // No model reviewed: the scripted server saw the coder only.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.body.to_string().contains("Review this change")),
        "a model was asked for the review"
    );

    // It ran read-only: the branch has the coder's one commit, no worker's, and not its file.
    let branch = format!("baton/{id}");
    let log = git_out(
        sandbox.path(),
        &["log", "--format=%B", &format!("main..{branch}")],
    );
    assert!(!log.contains("Baton-Worker"), "{log}");
    let tree = git_out(sandbox.path(), &["ls-tree", "-r", "--name-only", &branch]);
    assert!(tree.lines().any(|f| f == "clamp.py"), "{tree}");
    assert!(!tree.contains("notes.txt"), "{tree}");
    assert!(!sandbox.path().join("notes.txt").exists());
    only_the_runs_worktree(&sandbox, &id);

    // Its usage is in the ledger, tagged with the run as the reviewer's.
    assert_worker_usage(&shown, "worker:fake-review", (700, 30), "reviewer");

    // It was asked what a model is asked, with the schema and its memory key.
    let prompt = record.prompt();
    assert!(prompt.contains("Review this change"), "{prompt}");
    assert!(prompt.contains("following this JSON schema"), "{prompt}");
    assert!(prompt.contains("Change no file"), "{prompt}");
    assert!(
        prompt.contains(&format!("key `{id}/review-1.1`")),
        "{prompt}"
    );
    assert_eq!(record.calls().len(), 1);
    sandbox.assert_nothing_left();
}

#[test]
fn a_reviewer_agents_prose_is_asked_again_with_its_problem_and_its_rejection_goes_to_the_coder() {
    let reject = serde_json::json!({
        "approved": false,
        "findings": [],
        "required_fixes": ["clamp must raise ValueError when low > high"],
    })
    .to_string();
    let (server, sandbox, _tools, record) = reviewer_sandbox(
        &FakeAgent {
            messages: vec!["Looks fine to me, ship it.".into(), reject, approve()],
            ..FakeAgent::default()
        },
        "",
    );
    let (id, shown) = run_approved(&sandbox);

    // Three workers: the prose, the rejection (asked again with the prose's problem, under
    // a key of its own), and the approval of the fixed branch.
    let prompts = record.prompts();
    assert_eq!(prompts.len(), 3, "{prompts:?}");
    assert!(
        !prompts[0].contains("not a valid verdict"),
        "{}",
        prompts[0]
    );
    assert!(
        prompts[1].contains("Your last answer was not a valid verdict")
            && prompts[1].contains("holds no JSON object")
            && prompts[1].contains("Looks fine to me"),
        "{}",
        prompts[1]
    );
    assert!(
        prompts[1].contains(&format!("key `{id}/review-1.2`")),
        "{}",
        prompts[1]
    );
    assert!(
        prompts[2].contains(&format!("key `{id}/review-2.1`")),
        "{}",
        prompts[2]
    );
    assert!(prompts[2].contains("raise ValueError"), "{}", prompts[2]);

    // The rejection's fix went to the coder's model.
    let fix = server
        .requests()
        .into_iter()
        .find(|r| r.body.to_string().contains("does not pass yet"))
        .unwrap_or_else(|| panic!("no fix was asked of the coder"));
    assert!(
        fix.body
            .to_string()
            .contains("clamp must raise ValueError when low > high"),
        "{}",
        fix.body
    );
    let verdicts: Vec<bool> = events_of(&shown, "review.verdict")
        .iter()
        .map(|v| v["data"]["verdict"]["approved"].as_bool().unwrap())
        .collect();
    assert_eq!(verdicts, [false, true], "{shown}");
    let clamp = git_out(sandbox.path(), &["show", &format!("baton/{id}:clamp.py")]);
    assert!(clamp.contains("raise ValueError"), "{clamp}");
    sandbox.assert_nothing_left();
}

#[test]
fn an_architect_agent_plans_the_run_and_what_it_writes_is_discarded() {
    let tools = tempfile::tempdir().unwrap();
    let plan = serde_json::json!({
        "summary": "clamp in its own module",
        "decisions": ["one module, no dependencies"],
        "interfaces": ["clamp(value, low, high) -> number"],
        "subtasks": [{
            "id": "clamp", "title": "clamp", "what": "Write clamp(value, low, high).",
            "kind": "code", "files": ["clamp.py"], "context": [], "constraints": [],
            "acceptance": ["clamp keeps values in range"], "depends_on": [],
        }],
    })
    .to_string();
    let (agent, record) = fake_agent(
        tools.path(),
        "fake-architect",
        &FakeAgent {
            writes: vec![("design.md".into(), "my design\n".into())],
            message: format!("Here is the plan:\n```json\n{plan}\n```\n"),
            ..FakeAgent::default()
        },
    );
    // Not read-only: an architect may be, and still changes nothing.
    let config = format!(
        "{}[roles]\narchitect = \"fake-architect\"\nreviewer = \"code\"\n\n",
        worker_kind("fake-architect", &agent, "")
    );
    // The coder's model reviews too.
    let server = BlockingScriptedServer::start(
        Script::new()
            .when(
                "Subtask clamp:",
                Reply::text(format!("clamp.py\n```python\n{CLAMP}```\n")),
            )
            .when("Review this change", Reply::text(approve())),
    )
    .unwrap();
    let sandbox = sandbox_with(&server, &config);

    // A dry run asks the agent in a worktree removed afterwards, and creates no run.
    let dry = sandbox.run(&["run", "T-9.md", "--dry-run", "--json"]);
    dry.assert_ok();
    assert_eq!(dry.json()["plan"]["summary"], "clamp in its own module");
    assert_eq!(record.calls().len(), 1);
    assert!(
        sandbox
            .run(&["runs", "--json"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let left: Vec<_> = std::fs::read_dir(sandbox.path().join(".baton/worktrees"))
        .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    let run = sandbox.run(&["run", "T-9.md"]);
    assert_eq!(run.code, 0, "{run:?}");
    let id = sandbox.run(&["runs", "--json"]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");
    let plans = events_of(&shown, "run.plan");
    assert_eq!(plans.len(), 1, "{shown}");
    assert_eq!(
        plans[0]["data"]["plan"]["summary"],
        "clamp in its own module"
    );
    assert_eq!(plans[0]["data"]["source"], "model");
    assert_eq!(plans[0]["data"]["attempts"], 1);
    // The plan it gave is the one implemented; what it wrote went nowhere, and was told.
    let tree = git_out(
        sandbox.path(),
        &["ls-tree", "-r", "--name-only", &format!("baton/{id}")],
    );
    assert!(tree.lines().any(|f| f == "clamp.py"), "{tree}");
    assert!(!tree.contains("design.md"), "{tree}");
    assert!(!sandbox.path().join("design.md").exists());
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("changed design.md; its changes were discarded"),
        "{said}"
    );
    only_the_runs_worktree(&sandbox, &id);
    let prompt = record.prompt();
    assert!(prompt.contains("Design this change"), "{prompt}");
    assert!(
        prompt.contains(&format!("key `{id}/architect.1`")),
        "{prompt}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_reviewer_kind_that_is_not_read_only_is_refused_before_anything_is_created() {
    let (_server, sandbox, _tools, record) = reviewer_sandbox(&FakeAgent::default(), "");
    let toml = std::fs::read_to_string(sandbox.path().join("baton.toml"))
        .unwrap()
        .replace("read_only = true\n", "");
    sandbox.write("baton.toml", &toml);
    let run = sandbox.run(&["run", "T-9.md", "--plan", "plan.json"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("role `reviewer` names worker kind `fake-review`, which is not read-only"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`codex-review`"), "{}", run.stderr);
    assert!(!sandbox.path().join(".baton/worktrees").exists());
    assert!(!sandbox.path().join(".baton/runs").exists());
    assert!(record.calls().is_empty());
}

#[test]
fn a_hung_reviewer_agent_is_stopped_at_its_idle_deadline_and_the_run_fails_saying_so() {
    let (_server, sandbox, _tools, record) = reviewer_sandbox(
        &FakeAgent {
            hang: true,
            ..FakeAgent::default()
        },
        "idle_timeout = \"1s\"",
    );
    let run = sandbox.run(&[
        "-c",
        "run.max_plan_attempts=1",
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
    ]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("the reviewer gave no valid verdict in 1 answers")
            && run.stderr.contains("the agent `fake-review`")
            && run.stderr.contains("hung"),
        "{}",
        run.stderr
    );
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["status"], "failed", "{listed}");
    let id = listed[0]["id"].as_str().unwrap().to_string();
    only_the_runs_worktree(&sandbox, &id);
    assert_eq!(record.calls().len(), 1);
    sandbox.assert_nothing_left();
}

//! Agent CLIs as subtask workers of `baton run`, through the binary: the fake agent of
//! baton-test-support under a real supervisor in a real repository, with the scripted
//! server as the reviewer's model; and `baton spawn --check`.

use baton_test_support::{
    BlockingScriptedServer, FakeAgent, FakeAgentRecord, Reply, Script, fake_agent,
};

use crate::run::{git, repo};
use crate::support::Sandbox;

const AGENT_PLAN: &str = r#"{"summary": "clamp.py", "subtasks": [{"id": "clamp", "title": "clamp", "what": "Write clamp(value, low, high).", "files": ["clamp.py"], "worker": "fake"}]}"#;

pub(crate) const CLAMP: &str =
    "def clamp(value, low, high):\n    return max(low, min(value, high))\n";

/// A reviewer's approval, as JSON.
pub(crate) fn approve() -> String {
    serde_json::json!({"approved": true, "findings": [], "required_fixes": []}).to_string()
}

fn approving_reviewer() -> BlockingScriptedServer {
    BlockingScriptedServer::start(Script::new().when("Review this change", Reply::text(approve())))
        .unwrap()
}

/// `[workers.NAME]` running `agent` in Claude Code's dialect on the local backend, with
/// `extra` lines.
pub(crate) fn worker_kind(name: &str, agent: &std::path::Path, extra: &str) -> String {
    format!(
        "[workers.{name}]\ncommand = [\"{}\", \"-p\", \"{{prompt}}\", \"--output-format\", \"json\"]\nagent = \"claude\"\nbackend = \"local\"\n{extra}\n\n",
        agent.display()
    )
}

/// Writes and commits the sandbox's `baton.toml`: `config`, then a test gate that needs
/// `def clamp`.
pub(crate) fn commit_config(sandbox: &Sandbox, config: &str) {
    sandbox.write(
        "baton.toml",
        &format!("{config}[verify]\ntest = \"grep -q 'def clamp' clamp.py\"\n"),
    );
    git(sandbox, &["add", "baton.toml"]);
    git(sandbox, &["commit", "--quiet", "-m", "config"]);
}

/// The sandbox's `baton.toml` (see [`commit_config`]): worker kind `fake` running `agent`
/// (see [`worker_kind`]) with `kind_extra` lines, and `extra` sections.
fn configure(sandbox: &Sandbox, agent: &std::path::Path, kind_extra: &str, extra: &str) {
    commit_config(
        sandbox,
        &format!("{}{extra}\n\n", worker_kind("fake", agent, kind_extra)),
    );
}

/// The scripted server, the sandbox, the temp dir holding the fake agent, and its record.
pub(crate) type AgentSandbox = (
    BlockingScriptedServer,
    Sandbox,
    tempfile::TempDir,
    FakeAgentRecord,
);

/// A repository with the clamp ticket and the agent plan, a reviewer that approves, and
/// `fake` as worker kind `fake` (see [`configure`]). The temp dir holds the fake agent.
fn agent_sandbox(fake: FakeAgent, kind_extra: &str, extra: &str) -> AgentSandbox {
    let server = approving_reviewer();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    let tools = tempfile::tempdir().unwrap();
    let (agent, record) = fake_agent(tools.path(), "fake-claude", &fake);
    configure(&sandbox, &agent, kind_extra, extra);
    sandbox.write("plan.json", AGENT_PLAN);
    (server, sandbox, tools, record)
}

/// Runs the plan, which must end approved: the run's id and `baton show --json`.
pub(crate) fn run_approved(sandbox: &Sandbox) -> (String, serde_json::Value) {
    let run = sandbox.run(&["run", "T-9.md", "--plan", "plan.json", "--json"]);
    run.assert_ok();
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|error| panic!("{error}: {run:?}"));
    assert_eq!(summary["run"]["status"], "approved", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap().to_string();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    (id, shown)
}

pub(crate) fn events_of<'a>(
    shown: &'a serde_json::Value,
    kind: &str,
) -> Vec<&'a serde_json::Value> {
    shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Only the run's own worktree is left: the agents' are gone.
#[track_caller]
pub(crate) fn only_the_runs_worktree(sandbox: &Sandbox, id: &str) {
    let worktrees: Vec<String> = std::fs::read_dir(sandbox.path().join(".baton/worktrees"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(worktrees, vec![id.to_string()]);
}

/// The ledger row of `profile` in `baton show --json`'s usage: its tokens and role.
#[track_caller]
pub(crate) fn assert_worker_usage(
    shown: &serde_json::Value,
    profile: &str,
    (prompt, completion): (u64, u64),
    role: &str,
) {
    let usage = shown["usage"].as_array().unwrap();
    let row = usage
        .iter()
        .find(|u| u["profile"] == profile)
        .unwrap_or_else(|| panic!("{usage:?}"));
    assert_eq!(row["prompt_tokens"], prompt);
    assert_eq!(row["completion_tokens"], completion);
    assert_eq!(row["role"], role);
}

pub(crate) fn git_out(dir: &std::path::Path, args: &[&str]) -> String {
    baton_test_support::host::git(dir, args)
}

#[test]
fn an_agent_worker_commits_its_owned_file_and_its_change_outside_them_is_refused() {
    let (server, sandbox, _tools, record) = agent_sandbox(
        FakeAgent {
            writes: vec![
                ("clamp.py".into(), CLAMP.into()),
                ("junk/notes.txt".into(), "not mine to write\n".into()),
            ],
            message: "Wrote clamp.".into(),
            usage: Some((1200, 80)),
            ..FakeAgent::default()
        },
        "",
        "",
    );
    let (id, shown) = run_approved(&sandbox);

    // One dispatch, by the worker: its file taken, the other refused and reported.
    let dispatched = events_of(&shown, "subtask.dispatched");
    assert_eq!(dispatched.len(), 1, "{shown}");
    let data = &dispatched[0]["data"];
    assert_eq!(data["profile"], "worker:fake");
    assert_eq!(data["files"], serde_json::json!(["clamp.py"]));
    assert_eq!(data["prompt_tokens"], 1200);
    assert_eq!(data["locality"], "local");
    assert_eq!(data["worker"]["kind"], "fake");
    assert_eq!(data["worker"]["status"], "succeeded");
    assert_eq!(
        data["worker"]["refused"],
        serde_json::json!(["junk/notes.txt"])
    );
    assert_eq!(data["worker"]["result"], "Wrote clamp.");

    // The branch has exactly the owned file, in a commit whose trailers name the worker.
    let branch = format!("baton/{id}");
    let tree = git_out(sandbox.path(), &["ls-tree", "-r", "--name-only", &branch]);
    assert!(tree.lines().any(|f| f == "clamp.py"), "{tree}");
    assert!(!tree.contains("junk"), "{tree}");
    let body = git_out(
        sandbox.path(),
        &["log", "-1", "--format=%B", &format!("{branch}~0")],
    );
    let worker_id = data["worker"]["id"].as_str().unwrap();
    let log = git_out(sandbox.path(), &["log", "--format=%B", &branch]);
    assert!(
        log.contains(&format!("Baton-Worker: {worker_id}")),
        "{log}\n{body}"
    );
    assert!(log.contains("Baton-Subtask: clamp"), "{log}");
    // The user's tree is untouched, and the worker's own worktree is gone.
    assert!(!sandbox.path().join("clamp.py").exists());
    assert!(!sandbox.path().join("junk").exists());
    only_the_runs_worktree(&sandbox, &id);

    // The usage the CLI reported is in the ledger, tagged with the run.
    assert_worker_usage(&shown, "worker:fake", (1200, 80), "coder");

    // The CLI was started in Claude Code's own terms: the local server's root, its model,
    // nonessential traffic off, Baton's MCP server scoped to the run, and a prompt that
    // names the owned file and the result key.
    let calls = record.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    let root = server.openai_url().trim_end_matches("/v1").to_string();
    assert!(
        call.contains(&format!("env:ANTHROPIC_BASE_URL={root}")),
        "{call:?}"
    );
    assert!(
        call.contains(&"env:CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1".to_string()),
        "{call:?}"
    );
    let mcp = call
        .iter()
        .position(|a| a == "arg:--mcp-config")
        .map(|i| call[i + 1].trim_start_matches("arg:").to_string())
        .unwrap_or_else(|| panic!("{call:?}"));
    let mcp: serde_json::Value = serde_json::from_str(&mcp).unwrap();
    assert_eq!(mcp["mcpServers"]["baton"]["args"][0], "mcp");
    assert_eq!(mcp["mcpServers"]["baton"]["env"]["BATON_RUN"], id.as_str());
    let prompt = record.prompt();
    assert!(prompt.contains("Change only `clamp.py`"), "{prompt}");
    assert!(prompt.contains(&format!("key `{id}/clamp`")), "{prompt}");
    sandbox.assert_nothing_left();
}

#[test]
fn a_hung_agent_worker_is_stopped_at_its_idle_deadline_and_its_subtask_fails() {
    let (_server, sandbox, _tools, record) = agent_sandbox(
        FakeAgent {
            writes: vec![("clamp.py".into(), CLAMP.into())],
            hang: true,
            ..FakeAgent::default()
        },
        "idle_timeout = \"1s\"",
        "[run]\nmax_edit_retries = 0",
    );
    let run = sandbox.run(&["run", "T-9.md", "--plan", "plan.json", "--json"]);
    assert_eq!(run.code, 20, "{}\n{}", run.stdout, run.stderr);
    let id = sandbox.run(&["runs", "--json"]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    let dispatched = events_of(&shown, "subtask.dispatched");
    assert_eq!(dispatched.len(), 1, "{shown}");
    let worker = &dispatched[0]["data"]["worker"];
    assert_eq!(worker["status"], "hung", "{worker}");
    // A hung worker's writes are not taken, and nothing of it is left running.
    assert_eq!(dispatched[0]["data"]["files"], serde_json::json!([]));
    let ended = events_of(&shown, "subtask.ended");
    assert_eq!(ended[0]["data"]["outcome"], "failed", "{shown}");
    assert_eq!(record.calls().len(), 1);
    sandbox.assert_nothing_left();
}

#[test]
fn a_verification_failure_of_an_agents_work_goes_back_to_the_same_agent_which_fixes_it() {
    let (server, sandbox, _tools, record) = agent_sandbox(
        FakeAgent {
            // First a clamp that clamps nothing, then the right one.
            writes: vec![(
                "clamp.py".into(),
                "def clamp(value, low, high):\n    return value\n".into(),
            )],
            then_writes: vec![("clamp.py".into(), CLAMP.into())],
            message: "done".into(),
            ..FakeAgent::default()
        },
        "",
        "",
    );
    // A gate the first version fails.
    let toml = std::fs::read_to_string(sandbox.path().join("baton.toml"))
        .unwrap()
        .replace(
            r#"test = "grep -q 'def clamp' clamp.py""#,
            r#"test = "python3 -c 'from clamp import clamp; assert clamp(5, 0, 3) == 3'""#,
        );
    assert!(toml.contains("assert clamp"), "{toml}");
    sandbox.write("baton.toml", &toml);
    git(&sandbox, &["commit", "--quiet", "-am", "gate"]);
    let (id, shown) = run_approved(&sandbox);
    let by: Vec<(String, String)> = events_of(&shown, "subtask.dispatched")
        .iter()
        .map(|e| {
            (
                e["data"]["subtask"].as_str().unwrap().to_string(),
                e["data"]["profile"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("clamp".to_string(), "worker:fake".to_string()),
            ("fix-1".to_string(), "worker:fake".to_string())
        ]
    );
    assert_eq!(record.calls().len(), 2);
    // The fix's prompt carried the failing gate's output.
    assert!(
        record.prompt().contains("AssertionError"),
        "{}",
        record.prompt()
    );
    // No model was asked for the fix: the scripted server saw the review only.
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.is_chat())
            .all(|r| !r.body.to_string().contains("does not pass yet")),
        "a fix went to the model"
    );
    let clamp = git_out(sandbox.path(), &["show", &format!("baton/{id}:clamp.py")]);
    assert_eq!(clamp, CLAMP);
    sandbox.assert_nothing_left();
}

#[test]
fn spawn_check_fails_a_worker_that_exited_0_when_its_check_does_not_pass() {
    let sandbox = Sandbox::offline();
    let failing = sandbox.spawn(&[
        "--check",
        "test -f done.txt",
        "--",
        "sh",
        "-c",
        "echo claims success",
    ]);
    let waited = sandbox.run(&["wait", &failing, "--json"]);
    let chain = &waited.json()["workers"][0]["chain"][0];
    assert_eq!(chain["status"], "failed", "{chain}");
    assert_eq!(chain["exit_code"], 0, "{chain}");
    let why = chain["why"].as_str().unwrap();
    assert!(
        why.contains("check `test -f done.txt` failed (exit 1)"),
        "{why}"
    );

    let passing = sandbox.spawn(&[
        "--check",
        "test -f done.txt",
        "--",
        "sh",
        "-c",
        "touch done.txt",
    ]);
    let waited = sandbox.run(&["wait", &passing, "--json"]);
    waited.assert_ok();
    assert_eq!(
        waited.json()["workers"][0]["chain"][0]["status"],
        "succeeded"
    );
    sandbox.assert_nothing_left();
}

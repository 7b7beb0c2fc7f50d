//! The run tools driven by the official Python MCP SDK (`tests/run_client.py`) against the
//! real `baton mcp` binary, in a real git repository holding a small Python project whose
//! pytest is the run's gate, with the scripted model server as the coder. The run's
//! coordinator is a real supervised `baton run` (and `baton review`) process: these tests
//! need the `baton` binary built next to this one (`cargo build -p baton`; running this crate's
//! tests together with `-p baton` builds it), and fail, never pass silently, without it or
//! without Python's `mcp` and `pytest`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::common::TOOL_NAMES;
use crate::python::{INSTALL, python};

/// How long one client scenario may take: a run through implementation, a real pytest and
/// sign-off, polled by the client with deadlines of its own.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long the processes a run started may take to go once it is over.
const LEFT_BEHIND_WAIT: Duration = Duration::from_secs(10);

const CALC: &str = "def add(a, b):\n    return a + b\n";

/// `calc.py` after the reviewer's notes.
const CALC_DOCUMENTED: &str =
    "def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n    return a + b\n";

const TESTS: &str = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n";

/// `target/debug/baton`, next to this test's `deps/` directory.
fn baton_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join(format!("baton{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing; run `cargo build -p baton` (or run these tests with `-p baton` too)",
        binary.display()
    );
    binary
}

/// Fails the test, with the install command, unless Python has `mcp` and `pytest`.
async fn require_mcp_and_pytest() {
    let output = Command::new(python())
        .args(["-c", "import mcp, pytest"])
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run `{}`: {error}; install Python 3", python()));
    assert!(
        output.status.success(),
        "the Python MCP SDK or pytest is missing: {}\nhint: {INSTALL} pytest",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// `git ARGS` in `dir` as a test user, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    baton_test_support::host::git(dir, args);
}

/// A temp dir holding `repo/`: an empty `calc.py` with its pytest, committed, and an
/// untracked `baton.toml` pointing the coder at `server` and the test gate at pytest.
struct Project {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

impl Project {
    fn new(server: &ScriptedServer) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("tests")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(repo.join("calc.py"), "").unwrap();
        std::fs::write(repo.join("tests/test_calc.py"), TESTS).unwrap();
        std::fs::write(
            repo.join(".gitignore"),
            "__pycache__/\n.pytest_cache/\nbaton.toml\n",
        )
        .unwrap();
        git(&repo, &["init", "--quiet", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "--quiet", "-m", "start"]);
        std::fs::write(
            repo.join("baton.toml"),
            format!(
                "[backends.local]\nurls = [\"{}\"]\nretries = 0\n\n\
                 [profiles.code]\nmodel = \"scripted\"\nfallback = []\n\n\
                 [verify]\ntest = \"{} -m pytest -q -p no:cacheprovider\"\n",
                server.openai_url(),
                python()
            ),
        )
        .unwrap();
        Project { dir, repo }
    }

    /// `program ARGS…` in a sealed environment (temp HOME and config dir, none of the
    /// caller's `BATON_*` variables), in the repository.
    fn sealed(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(&self.repo)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// `run_client.py SCENARIO BATON REPO`, sealed.
    fn client_command(&self, scenario: &str) -> Command {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_client.py");
        let mut command = self.sealed(Path::new(&python()));
        command
            .arg(script)
            .arg(scenario)
            .arg(baton_binary())
            .arg(&self.repo);
        command
    }

    /// Runs `run_client.py SCENARIO` to its end and returns its JSON summary.
    async fn client(&self, scenario: &str) -> Value {
        let output = tokio::time::timeout(CLIENT_TIMEOUT, self.client_command(scenario).output())
            .await
            .expect("the Python client timed out")
            .unwrap();
        self.summary(scenario, &output)
    }

    /// The summary, the last line on stdout of a client that must have succeeded.
    fn summary(&self, scenario: &str, output: &std::process::Output) -> Value {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "run_client.py {scenario} failed ({}):\nstdout: {stdout}\nstderr: {stderr}\n{}",
            output.status,
            self.logs()
        );
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|error| {
            panic!("run_client.py printed no JSON summary ({error}): {stdout}")
        })
    }

    /// The workers' logs, to show why a run did not get where it should have.
    fn logs(&self) -> String {
        let dir = self.repo.join(".baton/workers");
        let mut out = String::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            out.push_str(&format!("--- {}\n{text}\n", entry.path().display()));
        }
        out
    }

    /// Asserts that no process started for this project is left, waiting a moment for
    /// supervisors writing their last record.
    fn assert_nothing_left(&self) {
        let root = self.dir.path().to_string_lossy().into_owned();
        let deadline = Instant::now() + LEFT_BEHIND_WAIT;
        loop {
            let left = processes_under(&root);
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "processes left behind: {left:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Live processes working in `root` or naming it, with their command lines.
fn processes_under(root: &str) -> Vec<String> {
    baton_test_support::host::processes_under(root)
        .into_iter()
        .map(|(pid, cmdline)| format!("{pid}: {cmdline}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_start_then_run_status_until_awaiting_review_then_run_review_reject_and_approve_signs_the_run_off()
 {
    require_mcp_and_pytest().await;
    let script = Script::new()
        .when(
            "Subtask calc:",
            Reply::text(format!("calc.py\n```python\n{CALC}```\n")),
        )
        .when(
            "The reviewer rejected",
            Reply::text(format!("calc.py\n```python\n{CALC_DOCUMENTED}```\n")),
        );
    let server = ScriptedServer::start(script).await.unwrap();
    let project = Project::new(&server);

    let summary = project.client("review").await;

    assert_eq!(summary["tools"], json!(TOOL_NAMES));
    let started = &summary["started"];
    let run = started["run"].as_str().unwrap().to_string();
    assert!(
        started["worker"].as_str().unwrap().starts_with('w'),
        "{started}"
    );
    // The ticket given as text has a file of its own, which the run points at.
    let ticket = project.repo.join(format!(".baton/tickets/{run}.md"));
    assert_eq!(started["ticket"], json!(ticket.to_string_lossy()));
    assert!(
        std::fs::read_to_string(&ticket)
            .unwrap()
            .contains("## Acceptance criteria")
    );
    let plan = project.repo.join(format!(".baton/tickets/{run}.plan.json"));
    assert_eq!(started["plan"], json!(plan.to_string_lossy()));
    assert!(plan.is_file());

    let waiting = &summary["waiting"];
    assert_eq!(waiting["run"]["ticket"], json!("T-7"), "{waiting}");
    assert_eq!(waiting["run"]["ticket_path"], started["ticket"]);
    let digest = &waiting["digest"];
    assert_eq!(digest["subtasks"][0]["id"], json!("calc"), "{digest}");
    assert_eq!(digest["subtasks"][0]["status"], json!("done"), "{digest}");
    assert_eq!(digest["subtasks_done"], json!(1));
    assert_eq!(digest["subtasks_failed"], json!(0));
    assert_eq!(digest["commits"].as_array().unwrap().len(), 1, "{digest}");
    assert!(digest["tokens"]["local"].as_u64().unwrap() > 0, "{digest}");
    assert_eq!(digest["tokens"]["cloud"], json!(0));
    assert!(
        digest["next"].as_str().unwrap().contains("review"),
        "{digest}"
    );
    assert_eq!(
        waiting["coordinator"]["name"],
        json!(format!("run:{run}")),
        "{waiting}"
    );

    assert_eq!(summary["no_notes_is_error"], json!(true), "{summary}");
    assert!(
        summary["no_notes_message"]
            .as_str()
            .unwrap()
            .contains("needs `notes`"),
        "{summary}"
    );
    let rejected = &summary["rejected"];
    assert_eq!(rejected["approved"], json!(false), "{rejected}");
    assert_eq!(rejected["recorded"], json!(true), "{rejected}");
    assert!(
        rejected["next"].as_str().unwrap().contains("next review"),
        "{rejected}"
    );
    let rewaiting = &summary["rewaiting"];
    let verdict = &rewaiting["digest"]["verdict"];
    assert_eq!(verdict["verdict"]["approved"], json!(false), "{verdict}");
    assert_eq!(
        verdict["verdict"]["required_fixes"],
        json!(["add must have a docstring"])
    );
    assert_eq!(
        rewaiting["digest"]["commits"].as_array().unwrap().len(),
        2,
        "the fix is a commit of its own: {rewaiting}"
    );

    let reviewed = &summary["reviewed"];
    assert_eq!(reviewed["run"], json!(run));
    assert_eq!(reviewed["approved"], json!(true));
    assert_eq!(reviewed["recorded"], json!(true), "{reviewed}");
    assert_ne!(
        reviewed["worker"], rejected["worker"],
        "each verdict has a process of its own"
    );

    let approved = &summary["approved"];
    assert_eq!(approved["run"]["status"], json!("approved"), "{approved}");
    assert_eq!(approved["coordinator"]["alive"], json!(false));
    assert_eq!(
        approved["coordinator"]["status"],
        json!("succeeded"),
        "{approved}"
    );
    let verdict = &approved["digest"]["verdict"];
    assert_eq!(verdict["reviewer"], json!("external"), "{verdict}");
    assert_eq!(verdict["verdict"]["approved"], json!(true));
    assert!(
        approved["reports"]
            .as_array()
            .unwrap()
            .contains(&json!("PR.md")),
        "{approved}"
    );
    let statuses: Vec<&str> = summary["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status.as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"approved"), "{statuses:?}");
    assert!(statuses.contains(&"awaiting_review"), "{statuses:?}");
    // The project's pytest was the gate, and it passed on the coder's change and on the fix.
    assert_eq!(summary["gates"], json!([true, true]), "{summary}");
    assert!(
        summary["event_kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("review.verdict")),
        "{summary}"
    );
    assert_eq!(summary["listed"], json!([run]));
    assert_eq!(summary["again_is_error"], json!(true));
    assert!(
        summary["again_message"]
            .as_str()
            .unwrap()
            .contains("not awaiting a review"),
        "{summary}"
    );
    // The change is on the run's branch, in its worktree; the user's tree is untouched.
    let worktree = PathBuf::from(approved["run"]["worktree"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(worktree.join("calc.py")).unwrap(),
        CALC_DOCUMENTED
    );
    assert_eq!(
        std::fs::read_to_string(project.repo.join("calc.py")).unwrap(),
        ""
    );
    project.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_start_with_an_invalid_plan_is_a_tool_error_naming_the_problem_and_a_dry_run_starts_nothing()
 {
    require_mcp_and_pytest().await;
    let server = ScriptedServer::start(Script::new()).await.unwrap();
    let project = Project::new(&server);

    let summary = project.client("invalid-plan").await;

    assert_eq!(summary["is_error"], json!(true), "{summary}");
    let message = summary["message"].as_str().unwrap();
    assert!(
        message.contains("subtasks[0].depends_on[0]: no subtask has the id \"ghost\""),
        "{message}"
    );
    assert!(message.contains("\nhint: "), "{message}");
    // A dry run answers with the spec and the plan, checked.
    let checked = &summary["checked"];
    assert_eq!(checked["run"], Value::Null, "{checked}");
    assert_eq!(
        checked["plan"]["subtasks"][0]["id"],
        json!("calc"),
        "{checked}"
    );
    assert_eq!(
        checked["spec"]["acceptance"],
        json!(["add returns the sum of its arguments"]),
        "{checked}"
    );
    assert_eq!(summary["runs"], json!([]));
    assert_eq!(server.request_count(), 0, "no model was asked");
    project.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_status_of_an_unknown_run_is_a_tool_error_with_a_hint() {
    require_mcp_and_pytest().await;
    let server = ScriptedServer::start(Script::new()).await.unwrap();
    let project = Project::new(&server);

    let summary = project.client("unknown-run").await;

    assert_eq!(summary["is_error"], json!(true), "{summary}");
    let message = summary["message"].as_str().unwrap();
    assert!(
        message.starts_with("no run `19990101-000000-none`"),
        "{message}"
    );
    assert!(message.contains("\nhint: "), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_start_whose_process_is_killed_is_continued_by_run_resume_where_it_stopped() {
    require_mcp_and_pytest().await;
    // The coder's first request hangs until its process is killed; the resumed run's is
    // answered.
    let script = Script::new()
        .when("Subtask calc:", Reply::HangBeforeFirstToken)
        .when(
            "Subtask calc:",
            Reply::text(format!("calc.py\n```python\n{CALC}```\n")),
        );
    let server = ScriptedServer::start(script).await.unwrap();
    let project = Project::new(&server);
    let mut client = project
        .client_command("resume")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let mut stdout = BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(CLIENT_TIMEOUT, stdout.read_line(&mut line))
        .await
        .expect("the client never started the run")
        .unwrap();
    let started: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|error| panic!("not the started run ({error}): {line:?}"));
    tokio::time::timeout(CLIENT_TIMEOUT, server.wait_for_in_flight(|n| n > 0))
        .await
        .expect("the run never asked the coder");
    let worker = started["worker"].as_str().unwrap();
    let killed = project
        .sealed(&baton_binary())
        .args(["kill", worker])
        .output()
        .await
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");
    stdin.write_all(b"killed\n").await.unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    let finished = tokio::time::timeout(CLIENT_TIMEOUT, async {
        stdout.read_to_end(&mut rest).await.unwrap();
        client.wait_with_output().await.unwrap()
    })
    .await
    .expect("the Python client timed out");
    let output = std::process::Output {
        stdout: rest,
        ..finished
    };
    let summary = project.summary("resume", &output);

    let run = started["run"].as_str().unwrap();
    let stopped = &summary["stopped"];
    assert_eq!(stopped["run"]["status"], json!("interrupted"), "{stopped}");
    assert!(
        stopped["digest"]["next"]
            .as_str()
            .unwrap()
            .contains("resume it"),
        "{stopped}"
    );
    let resumed = &summary["resumed"];
    assert_eq!(resumed["run"], json!(run));
    assert_ne!(resumed["worker"], started["worker"], "{resumed}");
    let waiting = &summary["waiting"];
    assert_eq!(waiting["run"]["status"], json!("awaiting_review"));
    assert_eq!(waiting["coordinator"]["id"], resumed["worker"], "{waiting}");
    assert_eq!(waiting["digest"]["subtasks"][0]["status"], json!("done"));
    assert_eq!(waiting["digest"]["commits"].as_array().unwrap().len(), 1);
    let chats: Vec<String> = server
        .requests()
        .iter()
        .filter(|request| request.is_chat())
        .map(|request| request.path.clone())
        .collect();
    assert_eq!(chats.len(), 2, "one hung request, one answered: {chats:?}");
    project.assert_nothing_left();
}

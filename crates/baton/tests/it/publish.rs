//! Publishing a run's trail through the binary: GitHub through a recording `gh` and a real
//! bare git remote, a webhook receiver that checks signatures, outages that leave
//! publications pending for `baton publish RUN`, and nothing posted twice.

use std::path::{Path, PathBuf};

use baton_test_support::{
    BlockingScriptedServer, FakeGh, FakeGhRecord, Reply, Script, WebhookReceiver, fake_gh,
};
use hmac::{Hmac, Mac};

use crate::run::{git, repo};
use crate::support::Sandbox;

fn verdict(approved: bool, fixes: &[&str]) -> Reply {
    Reply::text(
        serde_json::json!({"approved": approved, "findings": [], "required_fixes": fixes})
            .to_string(),
    )
}

/// The coder writes a clamp that ignores its bounds; the reviewer rejects it once, the fix
/// bounds it, and the second review approves.
fn reject_then_approve() -> Script {
    Script::new()
        .when(
            "The reviewer rejected",
            Reply::text(
                "clamp.py\n```python\ndef clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n```\n",
            ),
        )
        .when(
            "Subtask clamp:",
            Reply::text("clamp.py\n```python\ndef clamp(v, lo, hi):\n    return v\n```\n"),
        )
        .when("max(lo, min(v, hi))", verdict(true, &[]))
        .when(
            "Review this change",
            verdict(false, &["bound the value by lo and hi"]),
        )
}

/// The run of the repository's ticket and plan, published to GitHub.
const GITHUB_RUN: &[&str] = &[
    "run",
    "T-9.md",
    "--plan",
    "plan.json",
    "--publish",
    "github",
];

/// Runs `args` with `--json`, which must succeed; the run's summary (the last line).
fn run_to_the_end(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let run = sandbox.run(&args);
    run.assert_ok();
    serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap()
}

/// A repository with a bare `origin` and a recording `gh`: the remote, the record, and the
/// `-c` value that points Baton at that `gh`.
fn published_repo(sandbox: &Sandbox, gh: &FakeGh) -> (PathBuf, FakeGhRecord, String) {
    repo(sandbox);
    let remote = sandbox.path().join("remote.git");
    git(
        sandbox,
        &["init", "--quiet", "--bare", remote.to_str().unwrap()],
    );
    git(
        sandbox,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(sandbox, &["push", "--quiet", "origin", "main"]);
    let bin = sandbox.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let (program, record) = fake_gh(&bin, gh);
    (
        remote,
        record,
        format!("publish.github.gh={}", program.display()),
    )
}

fn remote_log(remote: &Path, branch: &str) -> Vec<String> {
    let out = baton_test_support::host::git(remote, &["log", "--format=%H %s", branch]);
    out.lines().map(str::to_string).collect()
}

#[test]
fn a_run_published_to_github_opens_a_draft_before_any_code_pushes_each_commit_and_is_marked_ready()
{
    let server = BlockingScriptedServer::start(reject_then_approve()).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let (remote, gh, config) = published_repo(&sandbox, &FakeGh::default());
    let summary = run_to_the_end(
        &sandbox,
        &[&["-c", config.as_str()][..], GITHUB_RUN].concat(),
    );
    assert_eq!(summary["run"]["status"], "approved", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap();
    let branch = format!("baton/{id}");

    // The remote has every commit of the run's branch, the begin commit first.
    let pushed = remote_log(&remote, &branch);
    let local = baton_test_support::host::git(sandbox.path(), &["log", "--format=%H %s", &branch]);
    assert_eq!(
        pushed,
        local.lines().map(str::to_string).collect::<Vec<_>>()
    );
    assert!(
        pushed.last().unwrap().ends_with("start")
            && pushed[pushed.len() - 2].contains("begin Clamp"),
        "{pushed:?}"
    );

    let commands: Vec<String> = gh.calls().iter().map(|call| call.command()).collect();
    assert_eq!(
        commands,
        ["pr list", "pr create", "pr review", "pr edit", "pr ready"],
        "{:?}",
        gh.calls()
    );
    let create = &gh.calls_of("pr create")[0];
    let arg = |name: &str| {
        let at = create.args.iter().position(|a| a == name).unwrap();
        create.args[at + 1].clone()
    };
    assert!(create.args.contains(&"--draft".to_string()));
    assert_eq!(arg("--head"), branch);
    assert_eq!(arg("--base"), "main");
    assert_eq!(arg("--title"), "T-9: Clamp");
    assert!(create.stdin.contains("## Design"), "{}", create.stdin);

    // The draft was opened before any code: when `pr create` ran, the remote branch held the
    // begin commit only. The events say the same: pr.open was sent before the first
    // dispatch's push.
    let events = sandbox.run(&["show", id, "--json"]).json()["events"].clone();
    let sent: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "publish.sent" && e["data"]["target"] == "github")
        .map(|e| e["data"]["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&sent[..2], ["push", "pr.open"], "{sent:?}");
    assert!(sent[2..].contains(&"push".to_string()));

    let review = &gh.calls_of("pr review")[0];
    assert_eq!(review.args[2], "1", "on the pull request gh created");
    assert!(review.args.contains(&"--comment".to_string()));
    for part in [
        "### Iteration 1: reviewer feedback",
        "**Rejected:** bound the value by lo and hi",
        "**Re-dispatched:** review fix 1",
        "**Result:** fixed",
    ] {
        assert!(review.stdin.contains(part), "{part} in {}", review.stdin);
    }
    let edit = &gh.calls_of("pr edit")[0];
    let pr_md =
        std::fs::read_to_string(sandbox.path().join(format!(".baton/runs/{id}/PR.md"))).unwrap();
    assert_eq!(edit.stdin, pr_md, "the body is the final PR.md");
    assert_eq!(gh.calls_of("pr ready")[0].args[2], "1");

    // Nothing is left to publish, and publishing again posts nothing.
    let again = sandbox.run(&["publish", id, "--json"]);
    again.assert_ok();
    assert_eq!(again.json()["pending"], 0);
    assert_eq!(again.json()["sent_now"], 0);
    assert_eq!(gh.calls().len(), 5);
    sandbox.assert_nothing_left();
}

#[test]
fn github_down_during_a_run_leaves_it_approved_and_baton_publish_delivers_the_rest_once() {
    let server = BlockingScriptedServer::start(reject_then_approve()).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    // `pr create` fails through the whole run (its tries: during the run and the last pass).
    let gh = FakeGh {
        fail: vec![("pr create".into(), 10)],
        // The first review comment reaches GitHub, but its answer is lost.
        post_then_fail: vec![("pr review".into(), 1)],
        ..FakeGh::default()
    };
    let (_remote, record, config) = published_repo(&sandbox, &gh);
    let summary = run_to_the_end(
        &sandbox,
        &[&["-c", config.as_str()][..], GITHUB_RUN].concat(),
    );
    assert_eq!(
        summary["run"]["status"], "approved",
        "publishing never fails a run"
    );
    let id = summary["run"]["id"].as_str().unwrap();
    assert!(
        record.calls_of("pr review").is_empty(),
        "nothing after a failed pr.open"
    );

    let pending = sandbox.run(&["publish", id, "--json"]);
    assert_ne!(pending.code, 0, "still pending: {}", pending.stdout);
    assert!(pending.stderr.contains("hint:"), "{}", pending.stderr);
    let answer = pending.json();
    let open = answer["publications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["action"] == "pr.open")
        .unwrap()
        .clone();
    assert_eq!(open["status"], "pending");
    assert!(
        open["last_error"].as_str().unwrap().contains("502"),
        "{open}"
    );

    // GitHub is back: the outbox drains in order. The review comment's first attempt posted
    // and failed; its retry finds it posted and posts nothing.
    std::fs::write(record.dir.join("fail-pr-create"), "0").unwrap();
    let first = sandbox.run(&["publish", id, "--json"]);
    assert_ne!(
        first.code, 0,
        "the review comment failed once: {}",
        first.stdout
    );
    let second = sandbox.run(&["publish", id, "--json"]);
    second.assert_ok();
    assert_eq!(second.json()["pending"], 0, "{}", second.stdout);
    assert_eq!(record.calls_of("pr review").len(), 1, "posted once");
    assert_eq!(
        record.calls_of("pr view").len(),
        1,
        "looked before posting again"
    );
    assert_eq!(record.calls_of("pr ready").len(), 1);
    let third = sandbox.run(&["publish", id, "--json"]);
    third.assert_ok();
    assert_eq!(third.json()["sent_now"], 0);
    sandbox.assert_nothing_left();
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The repository's run published to a webhook receiver (failing its first `fail` requests)
/// with bodies signed by `secret`, with `more` arguments; the sandbox, the receiver, the run.
fn signed_webhook_run(
    server: &BlockingScriptedServer,
    fail: u32,
    secret: &str,
    more: &[&str],
) -> (Sandbox, WebhookReceiver, crate::support::Run) {
    let receiver = WebhookReceiver::start(fail).unwrap();
    let sandbox = Sandbox::new()
        .coder_url(&server.openai_url())
        .var("HOOK_SECRET", secret);
    repo(&sandbox);
    let target = format!("webhook={}", receiver.url());
    let mut args = vec![
        "-c",
        "publish.webhook.secret_env=HOOK_SECRET",
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--publish",
        &target,
        "--json",
    ];
    args.extend_from_slice(more);
    let run = sandbox.run(&args);
    (sandbox, receiver, run)
}

#[test]
fn every_event_of_a_run_reaches_a_webhook_once_in_order_and_signed() {
    let server = BlockingScriptedServer::start(reject_then_approve()).unwrap();
    let secret = "s3cr3t-webhook-value";
    let (sandbox, receiver, run) = signed_webhook_run(&server, 2, secret, &[]);
    run.assert_ok();
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    let id = summary["run"]["id"].as_str().unwrap();
    // The first two deliveries were refused with a 500 and retried.
    let publish = sandbox.run(&["publish", id, "--json"]);
    publish.assert_ok();
    let received = receiver.received();
    assert_eq!(received.iter().filter(|r| !r.accepted).count(), 2);
    let accepted: Vec<_> = received.iter().filter(|r| r.accepted).collect();
    for request in &accepted {
        assert_eq!(
            request.headers["x-baton-signature-256"],
            signature(secret, &request.body),
            "signed with the secret"
        );
    }
    let bodies: Vec<serde_json::Value> = accepted
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let ids: Vec<i64> = bodies.iter().map(|b| b["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "each event once, in order");
    let events = sandbox.run(&["show", id, "--json"]).json()["events"].clone();
    let trail: Vec<i64> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["kind"].as_str().unwrap().starts_with("publish."))
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, trail, "every event of the run but publishing's own");
    assert_eq!(bodies[0]["kind"], "run.started");
    assert_eq!(bodies.last().unwrap()["kind"], "run.ended");
    // The secret is in no record of the run.
    let folder = sandbox.path().join(format!(".baton/runs/{id}"));
    let jsonl = std::fs::read_to_string(folder.join("events.jsonl")).unwrap();
    assert!(
        !jsonl.contains(secret) && !run.stdout.contains(secret) && !run.stderr.contains(secret)
    );
    let db = std::fs::read(sandbox.path().join(".baton/baton.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(secret));
    sandbox.assert_nothing_left();
}

#[test]
fn a_run_for_a_github_issue_reads_its_ticket_with_gh_and_its_pull_request_closes_it() {
    let server = BlockingScriptedServer::start(reject_then_approve()).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let gh = FakeGh {
        issue: Some((
            7,
            "Clamp".into(),
            "clamp(value, low, high) in clamp.py.\n\n## Acceptance criteria\n- [ ] clamp keeps values in range\n".into(),
        )),
        ..FakeGh::default()
    };
    let (_remote, record, config) = published_repo(&sandbox, &gh);
    let summary = run_to_the_end(
        &sandbox,
        &[
            "-c",
            &config,
            "run",
            "--github",
            "7",
            "--plan",
            "plan.json",
            "--publish",
            "github",
        ],
    );
    assert_eq!(summary["run"]["ticket"], "#7", "{summary}");
    assert_eq!(
        summary["spec"]["acceptance"][0],
        "clamp keeps values in range"
    );
    assert_eq!(record.calls()[0].args[..3], ["issue", "view", "7"]);
    let create = &record.calls_of("pr create")[0];
    assert!(create.stdin.contains("Closes #7"), "{}", create.stdin);
    let unknown = sandbox.run(&[
        "run",
        "--publish",
        "gitlab",
        "T-9.md",
        "--plan",
        "plan.json",
    ]);
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("`gitlab`") && unknown.stderr.contains("hint:"),
        "{}",
        unknown.stderr
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_detached_run_publishes_as_a_foreground_one_does_with_the_secret_passed_to_its_process() {
    let server = BlockingScriptedServer::start(reject_then_approve()).unwrap();
    let secret = "detached-hook-secret";
    let (sandbox, receiver, started) = signed_webhook_run(&server, 0, secret, &["--detach"]);
    started.assert_ok();
    let id = started.json()["run"].as_str().unwrap().to_string();
    crate::detach::until(&sandbox, &id, "approved");
    // Its coordinator delivered everything before it ended.
    let received = receiver.received();
    let last: serde_json::Value = serde_json::from_slice(&received.last().unwrap().body).unwrap();
    assert_eq!(last["kind"], "run.ended", "{last}");
    for request in &received {
        assert!(request.accepted);
        assert_eq!(
            request.headers["x-baton-signature-256"],
            signature(secret, &request.body)
        );
    }
    let outbox = sandbox.run(&["publish", &id, "--json"]);
    outbox.assert_ok();
    assert_eq!(outbox.json()["sent_now"], 0, "nothing was left for later");
    sandbox.assert_nothing_left();
}

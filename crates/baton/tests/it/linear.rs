//! Publishing to Linear through the binary, against the scripted Linear endpoint (which
//! validates every query against Linear's schema): a whole run's comments, status and
//! sibling cross-reference; Linear down during a run and `baton publish RUN` after it; a
//! ticket read from a Linear issue; and an API key that is missing, refused, then right,
//! whose value shows up nowhere.

use std::path::Path;

use baton_test_support::{BlockingScriptedServer, FakeLinear, Reply, Script};

use crate::run::{git, repo};
use crate::support::Sandbox;

/// A distinctive key, to grep for.
const KEY: &str = "lin_api_it_q7Zx3Kd9Wm2Pv5";

/// The run's ticket, for Linear issue ENG-2; its criteria are what the run delivers.
const TICKET: &str = "---\nid: ENG-2\ntitle: Clamp\n---\n\nclamp(value, low, high) in clamp.py.\n\n## Acceptance criteria\n\n- clamp keeps values in range\n- clamp returns low for values below low\n";

/// A sibling partly covered by the run, with text of its own around its criteria.
/// The coder writes `clamp.py` at once and the reviewer approves.
fn clamp_then_approve() -> Script {
    Script::new()
        .when(
            "Subtask clamp:",
            Reply::text(
                "clamp.py\n```python\ndef clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n```\n",
            ),
        )
        .when(
            "Review this change",
            Reply::text(
                serde_json::json!({"approved": true, "findings": [], "required_fixes": []})
                    .to_string(),
            ),
        )
}

/// Linear with the run's issue ENG-2 among its siblings ([`FakeLinear::clamp_family`]).
fn linear() -> FakeLinear {
    let linear = FakeLinear::start(KEY).unwrap();
    linear.clamp_family();
    linear
}

/// The sandbox's repository with the ENG-2 ticket and the clamp plan.
fn sandbox(server: &BlockingScriptedServer) -> Sandbox {
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    sandbox.write("ENG-2.md", TICKET);
    git(&sandbox, &["add", "ENG-2.md"]);
    git(&sandbox, &["commit", "--quiet", "-m", "ticket"]);
    sandbox
}

/// `-c publish.linear.api_url=…` for `linear`.
fn api_url(linear: &FakeLinear) -> String {
    format!("publish.linear.api_url={}", linear.url())
}

/// Runs ENG-2 published to Linear and merged, with `--json`, which must succeed; the summary.
fn run_published(sandbox: &Sandbox, linear: &FakeLinear) -> serde_json::Value {
    let url = api_url(linear);
    let run = sandbox.run(&[
        "-c",
        &url,
        "run",
        "ENG-2.md",
        "--plan",
        "plan.json",
        "--merge",
        "--publish",
        "linear",
        "--json",
    ]);
    run.assert_ok();
    serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap()
}

/// The comments on `issue` that are phase comments, in order.
fn phase_comments(linear: &FakeLinear, issue: &str) -> Vec<String> {
    linear
        .comments(issue)
        .into_iter()
        .filter(|body| body.starts_with("## ") && body.contains(" Phase "))
        .collect()
}

/// Asserts the trail the run left on ENG-2 and its siblings.
#[track_caller]
fn assert_published(linear: &FakeLinear, id: &str) {
    let phases = phase_comments(linear, "ENG-2");
    let titles = [
        "Phase 1: Requirements complete",
        "Phase 2: Architecture complete",
        "Phase 3: Implementation complete",
        "Phase 4: Verification complete",
        "Phase 5: Review complete",
        "Phase 6: Sign-off complete",
    ];
    assert_eq!(phases.len(), titles.len(), "{phases:#?}");
    for (comment, title) in phases.iter().zip(titles) {
        let heading = comment.lines().next().unwrap();
        assert!(heading.ends_with(title), "{heading} / {title}");
        assert!(comment.contains("\n**Agent:** "), "{comment}");
        assert!(
            comment.contains(&format!("\n\n`baton:{id}:comment:")),
            "{comment}"
        );
    }
    assert_eq!(
        linear.comments("ENG-2").len(),
        phases.len(),
        "only phase comments on the run's issue"
    );
    assert_eq!(
        linear.moves_of("ENG-2"),
        ["In Progress", "In Review", "Done"]
    );

    // Fully covered: moved to Done, with a comment and the section.
    assert_eq!(linear.moves_of("ENG-3"), ["Done"]);
    let done = linear.comments("ENG-3");
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(
        done[0].contains(&format!("Baton run `{id}` (ENG-2)")),
        "{}",
        done[0]
    );
    assert!(done[0].contains("moves to **Done**"), "{}", done[0]);
    let described = linear.description_of("ENG-3").unwrap();
    assert!(described.contains("## [Already Built]"), "{described}");
    assert!(
        described.ends_with(
            "- [x] clamp keeps values in range\n- [x] clamp returns low for values below low\n"
        ),
        "{described}"
    );

    // Partly covered: commented and sectioned, the user's text kept, not moved.
    assert_eq!(linear.state_of("ENG-4"), "Backlog");
    assert!(linear.moves_of("ENG-4").is_empty());
    let partly = linear.comments("ENG-4");
    assert_eq!(partly.len(), 1, "{partly:?}");
    assert!(partly[0].contains("delivered 1 of this issue's 2 acceptance criteria"));
    linear.assert_partly_sectioned();

    // Unrelated, done already, the parent: untouched.
    for issue in ["ENG-1", "ENG-5", "ENG-6"] {
        assert!(linear.comments(issue).is_empty(), "{issue}");
        assert!(linear.moves_of(issue).is_empty(), "{issue}");
    }
    assert_eq!(
        linear.description_of("ENG-5").as_deref(),
        Some("- [ ] the README explains clamp")
    );

    // Every request with the key as Linear takes it (as it is, no `Bearer`) validated against
    // the schema (500s are the outages tests make); any other was refused.
    for request in linear.requests() {
        let expected: &[u16] = if request.authorization.as_deref() == Some(KEY) {
            &[200, 500]
        } else {
            &[401]
        };
        assert!(expected.contains(&request.status), "{request:?}");
    }
    assert!(
        linear
            .requests()
            .iter()
            .any(|request| request.status == 200)
    );
}

#[test]
fn a_merged_run_published_to_linear_comments_each_phase_moves_the_issue_and_cross_references_siblings()
 {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let linear = linear();
    let sandbox = sandbox(&server).var("LINEAR_API_KEY", KEY);
    let summary = run_published(&sandbox, &linear);
    assert_eq!(summary["run"]["status"], "approved", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap();
    assert_published(&linear, id);

    let publish = sandbox.run(&["publish", id, "--json"]);
    publish.assert_ok();
    let answer = publish.json();
    assert_eq!(answer["pending"], 0, "{answer}");
    assert_eq!(answer["sent_now"], 0, "{answer}");
    let siblings = answer["publications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "siblings")
        .unwrap();
    assert_eq!(siblings["status"], "sent");
    sandbox.assert_nothing_left();
}

#[test]
fn with_linear_down_the_run_is_approved_and_baton_publish_delivers_everything_once_later() {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let linear = linear();
    let sandbox = sandbox(&server).var("LINEAR_API_KEY", KEY);
    linear.set_down(true);
    let summary = run_published(&sandbox, &linear);
    assert_eq!(summary["run"]["status"], "approved", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap().to_string();
    let rows = sandbox.store().outbox_of(&id).unwrap();
    let linear_rows: Vec<_> = rows
        .iter()
        .filter(|row| row.target == baton_core::publish::Target::Linear)
        .collect();
    // Three status moves, six phase comments, the cross-reference.
    assert_eq!(linear_rows.len(), 10, "{linear_rows:#?}");
    assert!(
        linear_rows
            .iter()
            .all(|row| row.status == baton_store::OutboxStatus::Pending)
    );
    assert!(
        linear_rows[0]
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("500")),
        "{:?}",
        linear_rows[0]
    );
    assert!(linear.comments("ENG-2").is_empty());

    // Linear is back, but the answer to the first comment is lost after it was posted: that
    // publication stays pending, and its retry finds the comment instead of posting again.
    linear.set_down(false);
    linear.lose_answers_to("commentCreate", 1);
    let first = sandbox.run(&["publish", &id, "--json"]);
    assert_ne!(first.code, 0, "{}", first.stdout);
    let answer = first.json();
    assert!(answer["pending"].as_u64().unwrap() > 0, "{answer}");
    assert_eq!(phase_comments(&linear, "ENG-2").len(), 1);

    let second = sandbox.run(&["publish", &id, "--json"]);
    second.assert_ok();
    assert_eq!(second.json()["pending"], 0, "{}", second.stdout);
    assert_published(&linear, &id);

    let before = (linear.mutations(), linear.comments("ENG-2").len());
    let third = sandbox.run(&["publish", &id, "--json"]);
    third.assert_ok();
    assert_eq!(third.json()["sent_now"], 0);
    assert_eq!((linear.mutations(), linear.comments("ENG-2").len()), before);
    sandbox.assert_nothing_left();
}

#[test]
fn a_run_for_a_linear_issue_reads_its_ticket_from_linear() {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let linear = FakeLinear::start(KEY).unwrap();
    linear.team("ENG", &[]);
    linear.issue(
        "ENG-7",
        "Clamp values",
        "clamp(value, low, high) in clamp.py.\n\n## Acceptance criteria\n- [ ] clamp keeps values in range\n",
        "Todo",
    );
    let sandbox = Sandbox::new()
        .coder_url(&server.openai_url())
        .var("BATON_IT_LINEAR", KEY);
    repo(&sandbox);
    let run = sandbox.run(&[
        "-c",
        &api_url(&linear),
        "-c",
        "publish.linear.api_key_env=BATON_IT_LINEAR",
        "run",
        "--linear",
        "ENG-7",
        "--plan",
        "plan.json",
        "--json",
    ]);
    run.assert_ok();
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["ticket"], "ENG-7", "{listed}");
    assert_eq!(listed[0]["title"], "Clamp values", "{listed}");
    assert_eq!(listed[0]["status"], "approved", "{listed}");
    let ticket = std::fs::read_to_string(sandbox.path().join(".baton/tickets/ENG-7.md")).unwrap();
    assert!(ticket.contains("# Clamp values"), "{ticket}");
    assert!(
        ticket.contains("- [ ] clamp keeps values in range"),
        "{ticket}"
    );
    assert!(
        ticket.contains("source: https://linear.app/fake/issue/ENG-7"),
        "{ticket}"
    );
    // Read, and nothing published: the run did not ask for it.
    let requests = linear.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].fields, ["issue"]);
    assert_eq!(requests[0].authorization.as_deref(), Some(KEY));
    sandbox.assert_nothing_left();
}

/// Every file under `dir` (recursively) whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_missing_or_refused_api_key_leaves_the_run_approved_and_its_publications_pending_and_the_key_is_shown_nowhere()
 {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let linear = linear();
    let sandbox = sandbox(&server);
    let summary = run_published(&sandbox, &linear);
    assert_eq!(summary["run"]["status"], "approved", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap().to_string();
    assert!(
        linear.requests().is_empty(),
        "nothing was sent without a key"
    );
    let rows = sandbox.store().outbox_of(&id).unwrap();
    let first = rows
        .iter()
        .find(|row| row.target == baton_core::publish::Target::Linear)
        .unwrap();
    assert_eq!(first.status, baton_store::OutboxStatus::Pending);
    let error = first.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("LINEAR_API_KEY is not set"), "{error}");
    let shown = sandbox.run(&["publish", &id, "--json"]);
    assert_ne!(shown.code, 0);
    assert!(
        shown.stdout.contains("LINEAR_API_KEY is not set"),
        "{}",
        shown.stdout
    );

    // A key Linear refuses: still pending, the refusal told, the key not.
    let refused = "lin_api_it_refused_Rt8Lw4Nc";
    let mut outputs = vec![shown];
    let mut wrong = sandbox.command(&["publish", &id, "--json"]);
    wrong.env("LINEAR_API_KEY", refused);
    let wrong = crate::support::Run::from(wrong.output().unwrap());
    assert_ne!(wrong.code, 0);
    assert!(wrong.stdout.contains("401"), "{}", wrong.stdout);
    outputs.push(wrong);

    // The right key: everything goes out.
    let mut right = sandbox.command(&["publish", &id, "--json"]);
    right.env("LINEAR_API_KEY", KEY);
    let right = crate::support::Run::from(right.output().unwrap());
    assert_eq!(right.code, 0, "{right:?}");
    assert_eq!(right.json()["pending"], 0);
    assert_published(&linear, &id);
    outputs.push(right);

    for key in [KEY, refused] {
        for output in &outputs {
            assert!(!output.stdout.contains(key) && !output.stderr.contains(key));
        }
        // The store, events.jsonl and every other file the runs left.
        assert_eq!(files_holding(sandbox.path(), key), Vec::<String>::new());
    }
    sandbox.assert_nothing_left();
}

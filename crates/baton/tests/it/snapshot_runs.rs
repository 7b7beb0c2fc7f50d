//! Snapshots of the errors of `baton run`, `resume`, `review` and `rollback` reachable
//! without a model server: a ticket or plan that cannot be read or does not check, a
//! directory that is no repository, an unknown run, a review without a verdict; and the
//! empty `baton runs --json`.

use crate::run::repo;
use crate::support::{Sandbox, snapshot};

fn offline() -> Sandbox {
    Sandbox::offline()
}

#[test]
fn run_errors_name_the_ticket_plan_or_directory_with_a_hint_and_exit_7() {
    let outside = offline();
    outside.write("T.md", "# T\n\nx\n");
    let run = outside.run(&["run", "missing.md"]);
    assert_eq!(run.code, 7, "{run:?}");
    snapshot!(outside, run, "run-missing-ticket");
    let run = outside.run(&["run", "T.md"]);
    assert_eq!(run.code, 7, "{run:?}");
    snapshot!(outside, run, "run-outside-a-repository");

    let sandbox = offline();
    repo(&sandbox);
    sandbox.write(
        "cycle.json",
        r#"{"summary": "s", "subtasks": [
            {"id": "a", "title": "a", "what": "a", "files": ["a.py"], "depends_on": ["b"]},
            {"id": "b", "title": "b", "what": "b", "files": ["../b.py"], "depends_on": ["a"]}]}"#,
    );
    sandbox.write(
        "typo.json",
        r#"{"summary": "s", "subtasks": [{"id": "a", "title": "a", "what": "a", "files": ["a.py"], "kinds": "code"}]}"#,
    );
    sandbox.write("typo.toml", "summary = \"s\"\n\n[[subtasks]]\nid = \"a\"\ntitle = \"a\"\nwhat = \"a\"\nfiles = [\"a.py\"]\ndepends = [\"b\"]\n");
    for (name, plan) in [
        ("run-plan-with-a-cycle-and-a-path-outside", "cycle.json"),
        ("run-plan-json-unknown-field", "typo.json"),
        ("run-plan-toml-unknown-field", "typo.toml"),
        ("run-plan-missing", "nope.json"),
    ] {
        let run = sandbox.run(&["run", "T-9.md", "--plan", plan]);
        assert_eq!(run.code, 7, "{name}: {run:?}");
        snapshot!(sandbox, run, name);
    }
    let empty = sandbox.run(&["runs", "--json"]);
    empty.assert_ok();
    snapshot!(sandbox, empty, "runs-json-empty");
    sandbox.assert_nothing_left();
}

#[test]
fn unknown_runs_and_a_review_without_a_verdict_are_refused_with_a_hint() {
    let sandbox = offline();
    repo(&sandbox);
    for (name, args, code) in [
        ("resume-unknown-run", &["resume", "20990101"][..], 7),
        ("show-unknown-run", &["show", "20990101"][..], 7),
        ("rollback-unknown-run", &["rollback", "20990101"][..], 7),
        ("publish-unknown-run", &["publish", "20990101"][..], 7),
        ("publish-nothing-pending", &["publish", "--json"][..], 0),
        (
            "run-without-a-ticket",
            &["run", "--plan", "plan.json"][..],
            2,
        ),
        (
            "run-publish-unknown-target",
            &[
                "run",
                "T-9.md",
                "--plan",
                "plan.json",
                "--publish",
                "github,gitlab",
            ][..],
            3,
        ),
        (
            "run-publish-webhook-without-a-url",
            &[
                "run",
                "T-9.md",
                "--plan",
                "plan.json",
                "--publish",
                "webhook",
            ][..],
            3,
        ),
        (
            "review-unknown-run",
            &["review", "20990101", "--approve"][..],
            7,
        ),
        (
            "clap-review-without-a-verdict",
            &["review", "20990101"][..],
            2,
        ),
        (
            "clap-review-approve-and-reject",
            &["review", "x", "--approve", "--reject", "no"][..],
            2,
        ),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, code, "{name}: {run:?}");
        snapshot!(sandbox, run, name);
    }
}

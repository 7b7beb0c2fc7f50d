//! The Linear target's deliveries against the scripted endpoint, which validates every
//! query against the schema excerpt and executes it over the issues seeded here.

use std::time::Duration;

use baton_config::env::EnvSnapshot;
use baton_core::publish::Target;
use baton_core::run::{RunRecord, RunStatus};
use baton_ops::ProjectOptions;
use baton_store::{Delivery, OutboxRow, OutboxStatus};
use baton_test_support::FakeLinear;
use pretty_assertions::assert_eq;

use super::*;

const KEY: &str = "lin_api_unit_5b1fd2c7e0";
const KEY_ENV: &str = "BATON_UNIT_LINEAR_KEY";
const RUN: &str = "20260101-000000-abcd";

struct Rig {
    linear: FakeLinear,
    _dir: tempfile::TempDir,
    project: Project,
    run: RunRecord,
    target: LinearTarget,
}

/// The endpoint with the run's issue ENG-2 (in Todo) among its siblings
/// ([`FakeLinear::clamp_family`]), and a project whose environment holds `key` in
/// [`KEY_ENV`] (none: unset).
fn rig_with(key: Option<&str>) -> Rig {
    let linear = FakeLinear::start(KEY).unwrap();
    linear.clamp_family();
    let dir = tempfile::tempdir().unwrap();
    let env = EnvSnapshot::from_pairs(key.map(|key| (KEY_ENV, key)), None);
    let project = Project::new(ProjectOptions {
        cwd: dir.path().to_path_buf(),
        env,
        ..ProjectOptions::default()
    });
    let run = RunRecord {
        id: RUN.into(),
        ticket_id: "ENG-2".into(),
        title: "Clamp".into(),
        ticket_path: String::new(),
        status: RunStatus::Running,
        why: None,
        repo: dir.path().display().to_string(),
        base_commit: String::new(),
        branch: format!("baton/{RUN}"),
        worktree: String::new(),
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let target = LinearTarget {
        issue: "ENG-2".into(),
        api_url: linear.url(),
        api_key_env: KEY_ENV.into(),
        in_progress: "In Progress".into(),
        in_review: "In Review".into(),
        done: "Done".into(),
    };
    Rig {
        linear,
        _dir: dir,
        project,
        run,
        target,
    }
}

fn rig() -> Rig {
    rig_with(Some(KEY))
}

/// Delivers `action` as publication `key`, after `earlier` attempts.
async fn send(rig: &Rig, key: &str, action: &Action, earlier: u32) -> Result<Delivered, String> {
    let delivery = Delivery {
        row: OutboxRow {
            id: 1,
            run_id: rig.run.id.clone(),
            target: Target::Linear,
            key: key.into(),
            action: action.name().into(),
            payload: serde_json::to_value(action).unwrap(),
            status: OutboxStatus::Pending,
            attempts: earlier,
            last_error: None,
            result: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        },
        earlier_attempts: earlier,
    };
    let cx = Deliver {
        project: &rig.project,
        run: &rig.run,
        rows: &[],
        delivery: &delivery,
        timeout: Duration::from_secs(10),
    };
    deliver(&rig.target, &cx, action).await
}

#[tokio::test]
async fn a_comment_is_posted_with_its_marker_and_a_retry_finds_it_instead_of_posting_again() {
    let rig = rig();
    let action = Action::Comment {
        body: "## Phase 1: Requirements complete".into(),
    };
    let sent = send(&rig, "comment:requirements:abc", &action, 0)
        .await
        .unwrap();
    let marker = format!("`baton:{RUN}:comment:requirements:abc`");
    assert_eq!(
        rig.linear.comments("ENG-2"),
        vec![format!("## Phase 1: Requirements complete\n\n{marker}")]
    );
    let url = sent.link.clone().unwrap();
    assert!(
        url.starts_with("https://linear.app/fake/issue/ENG-2#comment-"),
        "{url}"
    );
    let result = sent.result.unwrap();
    assert_eq!(result["url"], url.as_str());
    assert!(result["comment"].as_str().is_some_and(|id| !id.is_empty()));

    // The earlier attempt reached Linear: the retry finds the comment by its marker.
    let again = send(&rig, "comment:requirements:abc", &action, 1)
        .await
        .unwrap();
    assert_eq!(again.link.as_deref(), Some(url.as_str()));
    assert_eq!(again.result.unwrap()["found"], true);
    assert_eq!(rig.linear.comments("ENG-2").len(), 1);

    // A retry of one that never got there posts it.
    send(&rig, "comment:architecture:def", &action, 2)
        .await
        .unwrap();
    assert_eq!(rig.linear.comments("ENG-2").len(), 2);

    // Every request carried the personal key as it is, and validated.
    for request in rig.linear.requests() {
        assert_eq!(request.authorization.as_deref(), Some(KEY));
        assert_eq!(request.status, 200, "{request:?}");
    }
}

#[tokio::test]
async fn a_status_is_set_by_name_in_any_case_once_and_an_unknown_name_lists_the_teams_states() {
    let rig = rig();
    let action = Action::State {
        state: "in progress".into(),
    };
    let moved = send(&rig, "state:in_progress", &action, 0).await.unwrap();
    assert_eq!(rig.linear.state_of("ENG-2"), "In Progress");
    assert_eq!(moved.result.unwrap(), json!({ "state": "In Progress" }));
    assert_eq!(
        moved.link.as_deref(),
        Some("https://linear.app/fake/issue/ENG-2")
    );
    assert_eq!(rig.linear.mutations(), 1);

    let again = send(&rig, "state:in_progress", &action, 1).await.unwrap();
    assert_eq!(again.result.unwrap()["already"], true);
    assert_eq!(rig.linear.mutations(), 1, "no second update");

    let unknown = Action::State {
        state: "Shipping".into(),
    };
    let error = send(&rig, "state:x", &unknown, 0).await.unwrap_err();
    assert!(
        error.contains("no workflow state named `Shipping`"),
        "{error}"
    );
    assert!(
        error.contains("Backlog, Todo, In Progress, In Review, Done, Canceled, Duplicate"),
        "{error}"
    );
}

#[tokio::test]
async fn failures_are_told_by_status_and_message_and_never_show_the_key() {
    let rig = rig();
    let action = Action::Comment { body: "x".into() };
    rig.linear.fail_next(1);
    let down = send(&rig, "comment:a:1", &action, 0).await.unwrap_err();
    assert!(down.contains("500"), "{down}");

    let mut elsewhere = rig.target.clone();
    elsewhere.issue = "ENG-404".into();
    let cx_error = {
        let rig = Rig {
            target: elsewhere,
            ..rig
        };
        let error = send(&rig, "comment:a:2", &action, 0).await.unwrap_err();
        drop(rig);
        error
    };
    assert!(cx_error.contains("Entity not found: Issue"), "{cx_error}");
    for error in [&down, &cx_error] {
        assert!(!error.contains(KEY), "{error}");
    }

    // A key Linear refuses: 401, told without the key.
    let wrong = rig_with(Some("lin_api_wrong_9c3e"));
    let refused = send(&wrong, "comment:a:3", &action, 0).await.unwrap_err();
    assert!(refused.contains("401"), "{refused}");
    assert!(refused.contains("not authenticated"), "{refused}");
    assert!(!refused.contains("lin_api_wrong_9c3e"), "{refused}");

    // No key: the variable to set is named, and nothing is sent.
    let unset = rig_with(None);
    let missing = send(&unset, "comment:a:4", &action, 0).await.unwrap_err();
    assert!(
        missing.contains(&format!("{KEY_ENV} is not set")),
        "{missing}"
    );
    assert_eq!(unset.linear.requests().len(), 0);

    // Other actions are not Linear's.
    let push = Action::Push {
        branch: "b".into(),
        commit: "c".into(),
    };
    let other = send(&unset, "push:c", &push, 0).await.unwrap_err();
    assert!(other.contains("does not take `push`"), "{other}");
}

#[tokio::test]
async fn an_issue_reads_as_a_ticket_and_a_query_linear_would_refuse_is_refused() {
    let rig = rig();
    rig.linear.issue(
        "ENG-7",
        "Greet",
        "Say hello.\n\n- [ ] greet() says hello",
        "Todo",
    );
    let settings = LinearPublishSettings {
        api_url: rig.linear.url(),
        api_key_env: KEY_ENV.into(),
        ..LinearPublishSettings::default()
    };
    let issue = issue(&rig.project, &settings, "eng-7", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        issue,
        Issue {
            id: "ENG-7".into(),
            title: "Greet".into(),
            body: "Say hello.\n\n- [ ] greet() says hello".into(),
            url: "https://linear.app/fake/issue/ENG-7".into(),
        }
    );
    // The endpoint validates against Linear's schema: a field Linear lacks is a 400.
    let api = Api::new(
        crate::publish::secret(&rig.project, KEY_ENV),
        &settings.api_url,
        KEY_ENV,
        Duration::from_secs(10),
    )
    .unwrap();
    let error = api
        .run(
            "query { issue(id: \"ENG-7\") { id estimatedDone } }",
            json!({}),
        )
        .await
        .unwrap_err();
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("estimatedDone"), "{error}");
}

#[tokio::test]
async fn the_sibling_cross_reference_closes_what_is_built_marks_what_is_partly_and_leaves_the_rest()
{
    let rig = rig();
    let linear = &rig.linear;
    linear.issue("ENG-8", "Prose", "Nothing to tick.", "Todo");
    linear.relate("ENG-2", "related", "ENG-8");
    linear.comment("ENG-4", "Someone's note.");
    let action = Action::Siblings {
        delivered: vec![
            "clamp keeps values in range".into(),
            "clamp returns low for values below low".into(),
        ],
        attribution: "Baton run `R` (ENG-2), merged into `main` at `abc`".into(),
    };
    let sent = send(&rig, "siblings", &action, 0).await.unwrap();
    assert_eq!(
        sent.link.as_deref(),
        Some("https://linear.app/fake/issue/ENG-2")
    );

    // Fully covered: sectioned, commented, moved to Done.
    assert_eq!(linear.state_of("ENG-3"), "Done");
    let section = "## [Already Built]\n_What is built already, as last checked by Baton run `R` (ENG-2), merged into `main` at `abc`._\n\n- [x] clamp keeps values in range\n- [x] clamp returns low for values below low\n";
    assert_eq!(
        linear.description_of("ENG-3").unwrap(),
        format!(
            "- [ ] clamp keeps values in range\n- [ ] clamp returns low for values below low\n\n{section}"
        )
    );
    let comments = linear.comments("ENG-3");
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].contains("so it moves to **Done**"),
        "{}",
        comments[0]
    );
    assert!(comments[0].ends_with(&format!("`baton:{RUN}:siblings:ENG-3`")));

    // Partly covered: sectioned and commented, the user's text kept, not moved.
    assert_eq!(linear.state_of("ENG-4"), "Backlog");
    linear.assert_partly_sectioned();
    let comments = linear.comments("ENG-4");
    assert_eq!(comments.len(), 2);
    assert!(comments[1].contains("delivered 1 of this issue's 2 acceptance criteria"));
    assert!(
        comments[1].contains("- [ ] clamp rejects a low bound above the high bound (still to do)")
    );

    // Unrelated criteria, a closed sibling, one without criteria: untouched.
    for (id, state) in [("ENG-5", "Todo"), ("ENG-6", "Done"), ("ENG-8", "Todo")] {
        assert!(linear.comments(id).is_empty(), "{id}");
        assert_eq!(linear.state_of(id), state);
    }
    assert_eq!(
        linear.description_of("ENG-5").as_deref(),
        Some("- [ ] the README explains clamp")
    );
    assert_eq!(linear.comments("ENG-1"), Vec::<String>::new());
    let result = sent.result.unwrap();
    let siblings = result["siblings"].as_array().unwrap();
    let named: Vec<&str> = siblings
        .iter()
        .map(|s| s["issue"].as_str().unwrap())
        .collect();
    assert_eq!(named, vec!["ENG-3", "ENG-6", "ENG-5", "ENG-8", "ENG-4"]);
    assert_eq!(siblings[0]["moved"], "Done");
    assert_eq!(siblings[1]["skipped"], "closed (Done)");

    // A retry doubles nothing: the comments are found, the sections are the same.
    let described = linear.description_of("ENG-4").unwrap();
    let before = linear.mutations();
    send(&rig, "siblings", &action, 1).await.unwrap();
    assert_eq!(linear.mutations(), before, "{:?}", linear.requests().last());
    assert_eq!(linear.comments("ENG-4").len(), 2);
    assert_eq!(linear.description_of("ENG-4").unwrap(), described);
}

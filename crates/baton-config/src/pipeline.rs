//! The settings of `baton run`: who plays which role (`[roles]`), the quality gates run in the
//! run's worktree (`[verify]`), and the bounds of its loops (`[run]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::serde_duration;

/// `[roles]`: a profile name per role of the pipeline (the architect and the reviewer may
/// name a `[workers.KIND]` instead: an agent CLI answers). Empty means chosen at run time:
/// see each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolesSettings {
    /// Draws the spec up from the ticket. Empty: the spec is the ticket as written (its goal,
    /// acceptance criteria, scope and constraints), with no model call.
    pub orchestrator: String,
    /// Designs the plan. Empty: the `cloud` profile when its backend's API key is set, else
    /// the coder's profile (so a machine with only local backends runs every role locally).
    pub architect: String,
    /// Writes every line of code.
    pub coder: String,
    /// Returns the verdict. Empty: the architect's profile.
    pub reviewer: String,
}

impl Default for RolesSettings {
    fn default() -> Self {
        RolesSettings {
            orchestrator: String::new(),
            architect: String::new(),
            coder: "code".into(),
            reviewer: String::new(),
        }
    }
}

/// `[verify]`: shell commands (run with `sh -c` in the worktree). All empty: detected from
/// the project's files (Cargo, pyproject/pytest, npm, go, dotnet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifySettings {
    pub build: String,
    pub test: String,
    pub lint: String,
    /// Each gate's deadline.
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// Fix dispatches per profile before the next profile of the chain is tried.
    pub max_fix_iterations: u32,
    /// Bytes of a failing gate's output a fix dispatch is sent (failing tests and the first
    /// errors are picked out first).
    pub max_output_bytes: usize,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            build: String::new(),
            test: String::new(),
            lint: String::new(),
            timeout: Duration::from_secs(600),
            max_fix_iterations: 3,
            max_output_bytes: 6000,
        }
    }
}

/// `[run]`: the bounds of a run's loops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Subtasks dispatched at once; 0: the coder backend's capacity (URLs times slots).
    pub parallel: u32,
    /// Times a reply whose edits failed or were refused goes back with the applier's feedback.
    pub max_edit_retries: u32,
    /// Architect answers before a plan that does not check is given up on.
    pub max_plan_attempts: u32,
    /// Reviews before a rejection ends the run.
    pub max_review_rounds: u32,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            parallel: 0,
            max_edit_retries: 2,
            max_plan_attempts: 3,
            max_review_rounds: 3,
        }
    }
}

/// `[publish]`: where a run's trail goes (`--publish` replaces `targets` for one run).
/// Failing to publish never fails the run: what did not go out stays in the run's outbox
/// for `baton publish RUN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishSettings {
    /// `github`, `linear`, `webhook`; empty: nothing is published.
    pub targets: Vec<String>,
    /// One delivery's deadline (a push, a `gh` call, a request).
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    pub github: GithubPublishSettings,
    pub linear: LinearPublishSettings,
    pub webhook: WebhookPublishSettings,
}

impl Default for PublishSettings {
    fn default() -> Self {
        PublishSettings {
            targets: Vec::new(),
            timeout: Duration::from_secs(60),
            github: GithubPublishSettings::default(),
            linear: LinearPublishSettings::default(),
            webhook: WebhookPublishSettings::default(),
        }
    }
}

/// `[publish.github]`: the branch pushed and a pull request kept through `gh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubPublishSettings {
    /// The `gh` program.
    pub gh: String,
    /// The git remote the run's branch is pushed to.
    pub remote: String,
    /// The pull request's base branch; empty: the branch the run started from.
    pub base: String,
    /// `OWNER/NAME` for `gh --repo`; empty: the repository `gh` finds from the remote.
    pub repo: String,
}

impl Default for GithubPublishSettings {
    fn default() -> Self {
        GithubPublishSettings {
            gh: "gh".into(),
            remote: "origin".into(),
            base: String::new(),
            repo: String::new(),
        }
    }
}

/// `[publish.linear]`: the ticket's Linear issue, through the GraphQL API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearPublishSettings {
    pub api_url: String,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// The workflow states an issue is moved to at requirements, when implementation is
    /// done, and at sign-off once merged.
    pub in_progress: String,
    pub in_review: String,
    pub done: String,
}

impl Default for LinearPublishSettings {
    fn default() -> Self {
        LinearPublishSettings {
            api_url: "https://api.linear.app/graphql".into(),
            api_key_env: "LINEAR_API_KEY".into(),
            in_progress: "In Progress".into(),
            in_review: "In Review".into(),
            done: "Done".into(),
        }
    }
}

/// `[publish.webhook]`: every event of a run POSTed as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookPublishSettings {
    /// Where; `--publish webhook=URL` gives it for one run.
    pub url: String,
    /// The environment variable holding the signing secret; empty: bodies are unsigned.
    pub secret_env: String,
}

//! Where a run's trail is published (`--publish github,linear,webhook=URL`, `[publish]`): the
//! targets as resolved when the run began. The plan is recorded in the run's `run.started`
//! event, so that a resumed run and `baton publish RUN` publish to the same places with the
//! same settings. It names environment variables, never holds a secret.

use serde::{Deserialize, Serialize};

/// A kind of place a run's trail goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The branch and a pull request, through `git push` and `gh`.
    Github,
    /// The ticket's Linear issue, through Linear's GraphQL API.
    Linear,
    /// Every event POSTed as JSON to a URL.
    Webhook,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Github, Target::Linear, Target::Webhook];

    /// As `--publish`, `[publish] targets` and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Github => "github",
            Target::Linear => "linear",
            Target::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Target> {
        Target::ALL
            .into_iter()
            .find(|target| target.as_str() == text)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The targets of one run; a target left out is not published to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishPlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookTarget>,
}

impl PublishPlan {
    pub fn is_empty(&self) -> bool {
        self.targets().is_empty()
    }

    /// The targets in the plan, in [`Target::ALL`] order.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        if self.github.is_some() {
            targets.push(Target::Github);
        }
        if self.linear.is_some() {
            targets.push(Target::Linear);
        }
        if self.webhook.is_some() {
            targets.push(Target::Webhook);
        }
        targets
    }
}

/// The run's branch pushed and a pull request kept, through `git` and `gh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubTarget {
    /// The `gh` program (a name on PATH or a path).
    pub gh: String,
    /// The git remote the branch is pushed to.
    pub remote: String,
    /// The branch the pull request asks to merge into.
    pub base: String,
    /// `OWNER/NAME` passed to `gh --repo`; `None`: the repository `gh` finds from the remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The issue the ticket was read from (`--github N`): the pull request closes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<u64>,
}

/// The ticket's Linear issue, through the GraphQL API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearTarget {
    /// The issue: its identifier (`ENG-12`) or id.
    pub issue: String,
    /// The GraphQL endpoint.
    pub api_url: String,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// The workflow state names the issue is moved to.
    pub in_progress: String,
    pub in_review: String,
    pub done: String,
}

/// Every event POSTed as JSON to a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    pub url: String,
    /// The environment variable holding the secret each body is signed with (HMAC-SHA256,
    /// header `X-Baton-Signature-256: sha256=HEX`); `None`: unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_reads_back_as_it_is_spelled() {
        for target in Target::ALL {
            assert_eq!(Target::parse(target.as_str()), Some(target));
        }
        assert_eq!(Target::parse("gitlab"), None);
    }

    #[test]
    fn a_plan_lists_its_targets_in_order() {
        let plan = PublishPlan {
            github: None,
            linear: None,
            webhook: Some(WebhookTarget {
                url: "http://127.0.0.1:9/hook".into(),
                secret_env: None,
            }),
        };
        assert_eq!(plan.targets(), vec![Target::Webhook]);
        assert!(!plan.is_empty());
        assert!(PublishPlan::default().is_empty());
    }
}

//! Who plays which role of a run: `[roles]` resolved to profiles. An empty architect is the
//! `cloud` profile when its backend's API key is set and the coder's profile otherwise, so a
//! machine with only local backends runs every role locally and one with a cloud key keeps
//! design and review on the strong model. The escalation chain of the fix loop is the coder's
//! profile followed by the profiles named in its `fallback`.
//!
//! The architect and the reviewer may instead name a worker kind (`[workers.KIND]`): an
//! agent CLI answers for them (`agent_answer.rs`). A profile of that name wins, so existing
//! configurations read as before. A reviewer kind must be `read_only`; an architect kind need
//! not be (whatever it changes is discarded).

use baton_config::{EnvSnapshot, Settings};
use serde::Serialize;

use crate::PipelineError;

/// The profile (or, for the architect and the reviewer, the worker kind) of each role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// `None`: the spec is the ticket as written.
    pub orchestrator: Option<String>,
    pub architect: String,
    pub coder: String,
    pub reviewer: String,
    /// `architect` names a worker kind, not a profile.
    pub architect_agent: bool,
    /// `reviewer` names a worker kind (a read-only one), not a profile.
    pub reviewer_agent: bool,
}

impl Roles {
    /// Who drew the spec up, as a phase comment names them.
    pub(crate) fn orchestrator_agent(&self) -> String {
        match &self.orchestrator {
            Some(profile) => format!("orchestrator ({profile})"),
            None => "orchestrator (the ticket as written)".into(),
        }
    }
}

/// The profile the cloud defaults go to.
const CLOUD_PROFILE: &str = "cloud";

pub fn resolve(settings: &Settings, env: &EnvSnapshot) -> Result<Roles, PipelineError> {
    let roles = &settings.roles;
    let check = |role: &'static str, profile: &str| {
        if settings.profiles.contains_key(profile) {
            Ok(profile.to_string())
        } else {
            Err(PipelineError::UnknownRoleProfile {
                role,
                profile: profile.to_string(),
            })
        }
    };
    let coder = check("coder", &roles.coder)?;
    // A profile or, failing that, a worker kind: `(name, is a kind)`.
    let seat = |role: &'static str, name: &str| {
        if !settings.profiles.contains_key(name) && settings.workers.contains_key(name) {
            Ok((name.to_string(), true))
        } else {
            check(role, name).map(|profile| (profile, false))
        }
    };
    let (architect, architect_agent) = if !roles.architect.is_empty() {
        seat("architect", &roles.architect)?
    } else if cloud_ready(settings, env) {
        (CLOUD_PROFILE.to_string(), false)
    } else {
        (coder.clone(), false)
    };
    let read_only = |kind: &str| settings.workers.get(kind).is_some_and(|k| k.read_only);
    let (reviewer, reviewer_agent) = if !roles.reviewer.is_empty() {
        seat("reviewer", &roles.reviewer)?
    } else if architect_agent {
        // The architect's kind reviews when it is read-only, else its `-review` variant
        // (`codex` designs, `codex-review` reviews) when that one is.
        let variant = format!("{architect}-review");
        if !read_only(&architect) && read_only(&variant) {
            (variant, true)
        } else {
            (architect.clone(), true)
        }
    } else {
        (architect.clone(), false)
    };
    if reviewer_agent && !read_only(&reviewer) {
        return Err(PipelineError::ReviewerNotReadOnly { kind: reviewer });
    }
    let orchestrator = if roles.orchestrator.is_empty() {
        None
    } else {
        Some(check("orchestrator", &roles.orchestrator)?)
    };
    Ok(Roles {
        orchestrator,
        architect,
        coder,
        reviewer,
        architect_agent,
        reviewer_agent,
    })
}

/// Whether the `cloud` profile exists and its backend's key variable is set.
fn cloud_ready(settings: &Settings, env: &EnvSnapshot) -> bool {
    settings
        .profiles
        .get(CLOUD_PROFILE)
        .and_then(|profile| settings.backends.get(&profile.backend))
        .and_then(|backend| backend.api_key_env.as_deref())
        .is_some_and(|name| env.get(name).is_some_and(|value| !value.is_empty()))
}

/// The profiles the fix loop escalates through: `profile`, then each fallback entry that
/// names a usable profile (a local backend, or a cloud one whose key is set; entries of the
/// form `backend:model` are the dispatcher's own fallback within one profile), no repeats.
pub fn escalation_chain(settings: &Settings, profile: &str, env: &EnvSnapshot) -> Vec<String> {
    let usable = |name: &str| {
        settings
            .profiles
            .get(name)
            .and_then(|profile| settings.backends.get(&profile.backend))
            .is_some_and(|backend| match backend.api_key_env.as_deref() {
                None => true,
                Some(key) => env.get(key).is_some_and(|value| !value.is_empty()),
            })
    };
    let mut chain = vec![profile.to_string()];
    if let Some(settings_of) = settings.profiles.get(profile) {
        for entry in &settings_of.fallback {
            if !entry.contains(':') && usable(entry) && !chain.contains(entry) {
                chain.push(entry.clone());
            }
        }
    }
    chain
}

/// Subtasks the coder's backend can take at once: its URLs times its slots.
pub fn capacity(settings: &Settings, profile: &str) -> usize {
    let configured = usize::try_from(settings.run.parallel).unwrap_or(usize::MAX);
    if configured > 0 {
        return configured;
    }
    settings
        .profiles
        .get(profile)
        .and_then(|profile| settings.backends.get(&profile.backend))
        .map_or(1, |backend| {
            (backend.urls.len() * usize::try_from(backend.slots).unwrap_or(1)).max(1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in settings with `-c` overrides, and no variables set.
    fn resolved(overrides: &[&str]) -> Result<Roles, PipelineError> {
        let home = tempfile::tempdir().unwrap();
        let env = EnvSnapshot::from_pairs([], Some(home.path().to_path_buf()));
        let loaded = baton_config::load(&baton_config::LoadOptions {
            cwd: home.path().to_path_buf(),
            env: env.clone(),
            flags: Vec::new(),
            overrides: overrides.iter().map(|o| (*o).to_string()).collect(),
        })
        .unwrap();
        resolve(&loaded.settings, &env)
    }

    #[test]
    fn profiles_play_every_role_as_before() {
        let roles = resolved(&[]).unwrap();
        assert_eq!(
            (roles.architect.as_str(), roles.architect_agent),
            ("code", false)
        );
        assert_eq!(
            (roles.reviewer.as_str(), roles.reviewer_agent),
            ("code", false)
        );
    }

    #[test]
    fn a_worker_kind_may_design_and_review_and_its_review_variant_reviews_for_it() {
        let roles = resolved(&["roles.architect=\"codex\""]).unwrap();
        assert_eq!(
            (roles.architect.as_str(), roles.architect_agent),
            ("codex", true)
        );
        assert_eq!(
            (roles.reviewer.as_str(), roles.reviewer_agent),
            ("codex-review", true)
        );
        let roles = resolved(&["roles.reviewer=\"claude-review\""]).unwrap();
        assert_eq!(
            (roles.architect.as_str(), roles.architect_agent),
            ("code", false)
        );
        assert_eq!(roles.reviewer, "claude-review");
        assert!(roles.reviewer_agent);
    }

    #[test]
    fn a_reviewer_kind_must_be_read_only_and_an_unknown_name_is_still_unknown() {
        assert!(matches!(
            resolved(&["roles.reviewer=\"codex\""]),
            Err(PipelineError::ReviewerNotReadOnly { kind }) if kind == "codex"
        ));
        assert!(matches!(
            resolved(&["roles.architect=\"nobody\""]),
            Err(PipelineError::UnknownRoleProfile {
                role: "architect",
                ..
            })
        ));
        // The coder is a profile only.
        assert!(matches!(
            resolved(&["roles.coder=\"codex\""]),
            Err(PipelineError::UnknownRoleProfile { role: "coder", .. })
        ));
    }
}

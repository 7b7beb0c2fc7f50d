//! Who plays which role of a run: `[roles]` resolved to profiles. An empty architect is the
//! `cloud` profile when its backend's API key is set and the coder's profile otherwise, so a
//! machine with only local backends runs every role locally and one with a cloud key keeps
//! design and review on the strong model. The escalation chain of the fix loop is the coder's
//! profile followed by the profiles named in its `fallback`.

use baton_config::{EnvSnapshot, Settings};
use serde::Serialize;

use crate::PipelineError;

/// The profile of each role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// `None`: the spec is the ticket as written.
    pub orchestrator: Option<String>,
    pub architect: String,
    pub coder: String,
    pub reviewer: String,
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
    let architect = if roles.architect.is_empty() {
        if cloud_ready(settings, env) {
            CLOUD_PROFILE.to_string()
        } else {
            coder.clone()
        }
    } else {
        check("architect", &roles.architect)?
    };
    let reviewer = if roles.reviewer.is_empty() {
        architect.clone()
    } else {
        check("reviewer", &roles.reviewer)?
    };
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

//! Routing: a profile and a route (`--local`, `--api`, `auto`) become an ordered chain of
//! targets (backend + model + how to ask), with the reason for the choice. `auto` classifies
//! the task by rules (and, when configured, by asking a fast local model; see
//! [`crate::dispatch`]).

use std::collections::BTreeSet;

use baton_config::settings::RepetitionSettings;
use baton_config::{BackendSettings, ProfileSettings, Settings};
use baton_core::{EditFormat, Locality, Route, Sampling};
use serde::Serialize;

use crate::secret::ApiKey;

/// One step of a chain: where to send the request and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// The profile this step comes from.
    pub profile: String,
    pub backend_name: String,
    #[serde(skip)]
    pub backend: BackendSettings,
    pub model: String,
    pub temperature: f64,
    pub max_tokens: u32,
    pub system_prompt: Option<String>,
    pub context_budget: u64,
    pub edit_format: EditFormat,
    pub cache: bool,
    /// Sampling beyond the temperature (sent as far as the backend takes it).
    pub sampling: Sampling,
    /// Whether loops are cut, and the sampling of the retry after a cut.
    pub repetition: RepetitionSettings,
}

impl Target {
    pub fn locality(&self) -> Locality {
        self.backend.locality
    }

    /// `backend:model`, as users write fallback steps.
    pub fn label(&self) -> String {
        format!("{}:{}", self.backend_name, self.model)
    }
}

/// The route taken and the chain to try, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutePlan {
    pub requested: Route,
    /// `local` or `api` (what `auto` decided, or what was pinned).
    pub route: Route,
    pub reason: String,
    pub chain: Vec<Target>,
    /// Steps left out, with why (e.g. an API key variable that is not set).
    pub skipped: Vec<(String, String)>,
}

impl RoutePlan {
    /// The context budget for this request: the first step's, within the limit of the
    /// route it really takes (a local first step gets the local route's tighter budget,
    /// even when `auto` wanted the cloud but no cloud step is usable).
    pub fn context_budget(&self, settings: &Settings) -> u64 {
        let locality = self.chain.first().map_or(Locality::Local, Target::locality);
        let route_budget = match locality {
            Locality::Cloud => settings.routes.api.context_budget,
            Locality::Local => settings.routes.local.context_budget,
        };
        self.chain.first().map_or(route_budget, |target| {
            target.context_budget.min(route_budget)
        })
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("unknown profile `{name}`; known profiles: {}", known.join(", "))]
    UnknownProfile { name: String, known: Vec<String> },
    #[error("profile `{profile}` has no {locality} step{}", skipped_text(.skipped))]
    NoTarget {
        profile: String,
        locality: Locality,
        skipped: Vec<(String, String)>,
    },
}

fn skipped_text(skipped: &[(String, String)]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = skipped
            .iter()
            .map(|(step, why)| format!("{step}: {why}"))
            .collect();
        format!(" it can use ({})", parts.join("; "))
    }
}

/// What the rules say about a task: the route and why.
pub fn classify(settings: &Settings, task: &str, prompt_tokens: u64) -> (Route, String) {
    let lowered = task.to_lowercase();
    for keyword in &settings.routes.auto.api_keywords {
        let keyword_lower = keyword.to_lowercase();
        if contains_word(&lowered, &keyword_lower) {
            return (
                Route::Api,
                format!("auto: the task mentions `{keyword}`, which needs a strong model"),
            );
        }
    }
    let limit = settings.routes.auto.max_local_prompt_tokens;
    if limit > 0 && prompt_tokens > limit {
        return (
            Route::Api,
            format!("auto: the prompt is ~{prompt_tokens} tokens, over the local limit of {limit}"),
        );
    }
    (
        Route::Local,
        "auto: a coding task; local first, cloud as fallback".into(),
    )
}

/// Whether `needle` appears in `haystack` on word boundaries.
fn contains_word(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    haystack.match_indices(needle).any(|(start, _)| {
        let before = haystack[..start].chars().next_back();
        let after = haystack[start + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Expands a profile into its chain: its own step, then each fallback (a profile, expanded
/// in turn, or `backend:model` asked the same way), without repeating a step.
pub fn chain(settings: &Settings, profile_name: &str) -> Result<Vec<Target>, RouteError> {
    let mut targets = Vec::new();
    let mut seen_profiles = BTreeSet::new();
    expand(settings, profile_name, &mut targets, &mut seen_profiles)?;
    let mut seen = BTreeSet::new();
    targets.retain(|target: &Target| seen.insert(target.label()));
    Ok(targets)
}

fn expand(
    settings: &Settings,
    name: &str,
    targets: &mut Vec<Target>,
    seen: &mut BTreeSet<String>,
) -> Result<(), RouteError> {
    if !seen.insert(name.to_string()) {
        return Ok(());
    }
    let profile = settings
        .profiles
        .get(name)
        .ok_or_else(|| RouteError::UnknownProfile {
            name: name.into(),
            known: settings.profiles.keys().cloned().collect(),
        })?;
    if let Some(backend) = settings.backends.get(&profile.backend) {
        targets.push(target(
            name,
            profile,
            &profile.backend,
            backend,
            &profile.model,
        ));
    }
    for step in &profile.fallback {
        match step.split_once(':') {
            Some((backend_name, model)) => {
                if let Some(backend) = settings.backends.get(backend_name) {
                    targets.push(target(name, profile, backend_name, backend, model));
                }
            }
            None => expand(settings, step, targets, seen)?,
        }
    }
    Ok(())
}

/// `backend:model` asked the way profile `profile_name` asks (its temperature, limits and
/// sampling): a `[proxy.models]` entry that names a backend's model directly.
pub fn step(
    settings: &Settings,
    profile_name: &str,
    backend_name: &str,
    model: &str,
) -> Result<Option<Target>, RouteError> {
    let profile =
        settings
            .profiles
            .get(profile_name)
            .ok_or_else(|| RouteError::UnknownProfile {
                name: profile_name.into(),
                known: settings.profiles.keys().cloned().collect(),
            })?;
    Ok(settings
        .backends
        .get(backend_name)
        .map(|backend| target(profile_name, profile, backend_name, backend, model)))
}

fn target(
    profile_name: &str,
    profile: &ProfileSettings,
    backend_name: &str,
    backend: &BackendSettings,
    model: &str,
) -> Target {
    Target {
        profile: profile_name.into(),
        backend_name: backend_name.into(),
        backend: backend.clone(),
        model: model.into(),
        temperature: profile.temperature,
        max_tokens: profile.max_tokens,
        system_prompt: profile.system_prompt.clone(),
        context_budget: profile.context_budget,
        edit_format: profile.edit_format,
        cache: profile.cache,
        sampling: profile.sampling,
        repetition: profile.repetition.clone(),
    }
}

/// Why a step cannot be used right now (an API key that is not set), if so.
pub fn unusable(target: &Target) -> Option<String> {
    let var = target.backend.api_key_env.as_deref()?;
    ApiKey::from_env(var)
        .is_none()
        .then(|| format!("${var} is not set"))
}

/// Plans a request. `decided` is what `auto` decided (by rules or a classifier model);
/// pinned routes ignore it.
pub fn plan(
    settings: &Settings,
    profile_name: &str,
    requested: Route,
    decided: Option<(Route, String)>,
) -> Result<RoutePlan, RouteError> {
    let full = chain(settings, profile_name)?;
    let (route, reason, ordered) = match requested {
        Route::Local => {
            let local: Vec<Target> = full
                .into_iter()
                .filter(|t| t.locality() == Locality::Local)
                .collect();
            (Route::Local, "pinned local".to_string(), local)
        }
        Route::Api => {
            let mut cloud: Vec<Target> = full
                .into_iter()
                .filter(|t| t.locality() == Locality::Cloud)
                .collect();
            if cloud.is_empty() {
                cloud = chain(settings, &settings.routes.api.profile)?
                    .into_iter()
                    .filter(|t| t.locality() == Locality::Cloud)
                    .collect();
            }
            (Route::Api, "pinned cloud".to_string(), cloud)
        }
        Route::Auto => {
            let (route, reason) = decided.unwrap_or((Route::Local, "auto: local first".into()));
            let ordered = match route {
                // The cloud leads; local steps stay behind it as fallbacks.
                Route::Api => {
                    let (mut cloud, local): (Vec<Target>, Vec<Target>) = full
                        .into_iter()
                        .partition(|t| t.locality() == Locality::Cloud);
                    if cloud.is_empty() {
                        cloud = chain(settings, &settings.routes.api.profile)?
                            .into_iter()
                            .filter(|t| t.locality() == Locality::Cloud)
                            .collect();
                    }
                    cloud.into_iter().chain(local).collect()
                }
                Route::Local | Route::Auto => full,
            };
            (route, reason, ordered)
        }
    };
    let mut skipped = Vec::new();
    let chain: Vec<Target> = ordered
        .into_iter()
        .filter(|target| match unusable(target) {
            Some(why) => {
                skipped.push((target.label(), why));
                false
            }
            None => true,
        })
        .collect();
    if chain.is_empty() {
        let locality = if route == Route::Api {
            Locality::Cloud
        } else {
            Locality::Local
        };
        return Err(RouteError::NoTarget {
            profile: profile_name.into(),
            locality,
            skipped,
        });
    }
    Ok(RoutePlan {
        requested,
        route,
        reason,
        chain,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let loaded = baton_config::load(&baton_config::LoadOptions {
            cwd: std::env::temp_dir().join("baton-router-tests-none"),
            ..Default::default()
        })
        .unwrap();
        loaded.settings
    }

    #[test]
    fn design_tasks_go_to_the_cloud_and_say_why() {
        let (route, reason) = classify(&settings(), "Review the architecture of the parser", 100);
        assert_eq!(route, Route::Api);
        assert!(reason.contains("architecture"), "{reason}");
    }

    #[test]
    fn coding_tasks_stay_local() {
        let (route, _) = classify(&settings(), "Implement fizzbuzz in rust", 100);
        assert_eq!(route, Route::Local);
    }

    #[test]
    fn long_prompts_go_to_the_cloud() {
        let (route, reason) = classify(&settings(), "implement it", 50_000);
        assert_eq!(route, Route::Api);
        assert!(reason.contains("50000"), "{reason}");
    }

    #[test]
    fn keywords_match_whole_words_only() {
        assert!(contains_word("please review this", "review"));
        assert!(!contains_word("a reviewer said", "review"));
    }

    #[test]
    fn the_code_profile_chain_is_local_then_cloud() {
        let labels: Vec<String> = chain(&settings(), "code")
            .unwrap()
            .iter()
            .map(Target::label)
            .collect();
        assert_eq!(
            labels,
            vec!["local:qwen3-coder", "anthropic:claude-sonnet-4-5"]
        );
    }

    #[test]
    fn pinned_local_keeps_only_local_steps() {
        let plan = plan(&settings(), "code", Route::Local, None).unwrap();
        assert!(plan.chain.iter().all(|t| t.locality() == Locality::Local));
    }
}

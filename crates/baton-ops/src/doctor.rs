//! Doctor probes: does every endpoint answer, which models does it list, what context does it
//! really serve, and does each profile's budget fit in it. Also the first-use probe dispatch
//! runs on an endpoint it has not checked recently ([`ensure_probed`]).

use baton_config::Settings;
use baton_core::Locality;
use baton_llm::Dispatcher;
use baton_llm::probe::{self, ProbeReport};
use baton_llm::router::{self, Target};
use baton_llm::secret::ApiKey;
use baton_store::EndpointProbe;
use serde::Serialize;

use crate::{OpsError, Project};

/// One endpoint as the doctor found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointReport {
    pub backend: String,
    pub locality: Locality,
    pub url: String,
    pub ok: bool,
    /// Why it was not probed (its API key variable is not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// `llama.cpp`, `ollama`, `vllm`, … when recognized.
    pub server: Option<String>,
    pub models: Vec<String>,
    /// The context size it really serves, when it says.
    pub n_ctx: Option<u64>,
    /// How long the probe took; `None` when it was skipped.
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
}

/// What the doctor found: `ok` unless a local endpoint did not answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    pub ok: bool,
    pub endpoints: Vec<EndpointReport>,
    /// Local endpoints that did not answer.
    pub problems: Vec<String>,
    /// Cloud endpoints that did not answer, budgets that do not fit, models not listed.
    pub warnings: Vec<String>,
}

impl DoctorReport {
    /// A report with problems, as an error (after the report is shown).
    pub fn failure(&self) -> Option<OpsError> {
        (!self.problems.is_empty()).then(|| OpsError::Unhealthy {
            down: self
                .endpoints
                .iter()
                .filter(|e| !e.ok && e.skipped.is_none() && e.locality == Locality::Local)
                .map(|e| e.url.clone())
                .collect(),
        })
    }
}

fn to_stored(report: &ProbeReport, url: &str) -> EndpointProbe {
    EndpointProbe {
        url: url.to_string(),
        probed_at_ms: baton_core::now_ms(),
        ok: report.ok,
        server_kind: report.server_kind.clone(),
        models: report.models.clone(),
        n_ctx: report.n_ctx,
        error: report.error.clone(),
    }
}

/// The context a step's server really serves per request (per slot for llama-server), from
/// a recent probe or one made now; `None` when the server does not say or cannot be probed.
pub async fn served_context(project: &crate::Project, target: &Target) -> Option<u64> {
    let settings = project.settings().ok()?;
    let dispatcher = project.dispatcher().ok()?;
    let pool = project.pool().ok()?;
    ensure_probed(&dispatcher, &pool, &settings, target)
        .await
        .and_then(|probe| probe.n_ctx)
}

/// The probe of a step's first endpoint, from the store when recent enough, else probed now
/// and stored. `None` when the endpoint cannot be probed.
pub(crate) async fn ensure_probed(
    dispatcher: &Dispatcher,
    pool: &baton_store::StorePool,
    settings: &Settings,
    target: &Target,
) -> Option<EndpointProbe> {
    let url = target
        .backend
        .urls
        .first()?
        .trim_end_matches('/')
        .to_string();
    let max_age_ms = i64::try_from(settings.dispatch.probe_max_age.as_millis()).unwrap_or(i64::MAX);
    let stored = pool
        .get()
        .ok()
        .and_then(|store| store.get_probe(&url).ok().flatten());
    if let Some(stored) = stored
        && stored.ok
        && baton_core::now_ms() - stored.probed_at_ms < max_age_ms
    {
        return Some(stored);
    }
    let http = dispatcher.http(target).ok()?;
    let key = target
        .backend
        .api_key_env
        .as_deref()
        .and_then(ApiKey::from_env);
    let report = probe::probe(
        &http,
        target.backend.kind,
        &url,
        key.as_ref(),
        Some(&target.model),
    )
    .await;
    let stored = to_stored(&report, &url);
    put_probe(pool, &stored);
    report.ok.then_some(stored)
}

/// Records a probe; a store that cannot take it loses the record, never the answer.
fn put_probe(pool: &baton_store::StorePool, probe: &EndpointProbe) {
    let recorded = pool.get().and_then(|store| store.put_probe(probe));
    if let Err(error) = recorded {
        tracing::warn!(%error, "cannot record the endpoint probe");
    }
}

/// Probes every endpoint of every backend (only `backend` when given).
pub async fn doctor(project: &Project, backend: Option<&str>) -> Result<DoctorReport, OpsError> {
    let settings = project.settings()?;
    let dispatcher = project.dispatcher()?;
    let pool = project.pool()?;
    if let Some(name) = backend
        && !settings.backends.contains_key(name)
    {
        return Err(OpsError::Unknown {
            what: "backend",
            name: name.into(),
            known: settings.backends.keys().cloned().collect(),
        });
    }
    let mut endpoints = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for (name, backend_settings) in &settings.backends {
        if backend.is_some_and(|only| only != name) {
            continue;
        }
        let key = backend_settings
            .api_key_env
            .as_deref()
            .and_then(ApiKey::from_env);
        if let (Some(var), None) = (&backend_settings.api_key_env, &key) {
            endpoints.push(EndpointReport {
                backend: name.clone(),
                locality: backend_settings.locality,
                url: backend_settings.urls.first().cloned().unwrap_or_default(),
                ok: false,
                skipped: Some(format!("${var} is not set")),
                server: None,
                models: Vec::new(),
                n_ctx: None,
                latency_ms: None,
                error: None,
            });
            continue;
        }
        // A model a profile asks this backend for, so Ollama can report its context.
        let model = settings
            .profiles
            .values()
            .find(|p| &p.backend == name)
            .map(|p| p.model.clone());
        let target = router::chain(&settings, &settings.dispatch.profile)
            .ok()
            .and_then(|chain| chain.into_iter().find(|t| &t.backend_name == name));
        let http = match target.as_ref().map(|t| dispatcher.http(t)) {
            Some(Ok(http)) => http,
            _ => baton_llm::client::http_client(backend_settings).map_err(|error| {
                OpsError::internal(format!(
                    "cannot build the HTTP client of backend `{name}`: {error}"
                ))
            })?,
        };
        for url in &backend_settings.urls {
            let report = probe::probe(
                &http,
                backend_settings.kind,
                url,
                key.as_ref(),
                model.as_deref(),
            )
            .await;
            put_probe(&pool, &to_stored(&report, url.trim_end_matches('/')));
            if !report.ok {
                let problem = format!(
                    "backend `{name}` {}: {}",
                    report.url,
                    report.error.clone().unwrap_or_default()
                );
                if backend_settings.locality == Locality::Local {
                    problems.push(problem);
                } else {
                    warnings.push(problem);
                }
            }
            warnings.extend(profile_warnings(&settings, name, &report));
            endpoints.push(EndpointReport {
                backend: name.clone(),
                locality: backend_settings.locality,
                url: report.url.clone(),
                ok: report.ok,
                skipped: None,
                server: report.server_kind.clone(),
                models: report.models.clone(),
                n_ctx: report.n_ctx,
                latency_ms: Some(report.latency_ms),
                error: report.error.clone(),
            });
        }
    }
    Ok(DoctorReport {
        ok: problems.is_empty(),
        endpoints,
        problems,
        warnings,
    })
}

/// What the profiles of backend `name` should know about an endpoint's report: a budget that
/// does not fit its context, a model it does not list.
fn profile_warnings(settings: &Settings, name: &str, report: &ProbeReport) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(backend) = settings.backends.get(name) else {
        return warnings;
    };
    for (profile_name, profile) in settings.profiles.iter().filter(|(_, p)| p.backend == name) {
        if let Some(n_ctx) = report.n_ctx {
            let budget = profile
                .context_budget
                .min(settings.routes.local.context_budget);
            let needed = budget + u64::from(profile.max_tokens);
            if backend.locality == Locality::Local && needed > n_ctx {
                warnings.push(format!(
                    "profile `{profile_name}`: context budget {budget} + max_tokens {} = {needed} exceeds the {n_ctx} tokens {} serves; larger requests will be refused (raise llama-server -c / Ollama num_ctx, or lower routes.local.context_budget)",
                    profile.max_tokens, report.url
                ));
            }
        }
        if report.ok
            && matches!(report.server_kind.as_deref(), Some("ollama" | "vllm"))
            && !report.models.iter().any(|m| m == &profile.model)
        {
            warnings.push(format!(
                "profile `{profile_name}` asks for model `{}`, which {} does not list ({})",
                profile.model,
                report.url,
                report.models.join(", ")
            ));
        }
    }
    warnings
}

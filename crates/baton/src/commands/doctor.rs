//! `baton doctor`: does every endpoint answer, which models does it list, what context does
//! it really serve, and does each profile's budget fit in it. Also the first-use probe that
//! `baton dispatch` runs on an endpoint it has not checked recently.

use std::io::Write;

use baton_config::Settings;
use baton_core::Locality;
use baton_llm::Dispatcher;
use baton_llm::probe::{self, ProbeReport};
use baton_llm::router::{self, Target};
use baton_llm::secret::ApiKey;
use baton_store::{EndpointProbe, Store};
use serde_json::json;

use crate::app::App;
use crate::cli::DoctorArgs;
use crate::error::{CliError, Exit};

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

/// The probe of a step's first endpoint, from the store when recent enough, else probed
/// now and stored. `None` when the endpoint cannot be probed.
pub async fn ensure_probed(
    dispatcher: &Dispatcher,
    store: &Store,
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
    if let Ok(Some(stored)) = store.get_probe(&url)
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
    if let Err(error) = store.put_probe(&stored) {
        tracing::warn!(%error, "cannot record the endpoint probe");
    }
    report.ok.then_some(stored)
}

pub async fn run(app: App, args: DoctorArgs) -> Result<std::process::ExitCode, CliError> {
    let loaded = app.config(Vec::new())?;
    let settings = std::sync::Arc::new(loaded.settings);
    let store = app.open_store()?;
    let dispatcher = Dispatcher::new(std::sync::Arc::clone(&settings));
    if let Some(name) = &args.backend
        && !settings.backends.contains_key(name)
    {
        let known: Vec<&str> = settings.backends.keys().map(String::as_str).collect();
        return Err(CliError::new(
            Exit::Config,
            format!(
                "unknown backend `{name}`; known backends: {}",
                known.join(", ")
            ),
        )
        .hint("name a backend from `baton config show`"));
    }

    let mut endpoints = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for (name, backend) in &settings.backends {
        if args.backend.as_ref().is_some_and(|only| only != name) {
            continue;
        }
        let key = backend.api_key_env.as_deref().and_then(ApiKey::from_env);
        if let (Some(var), None) = (&backend.api_key_env, &key) {
            endpoints.push(json!({ "backend": name, "url": backend.urls.first(), "ok": false, "skipped": format!("${var} is not set") }));
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
            _ => baton_llm::client::http_client(backend).map_err(|error| {
                CliError::new(
                    Exit::Internal,
                    format!("cannot build the HTTP client of backend `{name}`: {error}"),
                )
                .hint("check that the system's CA certificates are readable (https:// URLs need them)")
            })?,
        };
        for url in &backend.urls {
            let report =
                probe::probe(&http, backend.kind, url, key.as_ref(), model.as_deref()).await;
            let _ = store.put_probe(&to_stored(&report, url.trim_end_matches('/')));
            if !report.ok {
                let problem = format!(
                    "backend `{name}` {}: {}",
                    report.url,
                    report.error.clone().unwrap_or_default()
                );
                if backend.locality == Locality::Local {
                    problems.push(problem);
                } else {
                    warnings.push(problem);
                }
            }
            for (profile_name, profile) in
                settings.profiles.iter().filter(|(_, p)| &p.backend == name)
            {
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
            endpoints.push(json!({
                "backend": name,
                "locality": backend.locality,
                "url": report.url,
                "ok": report.ok,
                "server": report.server_kind,
                "models": report.models,
                "n_ctx": report.n_ctx,
                "latency_ms": report.latency_ms,
                "error": report.error,
            }));
        }
    }

    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    if args.json {
        let object = json!({ "ok": problems.is_empty(), "endpoints": endpoints, "problems": problems, "warnings": warnings });
        writeln!(out, "{object}").map_err(io_error)?;
    } else {
        let mut table =
            crate::output::table(["backend", "url", "status", "server", "models", "context"]);
        for endpoint in &endpoints {
            let status = if endpoint["ok"].as_bool() == Some(true) {
                "ok".to_string()
            } else {
                endpoint["skipped"]
                    .as_str()
                    .map(|s| format!("skipped: {s}"))
                    .unwrap_or_else(|| "DOWN".into())
            };
            table.add_row([
                endpoint["backend"].as_str().unwrap_or_default().to_string(),
                endpoint["url"].as_str().unwrap_or_default().to_string(),
                status,
                endpoint["server"].as_str().unwrap_or("-").to_string(),
                endpoint["models"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                endpoint["n_ctx"]
                    .as_u64()
                    .map_or("-".into(), |n| n.to_string()),
            ]);
        }
        writeln!(out, "{table}").map_err(io_error)?;
        for warning in &warnings {
            writeln!(out, "warning: {warning}").map_err(io_error)?;
        }
        for problem in &problems {
            writeln!(out, "problem: {problem}").map_err(io_error)?;
        }
    }
    drop(out);
    if problems.is_empty() {
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        Err(CliError::new(Exit::Unhealthy, format!("{} local endpoint(s) did not answer", problems.len()))
            .hint("start the model server (e.g. `llama-server -m MODEL --port 11438`) or fix backends.NAME.urls"))
    }
}

//! Checks that need the whole merged config: references between profiles, backends and
//! routes, and values no single field type can rule out.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::layers::Origin;
use crate::settings::Settings;

fn invalid(key: String, origins: &BTreeMap<String, Origin>, message: String) -> ConfigError {
    let origin = origins
        .iter()
        .filter(|(path, _)| *path == &key || path.starts_with(&format!("{key}.")))
        .map(|(_, origin)| origin.to_string())
        .next()
        .unwrap_or_else(|| "default".into());
    ConfigError::Invalid {
        key,
        origin,
        message,
    }
}

pub(crate) fn validate(
    settings: &Settings,
    origins: &BTreeMap<String, Origin>,
) -> Result<(), ConfigError> {
    let known_backends = || {
        settings
            .backends
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, backend) in &settings.backends {
        if backend.urls.is_empty() {
            return Err(invalid(
                format!("backends.{name}.urls"),
                origins,
                "a backend needs at least one URL".into(),
            ));
        }
        for url in &backend.urls {
            if !crate::is_http_url(url) {
                return Err(invalid(
                    format!("backends.{name}.urls"),
                    origins,
                    format!("`{url}` is not an http:// or https:// URL"),
                ));
            }
        }
        if backend.slots == 0 {
            return Err(invalid(
                format!("backends.{name}.slots"),
                origins,
                "slots must be at least 1".into(),
            ));
        }
    }
    for target in &settings.publish.targets {
        if baton_core::publish::Target::parse(target).is_none() {
            return Err(invalid(
                "publish.targets".into(),
                origins,
                format!("`{target}` is not a publishing target; known: github, linear, webhook"),
            ));
        }
    }
    let webhook = &settings.publish.webhook.url;
    if !(webhook.is_empty() || crate::is_http_url(webhook)) {
        return Err(invalid(
            "publish.webhook.url".into(),
            origins,
            format!("`{webhook}` is not an http:// or https:// URL"),
        ));
    }
    validate_proxy(settings, origins)?;
    for (name, kind) in &settings.workers {
        let backend = &kind.backend;
        if !backend.is_empty()
            && !settings.backends.contains_key(backend)
            && !settings.profiles.contains_key(backend)
        {
            return Err(invalid(
                format!("workers.{name}.backend"),
                origins,
                format!(
                    "`{backend}` is neither a backend nor a profile; known backends: {}",
                    known_backends()
                ),
            ));
        }
    }
    for (name, profile) in &settings.profiles {
        if !settings.backends.contains_key(&profile.backend) {
            return Err(invalid(
                format!("profiles.{name}.backend"),
                origins,
                format!(
                    "unknown backend `{}`; known backends: {}",
                    profile.backend,
                    known_backends()
                ),
            ));
        }
        if !(0.0..=2.0).contains(&profile.temperature) {
            return Err(invalid(
                format!("profiles.{name}.temperature"),
                origins,
                "temperature must be from 0 to 2".into(),
            ));
        }
        for step in &profile.fallback {
            let known = match step.split_once(':') {
                Some((backend, model)) => {
                    settings.backends.contains_key(backend) && !model.is_empty()
                }
                None => settings.profiles.contains_key(step),
            };
            if !known {
                return Err(invalid(
                    format!("profiles.{name}.fallback"),
                    origins,
                    format!(
                        "`{step}` is neither a profile nor `backend:model` with a known backend"
                    ),
                ));
            }
        }
    }
    for (name, backend) in &settings.backends {
        if let Some(server) = &backend.server
            && !settings.servers.contains_key(server)
        {
            return Err(invalid(
                format!("backends.{name}.server"),
                origins,
                format!("unknown server `{server}`; add `[servers.{server}]` with its command"),
            ));
        }
    }
    for (name, kind) in &settings.workers {
        if kind.command.is_empty() {
            return Err(invalid(
                format!("workers.{name}.command"),
                origins,
                "a worker kind needs a command".into(),
            ));
        }
    }
    for (name, server) in &settings.servers {
        if server.command.is_empty() {
            return Err(invalid(
                format!("servers.{name}.command"),
                origins,
                "a server needs a command".into(),
            ));
        }
        if !server.health.starts_with("http://") {
            return Err(invalid(
                format!("servers.{name}.health"),
                origins,
                "a server needs an http:// health URL (llama-server: http://127.0.0.1:PORT/health)"
                    .into(),
            ));
        }
    }
    let memory = &settings.memory;
    if !memory.embeddings.is_empty() {
        let Some(backend) = settings.backends.get(&memory.embeddings) else {
            return Err(invalid(
                "memory.embeddings".into(),
                origins,
                format!(
                    "unknown backend `{}`; known backends: {}",
                    memory.embeddings,
                    known_backends()
                ),
            ));
        };
        if backend.kind != crate::settings::BackendKind::Openai {
            return Err(invalid(
                "memory.embeddings".into(),
                origins,
                format!(
                    "backend `{}` speaks {}; embeddings need an OpenAI-compatible backend",
                    memory.embeddings,
                    backend.kind.as_str()
                ),
            ));
        }
        if memory.embedding_model.trim().is_empty() {
            return Err(invalid(
                "memory.embedding_model".into(),
                origins,
                "name the embedding model when memory.embeddings is set".into(),
            ));
        }
    }
    if !(0.0..=1.0).contains(&memory.hybrid_weight) {
        return Err(invalid(
            "memory.hybrid_weight".into(),
            origins,
            "hybrid_weight must be from 0 to 1".into(),
        ));
    }
    if memory.embed_timeout.is_zero() {
        return Err(invalid(
            "memory.embed_timeout".into(),
            origins,
            "embed_timeout must be above zero".into(),
        ));
    }
    let check_profile = |key: &str, name: &str| {
        if name.is_empty() || settings.profiles.contains_key(name) {
            Ok(())
        } else {
            Err(invalid(
                key.into(),
                origins,
                format!(
                    "unknown profile `{name}`; known profiles: {}",
                    settings
                        .profiles
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    if !settings.profiles.contains_key(&settings.dispatch.profile) {
        return Err(ConfigError::UnknownProfile {
            name: settings.dispatch.profile.clone(),
            known: settings.profiles.keys().cloned().collect(),
        });
    }
    check_profile("routes.api.profile", &settings.routes.api.profile)?;
    check_profile("routes.auto.classifier", &settings.routes.auto.classifier)?;
    Ok(())
}

/// `[proxy]`: a loopback address, and model names that map to something that exists.
fn validate_proxy(
    settings: &Settings,
    origins: &BTreeMap<String, Origin>,
) -> Result<(), ConfigError> {
    let proxy = &settings.proxy;
    let listen = &proxy.listen;
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => {}
        Ok(_) => {
            return Err(invalid(
                "proxy.listen".into(),
                origins,
                format!(
                    "`{listen}` is not a loopback address (the proxy spends the backends' keys for whoever reaches it)"
                ),
            ));
        }
        Err(_) => {
            return Err(invalid(
                "proxy.listen".into(),
                origins,
                format!("`{listen}` is not HOST:PORT, e.g. 127.0.0.1:11400"),
            ));
        }
    }
    if !proxy.profile.is_empty() && !settings.profiles.contains_key(&proxy.profile) {
        return Err(invalid(
            "proxy.profile".into(),
            origins,
            format!("unknown profile `{}`", proxy.profile),
        ));
    }
    for (model, spec) in &proxy.models {
        let known = match spec.split_once(':') {
            Some((backend, _)) => settings.backends.contains_key(backend),
            None => settings.profiles.contains_key(spec),
        };
        if !known {
            return Err(invalid(
                format!("proxy.models.{model}"),
                origins,
                format!("`{spec}` is neither a profile nor BACKEND:MODEL of a known backend"),
            ));
        }
    }
    Ok(())
}

//! Baton's configuration: layered sources resolved once into [`Settings`].
//!
//! Load order, lowest to highest (see [`layers`]): built-in defaults (`defaults.toml`) <
//! user file < project `baton.toml` < environment < flags and `-c key=value`. [`load`] is
//! a pure function of its [`LoadOptions`], so tests give it an explicit environment.
//!
//! Parts: [`settings`] (the resolved shape), [`layers`] (reading, checking, merging,
//! origins), `keys` (unknown keys and the nearest known one, asked of `Settings` itself),
//! [`mod@env`] (every variable name, once), [`duration`], [`error`].

pub mod duration;
pub mod env;
pub mod error;
mod keys;
pub mod layers;
mod pipeline;
mod proxy;
pub mod settings;
mod validate;
mod workers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Value;

pub use env::EnvSnapshot;
pub use error::{ConfigError, KeyPlace};
pub use layers::Origin;
pub use settings::{
    BackendKind, BackendSettings, Dialect, DispatchSettings, GithubPublishSettings,
    LinearPublishSettings, MemorySettings, Price, ProfileSettings, ProxyAdapt, ProxySettings,
    PublishSettings, RoutesSettings, Settings, WebhookPublishSettings,
};
pub use workers::{AgentCli, WorkerKindSettings};

/// The built-in defaults, the lowest layer.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// The default system prompt of the coder, as the old `dispatch.sh` sent it.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a specialized coding assistant. Implement code \
exactly according to the specification you are given. Follow the patterns of the code you are \
shown, write clean, maintainable code and tests, and return only code (no explanations).";

/// The name of the project config file.
pub const PROJECT_FILE: &str = "baton.toml";

/// What [`load`] reads.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Where to start looking for a project `baton.toml`.
    pub cwd: PathBuf,
    pub env: EnvSnapshot,
    /// Values from flags: dotted key, value, and the flag's name for `--origins`.
    pub flags: Vec<(String, Value, String)>,
    /// Raw `-c dotted.key=value` texts.
    pub overrides: Vec<String>,
}

/// Resolved settings, where each value came from, and which files were read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub origins: BTreeMap<String, Origin>,
    pub files: Vec<PathBuf>,
    /// The merged table, for `baton config show`.
    pub merged: toml::Table,
}

/// Loads every layer and resolves it into [`Settings`].
pub fn load(options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut layers = vec![layers::parse_file_layer(
        DEFAULTS_TOML,
        Path::new("<built-in>"),
        Origin::Default,
    )?];
    let mut files = Vec::new();
    if let Some(path) = user_config_path(&options.env).filter(|path| path.is_file()) {
        layers.push(layers::file_layer(&path, Origin::UserFile(path.clone()))?);
        files.push(path);
    }
    if let Some(path) = find_project_file(&options.cwd) {
        layers.push(layers::file_layer(
            &path,
            Origin::ProjectFile(path.clone()),
        )?);
        files.push(path);
    }
    // The environment's CODER_* variables apply to the profile in use, which the file layers
    // (and BATON_PROFILE or a flag) decide: resolve that name first.
    let (files_merged, _) = layers::merge(&layers);
    let env_layer = env_layer(&options.env, &files_merged, &options.flags)?;
    env_layer.check()?;
    layers.push(env_layer);

    let mut flag_layer = layers::Layer::new(Origin::Flag("-c".into()));
    for (key, value, flag) in &options.flags {
        flag_layer.set(key, value.clone(), Origin::Flag(flag.clone()));
    }
    for text in &options.overrides {
        let (key, value) = layers::parse_override(text)?;
        layers::check_override(text, &key, &value)?;
        flag_layer.set(&key, value, Origin::Flag(format!("-c {text}")));
    }
    flag_layer.check()?;
    layers.push(flag_layer);

    let (merged, origins) = layers::merge(&layers);
    let settings: Settings =
        Value::Table(merged.clone())
            .try_into()
            .map_err(|error| ConfigError::Layer {
                origin: "merged config".into(),
                message: error.to_string(),
            })?;
    validate::validate(&settings, &origins)?;
    Ok(Loaded {
        settings,
        origins,
        files,
        merged,
    })
}

/// `$BATON_CONFIG`, else `$XDG_CONFIG_HOME/baton/config.toml`, else
/// `~/.config/baton/config.toml`.
pub fn user_config_path(env: &EnvSnapshot) -> Option<PathBuf> {
    if let Some(path) = env.get(env::BATON_CONFIG) {
        return Some(PathBuf::from(path));
    }
    let base = match env.get(env::XDG_CONFIG_HOME) {
        Some(dir) => PathBuf::from(dir),
        None => env.home()?.join(".config"),
    };
    Some(base.join("baton").join("config.toml"))
}

/// The nearest `baton.toml` walking up from `cwd`.
pub fn find_project_file(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .map(|dir| dir.join(PROJECT_FILE))
        .find(|path| path.is_file())
}

/// The profile a dispatch uses when none is named: flag, else env, else files.
fn default_profile(
    env: &EnvSnapshot,
    files: &toml::Table,
    flags: &[(String, Value, String)],
) -> String {
    flags
        .iter()
        .find(|(key, _, _)| key == "dispatch.profile")
        .and_then(|(_, value, _)| value.as_str().map(str::to_string))
        .or_else(|| env.get(env::BATON_PROFILE).map(str::to_string))
        .or_else(|| {
            files
                .get("dispatch")
                .and_then(|dispatch| dispatch.get("profile"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "code".into())
}

/// The environment layer: `BATON_PROFILE`, `BATON_ROUTE`, and the `dispatch.sh` variables
/// mapped onto the profile in use and its backend.
fn env_layer(
    env: &EnvSnapshot,
    files: &toml::Table,
    flags: &[(String, Value, String)],
) -> Result<layers::Layer, ConfigError> {
    let mut layer = layers::Layer::new(Origin::Env("environment"));
    if let Some(profile) = env.get(env::BATON_PROFILE) {
        layer.set(
            "dispatch.profile",
            Value::String(profile.into()),
            Origin::Env(env::BATON_PROFILE),
        );
    }
    if let Some(route) = env.get(env::BATON_ROUTE) {
        route
            .parse::<baton_core::Route>()
            .map_err(|error| ConfigError::Env {
                var: env::BATON_ROUTE,
                value: route.into(),
                message: error.to_string(),
            })?;
        layer.set(
            "dispatch.route",
            Value::String(route.into()),
            Origin::Env(env::BATON_ROUTE),
        );
    }
    let profile = default_profile(env, files, flags);
    let backend = files
        .get("profiles")
        .and_then(|profiles| profiles.get(&profile))
        .and_then(|p| p.get("backend"))
        .and_then(Value::as_str)
        .unwrap_or("local")
        .to_string();
    if let Some(url) = env.get(env::CODER_API_URL) {
        let base = chat_url_to_base(url).map_err(|message| ConfigError::Env {
            var: env::CODER_API_URL,
            value: url.into(),
            message,
        })?;
        layer.set(
            &format!("backends.{backend}.urls"),
            Value::Array(vec![Value::String(base)]),
            Origin::Env(env::CODER_API_URL),
        );
    }
    let profile_key = |field: &str| format!("profiles.{profile}.{field}");
    if let Some(model) = env.get(env::CODER_MODEL) {
        layer.set(
            &profile_key("model"),
            Value::String(model.into()),
            Origin::Env(env::CODER_MODEL),
        );
    }
    if let Some(text) = env.get(env::CODER_MAX_TOKENS) {
        let tokens: u32 = text.trim().parse().map_err(|_| ConfigError::Env {
            var: env::CODER_MAX_TOKENS,
            value: text.into(),
            message: "expected a whole number of tokens".into(),
        })?;
        layer.set(
            &profile_key("max_tokens"),
            Value::Integer(i64::from(tokens)),
            Origin::Env(env::CODER_MAX_TOKENS),
        );
    }
    if let Some(text) = env.get(env::CODER_TEMPERATURE) {
        let temperature: f64 = text
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| (0.0..=2.0).contains(t))
            .ok_or_else(|| ConfigError::Env {
                var: env::CODER_TEMPERATURE,
                value: text.into(),
                message: "expected a number from 0 to 2".into(),
            })?;
        layer.set(
            &profile_key("temperature"),
            Value::Float(temperature),
            Origin::Env(env::CODER_TEMPERATURE),
        );
    }
    if let Some(prompt) = env.get(env::SYSTEM_PROMPT) {
        layer.set(
            &profile_key("system_prompt"),
            Value::String(prompt.into()),
            Origin::Env(env::SYSTEM_PROMPT),
        );
    }
    Ok(layer)
}

/// Whether `url` is an `http://` or `https://` URL (the only ones Baton sends requests to).
pub fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// `http://h:p/v1/chat/completions` -> `http://h:p/v1`. A base URL is kept as it is.
pub fn chat_url_to_base(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    if !is_http_url(trimmed) {
        return Err("expected an http:// or https:// URL".into());
    }
    let base = trimmed
        .strip_suffix("/chat/completions")
        .or_else(|| trimmed.strip_suffix("/messages"))
        .unwrap_or(trimmed);
    Ok(base.to_string())
}

#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod tests;

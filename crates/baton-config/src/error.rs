//! Errors of loading and resolving configuration. Each names the file, line and key, the
//! variable, or the flag it came from.

use std::path::PathBuf;

/// A configuration problem, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {}:{line}:{column}{}: {message}", path.display(), key.as_deref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("invalid value in {origin}: {message}")]
    Layer { origin: String, message: String },
    #[error("invalid environment variable {var}=`{value}`: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },
    #[error("invalid override `{text}`: {message}")]
    Override { text: String, message: String },
    #[error("`{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    #[error("unknown profile `{name}`; known profiles: {}", known.join(", "))]
    UnknownProfile { name: String, known: Vec<String> },
}

impl ConfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::Read { .. } => "check the file's permissions, or remove it".into(),
            ConfigError::Parse { .. } | ConfigError::Layer { .. } | ConfigError::Invalid { .. } => {
                "fix the value, then check with `baton config show --origins`".into()
            }
            ConfigError::Env { var, .. } => format!("unset {var} or give it a valid value"),
            ConfigError::Override { .. } => "write overrides as `-c dotted.key=value`".into(),
            ConfigError::UnknownProfile { .. } => {
                "pick one of the known profiles, or add `[profiles.NAME]` to baton.toml".into()
            }
        }
    }
}

//! Errors of loading and resolving configuration. Each names the file, line and key, the
//! variable, or the flag it came from.

use std::fmt;
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
    /// A key no table of the configuration has, e.g. a misspelling.
    #[error("unknown key `{key}` in {place}")]
    UnknownKey {
        /// The whole dotted path of the key (`profiles.code.temprature`).
        key: String,
        place: KeyPlace,
        /// The dotted path of the table the key was written in; empty for the top level.
        table: String,
        /// The keys that table knows, as `Settings` declares them.
        known: &'static [&'static str],
        /// The known key nearest to the one written, when one is near enough.
        nearest: Option<String>,
    },
}

/// Where a key was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlace {
    /// A config file, and the 1-based line of the key.
    File { path: PathBuf, line: usize },
    /// A `-c dotted.key=value` override, as it was written.
    Override { text: String },
    /// Any other layer, by its origin (`env CODER_MODEL`, `flag --profile`).
    Layer { origin: String },
}

impl fmt::Display for KeyPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPlace::File { path, line } => write!(f, "{} line {line}", path.display()),
            KeyPlace::Override { text } => write!(f, "`-c {text}`"),
            KeyPlace::Layer { origin } => f.write_str(origin),
        }
    }
}

impl ConfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::Read { .. } => "check the file's permissions, or remove it".into(),
            ConfigError::Parse { key: None, .. } => {
                "fix the TOML at that line and column, then check the file with `baton config show`"
                    .into()
            }
            ConfigError::Parse { .. } | ConfigError::Layer { .. } | ConfigError::Invalid { .. } => {
                "fix the value, then check where each value comes from with `baton config show`"
                    .into()
            }
            ConfigError::Env { var, .. } => format!("unset {var} or give it a valid value"),
            ConfigError::Override { .. } => {
                "write an override as `dotted.key=value`, e.g. `dispatch.route=local`".into()
            }
            ConfigError::UnknownProfile { .. } => {
                "pick one of the known profiles, or add `[profiles.NAME]` to baton.toml".into()
            }
            ConfigError::UnknownKey {
                nearest: Some(key), ..
            } => format!("did you mean `{key}`?"),
            ConfigError::UnknownKey {
                table,
                known,
                nearest: None,
                ..
            } => {
                let known = known
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if table.is_empty() {
                    format!("known top-level keys: {known}")
                } else {
                    format!("known keys in `{table}`: {known}")
                }
            }
        }
    }
}

//! Every environment variable Baton reads for configuration, named once. Tests strip all of
//! these to run in a sealed environment. API keys are not here: a backend names its own
//! variable (`api_key_env`) and only the model client reads it, at call time.

use std::collections::BTreeMap;

/// Chat completions URL of the coder (the old `dispatch.sh`), e.g.
/// `http://127.0.0.1:11438/v1/chat/completions`. Sets the default profile's backend URL.
pub const CODER_API_URL: &str = "CODER_API_URL";
/// Model name sent to the coder; sets the default profile's model.
pub const CODER_MODEL: &str = "CODER_MODEL";
/// Reply token cap of the default profile.
pub const CODER_MAX_TOKENS: &str = "CODER_MAX_TOKENS";
/// Sampling temperature of the default profile.
pub const CODER_TEMPERATURE: &str = "CODER_TEMPERATURE";
/// System prompt of the default profile.
pub const SYSTEM_PROMPT: &str = "SYSTEM_PROMPT";
/// Directory holding Baton's state (`baton.db`), instead of the nearest `.baton/`.
pub const BATON_HOME: &str = "BATON_HOME";
/// Path of the user config file, instead of `$XDG_CONFIG_HOME/baton/config.toml`.
pub const BATON_CONFIG: &str = "BATON_CONFIG";
/// Default profile (`dispatch.profile`).
pub const BATON_PROFILE: &str = "BATON_PROFILE";
/// Default route (`dispatch.route`): `auto`, `local` or `api`.
pub const BATON_ROUTE: &str = "BATON_ROUTE";
/// Log filter (tracing `EnvFilter` syntax), overriding `-v`.
pub const BATON_LOG: &str = "BATON_LOG";
/// The run a worker serves, set for the `baton mcp` an agent worker of a run is given: its
/// memory writes are tagged `run:ID`.
pub const BATON_RUN: &str = "BATON_RUN";
/// The subtask of that run: tagged `subtask:ID`.
pub const BATON_SUBTASK: &str = "BATON_SUBTASK";
/// Base of the user config directory.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// Turns colour off when set.
pub const NO_COLOR: &str = "NO_COLOR";

/// All of the above, for sealing test environments and for docs.
pub const ALL: &[&str] = &[
    CODER_API_URL,
    CODER_MODEL,
    CODER_MAX_TOKENS,
    CODER_TEMPERATURE,
    SYSTEM_PROMPT,
    BATON_HOME,
    BATON_CONFIG,
    BATON_PROFILE,
    BATON_ROUTE,
    BATON_LOG,
    BATON_RUN,
    BATON_SUBTASK,
    XDG_CONFIG_HOME,
    NO_COLOR,
];

/// A snapshot of the variables Baton reads, so loading is a pure function of its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
    home: Option<std::path::PathBuf>,
}

impl EnvSnapshot {
    /// Reads the variables in [`ALL`] from the process environment (empty values count as
    /// unset, as they did for the shell script).
    pub fn from_process() -> Self {
        let vars = ALL
            .iter()
            .filter_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|value| !value.is_empty())
                    .map(|v| (name.to_string(), v))
            })
            .collect();
        Self {
            vars,
            home: std::env::home_dir(),
        }
    }

    /// A snapshot from explicit pairs (tests).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        home: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home,
        }
    }

    /// The same snapshot with `name` set to `value` (a front end that serves a store it was
    /// given sets `BATON_HOME`).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn home(&self) -> Option<&std::path::Path> {
        self.home.as_deref()
    }
}

//! `[workers.NAME]`: the agent CLI templates of `baton spawn --kind NAME` and of a plan's
//! subtask `worker`, with the backend a kind's CLI is pointed at and which CLI it is (so
//! Baton can derive that CLI's own settings); and the `env` tables that take any scalar.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::serde_opt_duration;

/// The agent CLIs whose settings Baton knows how to derive from a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentCli {
    Aider,
    Claude,
    Codex,
    Goose,
}

impl AgentCli {
    pub const ALL: [AgentCli; 4] = [
        AgentCli::Aider,
        AgentCli::Claude,
        AgentCli::Codex,
        AgentCli::Goose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentCli::Aider => "aider",
            AgentCli::Claude => "claude",
            AgentCli::Codex => "codex",
            AgentCli::Goose => "goose",
        }
    }

    /// Path prefixes of the files the CLI keeps for itself in its working directory
    /// (aider's chat history and tag cache): not the work, neither taken nor refused.
    pub fn state_prefixes(self) -> &'static [&'static str] {
        match self {
            AgentCli::Aider => &[".aider"],
            AgentCli::Claude => &[".claude/"],
            AgentCli::Codex => &[".codex/"],
            AgentCli::Goose => &[".goose/"],
        }
    }

    /// The CLI a program is, by its file name (`/usr/bin/aider`, `claude`).
    pub fn of_program(program: &str) -> Option<AgentCli> {
        let name = Path::new(program).file_name()?.to_str()?;
        AgentCli::ALL.into_iter().find(|cli| cli.as_str() == name)
    }
}

impl fmt::Display for AgentCli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent CLI template (`[workers.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerKindSettings {
    /// The command line; `{prompt}` is replaced by the task.
    pub command: Vec<String>,
    /// Which CLI the command runs, for the settings Baton derives; default: the program's
    /// name when it is one of them.
    pub agent: Option<AgentCli>,
    /// The backend (or profile) the CLI's model traffic goes to: Baton sets the CLI's own
    /// variables and flags for it. Empty: the CLI keeps its own provider settings.
    pub backend: String,
    /// The model asked of that backend; default: the model of the profile named by
    /// `backend`, else of the first profile on that backend.
    pub model: String,
    /// The kind changes nothing (a reviewer): in a run, any change it makes is refused.
    pub read_only: bool,
    /// Fixed variables for the worker; values may be strings, booleans or numbers.
    #[serde(deserialize_with = "scalar_map")]
    pub env: BTreeMap<String, String>,
    /// Variables passed through from the caller's environment.
    pub env_pass: Vec<String>,
    #[serde(with = "serde_opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(with = "serde_opt_duration")]
    pub idle_timeout: Option<Duration>,
    pub remediate: Option<u32>,
    /// Checkpoint files every worker of this kind must leave.
    pub expect: Vec<String>,
    pub expect_pass: bool,
}

impl WorkerKindSettings {
    /// The CLI this kind runs: as configured, else by its program's name.
    pub fn cli(&self) -> Option<AgentCli> {
        self.agent
            .or_else(|| self.command.first().and_then(|p| AgentCli::of_program(p)))
    }
}

/// A value of an `env` table: environment variables are text, but `X = true` or `N = 3`
/// (in a file or a `-c` override, where TOML reads them as a boolean or a number) mean the
/// text they are written as.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Flag(bool),
    Integer(i64),
    Float(f64),
}

/// Deserializes an `env` table whose values may be any scalar, as text.
pub(crate) fn scalar_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Scalar::Text(text) => text,
                Scalar::Flag(flag) => flag.to_string(),
                Scalar::Integer(number) => number.to_string(),
                Scalar::Float(number) => number.to_string(),
            };
            (name, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_written_as_booleans_or_numbers_are_taken_as_their_text() {
        let kind: WorkerKindSettings = toml::from_str(
            "command = [\"aider\"]\nenv = { A = true, B = 3, C = 1.5, D = \"text\" }",
        )
        .unwrap();
        let env: Vec<(&str, &str)> = kind
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [("A", "true"), ("B", "3"), ("C", "1.5"), ("D", "text")]
        );
    }

    #[test]
    fn a_dash_c_override_of_an_env_value_may_be_a_boolean_or_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = crate::load(&crate::LoadOptions {
            cwd: dir.path().to_path_buf(),
            overrides: vec![
                "workers.aider.env.AIDER_DARK_MODE=true".into(),
                "workers.aider.env.AIDER_MAP_TOKENS=0".into(),
            ],
            ..crate::LoadOptions::default()
        })
        .unwrap();
        let env = &loaded.settings.workers["aider"].env;
        assert_eq!(env["AIDER_DARK_MODE"], "true");
        assert_eq!(env["AIDER_MAP_TOKENS"], "0");
    }

    #[test]
    fn a_kind_is_the_cli_its_program_is_named_after_unless_it_says_otherwise() {
        let kind = |command: &[&str], agent| WorkerKindSettings {
            command: command.iter().map(|s| s.to_string()).collect(),
            agent,
            ..WorkerKindSettings::default()
        };
        assert_eq!(
            kind(&["/opt/bin/aider", "--yes"], None).cli(),
            Some(AgentCli::Aider)
        );
        assert_eq!(kind(&["my-agent"], None).cli(), None);
        assert_eq!(
            kind(&["my-wrapper"], Some(AgentCli::Codex)).cli(),
            Some(AgentCli::Codex)
        );
    }
}

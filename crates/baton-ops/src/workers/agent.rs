//! Agent CLIs as workers: the settings each CLI (aider, Claude Code, Codex, goose) needs to
//! send its model traffic to the backend its kind names (`[workers.KIND] backend`), and its
//! MCP connection to `baton mcp`, each in that CLI's own form. A new user's `baton spawn
//! --kind aider` then works against the local server with no `-c workers.aider.env.*` lines.
//!
//! Secrets stay out of the store: a backend's API key is handed to the CLI by the name of
//! the variable holding it (`env_from`), resolved by the supervisor when the child starts.

use std::path::{Path, PathBuf};

use baton_config::{AgentCli, BackendKind, BackendSettings, Settings, WorkerKindSettings};
use baton_core::Locality;

use crate::OpsError;

/// Claude Code's own system prompt and tools take most of a 20k window: below that it runs
/// `--bare` (no hooks, plugins or auto-discovered context).
const CLAUDE_BARE_BELOW_TOKENS: u64 = 20_000;

/// Stands in for an API key where the server takes none (a local llama-server): the CLIs
/// refuse to start without one. Not a secret.
const NO_KEY: &str = "sk-local-no-key";

/// What a worker of a kind is there for, beyond its task: set by a run for a subtask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentScope {
    /// Baton commits the worker's changes: CLIs that commit on their own are told not to.
    pub baton_commits: bool,
    /// The files it is to change (aider adds them to its chat).
    pub files: Vec<String>,
    /// Files it reads.
    pub read: Vec<String>,
    /// The run and subtask the worker serves, given to its MCP server.
    pub run: Option<String>,
    pub subtask: Option<String>,
}

/// Arguments and variables a CLI gets on top of its template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    pub args: Vec<String>,
    pub env_set: Vec<(String, String)>,
    /// `(name, from)`: set `name` from the supervisor's `from`.
    pub env_from: Vec<(String, String)>,
    /// What a person should know (no MCP for aider, `--bare`).
    pub notes: Vec<String>,
}

impl Derived {
    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.env_set.push((name.to_string(), value.into()));
    }

    fn arg(&mut self, command: &[String], arg: &str) {
        // A template that already says it keeps its own.
        if !command.iter().any(|a| a == arg) {
            self.args.push(arg.to_string());
        }
    }

    /// The backend's key under `name`, or the placeholder where it takes none.
    fn key(&mut self, name: &str, backend: &BackendSettings) {
        match &backend.api_key_env {
            Some(from) => self.env_from.push((name.to_string(), from.clone())),
            None => self.set(name, NO_KEY),
        }
    }
}

/// `baton mcp` as a CLI starts it: program, arguments, environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct McpServer {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl McpServer {
    /// `program mcp`, on the store at `store` (its directory is the `BATON_HOME`), scoped to
    /// the run and subtask of `scope`.
    pub(crate) fn new(program: &Path, store: &Path, scope: Option<&AgentScope>) -> McpServer {
        let mut env = Vec::new();
        if let Some(home) = store.parent() {
            env.push(("BATON_HOME".to_string(), home.display().to_string()));
        }
        if let Some(scope) = scope {
            if let Some(run) = &scope.run {
                env.push((baton_config::env::BATON_RUN.to_string(), run.clone()));
            }
            if let Some(subtask) = &scope.subtask {
                env.push((
                    baton_config::env::BATON_SUBTASK.to_string(),
                    subtask.clone(),
                ));
            }
        }
        McpServer {
            program: program.to_path_buf(),
            args: vec!["mcp".to_string()],
            env,
        }
    }

    /// Claude Code's `--mcp-config` JSON.
    fn claude_json(&self) -> String {
        let env: serde_json::Map<String, serde_json::Value> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "mcpServers": {
                "baton": {
                    "type": "stdio",
                    "command": self.program.display().to_string(),
                    "args": self.args,
                    "env": env,
                }
            }
        })
        .to_string()
    }

    /// Codex's `-c mcp_servers.baton.*` overrides (values in TOML).
    fn codex_overrides(&self) -> Vec<String> {
        let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
        let mut args = vec![
            "-c".to_string(),
            format!(
                "mcp_servers.baton.command={}",
                quote(&self.program.display().to_string())
            ),
            "-c".to_string(),
            format!(
                "mcp_servers.baton.args=[{}]",
                self.args
                    .iter()
                    .map(|a| quote(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ];
        if !self.env.is_empty() {
            args.push("-c".to_string());
            args.push(format!(
                "mcp_servers.baton.env={{ {} }}",
                self.env
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", quote(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        args
    }

    /// goose's `--with-extension` command line (variables first, as goose reads them).
    fn goose_extension(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(v)))
            .collect();
        words.push(shell_word(&self.program.display().to_string()));
        words.extend(self.args.iter().map(|a| shell_word(a)));
        words.join(" ")
    }
}

/// `text` quoted for a shell-like command line when it needs it.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+@%,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The backend a kind's CLI talks to, and the model it asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target<'a> {
    pub backend_name: String,
    pub backend: &'a BackendSettings,
    pub model: String,
}

impl Target<'_> {
    /// The first URL of the backend's pool (a CLI takes one), without a trailing slash.
    fn url(&self) -> String {
        self.backend
            .urls
            .first()
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_default()
    }

    /// The server's root: the URL without its `/v1` (Anthropic clients add `/v1/messages`).
    fn root(&self) -> String {
        let url = self.url();
        url.strip_suffix("/v1").map_or(url.clone(), str::to_string)
    }
}

/// Where a kind's model traffic goes, as the ledger and a run's trail name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTarget {
    pub backend: String,
    pub model: String,
    pub locality: Locality,
}

/// The backend and model worker kind `name` sends its CLI to; `None` for a kind that keeps
/// the CLI's own provider (or is not configured).
pub fn kind_target(settings: &Settings, name: &str) -> Option<KindTarget> {
    let kind = settings.workers.get(name)?;
    let target = target(settings, name, kind).ok().flatten()?;
    Some(KindTarget {
        backend: target.backend_name,
        model: target.model,
        locality: target.backend.locality,
    })
}

/// The backend and model `kind` names; `None` when it leaves the CLI its own provider.
pub(crate) fn target<'a>(
    settings: &'a Settings,
    name: &str,
    kind: &WorkerKindSettings,
) -> Result<Option<Target<'a>>, OpsError> {
    if kind.backend.is_empty() {
        return Ok(None);
    }
    let (backend_name, profile_model) = match settings.profiles.get(&kind.backend) {
        Some(profile) => (profile.backend.clone(), Some(profile.model.clone())),
        None => (kind.backend.clone(), None),
    };
    let backend = settings
        .backends
        .get(&backend_name)
        .ok_or_else(|| OpsError::Unknown {
            what: "backend",
            name: format!("{backend_name} (of worker kind `{name}`)"),
            known: settings.backends.keys().cloned().collect(),
        })?;
    let model = if !kind.model.is_empty() {
        kind.model.clone()
    } else if let Some(model) = profile_model {
        model
    } else {
        // The dispatch profile when it uses this backend, else the first that does.
        let default = settings.profiles.get(&settings.dispatch.profile);
        default
            .filter(|p| p.backend == backend_name)
            .or_else(|| {
                settings
                    .profiles
                    .values()
                    .find(|p| p.backend == backend_name)
            })
            .map(|p| p.model.clone())
            .unwrap_or_else(|| backend_name.clone())
    };
    Ok(Some(Target {
        backend_name,
        backend,
        model,
    }))
}

/// What `cli` is given on top of its template `command`. `window` is the context the
/// backend's server serves, when probed; `state` is where files a CLI needs (Codex's home)
/// are written.
pub(crate) fn derive(
    cli: AgentCli,
    command: &[String],
    target: Option<&Target<'_>>,
    mcp: Option<&McpServer>,
    scope: Option<&AgentScope>,
    window: Option<u64>,
    state: &Path,
) -> Result<Derived, OpsError> {
    let mut derived = Derived::default();
    match cli {
        AgentCli::Aider => aider(&mut derived, command, target, scope),
        AgentCli::Claude => claude(&mut derived, command, target, mcp, window)?,
        AgentCli::Codex => codex(&mut derived, command, target, mcp, state)?,
        AgentCli::Goose => goose(&mut derived, target, mcp),
    }
    Ok(derived)
}

fn aider(
    derived: &mut Derived,
    command: &[String],
    target: Option<&Target<'_>>,
    scope: Option<&AgentScope>,
) {
    // Whatever the backend: no phoning home, no questions about files Baton manages.
    derived.set("AIDER_ANALYTICS", "false");
    derived.set("AIDER_CHECK_UPDATE", "false");
    derived.set("AIDER_SHOW_RELEASE_NOTES", "false");
    derived.set("AIDER_GITIGNORE", "false");
    // litellm fetches its model price list from the internet at start-up, and waits on it
    // where there is no network.
    derived.set("LITELLM_LOCAL_MODEL_COST_MAP", "True");
    if let Some(target) = target {
        match target.backend.kind {
            BackendKind::Openai => {
                derived.set("OPENAI_API_BASE", target.url());
                derived.set("AIDER_MODEL", format!("openai/{}", target.model));
                derived.key("OPENAI_API_KEY", target.backend);
            }
            BackendKind::Anthropic => {
                derived.set("ANTHROPIC_API_BASE", target.root());
                derived.set("AIDER_MODEL", format!("anthropic/{}", target.model));
                derived.key("ANTHROPIC_API_KEY", target.backend);
            }
        }
        // A model the CLI has no metadata for is a warning that waits for an answer.
        derived.set("AIDER_SHOW_MODEL_WARNINGS", "false");
    }
    if let Some(scope) = scope {
        if scope.baton_commits {
            derived.arg(command, "--no-auto-commits");
            derived.arg(command, "--no-dirty-commits");
        }
        // Files named up front: without them a small model invents paths of its own.
        for file in &scope.files {
            derived.args.extend(["--file".to_string(), file.clone()]);
        }
        for file in &scope.read {
            derived.args.extend(["--read".to_string(), file.clone()]);
        }
    }
    derived
        .notes
        .push("aider has no MCP client: memory patterns are in its prompt".into());
}

fn claude(
    derived: &mut Derived,
    command: &[String],
    target: Option<&Target<'_>>,
    mcp: Option<&McpServer>,
    window: Option<u64>,
) -> Result<(), OpsError> {
    derived.set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    derived.set("DISABLE_AUTOUPDATER", "1");
    derived.set("DISABLE_TELEMETRY", "1");
    derived.set("DISABLE_ERROR_REPORTING", "1");
    if let Some(target) = target {
        let speaks_messages = target.backend.kind == BackendKind::Anthropic
            || target.backend.locality == Locality::Local;
        if !speaks_messages {
            return Err(OpsError::invalid(
                format!(
                    "Claude Code speaks Anthropic Messages, and backend `{}` is an OpenAI API",
                    target.backend_name
                ),
                "point the kind's `backend` at an Anthropic backend or a local server (llama-server serves /v1/messages), or leave it empty for Claude Code's own",
            ));
        }
        derived.set("ANTHROPIC_BASE_URL", target.root());
        derived.set("ANTHROPIC_MODEL", target.model.clone());
        // Its background calls (titles, summaries) go to the same model.
        derived.set("ANTHROPIC_DEFAULT_HAIKU_MODEL", target.model.clone());
        derived.set("ANTHROPIC_SMALL_FAST_MODEL", target.model.clone());
        match &target.backend.api_key_env {
            Some(from) => derived
                .env_from
                .push(("ANTHROPIC_API_KEY".into(), from.clone())),
            None => derived.set("ANTHROPIC_AUTH_TOKEN", NO_KEY),
        }
        // A local server's window is small unless probed otherwise.
        let small = match window {
            Some(window) => window < CLAUDE_BARE_BELOW_TOKENS,
            None => target.backend.locality == Locality::Local,
        };
        if small {
            derived.arg(command, "--bare");
            derived.notes.push(format!(
                "Claude Code runs --bare: the server's context ({}) is under {CLAUDE_BARE_BELOW_TOKENS} tokens",
                window.map_or("not probed".to_string(), |w| w.to_string())
            ));
        }
    }
    if let Some(mcp) = mcp {
        derived.args.extend([
            "--mcp-config".to_string(),
            mcp.claude_json(),
            "--allowedTools".to_string(),
            "mcp__baton__memory_search,mcp__baton__memory_get,mcp__baton__memory_store".to_string(),
        ]);
    }
    Ok(())
}

fn codex(
    derived: &mut Derived,
    command: &[String],
    target: Option<&Target<'_>>,
    mcp: Option<&McpServer>,
    state: &Path,
) -> Result<(), OpsError> {
    if let Some(target) = target {
        if target.backend.kind == BackendKind::Anthropic {
            return Err(OpsError::invalid(
                format!(
                    "Codex speaks the OpenAI Responses API, and backend `{}` is Anthropic",
                    target.backend_name
                ),
                "point the kind's `backend` at an OpenAI-compatible backend, or leave it empty for Codex's own",
            ));
        }
        let home = state.join(format!("codex-{}", target.backend_name));
        write_codex_home(&home, target)?;
        derived.set("CODEX_HOME", home.display().to_string());
        if let Some(from) = &target.backend.api_key_env {
            derived
                .env_from
                .push(("BATON_CODEX_KEY".into(), from.clone()));
        }
    }
    // Events on stdout, one JSON object a line: the final message and the usage.
    derived.arg(command, "--json");
    if let Some(mcp) = mcp {
        derived.args.extend(mcp.codex_overrides());
    }
    Ok(())
}

/// A `CODEX_HOME` whose `config.toml` sends Codex to the target: a provider of its own on
/// the Responses API, bounded retries (an unreachable provider must end the worker, not
/// retry for ever), and nothing optional switched on.
fn write_codex_home(home: &Path, target: &Target<'_>) -> Result<(), OpsError> {
    let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
    let mut config = format!(
        "# Written by Baton for worker kinds on backend `{name}`; rewritten on every spawn.\n\
         model = {model}\n\
         model_provider = \"baton\"\n\
         approval_policy = \"never\"\n\
         check_for_update_on_startup = false\n\
         \n\
         [model_providers.baton]\n\
         name = {provider}\n\
         base_url = {url}\n\
         wire_api = \"responses\"\n\
         request_max_retries = 1\n\
         stream_max_retries = 1\n\
         stream_idle_timeout_ms = 300000\n",
        name = target.backend_name,
        model = quote(&target.model),
        provider = quote(&format!("Baton backend {}", target.backend_name)),
        url = quote(&target.url()),
    );
    if target.backend.api_key_env.is_some() {
        config.push_str("env_key = \"BATON_CODEX_KEY\"\n");
    }
    config.push_str("\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n");
    std::fs::create_dir_all(home).map_err(|source| OpsError::Write {
        what: "the Codex home of a worker kind",
        path: home.to_path_buf(),
        source,
    })?;
    let path = home.join("config.toml");
    // Written aside and renamed: a Codex starting now reads the old file or the new one.
    let aside = home.join(format!(".config.toml.{}", std::process::id()));
    std::fs::write(&aside, config.as_bytes())
        .and_then(|()| std::fs::rename(&aside, &path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&aside);
            OpsError::Write {
                what: "the Codex configuration of a worker kind",
                path,
                source,
            }
        })
}

fn goose(derived: &mut Derived, target: Option<&Target<'_>>, mcp: Option<&McpServer>) {
    derived.set("GOOSE_DISABLE_KEYRING", "1");
    if let Some(target) = target {
        match target.backend.kind {
            BackendKind::Openai => {
                derived.set("GOOSE_PROVIDER", "openai");
                derived.set("OPENAI_HOST", target.root());
                derived.set("OPENAI_BASE_PATH", "v1/chat/completions");
                derived.key("OPENAI_API_KEY", target.backend);
            }
            BackendKind::Anthropic => {
                derived.set("GOOSE_PROVIDER", "anthropic");
                derived.set("ANTHROPIC_HOST", target.root());
                derived.key("ANTHROPIC_API_KEY", target.backend);
            }
        }
        derived.set("GOOSE_MODEL", target.model.clone());
    }
    if let Some(mcp) = mcp {
        derived
            .args
            .extend(["--with-extension".to_string(), mcp.goose_extension()]);
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;

//! Building a worker's [`WorkerSpec`]: from a spawn request, the kind's `[workers.KIND]`
//! template and the `[supervise]` defaults; or from a model server's `[servers.NAME]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_config::Settings;
use baton_core::{RestartPolicy, WorkerRole, WorkerSpec};

use super::agent::{self, AgentScope, McpServer};
use crate::OpsError;

/// Start a worker: a template (`kind`, with `prompt` for its `{prompt}`) or a `command`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnRequest {
    /// A name to find the worker by (default: the kind or program).
    pub name: Option<String>,
    /// A worker template: `[workers.KIND]`.
    pub kind: Option<String>,
    /// The task, put where the template says `{prompt}`.
    pub prompt: Option<String>,
    /// A command to run instead of a kind, as program and arguments.
    pub command: Vec<String>,
    /// Wall deadline (zero: none). Default: the kind's, else `supervise.timeout`.
    pub timeout: Option<Duration>,
    /// Deadline without output (zero: none).
    pub idle_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when stopping.
    pub grace: Option<Duration>,
    /// Files (or globs, relative to the worker's directory) that must exist when it ends.
    pub expect: Vec<String>,
    /// The expected files must say PASS and not FAIL.
    pub expect_pass: bool,
    /// Remediation workers to start if it fails, times out or hangs.
    pub remediate: Option<u32>,
    /// Most workers running at once; beyond it workers queue.
    pub max_parallel: Option<u32>,
    /// Run the supervisor in a detached tmux session.
    pub tmux: bool,
    /// Working directory (relative to the project's; default: the project's).
    pub cwd: Option<PathBuf>,
    /// Log size cap in bytes (head and tail kept).
    pub log_cap: Option<u64>,
    /// A shell command run in the worker's directory after it exits 0: it succeeds only if
    /// the check passes too (an agent CLI's exit code proves nothing).
    pub check: Option<String>,
    /// An agent (the default) or a run's coordinator, which takes no agent slot.
    pub role: WorkerRole,
    /// What a run asks of an agent kind's worker (the files it owns, who commits).
    pub scope: Option<AgentScope>,
    /// Variables of the supervisor's environment passed on beyond the allow-list, by name
    /// (API keys among them: only the name is stored).
    pub env_pass: Vec<String>,
    /// Variables set for the child (stored with the spec: no secrets), after the kind's.
    pub env_set: Vec<(String, String)>,
}

/// Where an agent kind's derived settings point: the store (for `baton mcp`, and the probes
/// that say what context a backend's server serves), the binary that serves MCP, and where
/// CLI state files go.
pub(crate) struct AgentEnv<'a> {
    pub store: &'a baton_store::Store,
    pub baton: Option<PathBuf>,
    pub state: PathBuf,
}

impl AgentEnv<'_> {
    /// The context the server at the target's first URL was last probed serving.
    fn window(&self, target: &agent::Target<'_>) -> Option<u64> {
        let url = target.backend.urls.first()?.trim_end_matches('/');
        self.store.get_probe(url).ok().flatten()?.n_ctx
    }
}

/// Milliseconds from a config duration, `None` for zero (no deadline).
pub(crate) fn deadline_ms(duration: Duration) -> Option<u64> {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    (ms > 0).then_some(ms)
}

/// The spec of `request`, with the kind's template and the `[supervise]` defaults.
pub(crate) fn build(
    settings: &Settings,
    request: &SpawnRequest,
    cwd: PathBuf,
    env: &AgentEnv<'_>,
) -> Result<WorkerSpec, OpsError> {
    let template = match &request.kind {
        Some(name) => Some((
            name.clone(),
            settings
                .workers
                .get(name)
                .ok_or_else(|| OpsError::Unknown {
                    what: "worker kind",
                    name: name.clone(),
                    known: settings.workers.keys().cloned().collect(),
                })?,
        )),
        None => None,
    };
    let mut command: Vec<String> = match (&template, request.command.is_empty()) {
        (Some(_), false) => {
            return Err(OpsError::invalid(
                "give either a worker kind or a command, not both",
                "a kind with its task runs an agent template; a command runs as given",
            ));
        }
        (None, true) => {
            return Err(OpsError::invalid(
                "nothing to run",
                "give a worker kind (an agent template) with a task, or a command",
            ));
        }
        (Some((name, template)), true) => {
            let takes_prompt = template.command.iter().any(|arg| arg.contains("{prompt}"));
            if takes_prompt && request.prompt.is_none() {
                return Err(OpsError::invalid(
                    format!("worker kind `{name}` needs a task"),
                    format!("give the task for `{name}` to do"),
                ));
            }
            template
                .command
                .iter()
                .map(|arg| arg.replace("{prompt}", request.prompt.as_deref().unwrap_or_default()))
                .collect()
        }
        (None, false) => request.command.clone(),
    };
    if !cwd.is_dir() {
        return Err(OpsError::NotADirectory {
            what: "the worker's directory",
            path: cwd,
        });
    }
    let supervise = &settings.supervise;
    let template = template.as_ref().map(|(name, t)| (name, *t));
    let pick = |asked: Option<Duration>, kind: Option<Duration>, default| {
        deadline_ms(asked.or(kind).unwrap_or(default))
    };
    let program = command
        .first()
        .map(|p| {
            Path::new(p)
                .file_name()
                .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    // An agent CLI's own settings for the kind's backend, and its MCP connection.
    let derived = match template.and_then(|(name, t)| t.cli().map(|cli| (name, t, cli))) {
        Some((name, kind, cli)) => {
            let target = agent::target(settings, name, kind)?;
            let mcp = env
                .baton
                .as_deref()
                .map(|baton| McpServer::new(baton, env.store.path(), request.scope.as_ref()));
            agent::derive(
                cli,
                &command,
                target.as_ref(),
                mcp.as_ref(),
                request.scope.as_ref(),
                target.as_ref().and_then(|t| env.window(t)),
                &env.state,
            )?
        }
        None => agent::Derived::default(),
    };
    for note in &derived.notes {
        tracing::info!(kind = ?request.kind, "{note}");
    }
    command.extend(derived.args);
    let mut expect = template.map(|(_, t)| t.expect.clone()).unwrap_or_default();
    expect.extend(request.expect.iter().cloned());
    Ok(WorkerSpec {
        name: request
            .name
            .clone()
            .unwrap_or_else(|| template.map_or(program, |(name, _)| name.clone())),
        kind: template.map(|(name, _)| name.clone()),
        role: request.role,
        command,
        cwd: cwd.display().to_string(),
        prompt: request.prompt.clone(),
        // Derived first: the template's own `env` has the last word.
        env_set: derived
            .env_set
            .into_iter()
            .chain(
                template
                    .iter()
                    .flat_map(|(_, t)| t.env.iter().map(|(k, v)| (k.clone(), v.clone()))),
            )
            // What the caller sets comes last of all.
            .chain(request.env_set.iter().cloned())
            .collect(),
        env_pass: template
            .map(|(_, t)| t.env_pass.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(request.env_pass.iter().cloned())
            .collect(),
        env_from: derived.env_from,
        timeout_ms: pick(
            request.timeout,
            template.and_then(|(_, t)| t.timeout),
            supervise.timeout,
        ),
        idle_timeout_ms: pick(
            request.idle_timeout,
            template.and_then(|(_, t)| t.idle_timeout),
            supervise.idle_timeout,
        ),
        grace_ms: deadline_ms(request.grace.unwrap_or(supervise.grace)).unwrap_or(0),
        expect,
        expect_pass: request.expect_pass || template.is_some_and(|(_, t)| t.expect_pass),
        check: request
            .check
            .clone()
            .filter(|check| !check.trim().is_empty()),
        remediate: request
            .remediate
            .or(template.and_then(|(_, t)| t.remediate))
            .unwrap_or(supervise.remediate),
        remediation_of: None,
        max_parallel: request
            .max_parallel
            .unwrap_or(supervise.max_parallel)
            .max(1),
        log_cap_bytes: request.log_cap.unwrap_or(supervise.log_cap_bytes),
        tmux: request.tmux,
        restart: RestartPolicy::Never,
        health_url: None,
    })
}

/// The spec of a model server from `[servers.NAME]`.
pub(crate) fn server(settings: &Settings, name: &str, cwd: &Path) -> Result<WorkerSpec, OpsError> {
    let server = settings
        .servers
        .get(name)
        .ok_or_else(|| OpsError::Unknown {
            what: "server",
            name: name.into(),
            known: settings.servers.keys().cloned().collect(),
        })?;
    let mut spec = WorkerSpec::new(
        name,
        server.command.iter().map(|arg| expand_home(arg)).collect(),
        cwd.display().to_string(),
    );
    spec.kind = Some(format!("server:{name}"));
    spec.role = WorkerRole::Server;
    spec.env_set = server
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.env_pass = server.env_pass.clone();
    spec.grace_ms = deadline_ms(settings.supervise.grace).unwrap_or(0);
    // Servers take no agent slot.
    spec.max_parallel = u32::MAX;
    spec.log_cap_bytes = settings.supervise.log_cap_bytes;
    spec.restart = server.restart;
    spec.health_url = Some(server.health.clone());
    Ok(spec)
}

/// `~/x` -> `$HOME/x` in command arguments (model paths in `[servers]`).
fn expand_home(arg: &str) -> String {
    match (arg.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest).display().to_string(),
        _ => arg.to_string(),
    }
}

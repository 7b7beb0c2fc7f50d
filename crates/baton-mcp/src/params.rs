//! The tools' arguments: one `*Params` struct per tool, with serde for the wire and schemars
//! for the input schema an agent reads. Doc comments become the schema's descriptions, so
//! they say what to pass and what happens when it is left out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Arguments of `memory_store`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryStoreParams {
    /// Key of the entry, unique within its namespace, e.g. `pattern-retry-with-backoff`.
    pub key: String,
    /// What to remember: any JSON. An object, array, number or boolean is stored as JSON; a
    /// string is stored as plain text.
    pub value: serde_json::Value,
    /// Namespace to store in (default `default`). Workers use `patterns` for what worked and
    /// `results` for what they hand back to the coordinator.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Replace an entry already stored under this key (default false: storing an existing key
    /// is an error).
    #[serde(default)]
    pub upsert: Option<bool>,
    /// Tags to filter searches and lists by.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Forget the entry after this many seconds (default: keep until deleted).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// Arguments of `memory_search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySearchParams {
    /// Words to look for (full-text search over keys, values and tags).
    pub query: String,
    /// Namespace to search (default: all of them; the reply lists those searched).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Search several namespaces; combined with `namespace` if both are given.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
    /// Most hits to return (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Drop hits scoring below this, within 0..=1 (default 0). Scores are absolute (the
    /// reply's `normalization` says how): above 0.7 a hit holds more than half of the query's
    /// weight.
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Only entries carrying all of these tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Arguments of `memory_get` and `memory_delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryKeyParams {
    /// Key of the entry.
    pub key: String,
    /// Namespace of the entry (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Arguments of `memory_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryListParams {
    /// Namespace to list (default: all).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only entries carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Most entries to return (default 50), newest updated first.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Entries to skip, for paging (default 0).
    #[serde(default)]
    pub offset: Option<u32>,
}

/// Arguments of `worker_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerIdParams {
    /// The worker: its id, its name (the newest worker of that name) or the start of its id.
    pub id: String,
}

/// Arguments of `worker_logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerLogsParams {
    /// The worker: its id, its name (the newest worker of that name) or the start of its id.
    pub id: String,
    /// How many lines from the end of its log (default 50, at most 2000).
    #[serde(default)]
    pub tail_lines: Option<u32>,
}

/// Arguments of `worker_spawn`: a headless agent or command that Baton supervises.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerSpawnParams {
    /// Name to find the worker by later (default: derived from the kind or command).
    #[serde(default)]
    pub name: Option<String>,
    /// Agent template from the config's `[workers.KIND]`, e.g. `codex` or `claude`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The task for the agent; fills the template's `{prompt}`.
    #[serde(default)]
    pub prompt: Option<String>,
    /// A command to run instead of a template, as program and arguments.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Wall-clock deadline, e.g. `30m`; the worker is killed when it passes.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Deadline without log output, e.g. `10m`; a silent worker is marked hung and killed.
    #[serde(default)]
    pub idle_timeout: Option<String>,
    /// Paths (globs) the worker must produce to count as succeeded.
    #[serde(default)]
    pub expect: Option<Vec<String>>,
    /// Checks in `expect` must pass, not only exist.
    #[serde(default)]
    pub expect_pass: Option<bool>,
    /// How many remediation workers to start if it fails or hangs.
    #[serde(default)]
    pub remediate: Option<u32>,
    /// Working directory (default: the project's).
    #[serde(default)]
    pub cwd: Option<String>,
    /// A shell command run in the worker's directory once it exits 0: the worker succeeds
    /// only if the check passes too, e.g. the project's tests.
    #[serde(default)]
    pub check: Option<String>,
}

/// Arguments of `dispatch`: one coding subtask to a model profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchParams {
    /// The subtask, stated fully: the model sees nothing else but `context_files`.
    pub task: String,
    /// Profile from the config's `[profiles]`, e.g. `code` (default: the coder role).
    #[serde(default)]
    pub profile: Option<String>,
    /// `auto` (default: Baton picks), `local` (local models only) or `api` (cloud only).
    #[serde(default)]
    pub route: Option<String>,
    /// Files whose content is sent along, framed with their paths.
    #[serde(default)]
    pub context_files: Option<Vec<String>>,
    /// System prompt replacing the profile's.
    #[serde(default)]
    pub system: Option<String>,
}

/// Arguments of `run_start`: a ticket handed to a run of the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStartParams {
    /// The ticket as Markdown, as a TICKET.md holds it: optional front matter (`---`,
    /// `id: T-1`, `title: …`, `---`), what is wanted, and a `## Acceptance criteria` list.
    /// Give this or `ticket_path`.
    #[serde(default)]
    pub ticket: Option<String>,
    /// A ticket file in the project (relative to its directory, or absolute), instead of
    /// `ticket`.
    #[serde(default)]
    pub ticket_path: Option<String>,
    /// A plan that replaces the architect, as JSON (an object or its text): `summary`,
    /// `decisions`, `interfaces`, and `subtasks`, each with `id`, `title`, `what`, `kind`,
    /// `files` (the files it owns), `context`, `constraints`, `acceptance`, `depends_on`.
    /// Or `plan_path`; without either, the architect role plans.
    #[serde(default)]
    pub plan: Option<serde_json::Value>,
    /// A plan file (JSON or TOML) in the project, instead of `plan`.
    #[serde(default)]
    pub plan_path: Option<String>,
    /// Who reviews: `model` (default: the reviewer role's model) or `external` (the run
    /// stops in `awaiting_review` for your verdict through `run_review`).
    #[serde(default)]
    pub review: Option<String>,
    /// Fast-forward the branch the run started from to the run's branch once it is
    /// approved (default false).
    #[serde(default)]
    pub merge: Option<bool>,
    /// Where the run's trail goes: `github`, `linear`, `webhook=URL`, comma-separated
    /// (default: the project's `[publish] targets`). Failing to publish never fails the run.
    #[serde(default)]
    pub publish: Option<String>,
    /// The GitHub issue the run is for: its pull request closes it.
    #[serde(default)]
    pub github_issue: Option<u64>,
    /// The Linear issue the run is for (`ENG-12`): `linear` publishing comments on it.
    #[serde(default)]
    pub linear_issue: Option<String>,
    /// Only check the ticket and plan, or get the architect's plan, and stop: nothing is
    /// started, and the reply is the spec and the plan (default false).
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Cloud tokens (prompt and completion) the run may spend, resumes included.
    #[serde(default)]
    pub max_cloud_tokens: Option<u64>,
    /// Fix dispatches (verification and review fixes) the run may make.
    #[serde(default)]
    pub max_iterations: Option<u32>,
    /// Wall time the run may take over all its sessions, e.g. `30m` or `2h`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Arguments of `run_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStatusParams {
    /// The run: its id (from `run_start` or `run_list`) or the start of it.
    pub run: String,
    /// Add every event of the run, its full trail (default false: the digest says what
    /// they come to).
    #[serde(default)]
    pub events: Option<bool>,
}

/// Arguments of `run_review`: an external verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunReviewParams {
    /// The run: its id or the start of it. It must be `awaiting_review`.
    pub run: String,
    /// `true` approves the run; `false` rejects it and needs `notes`.
    pub approve: bool,
    /// With a rejection: what must change, as the coder will read it, e.g. `clamp must
    /// handle low > high`. Ignored with an approval.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Arguments of `run_list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunListParams {
    /// Most runs to return (default 20), newest first.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `run_resume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunResumeParams {
    /// The run: its id or the start of it.
    pub run: String,
    /// Who reviews from here: `model` (default) or `external`; give `external` for a run
    /// started with an external review.
    #[serde(default)]
    pub review: Option<String>,
}

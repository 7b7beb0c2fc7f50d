//! The resolved configuration: every value Baton runs with, after all layers are merged.
//! Every struct here deserializes with defaults for missing keys and rejects unknown keys,
//! so a single file layer can be checked on its own (and errors point at its line).

use std::collections::BTreeMap;
use std::time::Duration;

use baton_core::{EditFormat, Locality, RestartPolicy, Route, Sampling};
use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::{serde_duration, serde_opt_duration};
pub use crate::pipeline::{
    GithubPublishSettings, LinearPublishSettings, PublishSettings, RolesSettings, RunSettings,
    VerifySettings, WebhookPublishSettings,
};
pub use crate::proxy::{ProxyAdapt, ProxySettings};
pub use crate::workers::{AgentCli, WorkerKindSettings};

/// Everything Baton is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub dispatch: DispatchSettings,
    pub backends: BTreeMap<String, BackendSettings>,
    pub profiles: BTreeMap<String, ProfileSettings>,
    pub routes: RoutesSettings,
    pub stats: StatsSettings,
    pub supervise: SuperviseSettings,
    /// Agent CLI templates for `baton spawn --kind NAME`.
    pub workers: BTreeMap<String, WorkerKindSettings>,
    /// Model servers Baton starts, watches and restarts.
    pub servers: BTreeMap<String, ServerSettings>,
    /// The shared memory: optional hybrid (embedding) ranking.
    pub memory: MemorySettings,
    /// Who plays which role of `baton run`.
    pub roles: RolesSettings,
    /// The quality gates of `baton run`.
    pub verify: VerifySettings,
    /// The bounds of `baton run`'s loops.
    pub run: RunSettings,
    /// Where a run's trail goes.
    pub publish: PublishSettings,
    /// `baton proxy`: agent CLIs' model traffic through the router and the ledger.
    pub proxy: ProxySettings,
}

/// `[memory]`: optional embeddings for hybrid ranking of `baton memory search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySettings {
    /// The backend (an OpenAI-compatible one serving `/v1/embeddings`) that embeds values and
    /// queries; empty turns embeddings off (text ranking only).
    pub embeddings: String,
    /// The embedding model asked for, recorded on every embedded row; rows embedded by
    /// another model are never ranked by vector against this one.
    pub embedding_model: String,
    /// Weight of the vector score in a hybrid score (0..=1); the text score gets the rest.
    pub hybrid_weight: f64,
    /// How long one embeddings request may take before Baton goes on without it.
    #[serde(with = "serde_duration")]
    pub embed_timeout: Duration,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            embeddings: String::new(),
            embedding_model: String::new(),
            hybrid_weight: 0.5,
            embed_timeout: Duration::from_secs(10),
        }
    }
}

/// Defaults for `baton dispatch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatchSettings {
    pub profile: String,
    pub route: Route,
    pub cache: bool,
    #[serde(with = "serde_duration")]
    pub probe_max_age: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            profile: "code".into(),
            route: Route::Auto,
            cache: false,
            probe_max_age: Duration::from_secs(3600),
        }
    }
}

/// The wire dialect a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// OpenAI chat completions: llama-server, Ollama `/v1`, vLLM, LM Studio, OpenAI, OpenRouter.
    #[default]
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// An HTTP API a client speaks to `baton proxy`, and that a backend may serve beside its
/// kind's own (current llama-server also serves Messages and Responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    Chat,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
    /// Anthropic Messages (`/v1/messages`).
    Messages,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Chat => "chat",
            Dialect::Responses => "responses",
            Dialect::Messages => "messages",
        }
    }

    /// The path under a backend's `/v1` base URL.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Chat => "/chat/completions",
            Dialect::Responses => "/responses",
            Dialect::Messages => "/messages",
        }
    }
}

impl BackendKind {
    /// The dialect every backend of this kind speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            BackendKind::Openai => Dialect::Chat,
            BackendKind::Anthropic => Dialect::Messages,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Openai => "openai",
            BackendKind::Anthropic => "anthropic",
        }
    }
}

/// Which sampling settings beyond the temperature a backend's server takes, named after the
/// servers whose parameter names it uses. Fields a server does not take are never sent: the
/// OpenAI API, for one, refuses a request with a field it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SamplingParams {
    /// None: the server's own settings apply (cloud APIs; servers not known to take them).
    #[default]
    #[serde(rename = "none")]
    None,
    /// llama.cpp's llama-server: all of them (`top_k`, `top_p`, `min_p`, `repeat_penalty`,
    /// `repeat_last_n`, the frequency and presence penalties, `dry_*`).
    #[serde(rename = "llama.cpp")]
    LlamaCpp,
    /// vLLM: `top_k`, `top_p`, `min_p`, `repeat_penalty` (sent as `repetition_penalty`), the
    /// frequency and presence penalties; no DRY.
    #[serde(rename = "vllm")]
    Vllm,
    /// The OpenAI API's own: `top_p` and the frequency and presence penalties (also what
    /// Ollama's `/v1` takes).
    #[serde(rename = "openai")]
    Openai,
}

impl SamplingParams {
    pub fn as_str(self) -> &'static str {
        match self {
            SamplingParams::None => "none",
            SamplingParams::LlamaCpp => "llama.cpp",
            SamplingParams::Vllm => "vllm",
            SamplingParams::Openai => "openai",
        }
    }
}

/// Price of a million tokens, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl Price {
    /// Cost of the given token counts at this price.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input + output_tokens as f64 * self.output) / 1_000_000.0
    }
}

/// One model backend: a pool of endpoints speaking one dialect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    pub kind: BackendKind,
    /// Base URLs (ending in `/v1`), one per endpoint of the pool.
    pub urls: Vec<String>,
    /// Concurrent requests per endpoint.
    pub slots: u32,
    pub locality: Locality,
    /// Name of the environment variable holding the API key. The key itself is never
    /// stored in settings.
    pub api_key_env: Option<String>,
    pub price_per_mtok: Option<Price>,
    #[serde(with = "serde_duration")]
    pub connect_timeout: Duration,
    #[serde(with = "serde_duration")]
    pub first_token_timeout: Duration,
    #[serde(with = "serde_duration")]
    pub total_timeout: Duration,
    /// Retries on the same backend after a retryable error, before falling back.
    pub retries: u32,
    #[serde(with = "serde_duration")]
    pub backoff: Duration,
    #[serde(with = "serde_duration")]
    pub max_backoff: Duration,
    /// Consecutive failures after which an endpoint leaves the rotation until a health
    /// probe passes.
    pub failures_before_eject: u32,
    /// Ask for usage in streams (`stream_options.include_usage`); turn off for servers that
    /// reject the field.
    pub stream_usage: bool,
    /// A `[servers.NAME]` entry that serves this backend (started on first use).
    pub server: Option<String>,
    /// How long a request may wait for a free slot in the pool.
    #[serde(with = "serde_opt_duration")]
    pub queue_timeout: Option<Duration>,
    /// Which of a profile's `sampling` settings the server takes (none for Anthropic).
    pub sampling_params: SamplingParams,
    /// Dialects the server serves beside its kind's own, which `baton proxy` passes through
    /// untouched (current llama-server: `["messages", "responses"]`).
    pub dialects: Vec<Dialect>,
}

impl BackendSettings {
    /// Whether the server serves `dialect` itself.
    pub fn speaks(&self, dialect: Dialect) -> bool {
        self.kind.dialect() == dialect || self.dialects.contains(&dialect)
    }
}

impl Default for BackendSettings {
    fn default() -> Self {
        Self {
            kind: BackendKind::Openai,
            urls: Vec::new(),
            slots: 2,
            locality: Locality::Local,
            api_key_env: None,
            price_per_mtok: None,
            connect_timeout: Duration::from_secs(3),
            first_token_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(600),
            retries: 2,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            failures_before_eject: 3,
            stream_usage: true,
            server: None,
            queue_timeout: None,
            sampling_params: SamplingParams::None,
            dialects: Vec::new(),
        }
    }
}

/// A named way of asking a model: which backend and model, how, and where to go next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileSettings {
    pub backend: String,
    pub model: String,
    pub temperature: f64,
    pub max_tokens: u32,
    pub system_prompt: Option<String>,
    /// Most tokens of context (files, stdin, document sections) this profile sends.
    pub context_budget: u64,
    pub edit_format: EditFormat,
    /// What to try after this profile's backend fails: profile names, or `backend:model`.
    pub fallback: Vec<String>,
    /// Serve identical requests from the exact-request cache.
    pub cache: bool,
    /// Sampling beyond the temperature, sent where the backend takes it (its
    /// `sampling_params`). A table sets the fields it names; the others keep
    /// [`ProfileSettings::SMALL_MODEL_SAMPLING`].
    #[serde(deserialize_with = "sampling_over_small_model_defaults")]
    pub sampling: Sampling,
    /// What happens to a reply that loops on itself.
    pub repetition: RepetitionSettings,
}

impl ProfileSettings {
    /// Sampling for small local models: llama-server's own pruning (so that other servers
    /// prune alike) and a mild repeat penalty over the last 64 tokens. Small models at low
    /// temperature fall into loops; this makes it rarer without bending code, whose syntax
    /// repeats by nature. The other fields are spelled out at their neutral values (what
    /// llama-server assumes), as `defaults.toml` lists them.
    pub const SMALL_MODEL_SAMPLING: Sampling = Sampling {
        top_k: Some(40),
        top_p: Some(0.95),
        min_p: Some(0.05),
        repeat_penalty: Some(1.05),
        repeat_last_n: Some(64),
        frequency_penalty: Some(0.0),
        presence_penalty: Some(0.0),
        dry_multiplier: Some(0.0),
        dry_base: Some(1.75),
        dry_allowed_length: Some(2),
        dry_penalty_last_n: Some(1024),
    };
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            backend: "local".into(),
            model: String::new(),
            temperature: 0.2,
            max_tokens: 4096,
            system_prompt: None,
            context_budget: 32000,
            edit_format: EditFormat::Whole,
            fallback: Vec::new(),
            cache: false,
            sampling: Self::SMALL_MODEL_SAMPLING,
            repetition: RepetitionSettings::default(),
        }
    }
}

/// `[profiles.NAME.repetition]`: a streamed reply that repeats itself (the same lines or
/// phrase over and over) is cut, recorded as failed (`degenerate repetition: ...`) and
/// retried once on the same step with `retry` laid over the profile's sampling; when that
/// loops too, or the backend takes none of `retry`, the chain falls back as after any failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepetitionSettings {
    /// Watch replies for loops and cut them (false: a loop runs on to `max_tokens`).
    pub cut: bool,
    /// Sampling for the one retry after a cut. A table sets the fields it names; the others
    /// keep [`RepetitionSettings::RETRY_SAMPLING`].
    #[serde(deserialize_with = "sampling_over_retry_defaults")]
    pub retry: Sampling,
}

impl RepetitionSettings {
    /// DRY at the strength its author recommends over the last 1024 tokens (what a loop
    /// reaches before it is cut, and more), with a stronger repeat penalty; a frequency
    /// penalty for servers that have neither.
    pub const RETRY_SAMPLING: Sampling = Sampling {
        top_k: None,
        top_p: None,
        min_p: None,
        repeat_penalty: Some(1.1),
        repeat_last_n: None,
        frequency_penalty: Some(0.3),
        presence_penalty: None,
        dry_multiplier: Some(0.8),
        dry_base: Some(1.75),
        dry_allowed_length: Some(2),
        dry_penalty_last_n: Some(1024),
    };
}

impl Default for RepetitionSettings {
    fn default() -> Self {
        Self {
            cut: true,
            retry: Self::RETRY_SAMPLING,
        }
    }
}

/// A `sampling` table read over the small-model defaults, so that a profile naming one field
/// keeps the others (as it would for a profile the built-in defaults define).
fn sampling_over_small_model_defaults<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Sampling, D::Error> {
    let named = Sampling::deserialize(deserializer)?;
    Ok(ProfileSettings::SMALL_MODEL_SAMPLING.overlay(&named))
}

/// A `repetition.retry` table read over the built-in retry sampling.
fn sampling_over_retry_defaults<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Sampling, D::Error> {
    let named = Sampling::deserialize(deserializer)?;
    Ok(RepetitionSettings::RETRY_SAMPLING.overlay(&named))
}

/// Per-route settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RoutesSettings {
    pub local: LocalRouteSettings,
    pub api: ApiRouteSettings,
    pub auto: AutoRouteSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalRouteSettings {
    pub context_budget: u64,
}

impl Default for LocalRouteSettings {
    fn default() -> Self {
        Self {
            context_budget: 8000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiRouteSettings {
    pub context_budget: u64,
    /// The profile `--api` uses when the chosen profile has no cloud step.
    pub profile: String,
}

impl Default for ApiRouteSettings {
    fn default() -> Self {
        Self {
            context_budget: 100_000,
            profile: "cloud".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AutoRouteSettings {
    /// A profile asked to answer LOCAL or API for the task; empty means rules only.
    pub classifier: String,
    /// Words in a task that send it to the cloud.
    pub api_keywords: Vec<String>,
    /// Tasks whose prompt is estimated above this go to the cloud.
    pub max_local_prompt_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StatsSettings {
    /// The cloud rate local tokens are priced at, to report the cost avoided.
    pub reference_price_per_mtok: Price,
}

/// Defaults for workers and their supervisors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuperviseSettings {
    pub max_parallel: u32,
    /// Wall deadline; zero means none.
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// No-output deadline; zero means none.
    #[serde(with = "serde_duration")]
    pub idle_timeout: Duration,
    #[serde(with = "serde_duration")]
    pub grace: Duration,
    pub log_cap_bytes: u64,
    pub remediate: u32,
}

impl Default for SuperviseSettings {
    fn default() -> Self {
        Self {
            max_parallel: 4,
            timeout: Duration::from_secs(1800),
            idle_timeout: Duration::from_secs(600),
            grace: Duration::from_secs(5),
            log_cap_bytes: 10 * 1024 * 1024,
            remediate: 0,
        }
    }
}

/// A model server (`[servers.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub command: Vec<String>,
    /// Answers 200 when the server is ready (llama-server: `/health`).
    pub health: String,
    pub restart: RestartPolicy,
    /// How long `baton server up` (and a dispatch starting it) waits for health.
    #[serde(with = "serde_duration")]
    pub start_timeout: Duration,
    #[serde(deserialize_with = "crate::workers::scalar_map")]
    pub env: BTreeMap<String, String>,
    pub env_pass: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            health: String::new(),
            restart: RestartPolicy::OnFailure,
            start_timeout: Duration::from_secs(180),
            env: BTreeMap::new(),
            env_pass: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::{EnvSnapshot, LoadOptions, load};

    fn load_with(project_file: Option<&str>, overrides: &[&str]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = project_file {
            std::fs::write(dir.path().join("baton.toml"), text).unwrap();
        }
        load(&LoadOptions {
            cwd: dir.path().to_path_buf(),
            env: EnvSnapshot::from_pairs([], Some(dir.path().join("home"))),
            flags: Vec::new(),
            overrides: overrides.iter().map(|text| text.to_string()).collect(),
        })
        .map(|loaded| loaded.settings)
        .map_err(|error| format!("{error}\nhint: {}", error.hint()))
    }

    #[test]
    fn the_local_backend_takes_llama_cpp_sampling_and_the_cloud_ones_none() {
        let settings = load_with(None, &[]).unwrap();
        assert_eq!(
            settings.backends["local"].sampling_params,
            SamplingParams::LlamaCpp
        );
        assert_eq!(
            settings.backends["openai"].sampling_params,
            SamplingParams::None
        );
        assert_eq!(
            settings.backends["anthropic"].sampling_params,
            SamplingParams::None
        );
        assert_eq!(
            BackendSettings::default().sampling_params,
            SamplingParams::None,
            "a backend a user adds sends nothing new until told what its server takes"
        );
    }

    #[test]
    fn the_defaults_file_spells_out_what_every_profile_gets() {
        let settings = load_with(None, &[]).unwrap();
        let code = &settings.profiles["code"];
        assert_eq!(code.sampling, ProfileSettings::default().sampling);
        assert_eq!(code.repetition, RepetitionSettings::default());
        assert_eq!(
            settings.profiles["fast"].sampling,
            ProfileSettings::SMALL_MODEL_SAMPLING
        );
        assert!(code.repetition.cut);
        assert_eq!(code.repetition.retry.dry_multiplier, Some(0.8));
    }

    #[test]
    fn a_sampling_table_sets_only_the_fields_it_names() {
        let settings = load_with(
            Some(
                "[profiles.mine]\nmodel = \"m\"\n[profiles.mine.sampling]\ntop_k = 20\n\
                 [profiles.mine.repetition]\nretry = { dry_multiplier = 1.2 }\n",
            ),
            &["profiles.code.sampling.repeat_penalty=1.0"],
        )
        .unwrap();
        let mine = &settings.profiles["mine"];
        assert_eq!(
            mine.sampling,
            Sampling {
                top_k: Some(20),
                ..ProfileSettings::SMALL_MODEL_SAMPLING
            }
        );
        assert_eq!(
            mine.repetition.retry,
            Sampling {
                dry_multiplier: Some(1.2),
                ..RepetitionSettings::RETRY_SAMPLING
            }
        );
        assert_eq!(
            settings.profiles["code"].sampling,
            Sampling {
                repeat_penalty: Some(1.0),
                ..ProfileSettings::SMALL_MODEL_SAMPLING
            }
        );
    }

    #[test]
    fn a_misspelt_sampling_field_or_server_name_is_refused_by_name() {
        let error = load_with(Some("[profiles.code.sampling]\ntop_z = 3\n"), &[]).unwrap_err();
        assert!(
            error.contains("top_z") && error.contains("top_k"),
            "{error}"
        );
        let error = load_with(None, &["backends.local.sampling_params=llama"]).unwrap_err();
        assert!(
            error.contains("llama") && error.contains("llama.cpp"),
            "{error}"
        );
        let settings = load_with(None, &["backends.local.sampling_params=vllm"]).unwrap();
        assert_eq!(
            settings.backends["local"].sampling_params,
            SamplingParams::Vllm
        );
    }
}

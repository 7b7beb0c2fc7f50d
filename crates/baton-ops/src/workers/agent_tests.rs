use super::*;
use pretty_assertions::assert_eq;

/// The built-in settings (a directory without a `baton.toml`, no environment).
fn settings() -> Settings {
    let dir = tempfile::tempdir().unwrap();
    baton_config::load(&baton_config::LoadOptions {
        cwd: dir.path().to_path_buf(),
        ..baton_config::LoadOptions::default()
    })
    .unwrap()
    .settings
}

fn kind(settings: &Settings, name: &str) -> WorkerKindSettings {
    settings.workers[name].clone()
}

fn env<'a>(derived: &'a Derived, name: &str) -> Option<&'a str> {
    derived
        .env_set
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `derive` for `kind` pointed at `target`.
/// `cli`'s settings derived for kind `name` of `settings`, its state kept under `state`.
fn derived_for(
    settings: &Settings,
    name: &str,
    cli: AgentCli,
    mcp: Option<&McpServer>,
    scope: Option<&AgentScope>,
    window: Option<u64>,
    state: &Path,
) -> Result<Derived, OpsError> {
    let kind = kind(settings, name);
    let target = target(settings, name, &kind).unwrap().unwrap();
    derive(cli, &kind.command, Some(&target), mcp, scope, window, state)
}

fn scope() -> AgentScope {
    AgentScope {
        baton_commits: true,
        files: vec!["calc.py".into()],
        read: vec!["README.md".into()],
        run: Some("20261203-101500-abcd".into()),
        subtask: Some("s1".into()),
    }
}

fn mcp() -> McpServer {
    McpServer::new(
        Path::new("/opt/baton"),
        Path::new("/repo/.baton/baton.db"),
        Some(&scope()),
    )
}

#[test]
fn aider_on_the_local_backend_gets_its_base_model_and_the_owned_files_and_never_commits() {
    let settings = settings();
    let derived = derived_for(
        &settings,
        "aider",
        AgentCli::Aider,
        None,
        Some(&scope()),
        None,
        Path::new("/nowhere"),
    )
    .unwrap();
    assert_eq!(
        env(&derived, "OPENAI_API_BASE"),
        Some("http://127.0.0.1:11438/v1")
    );
    assert_eq!(env(&derived, "AIDER_MODEL"), Some("openai/qwen3-coder"));
    assert_eq!(env(&derived, "AIDER_ANALYTICS"), Some("false"));
    assert_eq!(env(&derived, "AIDER_CHECK_UPDATE"), Some("false"));
    // The local server takes no key; aider still wants one.
    assert_eq!(env(&derived, "OPENAI_API_KEY"), Some(NO_KEY));
    assert_eq!(
        derived.args,
        [
            "--no-auto-commits",
            "--no-dirty-commits",
            "--file",
            "calc.py",
            "--read",
            "README.md"
        ]
    );
}

#[test]
fn a_cloud_backends_key_is_handed_over_by_name_and_never_written_into_the_spec() {
    let mut settings = settings();
    settings.workers.get_mut("aider").unwrap().backend = "openai".into();
    let derived = derived_for(
        &settings,
        "aider",
        AgentCli::Aider,
        None,
        None,
        None,
        Path::new("/nowhere"),
    )
    .unwrap();
    assert_eq!(env(&derived, "OPENAI_API_KEY"), None);
    assert_eq!(
        derived.env_from,
        [("OPENAI_API_KEY".to_string(), "OPENAI_API_KEY".to_string())]
    );
}

#[test]
fn claude_code_on_a_small_local_window_runs_bare_against_the_servers_root_with_mcp() {
    let settings = settings();
    let derived = derived_for(
        &settings,
        "claude",
        AgentCli::Claude,
        Some(&mcp()),
        None,
        Some(8192),
        Path::new("/nowhere"),
    )
    .unwrap();
    assert_eq!(
        env(&derived, "ANTHROPIC_BASE_URL"),
        Some("http://127.0.0.1:11438")
    );
    assert_eq!(env(&derived, "ANTHROPIC_MODEL"), Some("qwen3-coder"));
    assert_eq!(
        env(&derived, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"),
        Some("1")
    );
    assert_eq!(env(&derived, "DISABLE_AUTOUPDATER"), Some("1"));
    assert_eq!(env(&derived, "ANTHROPIC_AUTH_TOKEN"), Some(NO_KEY));
    assert_eq!(derived.args[0], "--bare");
    assert_eq!(derived.args[1], "--mcp-config");
    let config: serde_json::Value = serde_json::from_str(&derived.args[2]).unwrap();
    assert_eq!(config["mcpServers"]["baton"]["command"], "/opt/baton");
    assert_eq!(config["mcpServers"]["baton"]["args"][0], "mcp");
    assert_eq!(
        config["mcpServers"]["baton"]["env"]["BATON_HOME"],
        "/repo/.baton"
    );
    assert_eq!(
        config["mcpServers"]["baton"]["env"]["BATON_RUN"],
        "20261203-101500-abcd"
    );
    // A large window keeps the full Claude Code.
    let large = derived_for(
        &settings,
        "claude",
        AgentCli::Claude,
        None,
        None,
        Some(65536),
        Path::new("/nowhere"),
    )
    .unwrap();
    assert!(!large.args.contains(&"--bare".to_string()));
}

#[test]
fn claude_code_pointed_at_an_openai_cloud_api_is_refused_with_a_hint() {
    let mut settings = settings();
    settings.workers.get_mut("claude").unwrap().backend = "openai".into();
    let error = derived_for(
        &settings,
        "claude",
        AgentCli::Claude,
        None,
        None,
        None,
        Path::new("/nowhere"),
    )
    .unwrap_err();
    assert!(error.to_string().contains("Anthropic Messages"), "{error}");
    assert!(error.hint().contains("backend"), "{}", error.hint());
}

#[test]
fn codex_gets_a_home_with_a_responses_provider_and_its_mcp_server_as_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings();
    let derived = derived_for(
        &settings,
        "codex",
        AgentCli::Codex,
        Some(&mcp()),
        None,
        None,
        dir.path(),
    )
    .unwrap();
    let home = dir.path().join("codex-local");
    assert_eq!(env(&derived, "CODEX_HOME"), Some(home.to_str().unwrap()));
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(home.join("config.toml")).unwrap()).unwrap();
    assert_eq!(config["model_provider"].as_str(), Some("baton"));
    let provider = &config["model_providers"]["baton"];
    assert_eq!(
        provider["base_url"].as_str(),
        Some("http://127.0.0.1:11438/v1")
    );
    assert_eq!(provider["wire_api"].as_str(), Some("responses"));
    assert_eq!(provider["stream_max_retries"].as_integer(), Some(1));
    assert_eq!(config["features"]["plugins"].as_bool(), Some(false));
    assert!(derived.args.contains(&"--json".to_string()));
    let overrides: Vec<&String> = derived
        .args
        .iter()
        .filter(|a| a.starts_with("mcp_servers.baton."))
        .collect();
    assert_eq!(overrides[0], "mcp_servers.baton.command=\"/opt/baton\"");
    assert_eq!(overrides[1], "mcp_servers.baton.args=[\"mcp\"]");
    // Each override is a TOML assignment Codex can parse.
    for assignment in overrides {
        toml::from_str::<toml::Table>(&assignment.replacen("mcp_servers.baton.", "", 1)).unwrap();
    }
}

#[test]
fn goose_is_told_its_provider_host_and_model_and_gets_baton_as_an_extension() {
    let settings = settings();
    let derived = derived_for(
        &settings,
        "goose",
        AgentCli::Goose,
        Some(&mcp()),
        None,
        None,
        Path::new("/nowhere"),
    )
    .unwrap();
    assert_eq!(env(&derived, "GOOSE_PROVIDER"), Some("openai"));
    assert_eq!(env(&derived, "OPENAI_HOST"), Some("http://127.0.0.1:11438"));
    assert_eq!(env(&derived, "GOOSE_MODEL"), Some("qwen3-coder"));
    assert_eq!(derived.args[0], "--with-extension");
    assert_eq!(
        derived.args[1],
        "BATON_HOME=/repo/.baton BATON_RUN=20261203-101500-abcd BATON_SUBTASK=s1 /opt/baton mcp"
    );
}

#[test]
fn a_kind_without_a_backend_keeps_the_clis_own_provider() {
    let mut settings = settings();
    settings.workers.get_mut("codex").unwrap().backend = String::new();
    let codex = kind(&settings, "codex");
    assert_eq!(target(&settings, "codex", &codex).unwrap(), None);
}

#[test]
fn a_kind_naming_a_profile_asks_for_that_profiles_model() {
    let mut settings = settings();
    settings.workers.get_mut("aider").unwrap().backend = "cloud".into();
    let aider = kind(&settings, "aider");
    let target = target(&settings, "aider", &aider).unwrap().unwrap();
    assert_eq!(target.backend_name, "anthropic");
    assert_eq!(target.model, "claude-sonnet-4-5");
}

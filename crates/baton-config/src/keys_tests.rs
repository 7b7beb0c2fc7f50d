//! Tests of unknown keys through [`load`]: in files (with the line), in `-c` overrides, in
//! entries of user-named tables, and no false positives over the whole shape of `Settings`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use pretty_assertions::assert_eq;
use toml::{Table, Value};

use crate::error::KeyPlace;
use crate::keys::known_keys;
use crate::settings::{Price, ServerSettings};
use crate::{ConfigError, EnvSnapshot, LoadOptions, load};

fn options(dir: &Path) -> LoadOptions {
    LoadOptions {
        cwd: dir.to_path_buf(),
        env: EnvSnapshot::from_pairs([], Some(dir.join("home"))),
        flags: Vec::new(),
        overrides: Vec::new(),
    }
}

/// Loads with `text` as the project `baton.toml`; the file's path and the outcome.
fn load_project(
    dir: &Path,
    text: &str,
) -> (std::path::PathBuf, Result<crate::Loaded, ConfigError>) {
    let path = dir.join("baton.toml");
    std::fs::write(&path, text).unwrap();
    (path, load(&options(dir)))
}

fn with_override(text: &str) -> ConfigError {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.overrides.push(text.into());
    load(&options).unwrap_err()
}

#[test]
fn a_misspelt_key_in_a_project_file_names_the_file_the_line_and_the_nearest_key() {
    let dir = tempfile::tempdir().unwrap();
    let (path, outcome) = load_project(
        dir.path(),
        "[dispatch]\nprofile = \"code\"\n\n[profiles.code]\ntemprature = 0.1\n",
    );
    let error = outcome.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "unknown key `profiles.code.temprature` in {} line 5",
            path.display()
        )
    );
    assert_eq!(error.hint(), "did you mean `temperature`?");
    match error {
        ConfigError::UnknownKey {
            key,
            place,
            table,
            nearest,
            known,
        } => {
            assert_eq!(key, "profiles.code.temprature");
            assert_eq!(place, KeyPlace::File { path, line: 5 });
            assert_eq!(table, "profiles.code");
            assert_eq!(nearest.as_deref(), Some("temperature"));
            assert!(known.contains(&"max_tokens"), "{known:?}");
        }
        other => panic!("expected an unknown key, got {other:?}"),
    }
}

#[test]
fn a_misspelt_key_of_a_fixed_table_and_a_misspelt_table_are_named_too() {
    let dir = tempfile::tempdir().unwrap();
    let (path, outcome) = load_project(dir.path(), "[dispatch]\nprofil = \"x\"\n");
    let error = outcome.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("unknown key `dispatch.profil` in {} line 2", path.display())
    );
    assert_eq!(error.hint(), "did you mean `profile`?");

    let (path, outcome) = load_project(dir.path(), "# mine\n[profile.code]\nmodel = \"m\"\n");
    let error = outcome.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("unknown key `profile` in {} line 2", path.display())
    );
    assert_eq!(error.hint(), "did you mean `profiles`?");
}

#[test]
fn an_unknown_key_with_nothing_near_lists_the_keys_its_table_knows() {
    let dir = tempfile::tempdir().unwrap();
    let (_, outcome) = load_project(dir.path(), "[routes.local]\nwhatever = 1\n");
    let error = outcome.unwrap_err();
    assert_eq!(
        error.hint(),
        "known keys in `routes.local`: `context_budget`"
    );

    let (_, outcome) = load_project(dir.path(), "[routes.auto]\ncolour = 1\n");
    assert_eq!(
        outcome.unwrap_err().hint(),
        "known keys in `routes.auto`: `classifier`, `api_keywords`, `max_local_prompt_tokens`"
    );
}

#[test]
fn an_unknown_key_in_the_user_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    std::fs::write(&user, "[supervise]\nmax_paralel = 2\n").unwrap();
    let mut options = options(dir.path());
    options.env = EnvSnapshot::from_pairs([("BATON_CONFIG", user.to_str().unwrap())], None);
    let error = load(&options).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "unknown key `supervise.max_paralel` in {} line 2",
            user.display()
        )
    );
    assert_eq!(error.hint(), "did you mean `max_parallel`?");
}

#[test]
fn an_unknown_key_in_a_c_override_names_the_override() {
    let error = with_override("foo=bar");
    assert_eq!(error.to_string(), "unknown key `foo` in `-c foo=bar`");
    assert_eq!(
        error.hint(),
        "known top-level keys: `dispatch`, `backends`, `profiles`, `routes`, `stats`, \
         `supervise`, `workers`, `servers`, `memory`, `roles`, `verify`, `run`, `publish`, `proxy`"
    );

    let error = with_override("foo.bar=1");
    assert_eq!(error.to_string(), "unknown key `foo` in `-c foo.bar=1`");

    let error = with_override("profiles.code.temprature=0.1");
    assert_eq!(
        error.to_string(),
        "unknown key `profiles.code.temprature` in `-c profiles.code.temprature=0.1`"
    );
    assert_eq!(error.hint(), "did you mean `temperature`?");
    match error {
        ConfigError::UnknownKey { place, .. } => assert_eq!(
            place,
            KeyPlace::Override {
                text: "profiles.code.temprature=0.1".into()
            }
        ),
        other => panic!("expected an unknown key, got {other:?}"),
    }
}

#[test]
fn a_bad_value_in_an_override_is_still_a_bad_value_naming_the_override() {
    let error = with_override("profiles.code.max_tokens=lots");
    assert!(
        matches!(&error, ConfigError::Layer { origin, .. } if origin == "flag -c profiles.code.max_tokens=lots"),
        "{error:?}"
    );
}

#[test]
fn user_named_entries_take_any_name_but_the_keys_inside_them_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let named = "[backends.my-gpu]\nurls = [\"http://10.0.0.2:8080/v1\"]\n\
        [profiles.\"any name\"]\nbackend = \"my-gpu\"\nmodel = \"m\"\n\
        [workers.mine]\ncommand = [\"x\", \"{prompt}\"]\nenv = { ANY_VARIABLE = \"1\" }\n\
        [servers.gpu1]\ncommand = [\"llama-server\"]\nhealth = \"http://127.0.0.1:8080/health\"\n\
        [servers.gpu1.env]\nWHATEVER_NAME = \"2\"\n";
    let (_, outcome) = load_project(dir.path(), named);
    let loaded = outcome.unwrap();
    assert_eq!(loaded.settings.profiles["any name"].backend, "my-gpu");
    assert_eq!(loaded.settings.workers["mine"].env["ANY_VARIABLE"], "1");
    assert_eq!(loaded.settings.servers["gpu1"].env["WHATEVER_NAME"], "2");

    let (path, outcome) = load_project(
        dir.path(),
        &format!("{named}[backends.my-gpu.price_per_mtok]\ninput = 1.0\noutptu = 2.0\n"),
    );
    let error = outcome.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "unknown key `backends.my-gpu.price_per_mtok.outptu` in {} line 16",
            path.display()
        )
    );
    assert_eq!(error.hint(), "did you mean `output`?");

    let (_, outcome) = load_project(
        dir.path(),
        "[profiles.\"any name\"]\nbackend = \"local\"\nmodle = \"m\"\n",
    );
    let error = outcome.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unknown key `profiles.\"any name\".modle` in "),
        "{error}"
    );
    assert_eq!(error.hint(), "did you mean `model`?");
}

#[test]
fn environment_variables_are_not_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.env = EnvSnapshot::from_pairs(
        [("CODER_MODEL", "from-env"), ("BATON_ROUTE", "local")],
        Some(dir.path().join("home")),
    );
    let loaded = load(&options).unwrap();
    assert_eq!(loaded.settings.profiles["code"].model, "from-env");
}

#[test]
fn every_key_of_the_defaults_is_accepted() {
    let table: Table = toml::from_str(crate::DEFAULTS_TOML).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, outcome) = load_project(dir.path(), crate::DEFAULTS_TOML);
    let loaded = outcome.unwrap();
    let mut leaves = Vec::new();
    collect_leaves(&table, "", &mut leaves);
    assert!(leaves.len() > 50, "{leaves:?}");
    for key in leaves {
        assert!(
            loaded.origins.contains_key(&key),
            "{key} is in defaults.toml but not in the loaded config"
        );
    }
}

fn collect_leaves(table: &Table, prefix: &str, leaves: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) if !inner.is_empty() => collect_leaves(inner, &path, leaves),
            _ => leaves.push(path),
        }
    }
}

/// Settings with every optional value set, so that writing them out names every key.
fn settings_with_every_key() -> crate::Settings {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = load(&options(dir.path())).unwrap().settings;
    settings.servers.insert(
        "gpu1".into(),
        ServerSettings {
            command: vec!["llama-server".into()],
            health: "http://127.0.0.1:8080/health".into(),
            env: BTreeMap::from([("A".into(), "1".into())]),
            env_pass: vec!["B".into()],
            ..ServerSettings::default()
        },
    );
    let local = settings.backends.get_mut("local").unwrap();
    local.api_key_env = Some("LOCAL_KEY".into());
    local.price_per_mtok = Some(Price {
        input: 0.5,
        output: 1.0,
    });
    local.server = Some("gpu1".into());
    local.queue_timeout = Some(Duration::from_secs(5));
    let code = settings.profiles.get_mut("code").unwrap();
    code.system_prompt = Some("be brief".into());
    code.cache = true;
    // Every sampling field, in both places a profile takes one.
    let every = baton_core::Sampling {
        top_k: Some(40),
        top_p: Some(0.9),
        min_p: Some(0.05),
        repeat_penalty: Some(1.1),
        repeat_last_n: Some(64),
        frequency_penalty: Some(0.1),
        presence_penalty: Some(0.1),
        dry_multiplier: Some(0.8),
        dry_base: Some(1.75),
        dry_allowed_length: Some(2),
        dry_penalty_last_n: Some(512),
    };
    code.sampling = every;
    code.repetition.retry = every;
    let codex = settings.workers.get_mut("codex").unwrap();
    codex.env = BTreeMap::from([("C".into(), "3".into())]);
    codex.timeout = Some(Duration::from_secs(60));
    codex.idle_timeout = Some(Duration::from_secs(30));
    codex.remediate = Some(1);
    codex.expect = vec!["DONE".into()];
    codex.expect_pass = true;
    codex.agent = Some(crate::AgentCli::Codex);
    codex.model = "gpt-5-codex".into();
    settings
}

#[test]
fn settings_written_out_with_every_key_load_back_unchanged() {
    let settings = settings_with_every_key();
    let text = toml::to_string(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, outcome) = load_project(dir.path(), &text);
    assert_eq!(outcome.unwrap().settings, settings, "{text}");

    // The text above really names every key the check knows, table by table: so no key of
    // Settings is refused, and the probe agrees with what Settings writes.
    let table: Table = toml::from_str(&text).unwrap();
    let mut seen: BTreeMap<Vec<String>, (Vec<String>, BTreeSet<String>)> = BTreeMap::new();
    shapes(&table, &mut Vec::new(), &mut Vec::new(), &mut seen);
    assert!(seen.len() >= 12, "{:?}", seen.keys());
    for (shape, (path, keys)) in seen {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let known: BTreeSet<String> = known_keys(&path)
            .unwrap()
            .iter()
            .map(|key| (*key).to_string())
            .collect();
        assert_eq!(keys, known, "keys of {}", shape.join("."));
    }
}

/// For every struct-shaped table of `table`, by its shape (`backends.*`): one real path to
/// it and the union of the keys written in all tables of that shape.
fn shapes(
    table: &Table,
    path: &mut Vec<String>,
    shape: &mut Vec<String>,
    seen: &mut BTreeMap<Vec<String>, (Vec<String>, BTreeSet<String>)>,
) {
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let is_struct = known_keys(&refs).is_some();
    if is_struct {
        seen.entry(shape.clone())
            .or_insert_with(|| (path.clone(), BTreeSet::new()))
            .1
            .extend(table.keys().cloned());
    }
    for (key, value) in table {
        if let Value::Table(inner) = value {
            path.push(key.clone());
            shape.push(if is_struct { key.clone() } else { "*".into() });
            shapes(inner, path, shape, seen);
            path.pop();
            shape.pop();
        }
    }
}

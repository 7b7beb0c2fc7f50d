//! Tests of layering, origins, the `dispatch.sh` variables and error locations.

use pretty_assertions::assert_eq;

use super::*;

fn options(dir: &Path, pairs: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        cwd: dir.to_path_buf(),
        env: EnvSnapshot::from_pairs(pairs.iter().copied(), Some(dir.join("home"))),
        flags: Vec::new(),
        overrides: Vec::new(),
    }
}

#[test]
fn defaults_alone_match_the_old_dispatch_script() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&options(dir.path(), &[])).unwrap();
    let code = &loaded.settings.profiles["code"];
    assert_eq!(loaded.settings.dispatch.profile, "code");
    assert_eq!(code.model, "qwen3-coder");
    assert_eq!(code.max_tokens, 4096);
    assert_eq!(code.temperature, 0.2);
    assert_eq!(
        loaded.settings.backends["local"].urls,
        vec!["http://127.0.0.1:11438/v1"]
    );
    assert_eq!(loaded.origins["profiles.code.model"], Origin::Default);
    assert!(loaded.files.is_empty());
}

#[test]
fn coder_variables_override_files_and_name_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("baton.toml"),
        "[profiles.code]\nmodel = \"from-file\"\n",
    )
    .unwrap();
    let loaded = load(&options(
        dir.path(),
        &[
            ("CODER_API_URL", "http://10.0.0.9:9999/v1/chat/completions"),
            ("CODER_MODEL", "qwen-env"),
            ("CODER_MAX_TOKENS", "123"),
            ("CODER_TEMPERATURE", "0.7"),
            ("SYSTEM_PROMPT", "be terse"),
        ],
    ))
    .unwrap();
    let code = &loaded.settings.profiles["code"];
    assert_eq!(code.model, "qwen-env");
    assert_eq!(code.max_tokens, 123);
    assert_eq!(code.temperature, 0.7);
    assert_eq!(code.system_prompt.as_deref(), Some("be terse"));
    assert_eq!(
        loaded.settings.backends["local"].urls,
        vec!["http://10.0.0.9:9999/v1"]
    );
    assert_eq!(
        loaded.origins["profiles.code.model"],
        Origin::Env("CODER_MODEL")
    );
    assert_eq!(
        loaded.origins["backends.local.urls"],
        Origin::Env("CODER_API_URL")
    );
}

#[test]
fn project_file_overrides_user_file_and_flags_override_both() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("xdg/baton/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, "[backends.local]\nslots = 5\nretries = 7\n").unwrap();
    let project = dir.path().join("repo");
    std::fs::create_dir_all(project.join("sub")).unwrap();
    std::fs::write(project.join("baton.toml"), "[backends.local]\nslots = 6\n").unwrap();
    let mut options = options(&project.join("sub"), &[]);
    options.env = EnvSnapshot::from_pairs(
        [("XDG_CONFIG_HOME", dir.path().join("xdg").to_str().unwrap())],
        None,
    );
    options.overrides.push("backends.local.retries=9".into());
    let loaded = load(&options).unwrap();
    let local = &loaded.settings.backends["local"];
    assert_eq!((local.slots, local.retries), (6, 9));
    assert_eq!(
        loaded.origins["backends.local.slots"],
        Origin::ProjectFile(project.join("baton.toml"))
    );
    assert_eq!(loaded.origins["backends.local.kind"], Origin::Default);
    assert_eq!(
        loaded.origins["backends.local.retries"],
        Origin::Flag("-c backends.local.retries=9".into())
    );
    assert_eq!(loaded.files, vec![user, project.join("baton.toml")]);
}

#[test]
fn a_malformed_file_is_reported_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.toml");
    std::fs::write(
        &path,
        "[profiles.code]\nmodel = \"m\"\nmax_tokens = \"lots\"\n",
    )
    .unwrap();
    let error = load(&options(dir.path(), &[])).unwrap_err();
    match &error {
        ConfigError::Parse {
            path: p, line, key, ..
        } => {
            assert_eq!((p, *line, key.as_deref()), (&path, 3, Some("max_tokens")));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(error.to_string().contains("baton.toml:3:"), "{error}");
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(&options(dir.path(), &[("BATON_PROFILE", "nope")])).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("`nope`") && text.contains("code, fast"),
        "{text}"
    );
}

#[test]
fn a_profile_pointing_at_a_missing_backend_names_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("baton.toml"),
        "[profiles.x]\nbackend = \"ghost\"\n",
    )
    .unwrap();
    let text = load(&options(dir.path(), &[])).unwrap_err().to_string();
    assert!(
        text.contains("profiles.x.backend") && text.contains("baton.toml"),
        "{text}"
    );
}

#[test]
fn bad_coder_variables_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = load(&options(dir.path(), &[("CODER_MAX_TOKENS", "many")]))
        .unwrap_err()
        .to_string();
    assert!(text.contains("CODER_MAX_TOKENS"), "{text}");
}

#[test]
fn overrides_parse_toml_values_and_fall_back_to_strings() {
    assert_eq!(
        layers::parse_override("a.b=4").unwrap().1,
        Value::Integer(4)
    );
    assert_eq!(
        layers::parse_override("a.b=qwen").unwrap().1,
        Value::String("qwen".into())
    );
    assert!(layers::parse_override("novalue").is_err());
}

#[test]
fn memory_embeddings_are_off_by_default_and_must_name_a_known_backend_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&options(dir.path(), &[])).unwrap();
    assert_eq!(loaded.settings.memory, MemorySettings::default());
    assert!(loaded.settings.memory.embeddings.is_empty());
    std::fs::write(
        dir.path().join("baton.toml"),
        "[memory]\nembeddings = \"nope\"\nembedding_model = \"m\"\n",
    )
    .unwrap();
    let error = load(&options(dir.path(), &[])).unwrap_err().to_string();
    assert!(
        error.contains("memory.embeddings") && error.contains("unknown backend `nope`"),
        "{error}"
    );
    std::fs::write(
        dir.path().join("baton.toml"),
        "[memory]\nembeddings = \"local\"\n",
    )
    .unwrap();
    let error = load(&options(dir.path(), &[])).unwrap_err().to_string();
    assert!(error.contains("memory.embedding_model"), "{error}");
    std::fs::write(
        dir.path().join("baton.toml"),
        "[memory]\nembeddings = \"anthropic\"\nembedding_model = \"m\"\n",
    )
    .unwrap();
    let error = load(&options(dir.path(), &[])).unwrap_err().to_string();
    assert!(error.contains("OpenAI-compatible"), "{error}");
    std::fs::write(
        dir.path().join("baton.toml"),
        "[memory]\nembeddings = \"local\"\nembedding_model = \"m\"\nhybrid_weight = 0.3\n",
    )
    .unwrap();
    let memory = load(&options(dir.path(), &[])).unwrap().settings.memory;
    assert_eq!(
        (memory.embeddings.as_str(), memory.hybrid_weight),
        ("local", 0.3)
    );
}

//! `baton config show`: the resolved values and where each came from.

use crate::support::Sandbox;

#[test]
fn origins_name_the_layer_of_each_value() {
    let sandbox = Sandbox::new().var("CODER_MODEL", "qwen-from-env");
    sandbox.write("baton.toml", "[backends.local]\nslots = 4\n");
    let run = sandbox.run(&[
        "config",
        "show",
        "--origins",
        "-c",
        "profiles.code.max_tokens=99",
    ]);
    run.assert_ok();
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing: {run:?}"))
            .to_string()
    };
    assert!(line("profiles.code.model").ends_with("# env CODER_MODEL"));
    assert!(line("profiles.code.model").contains("\"qwen-from-env\""));
    assert!(
        line("backends.local.slots").contains("# project config")
            && line("backends.local.slots").contains("baton.toml")
    );
    assert!(line("profiles.code.max_tokens").ends_with("# flag -c profiles.code.max_tokens=99"));
    assert!(line("profiles.code.temperature").ends_with("# default"));
}

#[test]
fn the_user_file_sits_below_the_project_file() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "xdg/baton/config.toml",
        "[backends.local]\nslots = 3\nretries = 5\n",
    );
    sandbox.write("baton.toml", "[backends.local]\nslots = 4\n");
    let json = sandbox
        .run(&["config", "show", "--json"])
        .assert_ok()
        .json();
    assert_eq!(json["settings"]["backends"]["local"]["slots"], 4);
    assert_eq!(json["settings"]["backends"]["local"]["retries"], 5);
    assert_eq!(json["files"].as_array().unwrap().len(), 2);
}

#[test]
fn show_prints_toml_that_reads_back_as_config() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["config", "show"]);
    run.assert_ok();
    sandbox.write("baton.toml", &run.stdout);
    sandbox.run(&["config", "show"]).assert_ok();
}

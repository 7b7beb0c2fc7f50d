//! Snapshots of the errors reachable from the command line without a model server: bad flags
//! (clap's and baton's own, exit 2), bad configuration in every layer (exit 3), bad input
//! (exit 7), a request over its budget (exit 6), an `-o` file that cannot be written (exit 9),
//! each reply `baton apply` refuses (exit 13, 14, 15), and the memory's errors.
//!
//! Each snapshot pins the exit code, stdout and stderr; `crate::support::snapshot!` says how
//! to accept a change.

use crate::support::{Sandbox, snapshot};

fn offline() -> Sandbox {
    Sandbox::offline()
}

#[test]
fn bad_flags_are_refused_by_clap_with_usage_and_exit_2() {
    let sandbox = offline();
    let cases: &[(&str, &[&str])] = &[
        ("clap-unknown-subcommand", &["frobnicate"]),
        ("clap-unknown-global-flag", &["--bogus", "ps"]),
        ("clap-dispatch-without-task", &["dispatch"]),
        (
            "clap-dispatch-unknown-flag",
            &["dispatch", "x", "--frobnicate"],
        ),
        (
            "clap-dispatch-local-and-api",
            &["dispatch", "x", "--local", "--api"],
        ),
        (
            "clap-dispatch-cache-and-no-cache",
            &["dispatch", "x", "--cache", "--no-cache"],
        ),
        (
            "clap-wait-bad-duration",
            &["wait", "--all", "--timeout", "soon"],
        ),
        (
            "clap-wait-max-cycles-without-poll",
            &["wait", "--all", "--max-cycles", "3"],
        ),
        ("clap-wait-all-and-ids", &["wait", "--all", "w00000000"]),
        ("clap-kill-without-workers", &["kill"]),
        ("clap-apply-unknown-format", &["apply", "--format", "yaml"]),
        (
            "clap-memory-reembed-batch-0",
            &["memory", "reembed", "--batch", "0"],
        ),
        (
            "clap-memory-search-limit-not-a-number",
            &["memory", "search", "q", "--limit", "many"],
        ),
    ];
    for (name, args) in cases {
        let run = sandbox.run(args);
        assert_eq!(run.code, 2, "{run:?}");
        snapshot!(sandbox, run, *name);
    }
}

#[test]
fn flags_baton_itself_refuses_are_usage_errors_with_a_hint_and_exit_2() {
    let sandbox = offline();
    let cases: &[(&str, &[&str])] = &[
        (
            "usage-dispatch-unknown-route",
            &["dispatch", "x", "--route", "sideways"],
        ),
        (
            "usage-dispatch-root-without-apply",
            &["dispatch", "x", "--root", "src"],
        ),
        (
            "usage-stats-since-not-a-time",
            &["stats", "--since", "last tuesday"],
        ),
        (
            "usage-memory-store-bad-ttl",
            &["memory", "store", "k", "v", "--ttl", "soon"],
        ),
        (
            "usage-memory-search-min-score-over-1",
            &["memory", "search", "q", "--min-score", "2"],
        ),
        ("usage-spawn-nothing-to-run", &["spawn"]),
        (
            "usage-spawn-kind-without-task",
            &["spawn", "--kind", "codex"],
        ),
    ];
    for (name, args) in cases {
        let run = sandbox.run(args);
        assert_eq!(run.code, 2, "{run:?}");
        snapshot!(sandbox, run, *name);
    }
}

#[test]
fn bad_configuration_in_each_layer_is_named_with_a_hint_and_exit_3() {
    // (snapshot, baton.toml, user config.toml, variable, arguments)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<(&'static str, &'static str)>,
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (
            "config-project-file-unknown-key",
            Some("[profiles.code]\ntemprature = 0.3\n"),
            None,
            None,
            &["config", "show"],
        ),
        (
            "config-project-file-unknown-section",
            Some("[backend.local]\nslots = 4\n"),
            None,
            None,
            &["config", "show"],
        ),
        (
            "config-project-file-wrong-type",
            Some("[profiles.code]\ntemperature = \"hot\"\n"),
            None,
            None,
            &["config", "show"],
        ),
        (
            "config-project-file-not-toml",
            Some("[profiles.code\nmodel = \"x\"\n"),
            None,
            None,
            &["config", "show"],
        ),
        (
            "config-user-file-unknown-key",
            None,
            Some("[backends.local]\nslot = 4\n"),
            None,
            &["config", "show"],
        ),
        (
            "config-variable-not-a-number",
            None,
            None,
            Some(("CODER_TEMPERATURE", "warm")),
            &["config", "show"],
        ),
        (
            "config-override-unknown-key",
            None,
            None,
            None,
            &["-c", "profiles.code.temprature=1", "config", "show"],
        ),
        (
            "config-override-unknown-section",
            None,
            None,
            None,
            &["-c", "nope.key=1", "config", "show"],
        ),
        (
            "config-override-without-equals",
            None,
            None,
            None,
            &["-c", "garbage", "config", "show"],
        ),
        (
            "config-unknown-profile",
            None,
            None,
            None,
            &["dispatch", "x", "--profile", "bogus"],
        ),
        (
            "config-doctor-unknown-backend",
            None,
            None,
            None,
            &["doctor", "--backend", "nope"],
        ),
        (
            "config-spawn-unknown-kind",
            None,
            None,
            None,
            &["spawn", "--kind", "nope", "write the tests"],
        ),
    ];
    for (name, project, user, variable, args) in cases {
        let mut sandbox = offline();
        if let Some((variable, value)) = variable {
            sandbox = sandbox.var(variable, value);
        }
        if let Some(text) = project {
            sandbox.write("baton.toml", text);
        }
        if let Some(text) = user {
            sandbox.write("xdg/baton/config.toml", text);
        }
        let run = sandbox.run(args);
        assert_eq!(run.code, 3, "{run:?}");
        snapshot!(sandbox, run, *name);
    }
}

#[test]
fn a_context_file_that_matches_nothing_is_bad_input_with_exit_7() {
    let sandbox = offline();
    let run = sandbox.run(&["dispatch", "x", "--context", "src/nope.rs"]);
    assert_eq!(run.code, 7, "{run:?}");
    snapshot!(sandbox, run);
}

#[test]
fn context_over_the_route_budget_is_refused_before_sending_with_exit_6() {
    let sandbox = offline();
    sandbox.write("big.rs", &"x".repeat(40_000));
    sandbox.write("small.rs", "fn small() {}\n");
    let run = sandbox.run(&[
        "dispatch",
        "x",
        "--context",
        "small.rs",
        "--context",
        "big.rs",
    ]);
    assert_eq!(run.code, 6, "{run:?}");
    snapshot!(sandbox, run);
}

#[test]
fn an_output_file_in_a_missing_directory_is_refused_with_exit_9() {
    let sandbox = offline();
    let run = sandbox.run(&["dispatch", "x", "-o", "out/impl.rs"]);
    assert_eq!(run.code, 9, "{run:?}");
    snapshot!(sandbox, run);
}

const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";

fn search_replace(path: &str, search: &str, replace: &str) -> String {
    format!(
        "Here is the change.\n\n{path}\n```rust\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"
    )
}

#[test]
fn each_reply_apply_refuses_has_its_exit_code_in_text_and_json() {
    let cases = [
        (
            "apply-13-search-text-not-in-the-file",
            search_replace("src/lib.rs", "    a - b\n", "    b - a\n"),
            13,
        ),
        (
            "apply-14-path-outside-the-root",
            search_replace("../elsewhere.rs", "    a + b\n", "    b + a\n"),
            14,
        ),
        (
            "apply-15-prose-without-edits",
            "The function looks fine to me; I would leave it as it is.\n".to_string(),
            15,
        ),
    ];
    for (name, reply, code) in cases {
        let sandbox = offline();
        sandbox.write("src/lib.rs", LIB);
        sandbox.write("reply.md", &reply);
        for json in [false, true] {
            let args: &[&str] = if json {
                &["apply", "reply.md", "--json"]
            } else {
                &["apply", "reply.md"]
            };
            let run = sandbox.run(args);
            assert_eq!(run.code, code, "{run:?}");
            assert_eq!(
                std::fs::read_to_string(sandbox.path().join("src/lib.rs")).unwrap(),
                LIB,
                "nothing written"
            );
            let name = if json {
                format!("{name}-json")
            } else {
                name.to_string()
            };
            snapshot!(sandbox, run, name.as_str());
        }
    }
}

#[test]
fn a_reply_file_that_does_not_exist_is_bad_input_with_exit_7() {
    let sandbox = offline();
    let run = sandbox.run(&["apply", "reply.md"]);
    assert_eq!(run.code, 7, "{run:?}");
    snapshot!(sandbox, run);
}

#[test]
fn memory_errors_name_the_key_and_namespace_with_their_exit_codes() {
    let sandbox = offline();
    sandbox
        .run(&["memory", "store", "k", "first", "-n", "notes"])
        .assert_ok();
    let cases: &[(&str, &[&str], i32)] = &[
        ("memory-get-missing-key", &["memory", "get", "nope"], 7),
        (
            "memory-get-missing-key-json",
            &["memory", "get", "nope", "-n", "notes", "--json"],
            7,
        ),
        (
            "memory-store-existing-key",
            &["memory", "store", "k", "second", "-n", "notes"],
            7,
        ),
        (
            "memory-delete-missing-key",
            &["memory", "delete", "nope", "-n", "notes"],
            7,
        ),
        // With --json a missing key is `"deleted": false`, and the same exit code.
        (
            "memory-delete-missing-key-json",
            &["memory", "delete", "nope", "-n", "notes", "--json"],
            7,
        ),
        ("memory-reembed-embeddings-off", &["memory", "reembed"], 3),
        (
            "memory-reembed-embeddings-off-json",
            &["memory", "reembed", "--json"],
            3,
        ),
    ];
    for (name, args, code) in cases {
        let run = sandbox.run(args);
        assert_eq!(run.code, *code, "{run:?}");
        snapshot!(sandbox, run, *name);
    }
}

#[test]
fn a_store_that_cannot_be_opened_is_a_store_error_with_exit_8() {
    let in_the_way = offline();
    in_the_way.write(".baton", "a file where the store's directory goes\n");
    let not_a_database = offline();
    not_a_database.write(".baton/baton.db", "not a database\n");
    for (name, sandbox) in [
        ("store-directory-is-a-file-json", &in_the_way),
        ("store-file-is-not-a-database", &not_a_database),
    ] {
        let args: &[&str] = if name.ends_with("-json") {
            &["stats", "--json"]
        } else {
            &["stats"]
        };
        let run = sandbox.run(args);
        assert_eq!(run.code, 8, "{run:?}");
        snapshot!(sandbox, run, name);
    }
}

//! Snapshots of the `--json` shapes of `memory store`, `get`, `search`, `list`, `delete`,
//! `stats` and `reembed` (against the scripted server's embeddings), and of `config show`.

use baton_test_support::{BlockingScriptedServer, Script};

use crate::support::{Sandbox, json_shapes};

#[test]
fn memory_json_shapes_from_store_to_delete() {
    let sandbox = Sandbox::new();
    let pattern = r#"{"approach":"refresh the token, then retry once"}"#;
    let store =
        |args: &[&str]| sandbox.run(&[&["memory", "store"][..], args, &["--json"]].concat());
    let cases = [
        (
            "memory-store-json",
            store(&[
                "pattern-auth-retry",
                pattern,
                "-n",
                "patterns",
                "-t",
                "auth",
                "--ttl",
                "7d",
            ]),
        ),
        (
            "memory-store-text-json",
            store(&["result-w1", "all tests pass", "-n", "results"]),
        ),
        (
            "memory-store-upsert-json",
            store(&[
                "result-w1",
                "all tests pass again",
                "-n",
                "results",
                "--upsert",
            ]),
        ),
        (
            "memory-get-json",
            sandbox.run(&[
                "memory",
                "get",
                "pattern-auth-retry",
                "-n",
                "patterns",
                "--json",
            ]),
        ),
        (
            "memory-search-json",
            sandbox.run(&["memory", "search", "auth token", "--json"]),
        ),
        (
            "memory-search-unknown-namespace-json",
            sandbox.run(&[
                "memory", "search", "tests", "-n", "results", "-n", "resluts", "--json",
            ]),
        ),
        (
            "memory-list-json",
            sandbox.run(&["memory", "list", "--json"]),
        ),
        (
            "memory-stats-json",
            sandbox.run(&["memory", "stats", "--json"]),
        ),
        (
            "memory-delete-json",
            sandbox.run(&["memory", "delete", "result-w1", "-n", "results", "--json"]),
        ),
    ];
    json_shapes!(sandbox, cases);
}

#[test]
fn memory_reembed_json_says_what_it_embedded_with_which_model() {
    let server = BlockingScriptedServer::start(Script::new().embedding_dim(16)).unwrap();
    let sandbox = Sandbox::new();
    for key in ["a", "b", "c"] {
        sandbox
            .run(&[
                "memory",
                "store",
                key,
                &format!("note {key}"),
                "-n",
                "notes",
            ])
            .assert_ok();
    }
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.emb]\nurls = [\"{}\"]\nretries = 0\n\n[memory]\nembeddings = \"emb\"\nembedding_model = \"model-a\"\n",
            server.openai_url()
        ),
    );
    let first = sandbox.run(&["memory", "reembed", "--batch", "2", "--json"]);
    let again = sandbox.run(&["memory", "reembed", "--json"]);
    json_shapes!(
        sandbox,
        [
            ("memory-reembed-json", first),
            ("memory-reembed-nothing-left-json", again),
        ],
    );
}

#[test]
fn config_show_json_is_the_resolved_settings_and_the_files_read() {
    let sandbox = Sandbox::new();
    sandbox.write("baton.toml", "[backends.local]\nslots = 4\n");
    let run = sandbox.run(&["config", "show", "--json"]);
    json_shapes!(sandbox, [("config-show-json", run)]);
}

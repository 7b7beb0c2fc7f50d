//! `baton memory`: store, get, search (which says what it searched and how it ranked),
//! list, delete, stats, and many processes storing at once.

use crate::support::Sandbox;

#[test]
fn a_stored_pattern_is_found_and_the_reply_says_what_was_searched_and_how() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "memory",
            "store",
            "pattern-auth-retry",
            r#"{"approach":"refresh the token, then retry once"}"#,
            "-n",
            "patterns",
            "-t",
            "auth",
        ])
        .assert_ok();
    sandbox
        .run(&[
            "memory",
            "store",
            "result-w1",
            r#"{"status":"complete"}"#,
            "-n",
            "results",
        ])
        .assert_ok();
    let reply = sandbox
        .run(&["memory", "search", "auth token", "--json"])
        .assert_ok()
        .json();
    assert_eq!(
        reply["namespaces_searched"],
        serde_json::json!(["patterns", "results"])
    );
    assert_eq!(reply["method"], "fts5-bm25");
    assert!(
        reply["normalization"]
            .as_str()
            .unwrap()
            .contains("score = 2M / (W + M)")
    );
    assert_eq!(reply["hits"][0]["key"], "pattern-auth-retry");
    assert_eq!(reply["hits"][0]["ranked_by"], "fts5-bm25");
    let scoped = sandbox
        .run(&[
            "memory", "search", "auth", "-n", "results", "-n", "patern", "--json",
        ])
        .assert_ok()
        .json();
    assert_eq!(scoped["hits"].as_array().unwrap().len(), 0);
    assert_eq!(
        scoped["unknown_namespaces"],
        serde_json::json!(["patern"]),
        "a misspelt namespace is named"
    );
    let value = sandbox
        .run(&["memory", "get", "pattern-auth-retry", "-n", "patterns"])
        .assert_ok()
        .stdout
        .clone();
    assert_eq!(
        value.trim(),
        r#"{"approach":"refresh the token, then retry once"}"#
    );
}

#[test]
fn a_duplicate_key_needs_upsert_and_upsert_keeps_the_creation_time() {
    let sandbox = Sandbox::new();
    sandbox.run(&["memory", "store", "k", "first"]).assert_ok();
    let again = sandbox.run(&["memory", "store", "k", "second"]);
    assert_eq!(again.code, 7, "{again:?}");
    assert!(
        again.stderr.contains("already exists")
            && again.stderr.contains("hint: store it with upsert"),
        "{again:?}"
    );
    let before = sandbox
        .run(&["memory", "get", "k", "--json"])
        .assert_ok()
        .json();
    sandbox
        .run(&["memory", "store", "k", "second", "--upsert"])
        .assert_ok();
    let after = sandbox
        .run(&["memory", "get", "k", "--json"])
        .assert_ok()
        .json();
    assert_eq!(after["value"], "second");
    assert_eq!(after["created_at_ms"], before["created_at_ms"]);
}

#[test]
fn delete_list_and_stats_agree() {
    let sandbox = Sandbox::new();
    for key in ["a", "b", "c"] {
        sandbox
            .run(&[
                "memory", "store", key, "value", "-n", "notes", "--ttl", "7d",
            ])
            .assert_ok();
    }
    sandbox
        .run(&["memory", "delete", "b", "-n", "notes"])
        .assert_ok();
    let missing = sandbox.run(&["memory", "delete", "b", "-n", "notes"]);
    assert_eq!(missing.code, 7);
    let list = sandbox
        .run(&["memory", "list", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(list["entries"].as_array().unwrap().len(), 2);
    assert_eq!(list["count"], 2);
    let stats = sandbox
        .run(&["memory", "stats", "--json"])
        .assert_ok()
        .json();
    assert_eq!(stats[0]["namespace"], "notes");
    assert_eq!(stats[0]["entries"], 2);
    let bad_ttl = sandbox.run(&["memory", "store", "x", "y", "--ttl", "soon"]);
    assert_eq!(bad_ttl.code, 2);
}

#[test]
fn eight_processes_storing_at_once_lose_nothing() {
    let sandbox = Sandbox::new();
    let script = "i=0; while [ $i -lt 25 ]; do baton memory store key-$0-$i value-$i -n load || exit 1; i=$((i+1)); done";
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_baton"))
        .parent()
        .unwrap()
        .to_path_buf();
    let children: Vec<_> = (0..8)
        .map(|p| {
            let mut command = sandbox.command(&[]);
            let envs: Vec<(std::ffi::OsString, std::ffi::OsString)> = command
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
                .collect();
            let _ = &mut command;
            std::process::Command::new("sh")
                .args(["-c", script, &p.to_string()])
                .current_dir(sandbox.path())
                .env_clear()
                .envs(envs)
                .env(
                    "PATH",
                    format!(
                        "{}:{}",
                        bin_dir.display(),
                        std::env::var("PATH").unwrap_or_default()
                    ),
                )
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let stats = sandbox
        .run(&["memory", "stats", "--json"])
        .assert_ok()
        .json();
    assert_eq!(stats[0]["entries"], 200);
}

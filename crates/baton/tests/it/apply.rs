//! `baton apply` and `baton dispatch --apply` end to end: the real binary on real files in a
//! temp directory, replies from files, stdin and the scripted server; exit codes by outcome;
//! the edits ledger and `baton stats --edits`.

use baton_test_support::{BlockingScriptedServer, Reply, Script};
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::Sandbox;

const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";

fn search_replace_reply(search: &str, replace: &str) -> String {
    format!(
        "Here is the change.\n\nsrc/lib.rs\n```rust\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"
    )
}

fn read(sandbox: &Sandbox, path: &str) -> String {
    std::fs::read_to_string(sandbox.path().join(path)).unwrap()
}

fn edit_stats(sandbox: &Sandbox) -> Vec<Value> {
    let run = sandbox.run(&["stats", "--edits", "--json"]);
    run.assert_ok();
    run.json()["by_model_format"].as_array().unwrap().clone()
}

#[test]
fn a_search_replace_reply_is_applied_with_a_diffstat_and_counted_for_its_model() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    sandbox.write(
        "reply.md",
        &search_replace_reply("    a + b\n", "    a.wrapping_add(b)\n"),
    );
    let run = sandbox.run(&["apply", "reply.md", "--model", "qwen-coder"]);
    run.assert_ok();
    assert_eq!(
        read(&sandbox, "src/lib.rs"),
        "pub fn add(a: i32, b: i32) -> i32 {\n    a.wrapping_add(b)\n}\n"
    );
    assert!(run.stdout.contains("src/lib.rs |"), "{run:?}");
    assert!(
        run.stdout.contains("1 insertion(s)(+), 1 deletion(s)(-)"),
        "{run:?}"
    );

    let stats = edit_stats(&sandbox);
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0]["model"], "qwen-coder");
    assert_eq!(stats[0]["format"], "search-replace");
    assert_eq!(
        (stats[0]["replies"].clone(), stats[0]["well_formed"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(stats[0]["applied_rate"], 1.0);
    let table = sandbox.run(&["stats", "--edits"]);
    table.assert_ok();
    assert!(
        table.stdout.contains("qwen-coder") && table.stdout.contains("1 (100%)"),
        "{table:?}"
    );
}

#[test]
fn the_same_reply_applied_twice_is_already_applied_the_second_time_and_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    let reply = search_replace_reply("    a + b\n", "    b + a\n");
    sandbox.run_with_stdin(&["apply", "-"], &reply).assert_ok();
    let after_first = read(&sandbox, "src/lib.rs");
    let run = sandbox.run_with_stdin(&["apply", "--json"], &reply);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["edits"][0]["status"], "already-applied", "{report}");
    assert_eq!(report["written"], false);
    assert_eq!(read(&sandbox, "src/lib.rs"), after_first);
    let run = sandbox.run_with_stdin(&["apply"], &reply);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        " nothing to change; 1 edit(s) already applied, 1 in all\n"
    );
}

#[test]
fn a_search_that_matches_nothing_exits_13_writes_nothing_and_prints_what_to_send_back() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    sandbox.write("src/other.rs", "pub const X: u8 = 1;\n");
    let reply = format!(
        "{}\nsrc/other.rs\n```rust\n<<<<<<< SEARCH\npub const X: u8 = 1;\n=======\npub const X: u8 = 2;\n>>>>>>> REPLACE\n```\n",
        search_replace_reply("fn subtract(a: i32) {\n    totally different\n}\n", "x\n")
    );
    sandbox.write("reply.md", &reply);
    let run = sandbox.run(&["apply", "reply.md"]);
    assert_eq!(run.code, 13, "{run:?}");
    assert!(
        run.stderr.contains("1 of 2 edit(s) did not match") && run.stderr.contains("hint:"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("src/lib.rs") && run.stdout.contains("fn subtract"),
        "{run:?}"
    );
    // All or nothing: the edit that matched was not written either.
    assert_eq!(read(&sandbox, "src/lib.rs"), LIB);
    assert_eq!(read(&sandbox, "src/other.rs"), "pub const X: u8 = 1;\n");

    // --partial writes the files whose edits all applied.
    let run = sandbox.run(&["apply", "reply.md", "--partial", "--json"]);
    assert_eq!(run.code, 13, "{run:?}");
    assert_eq!(run.json()["written"], true);
    assert_eq!(read(&sandbox, "src/other.rs"), "pub const X: u8 = 2;\n");
    assert_eq!(read(&sandbox, "src/lib.rs"), LIB);
}

#[test]
fn a_path_outside_the_root_or_into_git_exits_14_and_writes_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write("work/src/lib.rs", LIB);
    for path in ["../outside.rs", ".git/config", "/tmp/absolute.rs"] {
        let reply = format!(
            "{path}\n```\nfn main() {{}}\n```\n\nsrc/lib.rs\n```rust\nfn replaced() {{}}\n```\n"
        );
        let run = sandbox.run_with_stdin(&["apply", "--root", "work", "--format", "whole"], &reply);
        assert_eq!(run.code, 14, "{path}: {run:?}");
        assert!(
            run.stderr.contains(path.trim_start_matches("../")),
            "{run:?}"
        );
        assert_eq!(read(&sandbox, "work/src/lib.rs"), LIB);
    }
    assert!(!sandbox.path().join("outside.rs").exists());
    assert!(!sandbox.path().join("work/.git").exists());
}

#[test]
fn an_allow_list_refuses_other_files() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    sandbox.write("src/main.rs", "fn main() {}\n");
    let reply = "src/main.rs\n```rust\nfn main() { println!(\"hi\"); }\n```\n";
    let run = sandbox.run_with_stdin(&["apply", "--allow", "src/lib.rs"], reply);
    assert_eq!(run.code, 14, "{run:?}");
    assert_eq!(read(&sandbox, "src/main.rs"), "fn main() {}\n");
    sandbox
        .run_with_stdin(&["apply", "--allow", "src/"], reply)
        .assert_ok();
    assert!(read(&sandbox, "src/main.rs").contains("println"));
}

#[test]
fn prose_without_edits_exits_15_and_counts_as_not_well_formed() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    let run = sandbox.run_with_stdin(
        &["apply", "--format", "udiff", "--model", "m"],
        "I would change the add function to use wrapping_add.\n",
    );
    assert_eq!(run.code, 15, "{run:?}");
    assert!(run.stderr.contains("no well-formed edits"), "{run:?}");
    assert_eq!(read(&sandbox, "src/lib.rs"), LIB);
    let stats = edit_stats(&sandbox);
    assert_eq!(stats[0]["format"], "udiff");
    assert_eq!(
        (stats[0]["replies"].clone(), stats[0]["well_formed"].clone()),
        (1.into(), 0.into())
    );
}

#[test]
fn a_dry_run_reports_the_change_writes_nothing_and_is_not_counted() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    let reply = search_replace_reply("    a + b\n", "    a - b\n");
    let run = sandbox.run_with_stdin(&["apply", "--dry-run"], &reply);
    run.assert_ok();
    assert!(run.stdout.contains("nothing written"), "{run:?}");
    assert_eq!(read(&sandbox, "src/lib.rs"), LIB);
    assert_eq!(edit_stats(&sandbox), Vec::<Value>::new());
}

#[test]
fn bad_invocations_say_what_to_do() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["apply", "missing-reply.md"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(run.stderr.contains("missing-reply.md") && run.stderr.contains("hint:"));
    let run = sandbox.run_with_stdin(&["apply", "--root", "nope"], "x");
    assert_eq!(run.code, 7, "{run:?}");
    assert!(
        run.stderr.contains("nope is not a directory") && run.stderr.contains("hint:"),
        "{run:?}"
    );
    let run = sandbox.run(&["dispatch", "task", "--dry-run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("only go with --apply"), "{run:?}");
}

#[test]
fn dispatch_apply_asks_for_the_profile_format_applies_the_reply_and_links_it_to_the_call() {
    let diff = "```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn add(a: i32, b: i32) -> i32 {\n-    a + b\n+    a.saturating_add(b)\n }\n```\n";
    let server =
        BlockingScriptedServer::start(Script::always(Reply::text(diff)).record_requests(true))
            .unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("src/lib.rs", LIB);
    let run = sandbox.run(&[
        "-c",
        "profiles.code.edit_format=udiff",
        "dispatch",
        "--profile",
        "code",
        "--local",
        "make add saturate",
        "--context",
        "src/lib.rs",
        "--apply",
        "--json",
    ]);
    run.assert_ok();
    let object = run.json();
    assert_eq!(object["apply"]["format"], "udiff", "{object}");
    assert_eq!(object["apply"]["edits"][0]["status"], "applied", "{object}");
    assert_eq!(object["apply"]["edits"][0]["method"], "exact");
    assert!(read(&sandbox, "src/lib.rs").contains("a.saturating_add(b)"));

    let request = server.requests().into_iter().find(|r| r.is_chat()).unwrap();
    let system = request.body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains(baton_edit::prompt(baton_core::EditFormat::Udiff)),
        "{system}"
    );

    let calls = sandbox.calls();
    let store = sandbox.store();
    let edits = store.edits(None).unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].request_id.as_deref(),
        Some(calls[0].request_id.as_str())
    );
    assert_eq!(edits[0].model.as_deref(), Some(calls[0].model.as_str()));
    assert!(edits[0].well_formed && edits[0].written);
}

#[test]
fn dispatch_apply_takes_a_reply_naming_no_file_as_the_only_context_file() {
    let whole = "Here is the updated file:\n```rust\npub fn add(a: i32, b: i32) -> i32 {\n    a.checked_add(b).unwrap_or(i32::MAX)\n}\n```\n";
    let server = BlockingScriptedServer::start(Script::always(Reply::text(whole))).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("src/lib.rs", LIB);
    sandbox.write("src/other.rs", "pub const X: u8 = 1;\n");
    let args = [
        "dispatch",
        "--local",
        "make add saturate",
        "--apply",
        "--json",
        "--context",
    ];
    let mut one = args.to_vec();
    one.push("src/lib.rs");
    let run = sandbox.run(&one);
    run.assert_ok();
    assert_eq!(run.json()["apply"]["edits"][0]["path"], "src/lib.rs");
    assert!(read(&sandbox, "src/lib.rs").contains("checked_add"));

    // With two context files the reply is ambiguous: nothing is written.
    sandbox.write("src/lib.rs", LIB);
    let mut two = args.to_vec();
    two.push("src/*.rs");
    let run = sandbox.run(&two);
    assert_eq!(run.code, 15, "{run:?}");
    assert_eq!(read(&sandbox, "src/lib.rs"), LIB);
}

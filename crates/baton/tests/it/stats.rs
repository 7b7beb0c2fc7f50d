//! `baton stats` over a real ledger written by real dispatches, and `baton doctor` against
//! the scripted server.

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::support::Sandbox;

#[test]
fn stats_sum_the_ledger_with_local_share_and_cost_avoided() {
    let server = BlockingScriptedServer::start(Script::always(Reply::text("abcdefgh"))).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    for _ in 0..3 {
        sandbox.run(&["dispatch", "x"]).assert_ok();
    }
    let json = sandbox.run(&["stats", "--json"]).assert_ok().json();
    let overall = &json["overall"];
    assert_eq!(overall["calls"], 3);
    assert_eq!(overall["ok"], 3);
    assert_eq!(overall["local_share"], 1.0);
    // 10 prompt + 2 completion tokens a call, priced at the reference rate ($3 / $15 per Mtok).
    assert_eq!(overall["tokens"]["local_in"], 30);
    assert_eq!(overall["tokens"]["local_out"], 6);
    let avoided = overall["cost_avoided_usd"].as_f64().unwrap();
    assert!(
        (avoided - (30.0 * 3.0 + 6.0 * 15.0) / 1e6).abs() < 1e-12,
        "{avoided}"
    );
    assert_eq!(overall["cost_spent_usd"], 0.0);
    assert!(overall["latency_ms"]["p95"].is_u64());
    let table = sandbox.run(&["stats"]).assert_ok().stdout.clone();
    assert!(
        table.contains("local / qwen3-coder") && table.contains("100.0%"),
        "{table}"
    );
}

#[test]
fn a_dead_local_server_adds_errors_but_no_tokens_and_no_cost_avoided() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sandbox = Sandbox::new().coder_url(&format!("http://127.0.0.1:{port}/v1"));
    let run = sandbox.run(&["dispatch", "x", "--local"]);
    assert_ne!(run.code, 0, "{run:?}");
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 3, "one try and two retries: {calls:?}");
    let json = sandbox.run(&["stats", "--json"]).assert_ok().json();
    let overall = &json["overall"];
    assert_eq!(
        (&overall["calls"], &overall["errors"]),
        (&3.into(), &3.into())
    );
    assert_eq!(overall["local_share"], serde_json::Value::Null, "{overall}");
    assert_eq!(overall["tokens"]["local_in"], 0);
    assert_eq!(overall["tokens"]["local_out"], 0);
    assert_eq!(overall["cost_avoided_usd"], 0.0);
    assert_eq!(overall["cost_spent_usd"], 0.0);
}

#[test]
fn since_filters_old_calls_and_bad_values_are_usage_errors() {
    let server = BlockingScriptedServer::start(Script::always(Reply::text("ok"))).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.run(&["dispatch", "x"]).assert_ok();
    let future = sandbox
        .run(&["stats", "--json", "--since", "2999-01-01"])
        .assert_ok()
        .json();
    assert_eq!(future["overall"]["calls"], 0);
    let recent = sandbox
        .run(&["stats", "--json", "--since", "1h"])
        .assert_ok()
        .json();
    assert_eq!(recent["overall"]["calls"], 1);
    let bad = sandbox.run(&["stats", "--since", "last tuesday"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("hint:"));
}

#[test]
fn doctor_reads_the_served_context_and_warns_when_a_budget_exceeds_it() {
    let server =
        BlockingScriptedServer::start(Script::always(Reply::text("ok")).n_ctx(4096)).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let json = sandbox
        .run(&["doctor", "--json", "--backend", "local"])
        .assert_ok()
        .json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["endpoints"][0]["n_ctx"], 4096);
    assert_eq!(json["endpoints"][0]["server"], "llama-server");
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("profile `code`") && warnings.contains("4096"),
        "{warnings}"
    );
}

#[test]
fn doctor_fails_with_exit_10_when_a_local_server_is_down() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sandbox = Sandbox::new().coder_url(&format!("http://127.0.0.1:{port}/v1"));
    let run = sandbox.run(&["doctor"]);
    assert_eq!(run.code, 10, "{run:?}");
    assert!(
        run.stdout.contains("DOWN") && run.stderr.contains("hint:"),
        "{run:?}"
    );
}

#[test]
fn many_processes_creating_the_store_at_once_all_succeed() {
    // Switching a brand-new database to WAL races between processes; each round uses a new
    // directory so every process of the round may be the one that creates the file.
    for _ in 0..5 {
        let sandbox = Sandbox::new();
        let children: Vec<_> = (0..8)
            .map(|_| {
                sandbox
                    .command(&["stats", "--json"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

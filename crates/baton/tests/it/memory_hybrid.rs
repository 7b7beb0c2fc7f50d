//! `baton memory` with `[memory] embeddings` set: rows record the model and dimension that
//! embedded them, searches rank hybrid and say per hit how, rows of another model are ranked by
//! text only and counted, and an embeddings endpoint that fails is said, never hidden.

use baton_test_support::{BlockingScriptedServer, Script};
use serde_json::Value;

use crate::support::Sandbox;

fn embeddings_server() -> BlockingScriptedServer {
    BlockingScriptedServer::start(Script::new().embedding_dim(16)).unwrap()
}

/// A sandbox whose memory embeds with `model` at `url`.
fn configure(sandbox: &Sandbox, url: &str, model: &str) {
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.emb]\nurls = [\"{url}\"]\nretries = 0\nconnect_timeout = \"1s\"\n\n\
             [memory]\nembeddings = \"emb\"\nembedding_model = \"{model}\"\n\
             embed_timeout = \"5s\"\n"
        ),
    );
}

fn store(sandbox: &Sandbox, key: &str, value: &str) -> Value {
    sandbox
        .run(&["memory", "store", key, value, "-n", "notes", "--json"])
        .assert_ok()
        .json()
}

fn hit<'a>(reply: &'a Value, key: &str) -> &'a Value {
    reply["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hit| hit["key"] == key)
        .unwrap_or_else(|| panic!("no hit {key}: {reply}"))
}

#[test]
fn stored_rows_record_the_model_and_a_search_ranks_them_hybrid() {
    let server = embeddings_server();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), "model-a");
    let stored = store(&sandbox, "auth", "refresh the auth token then retry once");
    assert_eq!(stored["embedding"]["model"], "model-a");
    assert_eq!(stored["embedding"]["dim"], 16);
    store(&sandbox, "bread", "bake bread at two hundred degrees");
    store(&sandbox, "authn", "authentication tokens expire hourly");
    let entry = sandbox
        .run(&["memory", "get", "auth", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(entry["embedding_model"], "model-a");
    assert_eq!(entry["embedding_dim"], 16);

    let reply = sandbox
        .run(&["memory", "search", "auth token retry", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["method"], "hybrid", "{reply}");
    assert_eq!(reply["hits"][0]["key"], "auth", "{reply}");
    let best = hit(&reply, "auth");
    assert_eq!(best["ranked_by"], "hybrid(fts5-bm25+cosine:model-a)");
    assert!(best["text_score"].as_f64().unwrap() > 0.0);
    assert!(best["vector_score"].as_f64().unwrap() > 0.5);
    // `authentication tokens` shares no indexed word with `auth` but shares word beginnings
    // in the scripted vectors: found by the vector side, or by text through `tokens`.
    let close = hit(&reply, "authn");
    assert!(
        close["ranked_by"] == "hybrid(fts5-bm25+cosine:model-a)"
            || close["ranked_by"] == "cosine:model-a",
        "{reply}"
    );
    assert!(
        reply["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|hit| hit["key"] != "bread"),
        "an unrelated entry is not a hit: {reply}"
    );
    assert_eq!(reply["vector"]["model"], "model-a");
    assert_eq!(reply["vector"]["dim"], 16);
    assert_eq!(reply["vector"]["compared"], 3);
    assert_eq!(reply["vector"]["skipped_other_model"], 0);
    assert_eq!(reply["vector"]["skipped_unembedded"], 0);
    assert!(reply["vector"].get("error").is_none());

    let human = sandbox
        .run(&["memory", "search", "auth token retry"])
        .assert_ok()
        .stdout
        .clone();
    assert!(
        human.contains("ranked by hybrid") && human.contains("[hybrid(fts5-bm25+cosine:model-a)]"),
        "{human}"
    );
}

#[test]
fn a_vector_only_match_is_labelled_cosine() {
    let server = embeddings_server();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), "model-a");
    store(&sandbox, "authn", "authentication expiry");
    store(&sandbox, "bread", "bake bread");
    // `auth expi` matches no indexed word, but shares word beginnings with `authn`.
    let reply = sandbox
        .run(&["memory", "search", "auth expi", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["total_candidates"], 1, "{reply}");
    let only = hit(&reply, "authn");
    assert_eq!(only["ranked_by"], "cosine:model-a");
    assert!(only["text_score"].is_null());
    assert!(only["vector_score"].as_f64().unwrap() > 0.99);
    assert_eq!(reply["hits"].as_array().unwrap().len(), 1, "{reply}");
    // Handed on once, counted once (listing does not count).
    let listed = sandbox
        .run(&["memory", "list", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    let authn = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["key"] == "authn")
        .unwrap();
    assert_eq!(authn["access_count"], 1, "{listed}");
}

#[test]
fn rows_embedded_by_another_model_are_ranked_by_text_only_and_counted() {
    let server = embeddings_server();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), "model-a");
    store(&sandbox, "old", "retry the auth token");
    configure(&sandbox, &server.openai_url(), "model-b");
    store(&sandbox, "new", "auth token retry policy");
    let entry = sandbox
        .run(&["memory", "get", "old", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(entry["embedding_model"], "model-a");

    let reply = sandbox
        .run(&["memory", "search", "auth token retry", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["method"], "hybrid");
    assert_eq!(hit(&reply, "old")["ranked_by"], "fts5-bm25", "{reply}");
    assert!(hit(&reply, "old")["vector_score"].is_null());
    assert_eq!(
        hit(&reply, "new")["ranked_by"],
        "hybrid(fts5-bm25+cosine:model-b)"
    );
    assert_eq!(reply["vector"]["model"], "model-b");
    assert_eq!(reply["vector"]["compared"], 1);
    assert_eq!(reply["vector"]["skipped_other_model"], 1, "{reply}");
    assert_eq!(reply["vector"]["skipped_unembedded"], 0);
}

#[test]
fn reembed_moves_rows_of_another_model_and_unembedded_rows_to_the_configured_model() {
    let server = embeddings_server();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), "model-a");
    for i in 0..5 {
        store(
            &sandbox,
            &format!("old-{i}"),
            &format!("auth token retry {i}"),
        );
    }
    // Stored while the endpoint was unknown: not embedded at all.
    sandbox.write("baton.toml", "");
    store(&sandbox, "plain", "auth token plain");
    configure(&sandbox, &server.openai_url(), "model-b");
    store(&sandbox, "new", "auth token retry policy");

    let report = sandbox
        .run(&["memory", "reembed", "--batch", "2", "--json"])
        .assert_ok()
        .json();
    assert_eq!(report["model"], "model-b");
    assert_eq!(report["dim"], 16);
    assert_eq!(report["embedded"], 6, "{report}");
    assert_eq!(report["replaced"]["model-a"], 5, "{report}");
    assert_eq!(report["replaced"]["none"], 1, "{report}");
    assert_eq!(
        (report["remaining"].clone(), report["error"].clone()),
        (0.into(), Value::Null)
    );
    let entry = sandbox
        .run(&["memory", "get", "old-3", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(entry["embedding_model"], "model-b");

    let reply = sandbox
        .run(&["memory", "search", "auth token retry", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["vector"]["compared"], 7, "{reply}");
    assert_eq!(reply["vector"]["skipped_other_model"], 0);
    assert_eq!(reply["vector"]["skipped_unembedded"], 0);
    assert_eq!(
        hit(&reply, "old-0")["ranked_by"],
        "hybrid(fts5-bm25+cosine:model-b)"
    );

    // Nothing left: a second run embeds nothing.
    let again = sandbox.run(&["memory", "reembed"]);
    again.assert_ok();
    assert!(
        again.stdout.starts_with("embedded 0 entries with model-b"),
        "{again:?}"
    );
}

#[test]
fn reembed_says_how_to_turn_embeddings_on_and_an_endpoint_down_changes_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["memory", "reembed"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("memory embeddings are off") && run.stderr.contains("hint:"),
        "{run:?}"
    );

    let server = embeddings_server();
    configure(&sandbox, &server.openai_url(), "model-a");
    store(&sandbox, "k", "some words");
    let url = server.openai_url();
    drop(server);
    configure(&sandbox, &url, "model-b");
    let run = sandbox.run(&["memory", "reembed", "--json"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(
        run.stderr.contains("re-embedding stopped after 0 entries"),
        "{run:?}"
    );
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["remaining"], 1);
    let entry = sandbox
        .run(&["memory", "get", "k", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(entry["embedding_model"], "model-a");
}

#[test]
fn an_endpoint_down_keeps_entries_and_search_says_it_ranked_by_text() {
    let server = embeddings_server();
    let url = server.openai_url();
    let sandbox = Sandbox::new();
    configure(&sandbox, &url, "model-a");
    store(&sandbox, "embedded", "auth token retry");
    drop(server);

    let run = sandbox.run(&[
        "memory",
        "store",
        "plain",
        "auth token plain",
        "-n",
        "notes",
    ]);
    run.assert_ok();
    assert!(
        run.stderr.contains("stored without an embedding")
            && run.stderr.contains("searchable by text"),
        "{run:?}"
    );
    let entry = sandbox
        .run(&["memory", "get", "plain", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert!(entry["embedding_model"].is_null());

    let reply = sandbox
        .run(&["memory", "search", "auth token", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["method"], "fts5-bm25", "{reply}");
    let error = reply["vector"]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot connect") && error.contains("ranked by text only"),
        "{error}"
    );
    assert_eq!(reply["hits"].as_array().unwrap().len(), 2);
    assert!(
        reply["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|hit| hit["ranked_by"] == "fts5-bm25")
    );
}

#[test]
fn a_server_without_embeddings_is_reported_not_hidden() {
    let server = BlockingScriptedServer::start(Script::new()).unwrap();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), "model-a");
    let stored = store(&sandbox, "k", "some words");
    assert!(
        stored["embedding"]["error"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{stored}"
    );
    let reply = sandbox
        .run(&["memory", "search", "words", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["method"], "fts5-bm25");
    assert!(reply["vector"]["error"].as_str().unwrap().contains("404"));
    assert_eq!(reply["hits"][0]["key"], "k");
}

#[test]
fn llama_embeddings_record_the_model_and_rank_hybrid() {
    let server =
        baton_test_support::rig::LlamaServer::start_with(&["--embeddings", "--pooling", "mean"])
            .unwrap();
    let sandbox = Sandbox::new();
    configure(&sandbox, &server.openai_url(), server.model_alias());
    let stored = store(
        &sandbox,
        "auth",
        "refresh the auth token then retry the request once",
    );
    let dim = stored["embedding"]["dim"]
        .as_u64()
        .unwrap_or_else(|| panic!("{stored}"));
    assert!(dim > 16, "{stored}");
    store(
        &sandbox,
        "bread",
        "bake the bread at two hundred degrees for forty minutes",
    );
    let entry = sandbox
        .run(&["memory", "get", "auth", "-n", "notes", "--json"])
        .assert_ok()
        .json();
    assert_eq!(entry["embedding_model"], server.model_alias());
    assert_eq!(entry["embedding_dim"], dim);
    let reply = sandbox
        .run(&["memory", "search", "auth token retry", "--json"])
        .assert_ok()
        .json();
    assert_eq!(reply["method"], "hybrid", "{reply}");
    assert_eq!(reply["vector"]["dim"], dim);
    assert_eq!(reply["vector"]["compared"], 2);
    assert_eq!(reply["hits"][0]["key"], "auth", "{reply}");
    assert_eq!(
        reply["hits"][0]["ranked_by"],
        format!("hybrid(fts5-bm25+cosine:{})", server.model_alias())
    );
}

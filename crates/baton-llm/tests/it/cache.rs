//! The exact-request cache key: equal for the same request, different when anything that
//! changes the reply changes (a context file's content, the model).

use baton_llm::cache::key;
use baton_llm::context::ContextPart;
use baton_llm::dispatch::chat_request;

use crate::support::{input, plan, settings};

#[test]
fn the_cache_key_follows_the_request_its_context_and_its_model() {
    let settings = settings(&["http://127.0.0.1:9/v1".to_string()]);
    let target = plan(&settings).chain[0].clone();
    let request = chat_request(&target, &input("Fix the parser"));
    let parts = vec![ContextPart::new("src/parser.rs", "fn parse() {}\n".into())];

    let first = key(&target, &request, &parts);
    let again = key(
        &target,
        &chat_request(&target, &input("Fix the parser")),
        &[ContextPart::new("src/parser.rs", "fn parse() {}\n".into())],
    );
    assert_eq!(first, again, "the same request has the same key");
    assert_eq!(first.len(), 64, "a SHA-256 in hex: {first}");

    let edited = [ContextPart::new(
        "src/parser.rs",
        "fn parse() { todo!() }\n".into(),
    )];
    assert_ne!(edited[0].sha256, parts[0].sha256);
    assert_ne!(
        key(&target, &request, &edited),
        first,
        "a changed context file changes the key"
    );

    let mut other_model = target;
    other_model.model = "qwen3-coder-30b".into();
    let other_request = chat_request(&other_model, &input("Fix the parser"));
    assert_ne!(
        key(&other_model, &other_request, &parts),
        first,
        "another model changes the key"
    );
}

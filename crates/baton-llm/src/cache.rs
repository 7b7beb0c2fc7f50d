//! The exact-request cache policy: which requests may be served from the cache, and the key
//! they are stored under. The store keeps the entries.

use baton_core::ChatRequest;
use sha2::{Digest, Sha256};

use crate::context::{ContextPart, hex};
use crate::router::Target;
use crate::wire::sampling_sent;

/// The key of a request: a SHA-256 over the normalized request (backend kind, base URLs,
/// model, sampling, messages with whitespace at the ends trimmed) and the content hashes of
/// its context parts. Anything that changes the reply changes the key. Sampling beyond the
/// temperature counts as sent: only the fields the backend takes, and none at all leaves the
/// key as it was before such fields existed.
pub fn key(target: &Target, request: &ChatRequest, parts: &[ContextPart]) -> String {
    let sampling = sampling_sent(&target.backend, &request.sampling);
    let mut normalized = serde_json::json!({
        "v": 1,
        "kind": target.backend.kind.as_str(),
        "urls": target.backend.urls,
        "model": request.model,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "messages": request
            .messages
            .iter()
            .map(|message| serde_json::json!([message.role, message.content.trim()]))
            .collect::<Vec<_>>(),
        "context": parts.iter().map(|part| [&part.label, &part.sha256]).collect::<Vec<_>>(),
    });
    if !sampling.is_empty() {
        normalized["sampling"] = serde_json::Value::Object(sampling);
    }
    hex(&Sha256::digest(normalized.to_string().as_bytes()))
}

//! A webhook: each event of a run POSTed as JSON (the row as `events.jsonl` has it). With a
//! secret set, the body is signed with HMAC-SHA256 in `X-Baton-Signature-256: sha256=HEX`
//! (the scheme GitHub's webhooks use, so receivers built for those verify it as they are).
//! `X-Baton-Delivery` carries the publication's key, the same on every retry of one event, so
//! that a receiver can drop a delivery it already has.

use baton_core::publish::WebhookTarget;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Action, Deliver, Delivered};

/// The header of the signature.
pub(crate) const SIGNATURE_HEADER: &str = "X-Baton-Signature-256";

/// `sha256=HEX` of `body` under `secret`.
pub(crate) fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!(
        "sha256={}",
        baton_llm::context::hex(&mac.finalize().into_bytes())
    )
}

pub(crate) async fn deliver(
    target: &WebhookTarget,
    cx: &Deliver<'_>,
    action: &Action,
) -> Result<Delivered, String> {
    let Action::Event { body: event } = action else {
        return Err(format!("a webhook does not take `{}`", action.name()));
    };
    let kind = event["kind"].as_str().unwrap_or("event").to_string();
    let body = serde_json::to_vec(event)
        .map_err(|error| format!("the event cannot be encoded: {error}"))?;
    let client = super::http_client(&target.url, cx.timeout)?;
    let mut request = client
        .post(&target.url)
        .header("Content-Type", "application/json")
        .header("X-Baton-Event", kind)
        .header(
            "X-Baton-Delivery",
            format!("{}:{}", cx.run.id, cx.delivery.row.key),
        );
    if let Some(name) = &target.secret_env {
        let secret = super::secret(cx.project, name).ok_or_else(|| {
            format!(
                "the signing secret's variable {name} is not set ([publish.webhook] secret_env)"
            )
        })?;
        request = request.header(
            SIGNATURE_HEADER,
            signature(secret.expose().as_bytes(), &body),
        );
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|error| format!("POST {}: {}", target.url, error.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("POST {} answered {status}", target.url));
    }
    Ok(Delivered {
        result: Some(serde_json::json!({ "status": status.as_u16() })),
        link: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_sha256_of_the_body_under_the_secret() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

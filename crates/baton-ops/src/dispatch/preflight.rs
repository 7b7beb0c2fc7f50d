//! Preflight: every local step of the chain is checked against the context its server
//! really serves (probed on first use and every `probe_max_age`). A step that cannot hold
//! the prompt is dropped with a notice; a step whose reply room is small gets a warning;
//! when no step is left the request is refused before anything is sent. Never truncates.

use baton_config::Settings;
use baton_core::Locality;
use baton_llm::Dispatcher;
use baton_llm::dispatch::DispatchInput;
use baton_llm::router::RoutePlan;
use baton_store::StorePool;

use crate::OpsError;
use crate::doctor::ensure_probed;
use crate::notice::{Notice, Notices};

/// Warn when fewer tokens than this are left for the reply in the server's context.
const REPLY_ROOM_WARNING_TOKENS: u64 = 1024;

pub(super) async fn check(
    dispatcher: &Dispatcher,
    pool: &StorePool,
    settings: &Settings,
    plan: &mut RoutePlan,
    input: &DispatchInput,
    notices: &dyn Notices,
) -> Result<(), OpsError> {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for target in std::mem::take(&mut plan.chain) {
        if target.locality() != Locality::Local {
            kept.push(target);
            continue;
        }
        let prompt_tokens = input.prompt_tokens(&target);
        let probe = ensure_probed(dispatcher, pool, settings, &target).await;
        match probe.and_then(|probe| probe.n_ctx) {
            Some(n_ctx) if prompt_tokens >= n_ctx => {
                refused.push(format!(
                    "{} serves a context of {n_ctx} tokens and the prompt is ~{prompt_tokens}",
                    target.label()
                ));
            }
            Some(n_ctx) => {
                let room = n_ctx - prompt_tokens;
                // Only worth saying when the room left is small in absolute terms.
                if room < u64::from(target.max_tokens).min(REPLY_ROOM_WARNING_TOKENS) {
                    notices.notice(Notice::warning(format!(
                        "{} serves {n_ctx} tokens of context; with a ~{prompt_tokens}-token prompt the reply may be cut at ~{room} tokens (max_tokens {})",
                        target.label(),
                        target.max_tokens
                    )));
                }
                kept.push(target);
            }
            None => kept.push(target),
        }
    }
    if kept.is_empty() {
        return Err(OpsError::DoesNotFit { refused });
    }
    // Said only when another step is left to try; otherwise the error says it.
    for reason in &refused {
        notices.notice(Notice::info(format!("skipping a step: {reason}")));
    }
    plan.chain = kept;
    Ok(())
}

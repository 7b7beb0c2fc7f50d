//! The ledger and the cache of a dispatch: a cache hit is served and recorded as a ledger row
//! of its own; a streamed reply's attempts (every retry and fallback) are recorded whether it
//! answered or not, and an answer is cached when the policy says so. Also the response built
//! from what served the reply.

use baton_config::Settings;
use baton_core::{CallOutcome, CallRecord};
use baton_llm::dispatch::{DispatchInput, cache_hit_record};
use baton_llm::router::{RoutePlan, Target};
use baton_llm::{DispatchFailure, DispatchResult};
use baton_store::{CachedReply, StorePool};

use super::{DispatchResponse, FailedAttempt, RouteTaken};
use crate::OpsError;
use crate::apply::ApplyResponse;
use crate::notice::{Notice, Notices};

/// A reply, streamed or from the cache, and the ledger record of the attempt that gave it.
pub(super) struct Served {
    pub(super) reply: String,
    pub(super) record: CallRecord,
    /// Wall time of the whole dispatch, retries and fallbacks included (0 from the cache).
    pub(super) latency_ms: u64,
    pub(super) failed: Vec<FailedAttempt>,
}

/// The cached reply of `key`, recorded as a cache hit together with `ledger`; `None` on a
/// miss (or without a key).
pub(super) fn from_cache(
    pool: &StorePool,
    settings: &Settings,
    plan: &RoutePlan,
    first: &Target,
    request_id: &str,
    key: Option<&str>,
    ledger: &mut Vec<CallRecord>,
) -> Result<Option<Served>, OpsError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let store = pool.get()?;
    let Some(hit) = store.cache_get(key)? else {
        return Ok(None);
    };
    let record = cache_hit_record(
        settings,
        plan,
        first,
        request_id,
        &hit.backend,
        &hit.model,
        hit.usage,
    );
    ledger.push(record.clone());
    store.record_calls(ledger)?;
    Ok(Some(Served {
        reply: hit.reply,
        latency_ms: record.latency_ms,
        record,
        failed: Vec::new(),
    }))
}

/// Records the attempts of a streamed dispatch (with `ledger`, the classifier's), caches an
/// answer under `key`, and warns when the server seems to have truncated the prompt.
pub(super) fn streamed(
    pool: &StorePool,
    plan: &RoutePlan,
    input: &DispatchInput,
    key: Option<&str>,
    ledger: &mut Vec<CallRecord>,
    result: Result<DispatchResult, DispatchFailure>,
    notices: &dyn Notices,
) -> Result<Served, OpsError> {
    let store = pool.get()?;
    let result = match result {
        Ok(result) => result,
        Err(failure) => {
            ledger.extend(failure.attempts);
            store.record_calls(ledger)?;
            return Err(OpsError::Dispatch {
                source: failure.error,
                route: format!("{} ({})", plan.route, plan.reason),
            });
        }
    };
    ledger.extend(result.attempts.iter().cloned());
    store.record_calls(ledger)?;
    if let Some(key) = key {
        let entry = CachedReply {
            backend: result.target.backend_name.clone(),
            model: result.target.model.clone(),
            reply: result.reply.clone(),
            usage: result.usage,
            created_at_ms: baton_core::now_ms(),
        };
        store.cache_put(key, &entry)?;
    }
    if let Some((reported, sent)) = result.suspected_truncation(input) {
        notices.notice(Notice::warning(format!(
            "{} counted {reported} prompt tokens but ~{sent} were sent; it may have truncated the context (raise the server's context size: llama-server -c, Ollama num_ctx; then run `baton doctor`)",
            result.target.label()
        )));
    }
    let (last, earlier) = result
        .attempts
        .split_last()
        .ok_or_else(|| OpsError::internal("a reply without an attempt record"))?;
    let failed = earlier
        .iter()
        .filter(|attempt| attempt.outcome == CallOutcome::Error)
        .map(|attempt| FailedAttempt {
            backend: attempt.backend.clone(),
            endpoint: attempt.endpoint.clone(),
            model: attempt.model.clone(),
            attempt: attempt.attempt,
            error_class: attempt.error_class,
            error: attempt.error.clone().unwrap_or_default(),
            cut_for_repetition: attempt.cut_for_repetition(),
        })
        .collect();
    Ok(Served {
        record: last.clone(),
        latency_ms: u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX),
        reply: result.reply,
        failed,
    })
}

/// The response of a served dispatch.
pub(super) fn response(
    plan: &RoutePlan,
    request_id: &str,
    served: Served,
    apply: Option<ApplyResponse>,
) -> DispatchResponse {
    let Served {
        reply,
        record,
        latency_ms,
        failed,
    } = served;
    DispatchResponse {
        request_id: request_id.to_string(),
        reply,
        backend: record.backend,
        endpoint: (!record.cache_hit).then_some(record.endpoint),
        model: record.model,
        profile: record.profile,
        locality: record.locality,
        route: RouteTaken {
            requested: plan.requested,
            taken: plan.route,
            why: plan.reason.clone(),
            skipped: plan.skipped.clone(),
        },
        usage: record.usage,
        latency_ms,
        ttft_ms: record.ttft_ms,
        attempts: if record.cache_hit { 0 } else { record.attempt },
        cache_hit: record.cache_hit,
        cost_usd: record.cost_usd,
        failed_attempts: failed,
        output: None,
        apply,
        notices: Vec::new(),
    }
}

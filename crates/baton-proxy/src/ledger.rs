//! The ledger rows of one proxied request: one `calls` row per attempt, priced like a
//! dispatch's (cloud cost spent, local cost avoided), all written in one transaction when the
//! request ends, however it ends: answered, failed, or dropped because the client went away
//! (the attempt in flight is then recorded as cancelled). Keys never reach a row.

use std::sync::Arc;
use std::time::Duration;

use baton_config::Settings;
use baton_core::{CallOutcome, CallRecord, ErrorClass, Locality, Usage, now_ms};
use baton_llm::CallError;
use baton_llm::dispatch::{duration_ms, price};
use baton_llm::router::Target;
use baton_llm::wire::ReportedUsage;
use baton_store::StorePool;
use tokio::time::Instant;

/// Why an attempt in flight ended without an answer when its request was dropped.
pub const CANCELLED: &str = "the client disconnected; the upstream request was cancelled";

/// An attempt that has started and not yet been recorded.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub target: Target,
    pub endpoint: String,
    pub started_at_ms: i64,
    pub started: Instant,
    pub prompt_estimate: u64,
    pub ttft: Option<Duration>,
    pub received_chars: usize,
    pub usage: ReportedUsage,
}

impl InFlight {
    pub fn new(target: &Target, endpoint: &str, prompt_estimate: u64) -> Self {
        InFlight {
            target: target.clone(),
            endpoint: endpoint.to_owned(),
            started_at_ms: now_ms(),
            started: Instant::now(),
            prompt_estimate,
            ttft: None,
            received_chars: 0,
            usage: ReportedUsage::default(),
        }
    }

    /// The usage to record: what the server reported, estimates where it said nothing. An
    /// attempt no token came back for counts no tokens (as `baton dispatch` counts them).
    fn usage(&self) -> Usage {
        if self.ttft.is_none() && self.usage == ReportedUsage::default() {
            return Usage {
                estimated: true,
                ..Usage::default()
            };
        }
        let reported = self.usage;
        Usage {
            prompt_tokens: reported.prompt_tokens.unwrap_or(self.prompt_estimate),
            completion_tokens: reported.completion_tokens.unwrap_or_else(|| {
                baton_core::usage::estimate_tokens_from_chars(self.received_chars)
            }),
            cached_tokens: reported.cached_tokens.unwrap_or(0),
            estimated: reported.prompt_tokens.is_none() || reported.completion_tokens.is_none(),
        }
    }
}

/// The attempts of one request.
pub struct Ledger {
    store: StorePool,
    settings: Arc<Settings>,
    request_id: String,
    records: Vec<CallRecord>,
    in_flight: Option<InFlight>,
    written: bool,
}

impl Ledger {
    pub fn new(store: StorePool, settings: Arc<Settings>, request_id: String) -> Self {
        Ledger {
            store,
            settings,
            request_id,
            records: Vec::new(),
            in_flight: None,
            written: false,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Starts an attempt.
    pub fn begin(&mut self, attempt: InFlight) {
        self.in_flight = Some(attempt);
    }

    /// The attempt in flight, to note its first token, text and usage.
    pub fn current(&mut self) -> Option<&mut InFlight> {
        self.in_flight.as_mut()
    }

    /// Ends the attempt in flight: answered (`None`) or failed.
    pub fn end(&mut self, error: Option<&CallError>) {
        let outcome = error.map(|error| (error.class(), error.to_string()));
        self.end_with(outcome);
    }

    /// Ends the attempt in flight with an error of Baton's own wording.
    pub fn end_with(&mut self, error: Option<(ErrorClass, String)>) {
        let Some(attempt) = self.in_flight.take() else {
            return;
        };
        let usage = attempt.usage();
        let (cost_usd, avoided_usd) = price(&self.settings, &attempt.target, &usage);
        let (outcome, error_class, error) = match error {
            None => (CallOutcome::Ok, None, None),
            Some((class, text)) => (CallOutcome::Error, Some(class), Some(text)),
        };
        self.records.push(CallRecord {
            id: uuid::Uuid::now_v7().to_string(),
            request_id: self.request_id.clone(),
            started_at_ms: attempt.started_at_ms,
            profile: attempt.target.profile.clone(),
            route: match attempt.target.locality() {
                Locality::Local => "local".into(),
                Locality::Cloud => "api".into(),
            },
            backend: attempt.target.backend_name.clone(),
            endpoint: attempt.endpoint.clone(),
            model: attempt.target.model.clone(),
            locality: attempt.target.locality(),
            attempt: u32::try_from(self.records.len() + 1).unwrap_or(u32::MAX),
            usage,
            latency_ms: duration_ms(attempt.started.elapsed()),
            ttft_ms: attempt.ttft.map(duration_ms),
            outcome,
            error_class,
            error,
            cache_hit: false,
            cost_usd,
            avoided_usd,
        });
    }

    /// Writes the rows (once). A store that cannot be written is logged, never the client's
    /// problem: the answer it already has stands.
    pub fn flush(&mut self) {
        if self.in_flight.is_some() {
            self.end_with(Some((ErrorClass::Final, CANCELLED.into())));
        }
        if self.written || self.records.is_empty() {
            return;
        }
        self.written = true;
        let written = self
            .store
            .get()
            .map_err(|error| error.to_string())
            .and_then(|store| {
                store
                    .record_calls(&self.records)
                    .map_err(|error| error.to_string())
            });
        if let Err(error) = written {
            tracing::error!(request_id = %self.request_id, %error, "cannot record the proxied calls");
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.flush();
    }
}

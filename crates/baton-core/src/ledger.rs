//! One row of the `calls` ledger: a single attempt to get a reply from one endpoint.
//! The model layer produces these; the caller writes them to the store.

use serde::{Deserialize, Serialize};

use crate::route::{EditFormat, Locality};
use crate::usage::Usage;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A complete reply was received.
    Ok,
    /// The attempt failed; another attempt or backend may have followed.
    Error,
    /// Served from the exact-request cache; no model was called.
    CacheHit,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::CacheHit => "cache_hit",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ok" => Some(CallOutcome::Ok),
            "error" => Some(CallOutcome::Error),
            "cache_hit" => Some(CallOutcome::CacheHit),
            _ => None,
        }
    }
}

/// Whether an error is worth another try (same or next endpoint) or final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Retryable,
    Final,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Final => "final",
        }
    }

    /// The class named `value` (its [`ErrorClass::as_str`] name).
    pub fn parse(value: &str) -> Option<Self> {
        [ErrorClass::Retryable, ErrorClass::Final]
            .into_iter()
            .find(|c| c.as_str() == value)
    }
}

/// How the error text of an attempt cut for degenerate repetition begins. Such an attempt is
/// recorded as `outcome = error`, `error_class = final` (the same request would loop again;
/// the retry that may follow changes the sampling): the text tells it from other final
/// errors without a column of its own.
pub const REPETITION_ERROR_PREFIX: &str = "degenerate repetition:";

/// One attempt at one endpoint. Secrets never appear here: `endpoint` is a URL without
/// credentials and `error` is a message built by Baton, not a raw server body with headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Unique id of this attempt (UUID v7, time-ordered).
    pub id: String,
    /// Shared by all attempts made for one request (one `baton dispatch`).
    pub request_id: String,
    /// When the attempt started, Unix milliseconds.
    pub started_at_ms: i64,
    pub profile: String,
    pub route: String,
    pub backend: String,
    pub endpoint: String,
    pub model: String,
    pub locality: Locality,
    /// 1-based attempt number within the request.
    pub attempt: u32,
    pub usage: Usage,
    pub latency_ms: u64,
    /// Time to the first streamed token, when one arrived.
    pub ttft_ms: Option<u64>,
    pub outcome: CallOutcome,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
    pub cache_hit: bool,
    /// What the call cost in US dollars (cloud backends with a price).
    pub cost_usd: f64,
    /// What the same tokens would have cost at the configured cloud rate (local calls).
    pub avoided_usd: f64,
}

impl CallRecord {
    /// Whether the attempt was cut because its reply looped on itself.
    pub fn cut_for_repetition(&self) -> bool {
        self.outcome == CallOutcome::Error
            && self
                .error
                .as_deref()
                .is_some_and(|error| error.starts_with(REPETITION_ERROR_PREFIX))
    }
}

/// One row of the `edits` ledger: what became of one model reply handed to the applier
/// (`baton apply`, `baton dispatch --apply`). Rows grouped by model and format give the
/// well-formedness figures that choose a profile's `edit_format` (`baton stats --edits`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditRecord {
    /// Unique id (UUID v7, time-ordered).
    pub id: String,
    /// The `calls.request_id` of the dispatch whose reply this was; `None` for a reply
    /// given to `baton apply` directly.
    pub request_id: Option<String>,
    /// When the reply was applied, Unix milliseconds.
    pub at_ms: i64,
    /// The model that wrote the reply, when known.
    pub model: Option<String>,
    /// The format the model was asked for (for `--format auto`, the one detected).
    pub format: EditFormat,
    /// The format the reply was parsed as; `None` when no format was found in it.
    pub parsed_as: Option<EditFormat>,
    /// At least one edit and no parse problem, in `format`.
    pub well_formed: bool,
    pub edits: u32,
    pub applied: u32,
    pub already_applied: u32,
    pub failed: u32,
    pub refused: u32,
    /// Whether any file was written.
    pub written: bool,
    pub dry_run: bool,
}

//! One row of the `calls` ledger: a single attempt to get a reply from one endpoint.
//! The model layer produces these; the caller writes them to the store.

use serde::{Deserialize, Serialize};

use crate::route::Locality;
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
}

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

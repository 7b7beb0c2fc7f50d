//! The two wire dialects: how a [`baton_core::ChatRequest`] is written for each, and how
//! each one's server-sent events are read back into [`StreamEvent`]s.

pub mod anthropic;
pub mod openai;

use baton_config::settings::SamplingParams;
use baton_config::{BackendKind, BackendSettings};
use baton_core::Sampling;
use serde_json::{Map, Value};

/// The sampling fields a request to `backend` carries for `sampling` (none to Anthropic's
/// Messages, whatever `sampling_params` says: it has no repetition penalties).
pub fn sampling_sent(backend: &BackendSettings, sampling: &Sampling) -> Map<String, Value> {
    match backend.kind {
        BackendKind::Openai => sampling_fields(backend.sampling_params, sampling),
        BackendKind::Anthropic => Map::new(),
    }
}

/// The sampling fields a server taking `params` gets for `sampling`, under its names. Fields
/// the server does not take are left out, never sent for it to refuse or misread.
pub fn sampling_fields(params: SamplingParams, sampling: &Sampling) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    };
    let Sampling {
        top_k,
        top_p,
        min_p,
        repeat_penalty,
        repeat_last_n,
        frequency_penalty,
        presence_penalty,
        dry_multiplier,
        dry_base,
        dry_allowed_length,
        dry_penalty_last_n,
    } = *sampling;
    match params {
        SamplingParams::None => {}
        SamplingParams::LlamaCpp => {
            put("top_k", top_k.map(Value::from));
            put("top_p", top_p.map(Value::from));
            put("min_p", min_p.map(Value::from));
            put("repeat_penalty", repeat_penalty.map(Value::from));
            put("repeat_last_n", repeat_last_n.map(Value::from));
            put("frequency_penalty", frequency_penalty.map(Value::from));
            put("presence_penalty", presence_penalty.map(Value::from));
            put("dry_multiplier", dry_multiplier.map(Value::from));
            put("dry_base", dry_base.map(Value::from));
            put("dry_allowed_length", dry_allowed_length.map(Value::from));
            put("dry_penalty_last_n", dry_penalty_last_n.map(Value::from));
        }
        SamplingParams::Vllm => {
            put("top_k", top_k.map(Value::from));
            put("top_p", top_p.map(Value::from));
            put("min_p", min_p.map(Value::from));
            // The same multiplicative penalty under the Transformers name.
            put("repetition_penalty", repeat_penalty.map(Value::from));
            put("frequency_penalty", frequency_penalty.map(Value::from));
            put("presence_penalty", presence_penalty.map(Value::from));
        }
        SamplingParams::Openai => {
            put("top_p", top_p.map(Value::from));
            put("frequency_penalty", frequency_penalty.map(Value::from));
            put("presence_penalty", presence_penalty.map(Value::from));
        }
    }
    fields
}

/// Token counts a stream reported. Fields are `None` until the server says them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportedUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
}

impl ReportedUsage {
    /// Fills fields still unknown from another report (later reports win where both know).
    pub fn merge(&mut self, other: ReportedUsage) {
        self.prompt_tokens = other.prompt_tokens.or(self.prompt_tokens);
        self.completion_tokens = other.completion_tokens.or(self.completion_tokens);
        self.cached_tokens = other.cached_tokens.or(self.cached_tokens);
    }
}

/// One meaningful thing read from a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More reply text.
    Delta(String),
    /// Usage as the protocol reports it.
    Usage(ReportedUsage),
    /// Usage from llama.cpp's `timings` object: used only when no `usage` came.
    Timings(ReportedUsage),
    /// The model finished its reply (a finish or stop reason).
    Finished,
    /// The stream's end marker (`[DONE]`, `message_stop`).
    Done,
    /// The server reported an error inside the stream.
    Error { message: String, retryable: bool },
}

/// Reads a JSON number field as u64.
pub(crate) fn number(value: &serde_json::Value, key: &str) -> Option<u64> {
    value.get(key).and_then(serde_json::Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every field the retry sets, so that each backend's mapping shows what it drops.
    const RETRY: Sampling = baton_config::settings::RepetitionSettings::RETRY_SAMPLING;

    fn names(params: SamplingParams) -> Vec<String> {
        sampling_fields(params, &RETRY).keys().cloned().collect()
    }

    #[test]
    fn each_server_gets_the_fields_it_takes_under_its_own_names() {
        assert_eq!(
            names(SamplingParams::LlamaCpp),
            [
                "dry_allowed_length",
                "dry_base",
                "dry_multiplier",
                "dry_penalty_last_n",
                "frequency_penalty",
                "repeat_penalty"
            ]
        );
        assert_eq!(
            names(SamplingParams::Vllm),
            ["frequency_penalty", "repetition_penalty"]
        );
        assert_eq!(names(SamplingParams::Openai), ["frequency_penalty"]);
        assert!(names(SamplingParams::None).is_empty());
    }
}

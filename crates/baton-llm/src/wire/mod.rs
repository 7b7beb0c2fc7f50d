//! The two wire dialects: how a [`baton_core::ChatRequest`] is written for each, and how
//! each one's server-sent events are read back into [`StreamEvent`]s.

pub mod anthropic;
pub mod openai;

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

//! The dialects and the chat pivot. Every translation goes through OpenAI Chat Completions
//! JSON: an ingress request becomes a chat request, the backend's answer (in chat, or in
//! Messages for an Anthropic backend) becomes chat chunks, and those become the ingress
//! dialect's answer again. A feature the other side cannot express is refused with an
//! [`Unsupported`], never dropped; a hint that changes nothing of the answer (a cache hint,
//! request metadata) may be left out.

pub mod messages;
pub mod responses;

use serde_json::Value;

/// One server-sent event for the client: `event:` (when the dialect names its events) and
/// `data:` (one JSON document, or `[DONE]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// An event named `event` carrying `data`.
    pub fn named(event: &str, data: &Value) -> Self {
        Self {
            event: Some(event.to_owned()),
            data: data.to_string(),
        }
    }

    /// An unnamed event carrying `data` (OpenAI Chat Completions).
    pub fn data(data: &Value) -> Self {
        Self {
            event: None,
            data: data.to_string(),
        }
    }

    /// The wire form: `event: …\ndata: …\n\n`.
    pub fn to_wire(&self) -> String {
        match &self.event {
            Some(event) => format!("event: {event}\ndata: {}\n\n", self.data),
            None => format!("data: {}\n\n", self.data),
        }
    }
}

/// A request feature the other dialect cannot express, refused with the client's own error
/// shape. The text names the field and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

//! The one request type every model dialect is built from.

use serde::{Deserialize, Serialize};

use crate::sampling::Sampling;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat request, independent of the wire dialect it will be sent in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: f64,
    pub max_tokens: u32,
    /// Sampling beyond the temperature; the wire layer sends what the backend takes.
    #[serde(default, skip_serializing_if = "Sampling::is_empty")]
    pub sampling: Sampling,
    /// The JSON schema the answer must follow (structured output), where the backend takes
    /// one; `None` for free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_schema: Option<AnswerSchema>,
}

/// A named JSON schema for structured output (a plan, a verdict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerSchema {
    pub name: String,
    pub schema: serde_json::Value,
}

impl ChatRequest {
    /// The system prompt, if the first message is one.
    pub fn system(&self) -> Option<&str> {
        self.messages
            .iter()
            .find(|message| message.role == Role::System)
            .map(|message| message.content.as_str())
    }

    /// Total characters of all message contents, the base of token estimates.
    pub fn content_chars(&self) -> usize {
        self.messages
            .iter()
            .map(|message| message.content.chars().count())
            .sum()
    }
}

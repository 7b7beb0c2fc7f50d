//! Errors, and the one place where domain errors become what an MCP client sees.
//!
//! - [`McpError`]: why serving (stdio or HTTP) stopped; returned by the transport functions.
//! - [`ToolFailure`]: why one tool call failed, as a message and a hint. [`ToolFailure::into_result`]
//!   turns it into an `is_error: true` tool result, which agents read and act on, never into a
//!   protocol error, which most clients show only as "internal error".

use std::net::SocketAddr;

use baton_ops::OpsError;
use baton_pipeline::PipelineError;
use rmcp::model::{CallToolResult, ContentBlock};

/// Why the MCP server stopped serving. None is worth retrying as is.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The client went away or sent garbage before the MCP handshake finished.
    #[error("the MCP handshake failed")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    /// The task driving the session panicked or was cancelled.
    #[error("the MCP session task ended abnormally")]
    Session(#[source] tokio::task::JoinError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the MCP HTTP server on {addr} failed")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A tool call that failed in a way the calling agent should see and can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFailure {
    pub message: String,
    /// What to do about it, shown after the message as `hint: …`.
    pub hint: Option<String>,
}

impl ToolFailure {
    /// A failure caused by the arguments; `message` names the argument.
    pub fn invalid(message: impl Into<String>) -> ToolFailure {
        ToolFailure {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ToolFailure {
        self.hint = Some(hint.into());
        self
    }

    /// The failure as a tool result with `is_error: true`: the message, then the hint line.
    pub fn into_result(self) -> CallToolResult {
        let text = match &self.hint {
            Some(hint) => format!("{}\nhint: {hint}", self.message),
            None => self.message.clone(),
        };
        CallToolResult::error(vec![ContentBlock::text(text)])
    }
}

impl From<OpsError> for ToolFailure {
    /// The one place a library error becomes what an agent sees: its message with its causes
    /// and the same hint every front end shows.
    fn from(error: OpsError) -> ToolFailure {
        ToolFailure {
            message: error.message(),
            hint: Some(error.hint()),
        }
    }
}

impl From<PipelineError> for ToolFailure {
    /// A run's error as the command line words it: the message (an `OpsError` with its
    /// causes) and the pipeline's hint.
    fn from(error: PipelineError) -> ToolFailure {
        match error {
            PipelineError::Ops(inner) => ToolFailure::from(inner),
            other => ToolFailure {
                message: other.to_string(),
                hint: other.hint(),
            },
        }
    }
}

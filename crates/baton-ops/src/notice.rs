//! Notices: what an action tells the user on the way (a retry, a fallback, a server being
//! started, a warning), as typed values sent to a sink the caller gives. Actions never write
//! to stdout or stderr themselves; the CLI prints notices on stderr (warnings only when it is
//! not printing JSON), MCP logs them, and a response that must carry its warnings
//! (`DispatchResponse::notices`) keeps them too.

use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// How much a notice matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Progress: retries, fallbacks, a server being started.
    Info,
    /// Something the user should act on: a reply that may be cut, a server that may truncate.
    Warning,
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

impl Notice {
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            level: Level::Info,
            text: text.into(),
        }
    }

    pub fn warning(text: impl Into<String>) -> Notice {
        Notice {
            level: Level::Warning,
            text: text.into(),
        }
    }
}

/// Where notices go. Called from any task, hence `Sync`.
pub trait Notices: Send + Sync {
    fn notice(&self, notice: Notice);
}

/// Drops every notice (tests, callers that only want the response).
#[derive(Debug, Default)]
pub struct Silent;

impl Notices for Silent {
    fn notice(&self, _notice: Notice) {}
}

/// Keeps every notice, in order, and hands each on to another sink.
pub(crate) struct Kept<'a> {
    inner: &'a dyn Notices,
    kept: Mutex<Vec<Notice>>,
}

impl<'a> Kept<'a> {
    pub(crate) fn new(inner: &'a dyn Notices) -> Kept<'a> {
        Kept {
            inner,
            kept: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn into_notices(self) -> Vec<Notice> {
        self.kept
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Notices for Kept<'_> {
    fn notice(&self, notice: Notice) {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(notice.clone());
        self.inner.notice(notice);
    }
}

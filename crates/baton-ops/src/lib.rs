//! Every action a user or an agent can take (DESIGN.md section 3), as an async library call
//! with a typed request, a typed response (the one shape the CLI's `--json`, MCP and the web
//! API print) and a typed error ([`OpsError`], whose [`ErrorKind`] each front end maps to its
//! own form once). It writes the ledgers and the events; every front end calls it and none
//! re-implements it. Nothing here prints: replies go to a [`ReplySink`] and notices to a
//! [`Notices`] sink the caller gives.
//!
//! Parts:
//! - [`Project`]: the working directory, configuration, store pool, dispatcher and the
//!   injected [`Supervisor`] command every action starts from;
//! - [`dispatch`]: one subtask to a model (context, route, preflight, cache, stream, record);
//! - [`apply`]: a model's reply applied to files, with the edits ledger;
//! - [`workers`]: spawn, ps, status, wait, kill, logs, the queue and the supervisor role;
//! - [`servers`]: model servers up, down, status, and ensure-up for dispatch;
//! - [`doctor`]: endpoint probes;
//! - [`memory`]: the shared memory with hybrid ranking;
//! - [`stats`]: the ledgers summed up;
//! - [`notice`]: the notices actions send on the way;
//! - [`error`]: [`OpsError`] and [`ErrorKind`].

pub mod apply;
pub mod dispatch;
pub mod doctor;
pub mod error;
pub mod memory;
pub mod notice;
mod project;
pub mod servers;
pub mod stats;
pub mod workers;

pub use baton_llm::ReplySink;
pub use baton_llm::dispatch::NullSink;
pub use error::{ErrorKind, OpsError};
pub use notice::{Notice, Notices};
pub use project::{Project, ProjectOptions, Supervisor};

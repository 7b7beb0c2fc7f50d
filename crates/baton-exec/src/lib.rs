//! Baton's child processes: the only crate that spawns them (DESIGN.md section 3). It starts
//! a worker in its own process group, captures its output under a size cap, fires its wall
//! and idle deadlines when they fall due, stops it with the kill ladder (SIGTERM to the
//! group, grace, SIGKILL), leaves nothing of it running, and restarts model servers. It knows
//! nothing of the store: [`supervise()`] reports through an [`Observer`] and returns an
//! [`Outcome`], and the caller writes them.
//!
//! Parts: [`proc`] (process identity: PID plus start time; safe group signals),
//! [`logcap`] (capped, timestamped log files), [`mod@supervise`] (the supervisor), [`launch`]
//! (detached and tmux launches), [`health`] (a one-off HTTP health check), [`error`]. Internally, `reap` keeps the one registry of
//! children that lets several supervisions share a process.
//!
//! Linux only: it reads `/proc` and uses `PR_SET_CHILD_SUBREAPER`.

pub mod error;
pub mod health;
pub mod launch;
pub mod logcap;
pub mod proc;
mod reap;
pub mod supervise;

pub use error::ExecError;
pub use launch::{spawn_detached, spawn_in_tmux};
pub use logcap::{LogWriter, read_tail};
/// Signals, for [`proc::signal_group_if_ours`].
pub use nix::sys::signal::Signal;
pub use supervise::{Observer, Outcome, Started, StopRequest, supervise};

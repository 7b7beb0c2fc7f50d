//! Baton's child processes: the only crate that spawns them (DESIGN.md section 3; clippy's
//! `disallowed-methods` keeps it so). It runs a command to completion ([`run()`]: build,
//! test, `git`, `gh`) with a deadline and an output cap, and it starts
//! a worker in its own process group, captures its output under a size cap, fires its wall
//! and idle deadlines when they fall due, stops it with the kill ladder (SIGTERM to the
//! group, grace, SIGKILL), leaves nothing of it running, and restarts model servers. It knows
//! nothing of the store: [`supervise()`] reports through an [`Observer`] and returns an
//! [`Outcome`], and the caller writes them.
//!
//! Parts: [`mod@run`] (a command to completion), [`proc`] (process identity: PID plus start
//! time; safe group signals), [`logcap`] (capped, timestamped log files), [`mod@supervise`]
//! (the supervisor), [`launch`] (detached and tmux launches), [`health`] (a one-off HTTP
//! health check), [`error`]. Internally, `reap` keeps the one registry of children that lets
//! several supervisions and runs share a process, `ladder` stops a child and whatever it
//! left running, and `env` builds a child's allow-listed environment.
//!
//! Linux only: it reads `/proc` and uses `PR_SET_CHILD_SUBREAPER`.

mod env;
pub mod error;
pub mod health;
mod ladder;
pub mod launch;
pub mod logcap;
pub mod proc;
mod reap;
pub mod run;
pub mod supervise;

pub use error::ExecError;
pub use launch::{spawn_detached, spawn_in_tmux};
pub use logcap::{LogWriter, read_tail};
/// Signals, for [`proc::signal_group_if_ours`].
pub use nix::sys::signal::Signal;
pub use reap::Exit;
pub use run::{Captured, Environment, RunOutput, RunRequest, Stdin, Streams, Termination, run};
pub use supervise::{Observer, Outcome, Started, StopRequest, supervise};

//! CLI tests: the real `baton` binary in a sealed environment (temp HOME and config dir, no
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on setup errors"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests start the binary under test and tools directly"
)]
//! stray variables), against the scripted server or the real llama-server of the LLM rig.
//!
//! The `snapshot_*` modules pin exit code, stdout and stderr of every error path and every
//! `--json` shape in files under `snapshots/` (insta). To accept changed output:
//! `INSTA_UPDATE=always cargo nextest run -p baton -E 'test(/snapshot/)'`, then review the
//! diff of `snapshots/` line by line; with `CI=true` nothing is written and a difference fails.

mod agent_roles;
mod agents;
mod apply;
mod config;
mod detach;
mod dispatch;
mod init;
mod linear;
mod llama;
mod mcp;
mod memory;
mod memory_hybrid;
mod proxy;
mod publish;
mod readme;
mod run;
mod servers;
mod snapshot_backends;
mod snapshot_errors;
mod snapshot_memory;
mod snapshot_runs;
mod snapshot_workers;
mod stats;
mod support;
mod workers;

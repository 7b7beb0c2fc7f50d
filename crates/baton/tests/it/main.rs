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

mod apply;
mod config;
mod dispatch;
mod llama;
mod mcp;
mod memory;
mod memory_hybrid;
mod readme;
mod servers;
mod stats;
mod support;
mod workers;

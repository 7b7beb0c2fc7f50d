//! Integration tests of `baton-mcp`, one binary (STYLE.md section 7):
//! - `inproc`: rmcp's client talks to [`baton_mcp::BatonMcp`] over `tokio::io::duplex`;
//! - `python`: the official Python MCP SDK talks to the `mcp_fixture` example over stdio and
//!   streamable HTTP;
//! - `runs`: the official Python MCP SDK drives a run through the real `baton mcp`: started,
//!   followed, reviewed, signed off;
//! - `stdio`: stdout carries only JSON-RPC in stdio mode, logs go to stderr.

// Test helpers outside `#[test]` functions panic on failure too (clippy.toml allows it only
// inside them).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests start the binary under test and tools directly"
)]

mod common;
mod inproc;
mod python;
mod runs;
mod stdio;

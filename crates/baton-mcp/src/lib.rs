//! Baton as an MCP server (DESIGN.md section 1, `baton mcp`): tools any agent (Claude Code,
//! Codex, goose) can call over the project's shared memory, its supervised workers, model
//! dispatch and runs of the pipeline, each a call into `baton-ops` or `baton-pipeline`.
//!
//! Parts:
//! - `server.rs`: [`BatonMcp`], its fifteen tools and the server info and instructions;
//! - `tools.rs`: each tool's argument checks and its call into `baton-ops`;
//! - `runs.rs`: the same for the run tools, whose calls go into `baton-pipeline`;
//! - `args.rs`: the argument extractor, whose errors name the argument at fault;
//! - `params.rs`: the tools' arguments, whose doc comments are the input schemas' descriptions;
//! - `transport.rs`: [`serve_stdio`], [`serve_http`] and [`http_router`];
//! - `error.rs`: [`McpError`] and [`ToolFailure`], the one mapping to tool errors.
//!
//! In stdio mode stdout carries the protocol and nothing else, hence the lints below; logs
//! go to stderr through `tracing`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod error;
mod params;
mod runs;
mod server;
mod tools;
mod transport;

pub use error::{McpError, ToolFailure};
pub use params::{
    DispatchParams, MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams,
    RunListParams, RunResumeParams, RunReviewParams, RunStartParams, RunStatusParams,
    WorkerIdParams, WorkerLogsParams, WorkerSpawnParams,
};
pub use server::{BatonMcp, INSTRUCTIONS};
pub use transport::{HTTP_PATH, http_router, serve_http, serve_http_on, serve_stdio};

//! Baton as an MCP server (DESIGN.md section 1, `baton mcp`): tools any agent (Claude Code,
//! Codex, goose) can call over the project's shared memory, its supervised workers and model
//! dispatch.
//!
//! Parts:
//! - `server.rs`: [`BatonMcp`], its ten tools and the server info and instructions;
//! - `ops.rs`: what the memory and worker tools do against the store, without MCP types;
//! - `args.rs`: the argument extractor, whose errors name the argument at fault;
//! - `params.rs`: the tools' arguments, whose doc comments are the input schemas' descriptions;
//! - `actions.rs`: [`Actions`], what the `baton` binary provides (spawning, dispatching);
//! - `transport.rs`: [`serve_stdio`], [`serve_http`] and [`http_router`];
//! - `error.rs`: [`McpError`] and [`ToolFailure`], the one mapping to tool errors.
//!
//! In stdio mode stdout carries the protocol and nothing else, hence the lints below; logs
//! go to stderr through `tracing`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod actions;
mod args;
mod error;
mod ops;
mod params;
mod server;
mod transport;

pub use actions::{Actions, DispatchFuture};
pub use error::{McpError, ToolFailure};
pub use ops::DEFAULT_NAMESPACE;
pub use params::{
    DispatchParams, MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams,
    WorkerIdParams, WorkerLogsParams, WorkerSpawnParams,
};
pub use server::{BatonMcp, INSTRUCTIONS};
pub use transport::{HTTP_PATH, http_router, serve_http, serve_http_on, serve_stdio};

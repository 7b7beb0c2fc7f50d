//! Dev-only helpers for Baton's tests and benchmarks.
//!
//! - [`scripted`]: a scripted OpenAI/Anthropic-compatible HTTP server ([`ScriptedServer`],
//!   [`BlockingScriptedServer`]) that plays llama-server, Ollama, OpenAI or Anthropic for what
//!   a real model cannot do on cue: errors, hangs, cut and malformed streams, exact replies,
//!   and a model stuck in a loop (which reports whether the client went away).
//!   The `scripted-server` binary runs the same server as a process, for benchmarks.
//! - [`script`]: what that server answers ([`Script`], [`Reply`]).
//! - [`rig`]: starts the real llama-server of the LLM rig for tests.
//! - [`agent`]: a fake agent CLI ([`fake_agent`]) for tests of agent CLIs as workers.
//! - [`host`]: git as a test user, and the processes a test left running.
//! - [`linear`]: a scripted Linear GraphQL endpoint ([`FakeLinear`]) that validates each
//!   request against Linear's schema (an excerpt in `fixtures/linear-schema.graphql`) and
//!   answers it from the issues a test seeded.
//! - [`gh`]: a recording `gh` ([`fake_gh`]) for tests of GitHub publishing.
//! - [`webhook`]: a webhook receiver ([`WebhookReceiver`]) recording what is POSTed to it.
//! - [`serve`]: a router served from a thread of its own, for plain `#[test]`s.

pub mod agent;
pub mod gh;
pub mod host;
pub mod linear;
pub mod rig;
pub mod script;
pub mod scripted;
pub mod serve;
pub mod webhook;

mod respond;
mod routes;
mod wire;

pub use agent::{FakeAgent, FakeAgentRecord, fake_agent};
pub use gh::{FakeGh, FakeGhRecord, GhCall, fake_gh};
pub use linear::{FakeLinear, LinearRequest};
pub use script::{LOOP_MAX_TOKENS, RawEvent, Reply, SCRIPTED_PROMPT_TOKENS, Script, UsageSpec};
pub use scripted::{BlockingScriptedServer, LoopEnd, LoopReport, RecordedRequest, ScriptedServer};
pub use webhook::{Received, WebhookReceiver};

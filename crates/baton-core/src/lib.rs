//! Domain and wire types shared by every Baton room. No I/O lives here: these are the
//! values that cross crate boundaries (a chat request, a usage count, a ledger row).
//!
//! Parts: [`chat`] (requests and messages sent to a model), [`clock`] (the wall clock),
//! [`event`] (the audit trail's typed events), [`usage`] (token counts and
//! whether they were estimated), [`ledger`] (one row per model call attempt, one per applied
//! reply), [`route`] (where a request may go and why it went there, the edit formats), [`sampling`]
//! (top-k/top-p/min-p and the repetition penalties a request may carry),
//! [`worker`] (agent and server processes Baton supervises).

pub mod chat;
pub mod clock;
pub mod event;
pub mod ledger;
pub mod route;
pub mod sampling;
pub mod usage;
pub mod worker;

pub use chat::{ChatMessage, ChatRequest, Role};
pub use clock::now_ms;
pub use event::Event;
pub use ledger::{CallOutcome, CallRecord, EditRecord, ErrorClass, REPETITION_ERROR_PREFIX};
pub use route::{EditFormat, Locality, Route};
pub use sampling::Sampling;
pub use usage::{Usage, estimate_tokens};
pub use worker::{RestartPolicy, WorkerRecord, WorkerRole, WorkerSpec, WorkerStatus};

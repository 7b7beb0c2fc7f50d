//! Domain and wire types shared by every Baton room. No I/O lives here: these are the
//! values that cross crate boundaries (a chat request, a usage count, a ledger row).
//!
//! Parts: [`chat`] (requests and messages sent to a model), [`clock`] (the wall clock),
//! [`event`] (the audit trail's typed events), [`ticket`] (a ticket read from markdown: its
//! acceptance criteria, scope and constraints), [`plan`] (a run's spec, the architect's plan
//! and its checks and schema, the reviewer's verdict), [`usage`] (token counts and
//! whether they were estimated), [`ledger`] (one row per model call attempt, one per applied
//! reply), [`route`] (where a request may go and why it went there, the edit formats), [`sampling`]
//! (top-k/top-p/min-p and the repetition penalties a request may carry), [`publish`] (where a
//! run's trail is published),
//! [`run`] (a pipeline run: its status, phases and row), [`worker`] (agent and server
//! processes Baton supervises).

pub mod chat;
pub mod clock;
pub mod event;
pub mod ledger;
pub mod plan;
pub mod publish;
pub mod route;
pub mod run;
pub mod sampling;
pub mod ticket;
pub mod usage;
pub mod worker;

pub use chat::{AnswerSchema, ChatMessage, ChatRequest, Role};
pub use clock::now_ms;
pub use event::Event;
pub use ledger::{CallOutcome, CallRecord, EditRecord, ErrorClass, REPETITION_ERROR_PREFIX};
pub use plan::{Check, Finding, Plan, PlanProblem, Spec, Subtask, SubtaskKind, Verdict};
pub use route::{EditFormat, Locality, Route};
pub use run::{Phase, RunRecord, RunStatus};
pub use sampling::Sampling;
pub use ticket::{Ticket, TicketError};
pub use usage::{Usage, estimate_tokens};
pub use worker::{RestartPolicy, WorkerRecord, WorkerRole, WorkerSpec, WorkerStatus};

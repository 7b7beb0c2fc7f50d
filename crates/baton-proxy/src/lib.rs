//! `baton proxy`: the loopback model gateway. Agent CLIs speak OpenAI Chat Completions,
//! OpenAI Responses or Anthropic Messages to it; each request is routed like `baton dispatch`
//! (profiles, pools, retries, fallback, the context check), passed through untouched where
//! the chosen backend speaks the client's dialect and translated both ways through the chat
//! pivot where it does not, adapted for small local models, and recorded in the ledger.
//!
//! Parts: [`server`] (the endpoints), [`relay`] (one request: plan, attempts, answer),
//! [`upstream`] (one attempt at one endpoint), [`session`] (a streamed answer on its way
//! back), [`adapt`] (what is changed for a backend), [`rescue`] (tool calls written as
//! text), [`translate`] (the dialects to and from the chat pivot), [`ledger`], [`error`].

pub mod adapt;
pub mod error;
pub mod ledger;
pub mod relay;
pub mod rescue;
pub mod server;
pub mod session;
pub mod translate;
pub mod upstream;

use std::sync::Arc;

use baton_ops::{OpsError, Project};

pub use error::ProxyError;
pub use relay::Shared;

impl Shared {
    /// What a proxy over `project` shares between its requests: the settings, one
    /// dispatcher (so the endpoint pools and their slots are the ones every request uses),
    /// and the store.
    pub fn of(project: Arc<Project>) -> Result<Arc<Shared>, OpsError> {
        Ok(Arc::new(Shared {
            settings: project.settings()?,
            dispatcher: project.dispatcher()?,
            store: project.pool()?,
            project,
        }))
    }
}

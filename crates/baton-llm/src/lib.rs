//! Baton's model layer: clients for the OpenAI-compatible and Anthropic dialects
//! (streaming, usage, error classes), the endpoint pool, the router (profiles, routes,
//! fallback), context gathering, preflight probes and the cache policy. It knows nothing of
//! the store: it returns ledger records and the caller writes them.
//!
//! Parts: [`wire`] (dialects), [`client`] (one streamed call), [`error`], [`pool`],
//! [`router`], [`dispatch`] (retries and fallback), [`repetition`] (replies that loop on themselves), [`context`], [`embeddings`] (`/v1/embeddings` vectors), [`sections`] (ranking
//! sections of long documents), [`probe`], [`cache`], [`secret`].

pub mod cache;
pub mod client;
pub mod context;
pub mod dispatch;
pub mod embeddings;
pub mod error;
pub mod pool;
pub mod probe;
pub mod repetition;
pub mod router;
pub mod secret;
pub mod sections;
pub mod wire;

pub use dispatch::{DispatchFailure, DispatchInput, DispatchResult, Dispatcher, ReplySink};
pub use error::{CallError, DispatchError};
pub use router::{RoutePlan, Target};

/// Installs the TLS crypto provider (ring) once per process; HTTPS calls need it.
pub fn init_tls() {
    // Err means a provider is already installed, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

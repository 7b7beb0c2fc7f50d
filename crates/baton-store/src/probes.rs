//! The last health probe of each model server URL: whether it answered, what server it is,
//! which models it serves and the context it really has. `baton doctor` writes and shows
//! them; the endpoint pool reads them to skip a server known to be down.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::codec::json;
use crate::{Store, StoreError};

/// What probing one URL found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointProbe {
    /// The endpoint's base URL, without credentials.
    pub url: String,
    pub probed_at_ms: i64,
    /// Whether the server answered its health check.
    pub ok: bool,
    /// The server software, when it could be told (`llama.cpp`, `ollama`, `vllm`, ...).
    pub server_kind: Option<String>,
    /// The model names it lists.
    pub models: Vec<String>,
    /// The context size the server reports serving, when it reports one.
    pub n_ctx: Option<u64>,
    /// Why the probe failed, as baton worded it.
    pub error: Option<String>,
}

impl Store {
    /// Records `probe` as the latest for its URL, replacing the previous one.
    pub fn put_probe(&self, probe: &EndpointProbe) -> Result<(), StoreError> {
        const WHAT: &str = "record an endpoint probe";
        let models = serde_json::to_string(&probe.models).map_err(|source| StoreError::Encode {
            what: "probed models",
            source,
        })?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO endpoints
                    (url, probed_at_ms, ok, server_kind, models, n_ctx, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.execute(params![
            probe.url,
            probe.probed_at_ms,
            probe.ok,
            probe.server_kind,
            models,
            probe.n_ctx,
            probe.error
        ])
        .map_err(self.query_err(WHAT))?;
        Ok(())
    }

    /// The latest probe of `url`, if it was ever probed.
    pub fn get_probe(&self, url: &str) -> Result<Option<EndpointProbe>, StoreError> {
        const WHAT: &str = "read an endpoint probe";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT url, probed_at_ms, ok, server_kind, models, n_ctx, error
                 FROM endpoints WHERE url = ?1",
            )
            .map_err(self.query_err(WHAT))?;
        stmt.query_row([url], |row| {
            Ok(EndpointProbe {
                url: row.get(0)?,
                probed_at_ms: row.get(1)?,
                ok: row.get(2)?,
                server_kind: row.get(3)?,
                models: json(row, 4)?,
                n_ctx: row.get(5)?,
                error: row.get(6)?,
            })
        })
        .optional()
        .map_err(self.query_err(WHAT))
    }
}

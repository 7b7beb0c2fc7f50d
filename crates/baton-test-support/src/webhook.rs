//! A webhook receiver: records every POST (its headers and body) and answers 200, or 500 to
//! the first requests it is told to fail, for tests of webhook publishing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::serve::{Served, serve};

/// One request received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// Whether it was answered 200 (the failed ones are recorded too).
    pub accepted: bool,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    fail_left: u32,
}

/// A running receiver at `url()/hook`.
pub struct WebhookReceiver {
    served: Served,
    shared: Arc<Mutex<Shared>>,
}

impl WebhookReceiver {
    /// Starts it; its first `fail_first` requests are answered 500.
    pub fn start(fail_first: u32) -> anyhow::Result<WebhookReceiver> {
        let shared = Arc::new(Mutex::new(Shared {
            received: Vec::new(),
            fail_left: fail_first,
        }));
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        Ok(WebhookReceiver {
            served: serve(router)?,
            shared,
        })
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.served.url())
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .received
            .clone()
    }

    /// Answer the next `n` requests with 500.
    pub fn fail_next(&self, n: u32) {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fail_left = n;
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut shared = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let accepted = if shared.fail_left > 0 {
        shared.fail_left -= 1;
        false
    } else {
        true
    };
    shared.received.push(Received {
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    value.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
        accepted,
    });
    if accepted {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

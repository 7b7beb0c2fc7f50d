//! The endpoint pool of one backend: requests go to the endpoint with the fewest in flight,
//! at most `slots` each, and wait for a free slot when all are busy. An endpoint that fails
//! `failures_before_eject` times in a row leaves the rotation until a health probe passes.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{CallError, TimeoutPhase};
use crate::secret::redact_url;

/// How long an ejected endpoint waits before it is probed again.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct EndpointState {
    url: String,
    in_flight: u32,
    served: u64,
    consecutive_failures: u32,
    ejected: bool,
    next_probe_at: Option<Instant>,
    probing: bool,
}

/// A health view of one endpoint, for `baton doctor` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    pub url: String,
    pub in_flight: u32,
    pub served: u64,
    pub ejected: bool,
}

/// The pool of one backend.
#[derive(Debug)]
pub struct Pool {
    slots: u32,
    failures_before_eject: u32,
    state: Mutex<Vec<EndpointState>>,
    freed: Notify,
    http: reqwest::Client,
}

/// A slot on one endpoint, given back when dropped.
#[derive(Debug)]
pub struct Lease {
    pool: Arc<Pool>,
    index: usize,
    pub url: String,
}

impl Pool {
    pub fn new(
        urls: &[String],
        slots: u32,
        failures_before_eject: u32,
        http: reqwest::Client,
    ) -> Arc<Pool> {
        let state = urls
            .iter()
            .map(|url| EndpointState {
                url: url.trim_end_matches('/').to_string(),
                in_flight: 0,
                served: 0,
                consecutive_failures: 0,
                ejected: false,
                next_probe_at: None,
                probing: false,
            })
            .collect();
        Arc::new(Pool {
            slots: slots.max(1),
            failures_before_eject: failures_before_eject.max(1),
            state: Mutex::new(state),
            freed: Notify::new(),
            http,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<EndpointState>> {
        // A panic while holding this lock leaves plain counters behind: keep using them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot on the least loaded healthy endpoint, preferring endpoints not in
    /// `avoid` (e.g. the one that just failed). Waits for a slot until `wait_limit`.
    pub async fn acquire(
        self: &Arc<Self>,
        avoid: Option<&str>,
        wait_limit: Option<Duration>,
    ) -> Result<Lease, CallError> {
        let deadline = wait_limit.map(|limit| Instant::now() + limit);
        loop {
            let notified = self.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                // Probe ejected endpoints whose time has come on every acquire, not only when
                // nothing else is free: otherwise an endpoint ejected next to a healthy one
                // would never be probed, and never come back.
                self.schedule_probes(&mut state);
                if let Some(index) = self.pick(&state, avoid) {
                    let endpoint = &mut state[index];
                    endpoint.in_flight += 1;
                    endpoint.served += 1;
                    return Ok(Lease {
                        pool: Arc::clone(self),
                        index,
                        url: endpoint.url.clone(),
                    });
                }
                if state.iter().all(|endpoint| endpoint.ejected) {
                    let any_probing = state.iter().any(|endpoint| endpoint.probing);
                    if !any_probing {
                        let first = state
                            .first()
                            .map(|e| redact_url(&e.url))
                            .unwrap_or_default();
                        return Err(CallError::Connect {
                            url: first,
                            reason: "every endpoint of the pool is out of rotation after repeated failures".into(),
                        });
                    }
                }
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        let url = self
                            .lock()
                            .first()
                            .map(|e| redact_url(&e.url))
                            .unwrap_or_default();
                        return Err(CallError::Timeout {
                            url,
                            phase: TimeoutPhase::QueueWait,
                            after: wait_limit.unwrap_or_default(),
                        });
                    }
                }
                None => notified.await,
            }
        }
    }

    fn pick(&self, state: &[EndpointState], avoid: Option<&str>) -> Option<usize> {
        let free = |endpoint: &&EndpointState| !endpoint.ejected && endpoint.in_flight < self.slots;
        let best = |skip_avoided: bool| {
            state
                .iter()
                .enumerate()
                .filter(|(_, endpoint)| free(endpoint))
                .filter(|(_, endpoint)| !skip_avoided || Some(endpoint.url.as_str()) != avoid)
                .min_by_key(|(_, endpoint)| (endpoint.in_flight, endpoint.served))
                .map(|(index, _)| index)
        };
        best(true).or_else(|| best(false))
    }

    /// Starts a health probe for each ejected endpoint whose time has come. A probe that
    /// passes puts the endpoint back and wakes waiters.
    fn schedule_probes(self: &Arc<Self>, state: &mut [EndpointState]) {
        let now = Instant::now();
        for (index, endpoint) in state.iter_mut().enumerate() {
            if !endpoint.ejected
                || endpoint.probing
                || endpoint.next_probe_at.is_some_and(|at| at > now)
            {
                continue;
            }
            endpoint.probing = true;
            let pool = Arc::clone(self);
            let url = endpoint.url.clone();
            tokio::spawn(async move {
                let healthy = crate::probe::is_healthy(&pool.http, &url).await;
                let mut state = pool.lock();
                if let Some(endpoint) = state.get_mut(index) {
                    endpoint.probing = false;
                    if healthy {
                        endpoint.ejected = false;
                        endpoint.consecutive_failures = 0;
                        endpoint.next_probe_at = None;
                    } else {
                        endpoint.next_probe_at = Some(Instant::now() + PROBE_INTERVAL);
                    }
                }
                drop(state);
                pool.freed.notify_waiters();
            });
        }
    }

    /// The HTTP client shared by this pool's calls.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The state of every endpoint.
    pub fn status(&self) -> Vec<EndpointStatus> {
        self.lock()
            .iter()
            .map(|endpoint| EndpointStatus {
                url: endpoint.url.clone(),
                in_flight: endpoint.in_flight,
                served: endpoint.served,
                ejected: endpoint.ejected,
            })
            .collect()
    }
}

impl Lease {
    /// Records how the call on this slot went.
    pub fn report(&self, healthy: bool) {
        let mut state = self.pool.lock();
        if let Some(endpoint) = state.get_mut(self.index) {
            if healthy {
                endpoint.consecutive_failures = 0;
            } else {
                endpoint.consecutive_failures += 1;
                if endpoint.consecutive_failures >= self.pool.failures_before_eject {
                    endpoint.ejected = true;
                    endpoint.next_probe_at = Some(Instant::now() + PROBE_INTERVAL);
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        if let Some(endpoint) = state.get_mut(self.index) {
            endpoint.in_flight = endpoint.in_flight.saturating_sub(1);
        }
        drop(state);
        self.pool.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(urls: &[&str], slots: u32) -> Arc<Pool> {
        let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        crate::init_tls();
        Pool::new(&urls, slots, 2, reqwest::Client::new())
    }

    #[tokio::test]
    async fn requests_spread_to_the_least_loaded_endpoint() {
        let pool = pool(&["http://a", "http://b"], 2);
        let first = pool.acquire(None, None).await.unwrap();
        let second = pool.acquire(None, None).await.unwrap();
        assert_ne!(first.url, second.url);
    }

    #[tokio::test]
    async fn a_full_pool_makes_the_next_request_wait_for_a_slot() {
        let pool = pool(&["http://a"], 1);
        let held = pool.acquire(None, None).await.unwrap();
        let waited = pool.acquire(None, Some(Duration::from_millis(50))).await;
        assert!(matches!(
            waited,
            Err(CallError::Timeout {
                phase: TimeoutPhase::QueueWait,
                ..
            })
        ));
        let waiter = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                pool.acquire(None, None)
                    .await
                    .map(|lease| lease.url.clone())
            }
        });
        drop(held);
        assert_eq!(waiter.await.unwrap().unwrap(), "http://a");
    }

    #[tokio::test]
    async fn repeated_failures_take_an_endpoint_out_of_rotation() {
        let pool = pool(&["http://127.0.0.1:9", "http://b"], 4);
        for _ in 0..2 {
            let lease = pool.acquire(Some("http://b"), None).await.unwrap();
            assert_eq!(lease.url, "http://127.0.0.1:9");
            lease.report(false);
        }
        assert!(pool.status()[0].ejected);
        let lease = pool.acquire(None, None).await.unwrap();
        assert_eq!(lease.url, "http://b");
    }

    #[tokio::test]
    async fn the_avoided_endpoint_is_used_when_it_is_the_only_one() {
        let pool = pool(&["http://a"], 1);
        let lease = pool.acquire(Some("http://a"), None).await.unwrap();
        assert_eq!(lease.url, "http://a");
    }
}

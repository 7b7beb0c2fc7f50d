//! Health of model servers: when to probe, what a run of failed probes means, and the probe
//! itself, one plain HTTP/1.0 GET to a loopback-style URL, healthy when the answer is `200`.
//! No HTTP client crate: this is one request line and one status line, and `baton-exec`
//! should not pull a TLS stack for it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The whole probe (connect, send, read the status line) within this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Probe this often until the first healthy answer...
const READY_PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// ...and this often after it.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// Failed probes in a row (after ready) that make a server unhealthy.
const MAX_PROBE_FAILURES: u32 = 3;

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What a probe's answer changed.
pub(super) enum Probed {
    BecameReady,
    Unhealthy(String),
    Nothing,
}

/// The probing of one running server: the next probe's time, the probe under way, the
/// failures in a row, and when it first answered.
pub(super) struct Health {
    url: Option<String>,
    next: Option<Instant>,
    under_way: Option<ProbeFuture>,
    failures: u32,
    ready_at: Option<Instant>,
}

impl Health {
    /// Probing `url`; without one, the server counts as ready from the start.
    pub(super) fn new(url: Option<String>) -> Self {
        let now = Instant::now();
        Health {
            next: url.as_ref().map(|_| now + READY_PROBE_INTERVAL),
            ready_at: if url.is_none() { Some(now) } else { None },
            url,
            under_way: None,
            failures: 0,
        }
    }

    /// Agents: never probed, never ready.
    pub(super) fn none() -> Self {
        Health {
            url: None,
            next: None,
            under_way: None,
            failures: 0,
            ready_at: None,
        }
    }

    pub(super) fn ready_at(&self) -> Option<Instant> {
        self.ready_at
    }

    /// When the next probe is due (none while one is under way).
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.next.filter(|_| self.under_way.is_none())
    }

    pub(super) fn start_probe(&mut self) {
        self.next = None;
        if let Some(url) = &self.url {
            self.under_way = Some(Box::pin(probe(url.clone())));
        }
    }

    /// The answer of the probe under way (never, if none is).
    pub(super) async fn answer(&mut self) -> Result<(), String> {
        match &mut self.under_way {
            Some(probe) => probe.as_mut().await,
            None => std::future::pending().await,
        }
    }

    /// Takes in a probe's answer and schedules the next probe.
    pub(super) fn take(&mut self, answer: Result<(), String>) -> Probed {
        self.under_way = None;
        let news = match answer {
            Ok(()) => {
                self.failures = 0;
                if self.ready_at.is_none() {
                    self.ready_at = Some(Instant::now());
                    Probed::BecameReady
                } else {
                    Probed::Nothing
                }
            }
            // Before the first healthy answer, failures are a server still loading its
            // model, not a sick one.
            Err(_) if self.ready_at.is_none() => Probed::Nothing,
            Err(problem) => {
                self.failures += 1;
                tracing::warn!(%problem, failures = self.failures, "health probe failed");
                if self.failures >= MAX_PROBE_FAILURES {
                    Probed::Unhealthy(format!(
                        "health check failed {} times in a row: {problem}",
                        self.failures
                    ))
                } else {
                    Probed::Nothing
                }
            }
        };
        let interval = if self.ready_at.is_some() {
            HEALTH_PROBE_INTERVAL
        } else {
            READY_PROBE_INTERVAL
        };
        self.next = Some(Instant::now() + interval);
        news
    }
}
/// A status line is short; more than this before `\r\n` is not HTTP.
const MAX_STATUS_LINE_BYTES: usize = 1024;

/// `http://HOST[:PORT][/PATH]` split up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HealthUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
}

pub(crate) fn parse_url(url: &str) -> Result<HealthUrl, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("health URL {url} is not http:// (https is not probed)"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    // `[::1]:8080` or `host:8080` or `host`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port = port
                .parse()
                .map_err(|_| format!("health URL {url} has a bad port"))?;
            (host, port)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("health URL {url} has no host"));
    }
    Ok(HealthUrl {
        host: host.into(),
        port,
        path: path.into(),
    })
}

/// Probes `url` once. `Err` says what went wrong, for the restart reason.
async fn probe(url: String) -> Result<(), String> {
    let target = parse_url(&url)?;
    match tokio::time::timeout(PROBE_TIMEOUT, get_status(&target)).await {
        Ok(Ok(200)) => Ok(()),
        Ok(Ok(status)) => Err(format!("{url} answered HTTP {status}")),
        Ok(Err(error)) => Err(format!("{url}: {error}")),
        Err(_) => Err(format!(
            "{url} did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

async fn get_status(target: &HealthUrl) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        target.path, target.host, target.port
    );
    stream.write_all(request.as_bytes()).await?;
    let mut line = Vec::new();
    let mut byte = [0; 256];
    while !line.windows(2).any(|pair| pair == b"\r\n") && line.len() < MAX_STATUS_LINE_BYTES {
        let read = stream.read(&mut byte).await?;
        if read == 0 {
            break;
        }
        line.extend_from_slice(&byte[..read]);
    }
    // `HTTP/1.1 200 OK`
    let text = String::from_utf8_lossy(&line);
    text.split_whitespace()
        .nth(1)
        .filter(|_| text.starts_with("HTTP/"))
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn health_urls_split_into_host_port_and_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:11438/health").unwrap(),
            HealthUrl {
                host: "127.0.0.1".into(),
                port: 11438,
                path: "/health".into()
            }
        );
        assert_eq!(
            parse_url("http://localhost").unwrap(),
            HealthUrl {
                host: "localhost".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            parse_url("http://[::1]:8080/v1/models").unwrap(),
            HealthUrl {
                host: "::1".into(),
                port: 8080,
                path: "/v1/models".into()
            }
        );
        assert!(parse_url("https://example.com/health").is_err());
        assert!(parse_url("http://host:notaport/").is_err());
    }
}

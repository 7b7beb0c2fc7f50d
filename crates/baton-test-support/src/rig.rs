//! The real model server for tests: llama.cpp's `llama-server` with a small coder model,
//! as installed by `bash scripts/install-llm.sh`.
//!
//! [`LlamaServer::start`] finds the binary and the model, starts the server on a free
//! loopback port in its own process group and blocks until `GET /health` answers 200.
//! Dropping the value stops the whole group (SIGTERM, up to 5 s grace, then SIGKILL) and
//! reaps the child, so a test leaves no process behind.
//!
//! Where things are looked up:
//! - binary: `$BATON_TEST_LLAMA_SERVER`, else `$BATON_LLM_HOME/bin/llama-server`, else
//!   `~/.cache/baton/llm/bin/llama-server`;
//! - model: `$BATON_TEST_LLAMA_MODEL`, else `$BATON_LLM_HOME/models/qwen2.5-coder-0.5b.gguf`,
//!   else `~/.cache/baton/llm/models/qwen2.5-coder-0.5b.gguf`.
//!
//! A missing binary or model is an error that says to run `bash scripts/install-llm.sh`:
//! tests that need the real server fail where it is not installed, they never pass silently.
//! Put `llama` in the name of such tests: `.config/nextest.toml` runs them one at a time.

#![allow(
    clippy::disallowed_methods,
    reason = "the test rig starts llama-server directly"
)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The model used when `BATON_TEST_LLAMA_MODEL` is not set.
const DEFAULT_MODEL: &str = "qwen2.5-coder-0.5b";
/// The model of [`LlamaServer::start_agent_model`] when `BATON_TEST_LLAMA_AGENT_MODEL` is
/// not set.
const AGENT_MODEL: &str = "qwen2.5-coder-1.5b";
/// Server slots (`-np`): concurrent requests.
const SLOTS: u64 = 2;
/// Total context (`-c`); llama-server splits it evenly over the slots.
const CTX_TOTAL: u64 = 8192;
/// How long the server may take to load the model and answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(180);
const POLL_EVERY: Duration = Duration::from_millis(100);
/// Grace between SIGTERM and SIGKILL when stopping.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Log lines shown when the server dies or never becomes healthy.
const LOG_TAIL_LINES: usize = 15;
/// Attempts when the free port picked was taken by someone else before the server bound it.
const PORT_ATTEMPTS: usize = 3;
const INSTALL_HINT: &str = "run `bash scripts/install-llm.sh` (or `bash scripts/test.sh`, which runs it) \
     or set BATON_TEST_LLAMA_SERVER and BATON_TEST_LLAMA_MODEL";

/// A running `llama-server` owned by a test. Stopped (with its process group) on drop.
#[derive(Debug)]
pub struct LlamaServer {
    child: Child,
    pgid: i32,
    port: u16,
    alias: String,
    log_path: PathBuf,
    // Declared last so that it is removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl LlamaServer {
    /// Starts the server and blocks until it is healthy (at most 180 s).
    ///
    /// Errors when the binary or model is not installed (with the install hint), when the
    /// server exits during start-up (with the last lines of its log) or when it does not
    /// become healthy in time.
    pub fn start() -> anyhow::Result<LlamaServer> {
        Self::start_with(&[])
    }

    /// [`LlamaServer::start`] with extra command-line arguments (e.g. `--embeddings`).
    pub fn start_with(extra_args: &[&str]) -> anyhow::Result<LlamaServer> {
        let (server, model) = locate("BATON_TEST_LLAMA_MODEL", DEFAULT_MODEL)?;
        Self::start_located(server, model, extra_args)
    }

    /// The server with the rig's larger model, for agent CLIs whose prompts need more of a
    /// model than the default one gives: `$BATON_TEST_LLAMA_AGENT_MODEL`, else
    /// `$BATON_LLM_HOME/models/qwen2.5-coder-1.5b.gguf` (`scripts/test.sh` installs it).
    pub fn start_agent_model(extra_args: &[&str]) -> anyhow::Result<LlamaServer> {
        let (server, model) = locate("BATON_TEST_LLAMA_AGENT_MODEL", AGENT_MODEL)?;
        Self::start_located(server, model, extra_args)
    }

    fn start_located(
        server: PathBuf,
        model: PathBuf,
        extra_args: &[&str],
    ) -> anyhow::Result<LlamaServer> {
        let alias = model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        let mut attempt = 1;
        loop {
            match Self::start_once(&server, &model, &alias, extra_args) {
                Ok(started) => return Ok(started),
                Err(StartError::PortTaken(_)) if attempt < PORT_ATTEMPTS => attempt += 1,
                Err(StartError::PortTaken(err) | StartError::Other(err)) => return Err(err),
            }
        }
    }

    fn start_once(
        server: &Path,
        model: &Path,
        alias: &str,
        extra_args: &[&str],
    ) -> Result<LlamaServer, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("baton-llama-")
            .tempdir()
            .context("creating a temp dir for the llama-server log")?;
        let log_path = dir.path().join("llama-server.log");
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context("duplicating the log file handle")?;
        let port = free_port()?;
        let child = Command::new(server)
            .arg("-m")
            .arg(model)
            .args([
                "--alias",
                alias,
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args([
                "-np",
                &SLOTS.to_string(),
                "-c",
                &CTX_TOTAL.to_string(),
                "-t",
                "2",
            ])
            .args(["--no-webui", "--metrics"])
            .args(extra_args)
            // Without it OpenMP threads spin at barriers and generation collapses whenever
            // another process competes for the cores.
            .env("OMP_WAIT_POLICY", "passive")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {}", server.display()))?;
        let pgid = i32::try_from(child.id()).context("pid out of range")?;
        let mut started = LlamaServer {
            child,
            pgid,
            port,
            alias: alias.to_owned(),
            log_path,
            _dir: dir,
        };
        // On any error below `started` is dropped, which stops the process.
        started.wait_healthy()?;
        Ok(started)
    }

    fn wait_healthy(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for llama-server")? {
                let tail = self.log_tail(LOG_TAIL_LINES);
                let err = anyhow!(
                    "llama-server exited during start-up ({status}); last log lines:\n{tail}"
                );
                let port_taken =
                    tail.contains("couldn't bind") || tail.contains("Address already in use");
                return Err(if port_taken {
                    StartError::PortTaken(err)
                } else {
                    StartError::Other(err)
                });
            }
            if matches!(http_get(self.port, "/health"), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let tail = self.log_tail(LOG_TAIL_LINES);
                return Err(StartError::Other(anyhow!(
                    "llama-server did not answer GET /health with 200 within {}s; last log lines:\n{tail}",
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The model id the server reports in `/v1/models` (the model file's stem, e.g.
    /// `qwen2.5-coder-0.5b`).
    pub fn model_alias(&self) -> &str {
        &self.alias
    }

    /// The server's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Context tokens per slot: a prompt plus completion longer than this is refused.
    pub fn n_ctx_per_slot(&self) -> u64 {
        CTX_TOTAL / SLOTS
    }

    /// The server's log (stdout and stderr); removed when the server is dropped.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut bytes = Vec::new();
        if File::open(&self.log_path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .is_err()
        {
            return String::from("(log unreadable)");
        }
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return; // already exited and reaped
        }
        let group = Pid::from_raw(self.pgid);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum StartError {
    /// The picked port was taken before the server could bind it: worth another try.
    PortTaken(anyhow::Error),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(err: anyhow::Error) -> Self {
        StartError::Other(err)
    }
}

/// The llama-server binary and the model file, or an error with the install hint.
fn locate(model_var: &str, default_model: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let llm_home = || -> anyhow::Result<PathBuf> {
        if let Some(home) = std::env::var_os("BATON_LLM_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(home));
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".cache/baton/llm")),
            None => bail!("neither BATON_LLM_HOME nor HOME is set; {INSTALL_HINT}"),
        }
    };
    let server = match std::env::var_os("BATON_TEST_LLAMA_SERVER").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => llm_home()?.join("bin/llama-server"),
    };
    let model = match std::env::var_os(model_var).filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => llm_home()?.join(format!("models/{default_model}.gguf")),
    };
    if !server.is_file() {
        bail!(
            "llama-server not found at {}; {INSTALL_HINT}",
            server.display()
        );
    }
    if !model.is_file() {
        bail!("model not found at {}; {INSTALL_HINT}", model.display());
    }
    Ok((server, model))
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("binding 127.0.0.1:0 to pick a port")?;
    Ok(listener.local_addr()?.port())
}

/// A minimal HTTP/1.1 GET on 127.0.0.1: the status code and the raw rest of the response.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| text.starts_with("HTTP/1."))
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:.80}")))?;
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sys::signal::kill;

    #[test]
    fn llama_server_starts_answers_health_and_leaves_no_process() -> anyhow::Result<()> {
        let server = LlamaServer::start()?;
        let pid = server.pid();
        let port: u16 = server
            .base_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("port in base_url")?;
        assert_eq!(server.openai_url(), format!("http://127.0.0.1:{port}/v1"));
        assert_eq!(server.n_ctx_per_slot(), 4096);

        let (status, body) = http_get(port, "/health")?;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("ok"), "{body}");
        let (status, body) = http_get(port, "/v1/models")?;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("\"{}\"", server.model_alias())),
            "alias {} not in {body}",
            server.model_alias()
        );
        let log = server.log_path().to_path_buf();
        assert!(log.is_file());

        drop(server);
        let pid = Pid::from_raw(i32::try_from(pid)?);
        assert_eq!(
            kill(pid, None),
            Err(Errno::ESRCH),
            "llama-server still exists"
        );
        assert_eq!(
            killpg(pid, None),
            Err(Errno::ESRCH),
            "its process group still exists"
        );
        assert!(!log.exists(), "the log dir is removed with the server");
        assert!(
            TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_secs(1)
            )
            .is_err(),
            "port {port} still answers"
        );
        Ok(())
    }
}

//! Model servers under supervision: health probes, readiness, restart after a crash.
//! The "server" is Python's `http.server`, which answers `GET /` with 200.

use std::net::TcpListener;

use baton_core::{RestartPolicy, WorkerRole, WorkerStatus};
use baton_exec::StopRequest;
use pretty_assertions::assert_eq;

use crate::support::{Seen, run_controlled, spec, wait_for};

/// A port nothing listens on right now (the OS picks it; it is free again once dropped).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_server_that_crashes_once_is_restarted_and_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // First start: crash. Second: serve.
    let script = format!(
        "if [ ! -f crashed ]; then touch crashed; echo crashing; exit 1; fi; \
         exec python3 -m http.server {port} --bind 127.0.0.1"
    );
    let mut spec = spec(dir.path(), &script);
    spec.role = WorkerRole::Server;
    spec.restart = RestartPolicy::OnFailure;
    spec.health_url = Some(format!("http://127.0.0.1:{port}/"));
    let run = run_controlled(dir.path(), &spec, |mut events, stop| async move {
        wait_for(&mut events, |seen| *seen == Seen::Ready).await;
        stop.send(StopRequest::Kill).await.unwrap();
    })
    .await;

    assert_eq!(run.outcome.status, WorkerStatus::Killed);
    let seen = &run.recorder.seen;
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(matches!(&seen[0], Seen::Started(started) if started.restarts == 0));
    assert_eq!(seen[1], Seen::Restarting(1, "exited with code 1".into()));
    assert!(matches!(&seen[2], Seen::Started(started) if started.restarts == 1));
    assert_eq!(seen[3], Seen::Ready);
}

#[tokio::test]
async fn a_server_without_restarts_that_exits_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "exit 7");
    spec.role = WorkerRole::Server;
    spec.restart = RestartPolicy::Never;
    spec.health_url = Some(format!("http://127.0.0.1:{}/", free_port()));
    let run = run_controlled(dir.path(), &spec, |_events, _stop| async {}).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(run.outcome.why.as_deref(), Some("exited with code 7"));
    assert_eq!(run.recorder.started().len(), 1);
}

/// A server that answers 200 once, then 500 to every probe.
const SICKLY_SERVER: &str = r#"
import http.server, sys
answered = 0
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global answered
        answered += 1
        self.send_response(200 if answered == 1 else 500)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#;

#[tokio::test]
async fn a_server_that_fails_three_probes_in_a_row_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut spec = spec(dir.path(), "");
    spec.command = vec![
        "python3".into(),
        "-c".into(),
        SICKLY_SERVER.into(),
        port.to_string(),
    ];
    spec.role = WorkerRole::Server;
    spec.restart = RestartPolicy::OnFailure;
    spec.health_url = Some(format!("http://127.0.0.1:{port}/"));
    let run = run_controlled(dir.path(), &spec, |mut events, stop| async move {
        // Ready, sick, restarted, ready again: then stop it.
        wait_for(&mut events, |seen| matches!(seen, Seen::Restarting(..))).await;
        wait_for(&mut events, |seen| *seen == Seen::Ready).await;
        stop.send(StopRequest::Kill).await.unwrap();
    })
    .await;

    assert_eq!(run.outcome.status, WorkerStatus::Killed);
    let seen = &run.recorder.seen;
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[1], Seen::Ready);
    assert_eq!(
        seen[2],
        Seen::Restarting(
            1,
            format!(
                "health check failed 3 times in a row: http://127.0.0.1:{port}/ answered HTTP 500"
            )
        )
    );
    assert!(matches!(&seen[3], Seen::Started(started) if started.restarts == 1));
    assert_eq!(seen[4], Seen::Ready);
}

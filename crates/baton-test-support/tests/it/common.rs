//! Helpers shared by the integration tests: an HTTP client, raw HTTP over std sockets, and
//! SSE parsing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// A reqwest client that talks to loopback directly, whatever proxy the environment sets.
pub(crate) fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider; building a client needs one installed even
    // for plain HTTP. Installing twice fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// One server-sent event: its `event:` name (if any) and its `data:` text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SseEvent {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

impl SseEvent {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|error| {
            panic!("event data is not JSON ({error}): {}", self.data);
        })
    }
}

/// Splits an SSE body on its blank lines.
pub(crate) fn sse_events(body: &str) -> Vec<SseEvent> {
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            let mut name = None;
            let mut data = String::new();
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = value.to_owned();
                } else {
                    panic!("unexpected SSE line {line:?} in {body:?}");
                }
            }
            SseEvent { name, data }
        })
        .collect()
}

/// Sends one HTTP/1.1 request with `Connection: close` over a plain socket and returns all the
/// bytes that came back before the server closed (or reset) the connection.
pub(crate) fn raw_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    raw_send(&mut stream, method, path, body);
    read_until_closed(&mut stream)
}

pub(crate) fn raw_send(stream: &mut TcpStream, method: &str, path: &str, body: &str) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
}

/// Reads until end of file or an error (a reset counts as the end).
pub(crate) fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return received,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Splits a raw response into its head (lower-cased) and body.
pub(crate) fn split_response(response: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    (head.to_ascii_lowercase(), body.to_owned())
}

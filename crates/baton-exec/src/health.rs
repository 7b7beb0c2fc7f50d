//! A one-off health check for callers outside a supervisor (`baton server status`, a
//! dispatch deciding whether to start a backend's server): `GET` a plain-http URL and say
//! whether it answered 200 in time. Supervisors probe with their own async loop.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::supervise::health::parse_url;

/// Whether `url` answers `200` within `timeout` (connect, write and read each).
pub fn check(url: &str, timeout: Duration) -> bool {
    let Ok(target) = parse_url(url) else {
        return false;
    };
    let Some(address) = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err()
        || stream.set_write_timeout(Some(timeout)).is_err()
    {
        return false;
    }
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        target.path, target.host, target.port
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
        if head[..read].windows(2).any(|pair| pair == b"\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head[..read]);
    text.starts_with("HTTP/") && text.split_whitespace().nth(1) == Some("200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_is_not_healthy() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(!check(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_millis(200)
        ));
        assert!(!check(
            "https://example.invalid/",
            Duration::from_millis(200)
        ));
    }

    #[test]
    fn a_200_answer_is_healthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buffer = [0u8; 512];
            let _ = stream.read(&mut buffer);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        assert!(check(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(2)
        ));
        server.join().unwrap();
    }
}

//! A minimal HTTP/1.1 client over a raw TCP stream: exact control of what is sent (HEAD,
//! chunked bodies, half-sent requests) and of what comes back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);

pub use super::Response;

/// Sends one request with `Connection: close` and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = connect(addr);
    stream
        .write_all(&head(method, path, headers, Some(body.len())))
        .unwrap();
    stream.write_all(body).unwrap();
    read_response(&mut stream)
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Connects and sends the head of a chunked `POST /echo`; the caller sends the chunks.
pub fn chunked_echo(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    let headers = [("Transfer-Encoding", "chunked")];
    stream
        .write_all(&head("POST", "/echo", &headers, None))
        .unwrap();
    stream
}

/// The request line and headers, with `Host`, `Connection: close` and, when given,
/// `Content-Length`.
pub fn head(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_length: Option<usize>,
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = content_length {
        text.push_str(&format!("Content-Length: {length}\r\n"));
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Reads one response: its head, then `Content-Length` bytes of body (or, without one, until
/// the server closes the connection).
pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    while complete_length(&raw).is_none() && read_more(stream, &mut raw) {}
    match complete_length(&raw) {
        Some(length) => responses(&raw[..length]).remove(0),
        None => {
            let (mut response, head_len) = parse_head(&raw);
            response.body = raw[head_len..].to_vec();
            response
        }
    }
}

/// Sends `raw` exactly as given, then reads until the server closes the connection.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    // The server may answer and close before reading everything; what it answered still counts.
    let _ = stream.write_all(raw);
    let mut received = Vec::new();
    while read_more(&mut stream, &mut received) {}
    received
}

/// Appends what the server sends next; false once it has closed the connection, or reset it
/// after closing with request bytes still unread.
fn read_more(stream: &mut TcpStream, raw: &mut Vec<u8>) -> bool {
    let mut buf = [0; 64 * 1024];
    match stream.read(&mut buf) {
        Ok(0) => false,
        Ok(n) => {
            raw.extend_from_slice(&buf[..n]);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
        Err(e) => panic!("read: {e}; so far {:?}", String::from_utf8_lossy(raw)),
    }
}

/// The length of the first response in `raw` once it is complete by its `Content-Length`.
fn complete_length(raw: &[u8]) -> Option<usize> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let body: usize = parse_head(raw).0.header("content-length")?.parse().ok()?;
    (raw.len() >= head_end + body).then_some(head_end + body)
}

/// Splits a connection's bytes into responses, each body sized by its `Content-Length`.
pub fn responses(mut raw: &[u8]) -> Vec<Response> {
    let mut all = Vec::new();
    while !raw.is_empty() {
        let (mut response, head_len) = parse_head(raw);
        let length: usize = response
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("no content-length: {response:?}"));
        response.body = raw[head_len..head_len + length].to_vec();
        raw = &raw[head_len + length..];
        all.push(response);
    }
    all
}

/// The status line and headers of the response at the start of `raw`, and the head's length.
fn parse_head(raw: &[u8]) -> (Response, usize) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    (response, split + 4)
}

/// Asserts that `GET /health` answers `{"status":"ok"}` within `limit`.
pub fn assert_health_within(addr: SocketAddr, limit: Duration) {
    let asked = std::time::Instant::now();
    let response = get(addr, "/health");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"status":"ok"}"#);
    assert!(
        asked.elapsed() < limit,
        "/health took {:?}",
        asked.elapsed()
    );
}

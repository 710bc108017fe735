//! The real `HttpServer` from the launcher, bound to port 0, spoken to over TCP.

use crate::support::http::{self, chunked_echo, connect, head, read_response};
use crate::support::spawn_app;
use std::io::Write;

#[test]
fn serves_health_on_an_ephemeral_port() {
    let app = spawn_app(&[]);
    assert_ne!(app.addr.port(), 0);
    let response = http::get(app.addr, "/health");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.body, br#"{"status":"ok"}"#);
}

#[test]
fn head_returns_the_get_status_and_headers_without_a_body() {
    let app = spawn_app(&[("ROOT_PATH", "/v1")]);
    for path in ["/v1", "/v1/health", "/v1/time", "/v1/missing"] {
        let get = http::get(app.addr, path);
        let head = http::request(app.addr, "HEAD", path, &[], b"");
        assert_eq!(head.status, get.status, "{path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
        assert_eq!(
            head.header("content-length"),
            get.header("content-length"),
            "{path}"
        );
        assert!(head.body.is_empty(), "{path}");
    }
}

#[test]
fn echo_round_trips_a_chunked_body() {
    let app = spawn_app(&[]);
    let mut stream = connect(app.addr);
    let headers = [
        ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked"),
    ];
    stream
        .write_all(&head("POST", "/echo", &headers, None))
        .unwrap();
    stream
        .write_all(b"6\r\n{\"b\":1\r\n7\r\n,\"a\":2}\r\n0\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"b":1,"a":2}"#);
}

#[test]
fn echo_refuses_an_announced_oversized_body_without_reading_it() {
    let app = spawn_app(&[("MAX_BODY_BYTES", "1024")]);
    let mut stream = connect(app.addr);
    stream
        .write_all(&head("POST", "/echo", &[], Some(10 * 1024 * 1024)))
        .unwrap();
    let response = read_response(&mut stream);
    assert_eq!(response.status, 413);
    assert_eq!(response.json()["error"], "payload_too_large");
}

#[test]
fn echo_refuses_a_chunked_body_that_grows_past_the_limit() {
    let app = spawn_app(&[("MAX_BODY_BYTES", "16")]);
    let mut stream = chunked_echo(app.addr);
    stream
        .write_all(b"10\r\n[1,2,3,4,5,6,7,8\r\n4\r\n,9]\n\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream).status, 413);
}

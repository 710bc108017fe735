//! The bad-input matrix, from the outside: a real `HttpServer` on an ephemeral port, spoken to
//! over raw TCP. Every case gets its documented answer, and the server answers the next request.
//! Requests that are not valid HTTP never reach the App: actix-http answers them itself with an
//! empty-bodied 400 or 431 and closes the connection; the cases below pin that down too.

use crate::support::http::{
    self, chunked_echo, connect, exchange, head, read_response, responses, Response,
};
use crate::support::process::Service;
use crate::support::spawn_app;
use rust_hybrid_api::limits::CLIENT_REQUEST_TIMEOUT;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

fn assert_still_serving(addr: SocketAddr) {
    http::assert_health_within(addr, Duration::from_secs(20));
}

/// actix-http's own answer to a request it could not take: a status, no body, and a close.
fn assert_bare_refusal(raw: &[u8], status: u16) {
    let all = responses(raw);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, status, "{all:?}");
    assert!(all[0].body.is_empty(), "{all:?}");
    assert_eq!(all[0].header("connection"), Some("close"));
}

fn post_echo(addr: SocketAddr, body: &[u8]) -> Response {
    http::request(
        addr,
        "POST",
        "/echo",
        &[("Content-Type", "application/json")],
        body,
    )
}

#[test]
fn every_malformed_echo_body_gets_a_json_400_and_the_server_carries_on() {
    let app = spawn_app(&[]);
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let cases: [(&str, &[u8]); 11] = [
        ("truncated", br#"{"a":[1,2"#),
        ("trailing garbage", br#"{"a":1} x"#),
        ("invalid UTF-8", b"[\"\xff\xfe\"]"),
        ("lone surrogate", br#"["\ud800"]"#),
        ("NaN", b"NaN"),
        ("Infinity", b"[Infinity]"),
        ("-Infinity", b"-Infinity"),
        ("BOM", b"\xef\xbb\xbf{}"),
        ("single quotes", b"{'a':1}"),
        ("10,000 nested arrays", deep_arrays.as_bytes()),
        ("10,000 nested objects", deep_objects.as_bytes()),
    ];
    for (name, body) in cases {
        let response = post_echo(app.addr, body);
        assert_eq!(response.status, 400, "{name}");
        response.assert_error(400, "invalid_json");
        assert_still_serving(app.addr);
    }
}

#[test]
fn a_body_one_byte_over_the_default_6_mib_limit_gets_413_before_it_is_sent() {
    let app = spawn_app(&[]);
    let mut stream = connect(app.addr);
    stream
        .write_all(&head("POST", "/echo", &[], Some(6 * MIB + 1)))
        .unwrap();
    read_response(&mut stream).assert_error(413, "payload_too_large");
    assert_still_serving(app.addr);
}

#[test]
fn a_chunked_body_over_the_limit_is_refused_without_buffering_it() {
    let (service, addr) = Service::http(&[]);
    let mut stream = chunked_echo(addr);
    // A 64 MiB JSON string in 64 KiB chunks, from another thread. After its 413 the server
    // reads and discards the rest, so memory, not the bytes sent, shows what was buffered.
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
        let mut sent = writer.write_all(b"1\r\n\"\r\n").map_or(0, |()| 1);
        while sent < 64 * MIB && writer.write_all(chunk.as_bytes()).is_ok() {
            sent += 64 * 1024;
        }
        sent
    });
    let response = read_response(&mut stream);
    drop(stream);
    let sent = sender.join().unwrap();
    response.assert_error(413, "payload_too_large");
    let peak = service.peak_rss_kib() / 1024;
    assert!(
        peak < 40,
        "peak RSS {peak} MiB after {sent} bytes: the body was buffered past the limit"
    );
    assert_still_serving(addr);
}

#[test]
fn a_content_length_shorter_than_the_body_reads_only_what_it_announces() {
    let app = spawn_app(&[]);
    // The first 3 bytes are the body; the rest cannot start a request.
    let raw = exchange(
        app.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n[1,2,3]",
    );
    let all = responses(&raw);
    all[0].assert_error(400, "invalid_json");
    assert_eq!(all[1..].len(), 1, "{all:?}");
    assert_eq!(all[1].status, 400, "actix-http refuses the leftover bytes");
    assert_still_serving(app.addr);
}

#[test]
fn a_content_length_longer_than_a_closed_body_gets_a_json_400() {
    let app = spawn_app(&[]);
    let mut stream = connect(app.addr);
    stream
        .write_all(&head("POST", "/echo", &[], Some(100)))
        .unwrap();
    stream.write_all(b"[1,2]").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    read_response(&mut stream).assert_error(400, "unreadable_body");
    assert_still_serving(app.addr);
}

#[test]
fn a_body_that_stalls_gets_a_json_408_after_body_timeout_secs() {
    let app = spawn_app(&[("BODY_TIMEOUT_SECS", "1")]);
    let mut stream = connect(app.addr);
    stream
        .write_all(&head("POST", "/echo", &[], Some(100)))
        .unwrap();
    stream.write_all(b"[1,2").unwrap();
    let started = Instant::now();
    let response = read_response(&mut stream);
    response.assert_error(408, "body_timeout");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_still_serving(app.addr);
}

#[test]
fn malformed_framing_is_refused_by_actix_http_with_a_bare_400() {
    let app = spawn_app(&[]);
    let cases: [&[u8]; 5] = [
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n[]",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[] ",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ];
    for raw in cases {
        assert_bare_refusal(&exchange(app.addr, raw), 400);
        assert_still_serving(app.addr);
    }
}

#[test]
fn oversized_urls_and_headers_get_json_errors_below_actix_limits_and_a_bare_431_above() {
    let app = spawn_app(&[]);
    let kib = |n: usize| "a".repeat(n * 1024);

    let long_url = format!("/health?q={}", kib(10));
    http::get(app.addr, &long_url).assert_error(414, "uri_too_long");
    let big_header = kib(20);
    let response = http::request(app.addr, "GET", "/health", &[("X-Big", &big_header)], b"");
    response.assert_error(431, "headers_too_large");
    assert_still_serving(app.addr);

    // Past actix-http's 128 KiB head buffer or 96 headers, it answers before the App can.
    let huge_url = format!("GET /health?q={} HTTP/1.1\r\nHost: x\r\n\r\n", kib(200));
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        kib(200)
    );
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..100)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for raw in [huge_url, huge_header, many_headers] {
        assert_bare_refusal(&exchange(app.addr, raw.as_bytes()), 431);
        assert_still_serving(app.addr);
    }
}

#[test]
fn a_request_line_past_the_uri_parsers_64_kib_gets_a_bare_400_not_the_json_414() {
    // The `http` crate refuses a URI over 65,534 bytes while actix-http parses the head, so
    // the JSON 414 covers 8 KiB to 64 KiB and actix-http's bare 400 the rest up to 128 KiB.
    let app = spawn_app(&[]);
    let just_under = format!("/health?q={}", "a".repeat(65_534 - 10));
    http::get(app.addr, &just_under).assert_error(414, "uri_too_long");
    let over = format!(
        "GET /health?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    assert_bare_refusal(&exchange(app.addr, over.as_bytes()), 400);
    assert_still_serving(app.addr);
}

#[test]
fn a_request_without_host_or_with_two_gets_a_bare_400() {
    let app = spawn_app(&[]);
    let cases: [&[u8]; 2] = [
        b"GET /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ];
    for raw in cases {
        assert_bare_refusal(&exchange(app.addr, raw), 400);
        assert_still_serving(app.addr);
    }
}

#[test]
fn percent_encoded_paths_are_decoded_for_routing_and_reported_as_sent() {
    let app = spawn_app(&[]);
    assert_eq!(http::get(app.addr, "/%68ealth").body, br#"{"status":"ok"}"#);
    for path in [
        "/caf%C3%A9",
        "/%FF%FE",
        "/a%0a%0d%1b",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let response = http::get(app.addr, path);
        response.assert_error(404, "not_found");
        let message = response.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(path), "{message}");
    }
}

#[test]
fn raw_non_ascii_bytes_in_the_request_line_get_a_bare_400() {
    let app = spawn_app(&[]);
    let raw = exchange(app.addr, "GET /café HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes());
    assert_bare_refusal(&raw, 400);
    assert_still_serving(app.addr);
}

#[test]
fn a_non_ascii_header_value_is_accepted() {
    let app = spawn_app(&[]);
    let raw = exchange(
        app.addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Name: café ☕\r\nConnection: close\r\n\r\n"
            .as_bytes(),
    );
    assert_eq!(responses(&raw)[0].status, 200);
}

#[test]
fn http_1_0_requests_are_answered_in_http_1_0_and_closed() {
    let app = spawn_app(&[]);
    let raw = exchange(app.addr, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(raw.starts_with(b"HTTP/1.0 200 OK\r\n"), "{raw:?}");
    assert_eq!(responses(&raw)[0].body, br#"{"status":"ok"}"#);
}

#[test]
fn http_1_0_with_connection_keep_alive_is_kept_open_for_the_next_request() {
    let app = spawn_app(&[]);
    let raw = exchange(
        app.addr,
        b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
          GET /time HTTP/1.0\r\n\r\n",
    );
    let all = responses(&raw);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].header("connection"), Some("keep-alive"));
    assert_eq!(all[0].body, br#"{"status":"ok"}"#);
    assert!(all[1].json()["time"].is_string());
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let app = spawn_app(&[]);
    let raw = exchange(
        app.addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n[1,\"b\"]\
          GET /nope HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let all = responses(&raw);
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 404, 200]);
    assert_eq!(all[0].body, br#"{"status":"ok"}"#);
    assert_eq!(all[1].body, br#"[1,"b"]"#);
    assert!(all[3].json()["time"].is_string());
}

#[test]
fn a_client_sending_headers_one_byte_a_second_is_cut_off_and_others_are_unaffected() {
    let app = spawn_app(&[]);
    let addr = app.addr;
    let slow = std::thread::spawn(move || {
        let mut stream = connect(addr);
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let started = Instant::now();
        let mut received = Vec::new();
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: {}",
            "a".repeat(60)
        );
        for byte in request.bytes() {
            if stream.write_all(&[byte]).is_err() {
                break;
            }
            let mut buf = [0; 1024];
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        (started.elapsed(), received)
    });
    let mut served = 0;
    while !slow.is_finished() {
        http::assert_health_within(addr, Duration::from_secs(1));
        served += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let (cut_off_after, received) = slow.join().unwrap();
    assert!(
        received.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        cut_off_after < CLIENT_REQUEST_TIMEOUT + Duration::from_secs(3),
        "{cut_off_after:?}"
    );
    assert!(served >= 10, "only {served} requests served meanwhile");
}

//! The compiled binary in HTTP mode and at start-up: configuration errors, the startup line,
//! request log lines, graceful shutdown on every stop signal, and a stalled log reader.
//! Variable names are written out here, not taken from `config`: these tests check the names a
//! user types and the messages that name them.

use crate::support::http::{self, connect, head, read_response};
use crate::support::process::{run_to_exit, Service};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn assert_config_error(vars: &[(&str, &str)], expected: &str) {
    let (status, stderr) = run_to_exit(vars);
    assert_eq!(status.code(), Some(2), "{vars:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{vars:?} should print one line: {stderr}"
    );
    assert!(stderr.starts_with("rust-hybrid-api: "), "{stderr}");
    assert!(
        stderr.contains(expected),
        "{vars:?}: expected {expected:?} in {stderr:?}"
    );
    assert!(!stderr.contains("panic"), "{stderr}");
}

#[test]
fn invalid_configuration_exits_2_with_one_line_naming_variable_and_value() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORT", "http")], r#"invalid PORT="http""#),
        (&[("PORT", "65536")], r#"invalid PORT="65536""#),
        (&[("PORT", "-1")], r#"invalid PORT="-1""#),
        (&[("HOST", "not a host")], r#"invalid HOST="not a host""#),
        (
            &[("ROOT_PATH", "/my api")],
            r#"invalid ROOT_PATH="/my api""#,
        ),
        (
            &[("ROOT_PATH", "/api?v=1")],
            r#"invalid ROOT_PATH="/api?v=1""#,
        ),
        (&[("ROOT_PATH", "/api#x")], r#"invalid ROOT_PATH="/api#x""#),
        (&[("ROOT_PATH", "/ápi")], r#"invalid ROOT_PATH="/ápi""#),
        (
            &[("MAX_BODY_BYTES", "6MB")],
            r#"invalid MAX_BODY_BYTES="6MB""#,
        ),
        (&[("RUST_LOG", "inof")], r#"invalid RUST_LOG="inof""#),
        (
            &[("LAMBDA_INVOKE_MODE", "streaming")],
            r#"invalid LAMBDA_INVOKE_MODE="streaming": expected buffered or response_stream"#,
        ),
    ];
    for (vars, expected) in cases {
        assert_config_error(vars, expected);
    }
}

#[test]
fn an_incomplete_lambda_environment_exits_2_instead_of_panicking() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("AWS_LAMBDA_FUNCTION_NAME", "api")],
            "AWS_LAMBDA_RUNTIME_API is not set",
        ),
        (
            &[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")],
            "AWS_LAMBDA_FUNCTION_NAME is not set",
        ),
        (
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("AWS_LAMBDA_FUNCTION_NAME", "api"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not set",
        ),
        (
            &[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
                ("AWS_LAMBDA_FUNCTION_NAME", "api"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ],
            "AWS_LAMBDA_FUNCTION_VERSION is not set",
        ),
    ];
    for (vars, expected) in cases {
        assert_config_error(vars, expected);
    }
}

#[test]
fn a_port_already_in_use_exits_1_with_one_line() {
    let (_first, addr) = Service::http(&[]);
    let port = addr.port().to_string();
    let (status, stderr) = run_to_exit(&[("HOST", "127.0.0.1"), ("PORT", &port)]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "rust-hybrid-api: cannot listen on 127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
}

#[test]
fn the_startup_line_names_mode_address_root_and_version() {
    let (mut service, addr) = Service::http(&[("ROOT_PATH", "api")]);
    let line = service.wait_for_line(|l| l.contains("starting mode="));
    assert!(
        line.ends_with(&format!(
            "starting mode=http listen={addr} root=/api version={}",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
    let stderr = service.stderr_so_far();
    assert_eq!(stderr.matches("starting mode=").count(), 1, "{stderr}");
}

#[test]
fn every_request_is_logged_once_in_the_original_format_with_its_request_id() {
    let (mut service, addr) = Service::http(&[]);
    let health = http::request(addr, "GET", "/health", &[("X-Request-Id", "trace-42")], b"");
    let missing = http::get(addr, "/missing?token=secret");
    http::request(addr, "DELETE", "/time", &[], b"");
    http::request(
        addr,
        "POST",
        "/echo",
        &[("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(health.header("x-request-id"), Some("trace-42"));
    let generated = missing.header("x-request-id").expect("an id is generated");
    for (status, method, path, id) in [
        ("200", "GET    ", "/health", Some("trace-42")),
        ("404", "GET    ", "/missing", Some(generated)),
        ("405", "DELETE ", "/time", None),
        ("415", "POST   ", "/echo", None),
    ] {
        let prefix = format!("[REQ] {status} | {method} | {path} | ");
        let line = service.wait_for_line(|l| l.starts_with(&prefix));
        let (duration, logged_id) = line
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(" | "))
            .unwrap_or_else(|| panic!("duration | id: {line}"));
        assert!(
            ["ns", "µs", "ms", "s"]
                .iter()
                .any(|unit| duration.ends_with(unit)),
            "{line}"
        );
        let decimals = duration.split('.').nth(1).unwrap_or_default();
        let digits = decimals.chars().take_while(char::is_ascii_digit).count();
        assert_eq!(digits, 1, "one decimal: {line}");
        match id {
            Some(id) => assert_eq!(logged_id, id, "{line}"),
            None => assert_eq!(logged_id.len(), 32, "a generated id: {line}"),
        }
    }
    let stderr = service.stderr_so_far();
    assert!(
        !stderr.contains("secret"),
        "the query string must not be logged: {stderr}"
    );
    assert_eq!(stderr.matches("[REQ]").count(), 4, "{stderr}");
}

#[test]
fn encoded_control_characters_in_a_path_stay_on_one_log_line() {
    let (mut service, addr) = Service::http(&[]);
    let response = http::get(addr, "/a%0d%0a[REQ]%20200%1b");
    assert_eq!(response.status, 404);
    let line = service.wait_for_line(|l| l.starts_with("[REQ] 404"));
    assert!(
        line.starts_with("[REQ] 404 | GET     | /a%0d%0a[REQ]%20200%1b | "),
        "{line}"
    );
    assert_eq!(
        service.stderr_so_far().matches("[REQ]").count(),
        2,
        "one line, with the path's own [REQ]"
    );
}

/// Opens `count` connections, each with an `/echo` request whose body is half sent, and waits
/// until the service has logged a request sent after them, so all of them are in flight.
fn half_sent_echoes(service: &mut Service, addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    let streams = (0..count)
        .map(|i| {
            let mut stream = connect(addr);
            let body = format!("{{\"n\":{i}}}");
            stream
                .write_all(&head("POST", "/echo", &[], Some(body.len())))
                .unwrap();
            stream.write_all(&body.as_bytes()[..4]).unwrap();
            stream
        })
        .collect();
    http::get(addr, "/health");
    service.wait_for_line(|l| l.starts_with("[REQ] 200 | GET"));
    streams
}

#[test]
fn each_stop_signal_lets_20_in_flight_requests_finish_logs_them_all_and_exits_0() {
    for signal in ["TERM", "INT", "HUP", "QUIT"] {
        let (mut service, addr) = Service::http(&[("SHUTDOWN_TIMEOUT_SECS", "10")]);
        let mut in_flight = half_sent_echoes(&mut service, addr, 20);

        service.signal(signal);
        let signalled = Instant::now();
        service.wait_for_line(|l| l.contains(&format!("SIG{signal} received")));
        // The accept loop closes the listener moments after the line is written.
        let refused = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
        });
        assert!(
            refused,
            "SIG{signal}: new connections were still accepted 1 s into shutdown"
        );
        for (i, stream) in in_flight.iter_mut().enumerate() {
            let body = format!("{{\"n\":{i}}}");
            stream.write_all(&body.as_bytes()[4..]).unwrap();
            let response = read_response(stream);
            assert_eq!(response.status, 200, "SIG{signal}: request {i}");
            assert_eq!(response.body, body.as_bytes(), "SIG{signal}: request {i}");
        }

        assert_eq!(service.wait_for_exit().code(), Some(0), "SIG{signal}");
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "SIG{signal}: {:?}",
            signalled.elapsed()
        );
        let log = service.stderr_so_far();
        let echoes = log
            .lines()
            .filter(|l| l.starts_with("[REQ] 200 | POST    | /echo"))
            .count();
        assert_eq!(echoes, 20, "SIG{signal}: {log}");
        assert!(log.contains("stopped"), "SIG{signal}: {log}");
    }
}

#[test]
fn a_second_signal_during_the_drain_cuts_it_short_and_still_exits_0() {
    let (mut service, addr) = Service::http(&[("SHUTDOWN_TIMEOUT_SECS", "60")]);
    let _stalled = half_sent_echoes(&mut service, addr, 3);
    service.signal("TERM");
    service.wait_for_line(|l| l.contains("SIGTERM received"));
    let second = Instant::now();
    service.signal("INT");
    assert_eq!(service.wait_for_exit().code(), Some(0));
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "{:?}",
        second.elapsed()
    );
    assert!(service
        .stderr_so_far()
        .contains("SIGINT received while stopping"));
}

#[test]
fn a_stalled_log_reader_never_stops_the_server_and_the_dropped_lines_are_reported() {
    use std::io::{BufRead, BufReader};
    let mut child = crate::support::process::command(&[("HOST", "127.0.0.1"), ("PORT", "0")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr: SocketAddr = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no startup line");
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("listen="))
        {
            break addr.parse().unwrap();
        }
    };

    // From here on nobody reads stderr for 5 s, while pipelined requests fill it.
    let stall = Duration::from_secs(5);
    let until = Instant::now() + stall;
    let load = std::thread::spawn(move || {
        let batch: String = (0..500)
            .map(|i| {
                let close = if i == 499 {
                    "Connection: close\r\n"
                } else {
                    ""
                };
                format!("GET /health HTTP/1.1\r\nHost: x\r\n{close}\r\n")
            })
            .collect();
        let mut served = 0;
        while Instant::now() < until {
            let raw = http::exchange(addr, batch.as_bytes());
            served += String::from_utf8_lossy(&raw)
                .matches("HTTP/1.1 200")
                .count();
        }
        served
    });
    let mut probes = 0;
    while Instant::now() < until {
        http::assert_health_within(addr, Duration::from_secs(1));
        probes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = load.join().unwrap();
    assert!(
        probes >= 30 && served > 20_000,
        "probes {probes}, served {served}"
    );

    // Reading again: the writer catches up and reports what it dropped.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let report = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a dropped-lines report");
        if line.contains("log lines were dropped") {
            break line;
        }
    };
    let dropped: usize = report
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no count in {report:?}"));
    assert!(dropped > 0 && dropped < served + probes, "{report}");
    assert!(report.contains(" WARN "), "{report}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn requests_still_unfinished_at_the_shutdown_timeout_are_cut_off_and_the_exit_is_0() {
    let (mut service, addr) = Service::http(&[("SHUTDOWN_TIMEOUT_SECS", "1")]);
    let mut stalled = half_sent_echoes(&mut service, addr, 3);

    service.signal("TERM");
    let signalled = Instant::now();
    assert_eq!(service.wait_for_exit().code(), Some(0));
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    for stream in &mut stalled {
        let mut rest = Vec::new();
        let reading = Instant::now();
        let _closed = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        assert!(
            reading.elapsed() < Duration::from_secs(2),
            "the connection stayed open"
        );
    }
}

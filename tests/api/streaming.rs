//! `LAMBDA_INVOKE_MODE=response_stream`: the compiled binary against the fake Runtime API, which
//! reads each streamed `/response` chunk by chunk as Lambda does. Function URLs and REST APIs
//! get Lambda's streaming protocol (headers, prelude, delimiter, body, each rule checked here);
//! every other source stays buffered; the body limit grows to what an invocation can carry.

use crate::lambda::{event, lambda_service};
use crate::support::fake_runtime::{FakeRuntime, Invocation, Outcome, Streamed};
use crate::support::process::Service;
use crate::support::{http, spawn_app, spawn_proxy, Response};
use rust_hybrid_api::config;
use rust_hybrid_api::lambda::proxy::Options;
use serde_json::{json, Value};
use std::collections::HashMap;

const STREAM: (&str, &str) = (config::LAMBDA_INVOKE_MODE, "response_stream");
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// The binary streaming its answers, with `AWS_LAMBDA_MAX_CONCURRENCY=loops`.
fn streaming(runtime: &FakeRuntime, loops: &str) -> Service {
    lambda_service(
        runtime,
        &[STREAM, (config::AWS_LAMBDA_MAX_CONCURRENCY, loops)],
    )
}

/// A Function URL event for `method path`, with `body`.
fn function_url_event(method: &str, path: &str, body: Option<&str>) -> String {
    let mut event: Value =
        serde_json::from_str(&event("function-url-null-query-health.json")).unwrap();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    if let Some(body) = body {
        event["headers"]["content-type"] = json!("application/json");
        event["body"] = json!(body);
    }
    event.to_string()
}

fn with_invocation_id(event: String, id: &str) -> Invocation {
    Invocation {
        headers: vec![("Lambda-Runtime-Invocation-Id", id.to_owned())],
        ..Invocation::from(event)
    }
}

/// Checks every rule of the streaming protocol on `streamed`, and returns the answer it carries.
fn assert_wire_rules(streamed: &Streamed) -> (Value, Response) {
    assert_eq!(
        streamed.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(
        streamed.header("content-type"),
        Some("application/vnd.awslambda.http-integration-response")
    );
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    assert_eq!(streamed.header("content-length"), None);
    assert!(streamed.chunks.len() >= 2, "{streamed:?}");
    // The prelude and the delimiter in chunks of their own, the delimiter right after it.
    let prelude: Value = serde_json::from_slice(&streamed.chunks[0]).expect("a JSON prelude");
    assert_eq!(streamed.chunks[1], [0; 8]);
    assert!(streamed.trailers.is_empty(), "{streamed:?}");
    let (split_prelude, body) = streamed.split();
    assert_eq!(split_prelude, prelude);
    assert_eq!(body, streamed.chunks[2..].concat());
    assert!(prelude.get("body").is_none(), "{prelude}");
    let answer = Response::from_stream(&prelude, body).unwrap();
    (prelude, answer)
}

#[test]
fn function_url_answers_are_streamed_by_the_protocols_rules_at_one_and_eight_loops() {
    for loops in ["1", "8"] {
        let runtime = FakeRuntime::start([
            with_invocation_id(function_url_event("GET", "/health", None), "inv-1"),
            function_url_event("HEAD", "/health", None).into(),
        ]);
        let _service = streaming(&runtime, loops);
        let mut outcomes = [runtime.next_outcome(), runtime.next_outcome()];
        outcomes.sort_by_key(|o| o.request_id().to_owned());
        let [health, head] = outcomes;
        assert_eq!(health.invocation_id(), Some("inv-1"), "{loops} loops");
        let (prelude, answer) = assert_wire_rules(&health.into_streamed());
        assert_eq!(prelude["statusCode"], 200);
        assert_eq!(prelude["headers"]["content-type"], "application/json");
        assert_eq!(prelude["cookies"], json!([]));
        assert_eq!(answer.body, br#"{"status":"ok"}"#);
        // An empty body still gets the prelude and the delimiter, and nothing after them.
        let head = head.into_streamed();
        assert_wire_rules(&head);
        assert_eq!(head.chunks.len(), 2, "{loops} loops: {head:?}");
    }
}

#[test]
fn rest_api_answers_are_streamed_with_the_rest_prelude() {
    let runtime = FakeRuntime::start([event("rest-api-prod-stage-health.json")]);
    let _service = streaming(&runtime, "1");
    let (prelude, answer) = assert_wire_rules(&runtime.next_outcome().into_streamed());
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-type"], "application/json");
    assert!(prelude["multiValueHeaders"].is_object(), "{prelude}");
    assert!(prelude["cookies"].is_array(), "{prelude}");
    assert_eq!(answer.body, br#"{"status":"ok"}"#);
}

#[test]
fn streamed_answers_match_http_mode() {
    let cases = [
        ("GET", "/", None),
        ("GET", "/time", None),
        ("POST", "/echo", Some(r#"{"b":[1e400,2],"a":{}}"#)),
        ("POST", "/echo", Some("{\"a\":\n}")),
        ("DELETE", "/health", None),
        ("GET", "/no/such/route", None),
    ];
    let runtime = FakeRuntime::start(
        cases
            .iter()
            .map(|(method, path, body)| function_url_event(method, path, *body)),
    );
    let _service = streaming(&runtime, "1");
    let app = spawn_app(&[]);
    for (method, path, body) in cases {
        let (_, lambda) = assert_wire_rules(&runtime.next_outcome().into_streamed());
        let headers: &[(&str, &str)] = &[("content-type", "application/json")];
        let served = http::request(
            app.addr,
            method,
            path,
            headers,
            body.unwrap_or("").as_bytes(),
        );
        assert_eq!(lambda.status, served.status, "{method} {path}");
        for header in [
            "content-type",
            "allow",
            "cache-control",
            "x-content-type-options",
        ] {
            assert_eq!(
                lambda.header(header),
                served.header(header),
                "{method} {path}: {header}"
            );
        }
        if path != "/time" && path != "/" {
            assert_eq!(lambda.body, served.body, "{method} {path}");
        }
    }
}

#[test]
fn sources_that_cannot_stream_are_answered_buffered_in_streaming_mode() {
    let mut http_api_v1: Value =
        serde_json::from_str(&event("rest-api-prod-stage-health.json")).unwrap();
    http_api_v1["version"] = json!("1.0");
    let buffered = [
        event("http-api-health.json"),
        event("alb-single-value-health.json"),
        event("alb-time.json"),
        event("vpc-lattice-v2-health.json"),
        event("vpc-lattice-v1-echo.json"),
        http_api_v1.to_string(),
    ];
    let runtime = FakeRuntime::start(buffered.clone());
    let _service = streaming(&runtime, "1");
    for event in buffered {
        let envelope = runtime.next_outcome().into_response();
        assert_eq!(envelope["statusCode"], 200, "{event}: {envelope}");
    }
}

/// A JSON document of exactly `length` bytes (`length` even): a string of escaped quotes,
/// which doubles as a JSON string, so its buffered echo could not fit in 6 MB.
fn json_of(length: usize) -> String {
    format!("\"{}\"", "\\\"".repeat((length - 2) / 2))
}

#[test]
fn a_streamed_echo_of_4_000_000_bytes_comes_back_whole_and_buffered_sources_still_refuse_it() {
    let body = json_of(4_000_000);
    let mut http_api: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
    http_api["body"] = json!(body);
    let runtime = FakeRuntime::start([
        function_url_event("POST", "/echo", Some(&body)),
        http_api.to_string(),
    ]);
    let _service = streaming(&runtime, "1");
    assert_eq!(body.len(), 4_000_000);
    let (prelude, answer) = assert_wire_rules(&runtime.next_outcome().into_streamed());
    assert_eq!(prelude["statusCode"], 200);
    assert!(answer.body == body.as_bytes(), "the body came back changed");
    let envelope = runtime.next_outcome().into_response();
    let refused = Response::from_envelope(&envelope).unwrap();
    let message = refused.assert_error(413, "payload_too_large");
    assert!(message.contains("Lambda's response limit"), "{message}");
}

#[test]
fn in_buffered_mode_the_same_echo_is_over_the_default_body_limit() {
    let runtime = FakeRuntime::start([function_url_event(
        "POST",
        "/echo",
        Some(&json_of(4_000_000)),
    )]);
    let _service = lambda_service(&runtime, &[]);
    let refused = Response::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    refused.assert_error(413, "payload_too_large");
}

#[test]
fn forty_interleaved_streams_at_four_loops_do_not_cross() {
    let bodies: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"n":{i},"pad":"{}"}}"#, "y".repeat(i * 997)))
        .collect();
    let runtime = FakeRuntime::start(bodies.iter().enumerate().map(|(i, body)| {
        with_invocation_id(
            function_url_event("POST", "/echo", Some(body)),
            &format!("inv-{}", i + 1),
        )
    }));
    let _service = streaming(&runtime, "4");
    let mut seen = HashMap::new();
    for _ in 0..40 {
        let outcome = runtime.next_outcome();
        let request_id = outcome.request_id().to_owned();
        let invocation_id = outcome.invocation_id().map(str::to_owned);
        let (_, answer) = assert_wire_rules(&outcome.into_streamed());
        let n: usize = request_id.trim_start_matches("req-").parse().unwrap();
        assert_eq!(invocation_id, Some(format!("inv-{n}")));
        assert_eq!(answer.header("x-request-id"), Some(request_id.as_str()));
        assert!(
            answer.body == bodies[n - 1].as_bytes(),
            "{request_id} got another's body"
        );
        seen.insert(n, ());
    }
    assert_eq!(seen.len(), 40);
}

#[test]
fn in_streaming_mode_refusals_still_go_to_error_and_bad_requests_get_a_streamed_400() {
    let mut bad_method: Value =
        serde_json::from_str(&function_url_event("GET", "/health", None)).unwrap();
    bad_method["requestContext"]["http"]["method"] = json!("G ET");
    let runtime = FakeRuntime::start([
        with_invocation_id(event("unsupported/sqs.json"), "inv-1"),
        with_invocation_id(bad_method.to_string(), "inv-2"),
        function_url_event("GET", "/health", None).into(),
    ]);
    let _service = streaming(&runtime, "1");
    let refused = runtime.next_outcome();
    assert_eq!(refused.invocation_id(), Some("inv-1"));
    assert!(
        matches!(refused, Outcome::Error { ref body, .. } if body["errorType"] == "UnsupportedEvent"),
        "{refused:?}"
    );
    let bad = runtime.next_outcome();
    assert_eq!(bad.invocation_id(), Some("inv-2"));
    let (_, answer) = assert_wire_rules(&bad.into_streamed());
    answer.assert_error(400, "invalid_request");
    let (_, answer) = assert_wire_rules(&runtime.next_outcome().into_streamed());
    assert_eq!(answer.status, 200);
}

#[test]
fn a_body_holding_nul_bytes_passes_through_the_stream_unchanged() {
    let runtime = FakeRuntime::start([function_url_event("GET", "/bytes", None)]);
    let proxy = spawn_proxy(
        &runtime,
        Options {
            concurrent: false,
            stream: true,
        },
    );
    assert_eq!(http::get(proxy, NEXT).status, 200);
    // The body starts with the delimiter itself and holds more NULs: only the first eight
    // bytes after the prelude are the delimiter.
    let bytes: Vec<u8> = [&[0u8; 8][..], b"a\0b", &[0; 16], b"\xff\x00"].concat();
    let lambda_web = json!({
        "statusCode": 200, "headers": {"content-type": "application/octet-stream"},
        "cookies": ["a=1", "b=2"], "body": base64::encode(&bytes), "isBase64Encoded": true,
    });
    let posted = http::request(
        proxy,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[("content-type", "application/json")],
        lambda_web.to_string().as_bytes(),
    );
    assert_eq!(posted.status, 202);
    let streamed = runtime.next_outcome().into_streamed();
    let (prelude, answer) = assert_wire_rules(&streamed);
    assert_eq!(answer.body, bytes);
    assert_eq!(prelude["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(
        prelude["headers"]["content-type"],
        "application/octet-stream"
    );
}

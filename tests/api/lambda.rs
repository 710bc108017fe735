//! The compiled binary in Lambda mode, against the fake Runtime API: one realistic event per
//! source from `events/`, stage prefixes with `ROOT_PATH`, parity with HTTP mode, and events
//! lambda-web cannot parse.

use crate::support::envelope::Decoded;
use crate::support::fake_runtime::{FakeRuntime, Outcome};
use crate::support::http;
use crate::support::process::Service;
use crate::support::spawn_app;
use serde_json::{json, Value};

fn event(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Starts the binary in Lambda mode against a fake Runtime API serving `events`.
fn function(events: Vec<String>, root_path: &str) -> (FakeRuntime, Service) {
    let runtime = FakeRuntime::start(events);
    let api = runtime.addr.to_string();
    let service = Service::start(&[
        ("AWS_LAMBDA_RUNTIME_API", &api),
        ("AWS_LAMBDA_FUNCTION_NAME", "rust-hybrid-api"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("ROOT_PATH", root_path),
        ("RUST_LOG", "info"),
    ]);
    (runtime, service)
}

/// Invokes the function once with the event file `name` and decodes the response envelope.
fn invoke(name: &str, root_path: &str) -> (Value, Decoded) {
    let (runtime, _service) = function(vec![event(name)], root_path);
    let envelope = runtime.next_outcome().into_response();
    let decoded = Decoded::from_envelope(&envelope).unwrap();
    (envelope, decoded)
}

fn assert_json_response(decoded: &Decoded, status: u16) -> Value {
    assert_eq!(
        decoded.status,
        status,
        "{}",
        String::from_utf8_lossy(&decoded.body)
    );
    assert_eq!(decoded.header("content-type"), Some("application/json"));
    decoded.json()
}

#[test]
fn http_api_event_is_answered_uncompressed_even_when_the_client_accepts_br() {
    let (envelope, decoded) = invoke("http-api-health.json", "/");
    assert_eq!(envelope["isBase64Encoded"], true);
    assert!(
        envelope.get("headers").is_some(),
        "payload 2.0 answers with headers"
    );
    // The event accepts br; lambda-web's "br" feature is off (see Cargo.toml).
    assert_eq!(decoded.header("content-encoding"), None);
    assert_json_response(&decoded, 200);
    assert_eq!(decoded.body, br#"{"status":"ok"}"#);
}

#[test]
fn http_api_index_reports_lambda_mode() {
    let (_, decoded) = invoke("http-api-index.json", "/");
    let body = assert_json_response(&decoded, 200);
    assert_eq!(body["mode"], "lambda");
    assert_eq!(body["endpoints"][1]["path"], "/health");
}

#[test]
fn http_api_echo_returns_the_body_unchanged() {
    let event: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
    let (_, decoded) = invoke("http-api-echo.json", "/");
    assert_json_response(&decoded, 200);
    assert_eq!(
        decoded.header("content-encoding"),
        None,
        "gzip-only client gets plain base64"
    );
    assert_eq!(decoded.body, event["body"].as_str().unwrap().as_bytes());
}

#[test]
fn function_url_event_with_a_base64_body_is_echoed() {
    let event: Value = serde_json::from_str(&event("function-url-echo.json")).unwrap();
    let sent = base64::decode(event["body"].as_str().unwrap()).unwrap();
    let (_, decoded) = invoke("function-url-echo.json", "/");
    assert_json_response(&decoded, 200);
    assert_eq!(decoded.body, sent);
}

#[test]
fn alb_event_with_multi_value_headers_is_answered_in_kind() {
    let (envelope, decoded) = invoke("alb-time.json", "/");
    assert!(envelope.get("multiValueHeaders").is_some(), "{envelope}");
    let body = assert_json_response(&decoded, 200);
    chrono::DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).unwrap();
}

#[test]
fn rest_api_stage_prefix_is_served_under_a_matching_root_path() {
    let (envelope, decoded) = invoke("rest-api-prod-stage-health.json", "/prod");
    assert!(
        envelope.get("multiValueHeaders").is_some(),
        "payload 1.0 answers multi-value"
    );
    assert_json_response(&decoded, 200);
    assert_eq!(decoded.body, br#"{"status":"ok"}"#);
    assert_eq!(decoded.header("content-encoding"), None);
}

#[test]
fn rest_api_stage_prefix_is_a_404_without_root_path() {
    let (_, decoded) = invoke("rest-api-prod-stage-health.json", "/");
    assert_eq!(assert_json_response(&decoded, 404)["error"], "not_found");
}

#[test]
fn http_api_named_stage_is_served_under_a_matching_root_path() {
    let (_, decoded) = invoke("http-api-prod-stage-time.json", "prod");
    assert!(assert_json_response(&decoded, 200)["time"].is_string());
    let (_, decoded) = invoke("http-api-prod-stage-time.json", "/");
    assert_eq!(decoded.status, 404);
}

/// Hand-written test events, other sources' payloads, plain text, a JSON array, `{}` and `null`.
#[test]
fn unparseable_events_are_invocation_errors_and_the_next_event_is_served() {
    let valid = event("http-api-health.json");
    let events = vec![
        event("unsupported/bare-rest.json"),
        valid.clone(),
        event("unsupported/alb-single-value-headers.json"),
        valid.clone(),
        event("unsupported/function-url-null-query.json"),
        valid,
        "not json at all".to_owned(),
        event("http-api-index.json"),
        "[1,2,3]".to_owned(),
        event("http-api-health.json"),
        "{}".to_owned(),
        event("http-api-health.json"),
        "null".to_owned(),
        event("http-api-health.json"),
    ];
    let (runtime, mut service) = function(events, "/");
    for i in 0..7 {
        let error_id = format!("req-{}", 2 * i + 1);
        match runtime.next_outcome() {
            Outcome::Error { request_id, body } => {
                assert_eq!(request_id, error_id);
                assert!(body["errorMessage"].is_string(), "{body}");
            }
            other => panic!("{error_id} should be an invocation error, got {other:?}"),
        }
        let served = runtime.next_outcome();
        assert_eq!(served.request_id(), format!("req-{}", 2 * i + 2));
        let decoded = Decoded::from_envelope(&served.into_response()).unwrap();
        assert_eq!(decoded.status, 200);
    }
    let stderr = service.stderr_so_far();
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn a_path_lambda_web_cannot_turn_into_a_uri_is_an_invocation_error_not_a_crash() {
    let mut bad: Value = serde_json::from_str(&event("rest-api-prod-stage-health.json")).unwrap();
    bad["requestContext"]["path"] = json!("/prod/he alth\n[REQ] 200");
    let (runtime, mut service) = function(
        vec![bad.to_string(), event("http-api-health.json")],
        "/prod",
    );
    assert!(matches!(runtime.next_outcome(), Outcome::Error { .. }));
    assert!(matches!(runtime.next_outcome(), Outcome::Response { .. }));
    let panic_line = service.wait_for_line(|l| l.contains("panic at"));
    assert!(panic_line.contains("ERROR"), "{panic_line}");
}

#[test]
fn a_malformed_method_or_base64_body_gets_lambda_webs_own_text_400() {
    let mut bad_method: Value =
        serde_json::from_str(&http_api_event("GET", "/health", &[], None)).unwrap();
    bad_method["requestContext"]["http"]["method"] = json!("G ET");
    let mut bad_base64: Value = serde_json::from_str(&event("function-url-echo.json")).unwrap();
    bad_base64["body"] = json!("not base64!");
    let events = vec![bad_method.to_string(), bad_base64.to_string()];
    let (runtime, _service) = function(events, "/");
    for _ in 0..2 {
        let decoded = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
        assert_eq!(decoded.status, 400);
        assert_eq!(decoded.header("content-type"), Some("text/plain"));
        assert_eq!(decoded.body, b"Bad Request");
    }
}

#[test]
fn requests_are_logged_in_lambda_mode_too() {
    let (runtime, mut service) = function(vec![event("http-api-health.json")], "/");
    runtime.next_outcome();
    service.wait_for_line(|l| l.starts_with("[REQ] 200 | GET     | /health | "));
    let startup = service.wait_for_line(|l| l.contains("starting mode=lambda"));
    assert!(
        startup.contains(&format!("runtime_api={}", runtime.addr)),
        "{startup}"
    );
}

/// A payload 2.0 event for `method path` with `body`, built from the HTTP API fixture.
fn http_api_event(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> String {
    let mut event: Value = serde_json::from_str(&event("http-api-index.json")).unwrap();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    for (name, value) in headers {
        event["headers"][name] = json!(value);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event.to_string()
}

/// One request, sent to both modes.
struct Case {
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

#[test]
fn decoded_lambda_responses_match_http_mode_exactly() {
    let case = |method, path, headers, body| Case {
        method,
        path,
        headers,
        body,
    };
    let cases = [
        case("GET", "/health", &[], ""),
        case("GET", "/health/", &[("accept-encoding", "br")], ""),
        case("POST", "/echo", JSON, r#"{"b":[1e400,2],"a":{}}"#),
        case("POST", "/echo", JSON, "{\"a\":\n}"),
        case("POST", "/echo", &[("content-type", "text/csv")], "a,b"),
        case("POST", "/echo", &[], ""),
        case("DELETE", "/health", &[], ""),
        case("GET", "/echo", &[], ""),
        case("GET", "/no/such/route", &[], ""),
    ];
    let events = cases
        .iter()
        .map(|c| {
            http_api_event(
                c.method,
                c.path,
                c.headers,
                Some(c.body).filter(|b| !b.is_empty()),
            )
        })
        .collect();
    let (runtime, _service) = function(events, "/");
    let app = spawn_app(&[]);
    for c in &cases {
        let lambda = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
        let served = http::request(app.addr, c.method, c.path, c.headers, c.body.as_bytes());
        let name = format!("{} {}", c.method, c.path);
        assert_eq!(lambda.status, served.status, "{name}");
        assert_eq!(
            lambda.header("content-type"),
            served.header("content-type"),
            "{name}"
        );
        for header in ["allow", "cache-control", "x-content-type-options"] {
            assert_eq!(
                lambda.header(header),
                served.header(header),
                "{name}: {header}"
            );
        }
        assert_eq!(
            String::from_utf8_lossy(&lambda.body),
            String::from_utf8_lossy(&served.body),
            "{name}"
        );
    }
}

#[test]
fn head_through_lambda_has_no_body() {
    let (runtime, _service) = function(vec![http_api_event("HEAD", "/health", &[], None)], "/");
    let decoded = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(decoded.status, 200);
    assert_eq!(decoded.header("content-type"), Some("application/json"));
    assert!(decoded.body.is_empty());
}

#[test]
fn non_ascii_header_values_are_served_and_a_non_ascii_header_name_is_an_invocation_error() {
    let value = http_api_event("GET", "/health", &[("x-name", "café ☕")], None);
    let name = http_api_event("GET", "/health", &[("x-café", "1")], None);
    let events = vec![value, name, event("http-api-health.json")];
    let (runtime, _service) = function(events, "/");
    let decoded = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(decoded.body, br#"{"status":"ok"}"#);
    assert!(matches!(runtime.next_outcome(), Outcome::Error { .. }));
    let decoded = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(decoded.status, 200);
}

#[test]
fn an_event_at_the_6_mib_invocation_limit_is_echoed_and_the_next_event_is_served() {
    const LIMIT: usize = 6 * 1024 * 1024;
    let mut echo: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
    let sized = |event: &mut Value, fill: usize| {
        event["body"] = json!(format!("\"{}\"", "x".repeat(fill)));
        event.to_string()
    };
    let overhead = sized(&mut echo, 0).len();
    let at_limit = sized(&mut echo, LIMIT - overhead);
    assert_eq!(at_limit.len(), LIMIT);
    let sent = echo["body"].as_str().unwrap().as_bytes().to_vec();

    let (runtime, _service) = function(vec![at_limit, event("http-api-health.json")], "/");
    let decoded = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(decoded.status, 200);
    assert!(decoded.body == sent, "the body came back changed");
    let next = Decoded::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(next.body, br#"{"status":"ok"}"#);
}

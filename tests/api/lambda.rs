//! The compiled binary in Lambda mode, against the fake Runtime API: one realistic event per
//! source from `events/`, stages, parity with HTTP mode, events that are not HTTP requests or
//! not HTTP events at all, Lambda's response limit, and Runtime API faults.

use crate::support::fake_runtime::{FakeRuntime, Invocation, Outcome, RESPONSE_LIMIT};
use crate::support::http;
use crate::support::process::Service;
use crate::support::spawn_app;
use crate::support::Response;
use rust_hybrid_api::config;
use serde_json::{json, Value};

pub(crate) fn event(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Starts the binary in Lambda mode against a fake Runtime API serving `events`.
fn function(events: Vec<impl Into<Invocation>>, root_path: &str) -> (FakeRuntime, Service) {
    let runtime = FakeRuntime::start(events);
    let service = lambda_service(&runtime, &[("ROOT_PATH", root_path)]);
    (runtime, service)
}

/// The binary in Lambda mode against `runtime`, with `vars` added to the Lambda environment.
pub(crate) fn lambda_service(runtime: &FakeRuntime, vars: &[(&str, &str)]) -> Service {
    let api = runtime.addr.to_string();
    let mut all = vec![
        (config::AWS_LAMBDA_RUNTIME_API, api.as_str()),
        (config::AWS_LAMBDA_FUNCTION_NAME, "rust-hybrid-api"),
        (config::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        (config::AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
    ];
    all.extend_from_slice(vars);
    Service::start(&all)
}

fn decoded(outcome: Outcome) -> Response {
    Response::from_envelope(&outcome.into_response()).unwrap()
}

/// Invokes the function once with the event file `name` and decodes the response envelope.
fn invoke(name: &str, root_path: &str) -> (Value, Response) {
    let (runtime, _service) = function(vec![event(name)], root_path);
    let envelope = runtime.next_outcome().into_response();
    let decoded = Response::from_envelope(&envelope).unwrap();
    (envelope, decoded)
}

#[test]
fn http_api_event_is_answered_as_text_uncompressed_even_when_the_client_accepts_br() {
    let (envelope, decoded) = invoke("http-api-health.json", "/");
    assert_eq!(envelope["isBase64Encoded"], false);
    assert_eq!(envelope["body"], r#"{"status":"ok"}"#);
    assert!(
        envelope.get("headers").is_some(),
        "payload 2.0 answers with headers"
    );
    // The event accepts br; lambda-web's "br" feature is off (see Cargo.toml).
    assert_eq!(decoded.header("content-encoding"), None);
    decoded.assert_json(200);
    assert_eq!(decoded.body, br#"{"status":"ok"}"#);
}

#[test]
fn http_api_index_reports_lambda_mode() {
    let (_, decoded) = invoke("http-api-index.json", "/");
    let body = decoded.assert_json(200);
    assert_eq!(body["mode"], "lambda");
    assert_eq!(body["endpoints"][1]["path"], "/health");
}

#[test]
fn http_api_echo_returns_the_body_unchanged() {
    let event: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
    let (_, decoded) = invoke("http-api-echo.json", "/");
    decoded.assert_json(200);
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
    decoded.assert_json(200);
    assert_eq!(decoded.body, sent);
}

#[test]
fn alb_event_with_multi_value_headers_is_answered_in_kind() {
    let (envelope, decoded) = invoke("alb-time.json", "/");
    assert!(envelope.get("multiValueHeaders").is_some(), "{envelope}");
    let body = decoded.assert_json(200);
    chrono::DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).unwrap();
}

#[test]
fn rest_api_events_route_on_the_path_without_the_stage() {
    let (envelope, decoded) = invoke("rest-api-prod-stage-health.json", "/");
    assert!(
        envelope.get("multiValueHeaders").is_some(),
        "payload 1.0 answers multi-value"
    );
    assert_eq!(envelope["isBase64Encoded"], false);
    decoded.assert_json(200);
    assert_eq!(decoded.body, br#"{"status":"ok"}"#);
    // The old advice, ROOT_PATH=/{stage}, no longer applies: the stage is never in the path.
    let (_, decoded) = invoke("rest-api-prod-stage-health.json", "/prod");
    decoded.assert_error(404, "not_found");
}

#[test]
fn http_api_named_stages_are_removed_from_raw_path() {
    let (_, decoded) = invoke("http-api-prod-stage-time.json", "/");
    assert!(decoded.assert_json(200)["time"].is_string());
}

#[test]
fn events_lambda_web_could_not_parse_are_served() {
    for name in [
        "rest-api-bare-health.json",
        "alb-single-value-health.json",
        "function-url-null-query-health.json",
    ] {
        let (_, decoded) = invoke(name, "/");
        assert_eq!(decoded.body, br#"{"status":"ok"}"#, "{name}");
    }
}

#[test]
fn an_alb_event_without_multi_value_headers_is_answered_with_single_value_headers() {
    let (envelope, _) = invoke("alb-single-value-health.json", "/");
    assert_eq!(envelope["statusDescription"], "200 OK");
    assert_eq!(envelope["headers"]["content-type"], "application/json");
    assert!(envelope.get("multiValueHeaders").is_none(), "{envelope}");
}

/// Other sources' events, plain text, a JSON array, `{}` and `null`.
#[test]
fn events_that_are_not_http_events_are_invocation_errors_that_say_what_arrived() {
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for (raw, says) in [
        (event("unsupported/sqs.json"), "a record batch from aws:sqs"),
        (event("unsupported/s3.json"), "a record batch from aws:s3"),
        (
            event("unsupported/eventbridge.json"),
            "an EventBridge event",
        ),
        (event("unsupported/websocket.json"), "WebSocket"),
        (
            event("unsupported/apigateway-authorizer.json"),
            "authorizer",
        ),
        ("not json at all".to_owned(), "not JSON"),
        ("[1,2,3]".to_owned(), "a JSON array"),
        ("{}".to_owned(), "an empty JSON object"),
        ("null".to_owned(), "null"),
    ] {
        events.push(raw);
        events.push(event("http-api-health.json"));
        expected.push(says);
    }
    let (runtime, mut service) = function(events, "/");
    for (i, says) in expected.iter().enumerate() {
        match runtime.next_outcome() {
            Outcome::Error {
                request_id, body, ..
            } => {
                assert_eq!(request_id, format!("req-{}", 2 * i + 1));
                assert_eq!(body["errorType"], "UnsupportedEvent", "{body}");
                let message = body["errorMessage"].as_str().unwrap();
                assert!(message.contains(says), "{says}: {message}");
                assert!(message.contains("Application Load Balancers"), "{message}");
                assert!(message.contains("VPC Lattice"), "{message}");
                assert!(!message.contains("untagged enum"), "{message}");
            }
            other => panic!(
                "event {} should be an invocation error, got {other:?}",
                2 * i + 1
            ),
        }
        let served = runtime.next_outcome();
        assert_eq!(served.request_id(), format!("req-{}", 2 * i + 2));
        assert_eq!(decoded(served).status, 200);
    }
    let stderr = service.stderr_so_far();
    assert!(!stderr.contains("panic"), "{stderr}");
}

#[test]
fn a_path_with_spaces_and_line_breaks_is_routed_and_logged_escaped_not_a_crash() {
    let mut odd: Value = serde_json::from_str(&event("rest-api-prod-stage-health.json")).unwrap();
    odd["path"] = json!("/he alth\n[REQ] 200");
    let (runtime, mut service) = function(vec![odd.to_string()], "/");
    let message = decoded(runtime.next_outcome()).assert_error(404, "not_found");
    assert!(
        message.contains("/he%20alth%0A%5BREQ%5D%20200"),
        "{message}"
    );
    let line = service.wait_for_line(|l| l.starts_with("[REQ] 404"));
    assert!(line.contains("/he%20alth%0A%5BREQ%5D%20200"), "{line}");
    assert!(!service.stderr_so_far().contains("panic"));
}

#[test]
fn what_cannot_be_an_http_request_gets_a_json_400_and_the_next_event_is_served() {
    let mut bad_method: Value =
        serde_json::from_str(&http_api_event("GET", "/health", &[], None)).unwrap();
    bad_method["requestContext"]["http"]["method"] = json!("G ET");
    let mut bad_base64: Value = serde_json::from_str(&event("function-url-echo.json")).unwrap();
    bad_base64["body"] = json!("not base64!");
    let line_break = http_api_event("GET", "/health", &[("x-a", "1\r\nx-b: 2")], None);
    let bad_name = http_api_event("GET", "/health", &[("x-café", "1")], None);
    let events = vec![
        bad_method.to_string(),
        bad_base64.to_string(),
        line_break,
        bad_name,
        event("http-api-health.json"),
    ];
    let (runtime, mut service) = function(events, "/");
    for _ in 0..4 {
        let answer = decoded(runtime.next_outcome());
        answer.assert_error(400, "invalid_request");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer.header("x-request-id").is_some());
    }
    assert_eq!(decoded(runtime.next_outcome()).status, 200);
    service.wait_for_line(|l| l.starts_with("[REQ] 400 | G ET    | /health | "));
}

#[test]
fn a_path_over_64_kib_gets_the_json_414() {
    let long = format!("/{}", "a".repeat(70 * 1024));
    let events = vec![
        http_api_event("GET", &long, &[], None),
        event("http-api-health.json"),
    ];
    let (runtime, _service) = function(events, "/");
    let answer = decoded(runtime.next_outcome());
    answer.assert_error(414, "uri_too_long");
    assert_eq!(decoded(runtime.next_outcome()).status, 200);
}

#[test]
fn queries_with_spaces_and_non_ascii_and_encoded_paths_are_served_as_in_http_mode() {
    let mut spaced: Value =
        serde_json::from_str(&http_api_event("GET", "/health", &[], None)).unwrap();
    spaced["rawQueryString"] = json!("q=a b&r=café");
    let mut encoded: Value = serde_json::from_str(&event("function-url-echo.json")).unwrap();
    encoded["rawPath"] = json!("/%68ealth");
    encoded["requestContext"]["http"]["method"] = json!("GET");
    encoded["body"] = Value::Null;
    let (runtime, _service) = function(vec![spaced.to_string(), encoded.to_string()], "/");
    for _ in 0..2 {
        assert_eq!(decoded(runtime.next_outcome()).body, br#"{"status":"ok"}"#);
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
pub(crate) fn http_api_event(
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

/// A VPC Lattice event of event structure `version` (1 or 2) for `method path` with `body`,
/// built from the fixtures.
pub(crate) fn lattice_event(
    version: u8,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> String {
    let (file, path_key) = match version {
        1 => ("vpc-lattice-v1-echo.json", "raw_path"),
        _ => ("vpc-lattice-v2-health.json", "path"),
    };
    let mut event: Value = serde_json::from_str(&event(file)).unwrap();
    event[path_key] = json!(path);
    event["method"] = json!(method);
    event["headers"] = json!({});
    for (name, value) in headers {
        event["headers"][name] = if version == 1 {
            json!(value)
        } else {
            json!([value])
        };
    }
    event["body"] = body.map_or(Value::Null, |b| json!(b));
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
    type Build = fn(&str, &str, &[(&str, &str)], Option<&str>) -> String;
    let sources: [(&str, Build); 3] = [
        ("HTTP API", http_api_event),
        ("VPC Lattice V2", |m, p, h, b| lattice_event(2, m, p, h, b)),
        ("VPC Lattice V1", |m, p, h, b| lattice_event(1, m, p, h, b)),
    ];
    let app = spawn_app(&[]);
    for (source, build) in sources {
        let events = cases
            .iter()
            .map(|c| {
                build(
                    c.method,
                    c.path,
                    c.headers,
                    Some(c.body).filter(|b| !b.is_empty()),
                )
            })
            .collect();
        let (runtime, _service) = function(events, "/");
        for c in &cases {
            let lambda = Response::from_envelope(&runtime.next_outcome().into_response()).unwrap();
            let served = http::request(app.addr, c.method, c.path, c.headers, c.body.as_bytes());
            let name = format!("{source}: {} {}", c.method, c.path);
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
}

#[test]
fn vpc_lattice_events_of_both_structures_are_answered_in_lattices_shape() {
    let events = vec![
        event("vpc-lattice-v2-health.json"),
        event("vpc-lattice-v1-echo.json"),
    ];
    let (runtime, mut service) = function(events, "/");
    for expected in [
        r#"{"status":"ok"}"#,
        r#"{"lattice":"v1","n":[1,2.5,-3e10]}"#,
    ] {
        let envelope = runtime.next_outcome().into_response();
        assert_eq!(envelope["statusCode"], 200, "{envelope}");
        assert_eq!(envelope["statusDescription"], "200 OK");
        assert_eq!(envelope["isBase64Encoded"], false);
        assert_eq!(envelope["body"], expected);
        assert_eq!(envelope["headers"]["content-type"], "application/json");
        assert!(envelope.get("multiValueHeaders").is_none(), "{envelope}");
        assert!(envelope.get("cookies").is_none(), "{envelope}");
    }
    // The client's X-Request-Id is kept, as for every source.
    service.wait_for_line(|l| {
        l.starts_with("[REQ] 200 | POST    | /echo | ") && l.ends_with(" | lattice-v1-echo-1")
    });
}

#[test]
fn vpc_lattice_routes_under_root_path_and_bad_requests_get_the_json_400() {
    let bad =
        json!({"raw_path": "/api/echo", "method": "POST", "body": "@@", "is_base64_encoded": true});
    let events = vec![
        lattice_event(2, "GET", "/api/health", &[], None),
        lattice_event(1, "GET", "/health", &[], None),
        bad.to_string(),
        lattice_event(1, "GET", "/api/health", &[], None),
    ];
    let (runtime, _service) = function(events, "/api");
    assert_eq!(decoded(runtime.next_outcome()).body, br#"{"status":"ok"}"#);
    decoded(runtime.next_outcome()).assert_error(404, "not_found");
    decoded(runtime.next_outcome()).assert_error(400, "invalid_request");
    assert_eq!(decoded(runtime.next_outcome()).status, 200);
}

#[test]
fn the_tenant_is_in_json_request_lines_and_a_clients_tenant_header_is_not_trusted() {
    let tenant = |id: &str| Invocation {
        headers: vec![("Lambda-Runtime-Aws-Tenant-Id", id.to_owned())],
        ..Invocation::from(http_api_event(
            "GET",
            "/health",
            &[("x-amz-tenant-id", "forged")],
            None,
        ))
    };
    let runtime = FakeRuntime::start([
        tenant("tenant-a"),
        Invocation::from(http_api_event(
            "GET",
            "/health",
            &[("x-amz-tenant-id", "forged")],
            None,
        )),
    ]);
    let mut service = lambda_service(&runtime, &[("LOG_FORMAT", "json")]);
    runtime.next_outcome();
    runtime.next_outcome();
    let with = service.wait_for_line(|l| l.contains("\"requestId\":\"req-1\""));
    let with: Value = serde_json::from_str(&with).unwrap();
    assert_eq!(with["tenantId"], "tenant-a");
    let without = service.wait_for_line(|l| l.contains("\"requestId\":\"req-2\""));
    assert!(
        !without.contains("tenantId") && !without.contains("forged"),
        "{without}"
    );
}

#[test]
fn proxy_variables_in_the_environment_do_not_reach_the_runtime_api_clients() {
    // A function may set these for its own outbound calls; the Runtime API is always direct.
    let nowhere = "http://127.0.0.1:9";
    let runtime =
        FakeRuntime::start([event("http-api-health.json"), event("http-api-health.json")]);
    let _service = lambda_service(
        &runtime,
        &[
            ("HTTP_PROXY", nowhere),
            ("HTTPS_PROXY", nowhere),
            ("ALL_PROXY", nowhere),
            ("http_proxy", nowhere),
            ("https_proxy", nowhere),
            ("all_proxy", nowhere),
        ],
    );
    for _ in 0..2 {
        assert_eq!(decoded(runtime.next_outcome()).body, br#"{"status":"ok"}"#);
    }
}

#[test]
fn head_through_lambda_has_no_body() {
    let (runtime, _service) = function(vec![http_api_event("HEAD", "/health", &[], None)], "/");
    let decoded = Response::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    assert_eq!(decoded.status, 200);
    assert_eq!(decoded.header("content-type"), Some("application/json"));
    assert!(decoded.body.is_empty());
}

/// One event file per source, and whether its answer keeps headers as lists
/// (`multiValueHeaders`) and can be streamed.
struct HeadSource {
    name: &'static str,
    event: Value,
    lists: bool,
    streams: bool,
}

fn head_sources() -> Vec<HeadSource> {
    let file = |name: &str| -> Value { serde_json::from_str(&event(name)).unwrap() };
    let mut http_api_v1 = file("rest-api-prod-stage-health.json");
    http_api_v1["version"] = json!("1.0");
    let source = |name, event, lists, streams| HeadSource {
        name,
        event,
        lists,
        streams,
    };
    vec![
        source(
            "REST API",
            file("rest-api-prod-stage-health.json"),
            true,
            true,
        ),
        source("HTTP API, payload 1.0", http_api_v1, true, false),
        source(
            "HTTP API, payload 2.0",
            file("http-api-health.json"),
            false,
            false,
        ),
        source(
            "Function URL",
            file("function-url-null-query-health.json"),
            false,
            true,
        ),
        source(
            "ALB, multi-value headers",
            file("alb-time.json"),
            true,
            false,
        ),
        source(
            "ALB, single-value headers",
            file("alb-single-value-health.json"),
            false,
            false,
        ),
        source(
            "VPC Lattice V2",
            file("vpc-lattice-v2-health.json"),
            false,
            false,
        ),
        source(
            "VPC Lattice V1",
            file("vpc-lattice-v1-echo.json"),
            false,
            false,
        ),
    ]
}

#[test]
fn head_answers_state_the_gets_content_length_in_every_sources_shape_buffered_and_streamed() {
    // Arrange: the lengths HTTP mode states for the GETs, and a HEAD event per source and path.
    let app = spawn_app(&[]);
    let paths = ["/health", "/nope"];
    let lengths: Vec<String> = paths
        .iter()
        .map(|path| {
            let get = http::request(app.addr, "GET", path, &[], b"");
            get.header("content-length").unwrap().to_owned()
        })
        .collect();
    let sources = head_sources();
    let events: Vec<String> = sources
        .iter()
        .flat_map(|source| {
            paths.iter().map(|path| {
                let mut head = crate::corpus::rewritten(&source.event, "HEAD", path, None);
                head["body"] = Value::Null;
                head.to_string()
            })
        })
        .collect();
    for mode in ["buffered", "response_stream"] {
        let runtime = FakeRuntime::start(events.clone());
        let _service = lambda_service(&runtime, &[(config::LAMBDA_INVOKE_MODE, mode)]);
        for source in &sources {
            for (path, length) in paths.iter().zip(&lengths) {
                // Act
                let outcome = runtime.next_outcome();

                // Assert
                let what = format!("{mode}, {}: HEAD {path}", source.name);
                if mode == "response_stream" && source.streams {
                    let (prelude, body) = outcome.into_streamed().split();
                    assert!(body.is_empty(), "{what}: {body:?}");
                    assert_eq!(
                        prelude["headers"]["content-length"],
                        json!(length),
                        "{what}: {prelude}"
                    );
                } else {
                    let envelope = outcome.into_response();
                    assert_eq!(envelope["body"], "", "{what}: {envelope}");
                    let (key, stated) = if source.lists {
                        ("multiValueHeaders", json!([length]))
                    } else {
                        ("headers", json!(length))
                    };
                    assert_eq!(
                        envelope[key]["content-length"], stated,
                        "{what}: {envelope}"
                    );
                }
            }
        }
    }
}

#[test]
fn non_ascii_header_values_are_served() {
    let value = http_api_event("GET", "/health", &[("x-name", "café ☕")], None);
    let (runtime, _service) = function(vec![value], "/");
    assert_eq!(decoded(runtime.next_outcome()).body, br#"{"status":"ok"}"#);
}

/// An `/echo` event whose body is a JSON string of `fill` escaped quotes (`\"`), the body
/// that grows most as a JSON string (each `\"` becomes `\\\"`).
fn worst_case_echo(fill: usize) -> (String, Vec<u8>) {
    let mut echo: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
    let body = format!("\"{}\"", "\\\"".repeat(fill / 2));
    echo["body"] = json!(body);
    (echo.to_string(), body.into_bytes())
}

#[test]
fn an_echo_at_the_default_lambda_body_limit_fits_lambdas_response_limit() {
    let limit = rust_hybrid_api::limits::DEFAULT_LAMBDA_BODY_LIMIT;
    let (at_limit, sent) = worst_case_echo(limit - 2);
    assert!(sent.len() <= limit);
    let (over, _) = worst_case_echo(limit + 2);
    let events = vec![at_limit, over, event("http-api-health.json")];
    let (runtime, _service) = function(events, "/");
    let answer = decoded(runtime.next_outcome());
    assert_eq!(answer.status, 200);
    assert!(answer.body == sent, "the body came back changed");
    let refused = decoded(runtime.next_outcome());
    refused.assert_error(413, "payload_too_large");
    assert_eq!(decoded(runtime.next_outcome()).body, br#"{"status":"ok"}"#);
}

#[test]
fn with_a_larger_body_limit_an_echo_just_under_lambdas_limit_is_served_and_just_over_is_a_413() {
    let echo_of = |length: usize| {
        let mut echo: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
        echo["body"] = json!(format!("\"{}\"", "x".repeat(length - 2)));
        echo.to_string()
    };
    // The two quotes around the string are escaped in the envelope too.
    let largest = RESPONSE_LIMIT - rust_hybrid_api::limits::ENVELOPE_ALLOWANCE - 2;
    let runtime = FakeRuntime::start([echo_of(largest), echo_of(largest + 1)]);
    let mut service = lambda_service(&runtime, &[("MAX_BODY_BYTES", "6291456")]);
    // The fake refuses, as Lambda does, a response over the limit; this one must pass.
    let served = runtime.next_outcome().into_response();
    assert!(served.to_string().len() <= RESPONSE_LIMIT);
    assert_eq!(served["statusCode"], 200);
    let message = decoded(runtime.next_outcome()).assert_error(413, "payload_too_large");
    assert!(message.contains("Lambda's response limit"), "{message}");
    service.wait_for_line(|l| l.starts_with("[REQ] 413 | POST    | /echo"));
}

/// The Runtime API fault tests run with one loop and with eight (Lambda Managed Instances).
const LOOPS: [&str; 2] = ["1", "8"];

fn loops(n: &str) -> (&'static str, &str) {
    (config::AWS_LAMBDA_MAX_CONCURRENCY, n)
}

#[test]
fn a_refused_response_is_logged_as_one_error_line_and_the_next_event_is_served() {
    for n in LOOPS {
        let refused = |status| Invocation {
            response_status: Some(status),
            ..Invocation::from(event("http-api-health.json"))
        };
        let runtime = FakeRuntime::start([
            refused(413),
            refused(500),
            event("http-api-health.json").into(),
        ]);
        let mut service = lambda_service(&runtime, &[loops(n)]);
        let mut outcomes: Vec<Outcome> = (0..3).map(|_| runtime.next_outcome()).collect();
        outcomes.sort_by_key(|o| o.request_id().to_owned());
        for (outcome, (id, status)) in outcomes.iter().zip([("req-1", 413), ("req-2", 500)]) {
            assert!(
                matches!(outcome, Outcome::Refused { status: s, .. } if *s == status),
                "{n} loops: {outcome:?}"
            );
            let line =
                service.wait_for_line(|l| l.contains(&format!("refused the response to {id} ")));
            assert!(
                line.contains("ERROR") && line.contains(&status.to_string()),
                "{line}"
            );
        }
        assert_eq!(decoded(outcomes.pop().unwrap()).status, 200);
    }
}

/// With eight loops the faulty answer comes while the other seven polls wait: the process must
/// still end, and not leave them hanging.
#[test]
fn a_next_answer_without_request_id_or_deadline_ends_the_process_with_one_line_and_exit_1() {
    for n in LOOPS {
        for header in [
            "Lambda-Runtime-Aws-Request-Id",
            "Lambda-Runtime-Deadline-Ms",
        ] {
            let runtime = FakeRuntime::start([Invocation {
                omit: vec![header],
                ..Invocation::from(event("http-api-health.json"))
            }]);
            let mut service = lambda_service(&runtime, &[loops(n)]);
            let status = service.wait_for_exit();
            assert_eq!(status.code(), Some(1), "{header}, {n} loops");
            let stderr = service.stderr_so_far();
            assert!(stderr.contains(header), "{stderr}");
            assert!(!stderr.contains("panic"), "{stderr}");
            let last = stderr.lines().last().unwrap_or_default();
            assert!(last.starts_with("rust-hybrid-api: "), "{stderr}");
        }
    }
}

#[test]
fn a_next_answer_with_an_error_status_ends_the_process_with_one_line_and_exit_1() {
    for n in LOOPS {
        let runtime = FakeRuntime::start([
            event("http-api-health.json").into(),
            Invocation {
                next_status: Some(500),
                ..Invocation::from("{}")
            },
        ]);
        let mut service = lambda_service(&runtime, &[loops(n)]);
        assert_eq!(service.wait_for_exit().code(), Some(1), "{n} loops");
        let stderr = service.stderr_so_far();
        assert!(stderr.contains("answered GET /next with 500"), "{stderr}");
    }
}

#[test]
fn a_malformed_client_context_is_dropped_with_a_warning_and_the_event_served() {
    for n in LOOPS {
        let runtime = FakeRuntime::start([Invocation {
            headers: vec![(
                "Lambda-Runtime-Client-Context",
                "{\"custom\":{\"n\":1}}".into(),
            )],
            ..Invocation::from(event("http-api-health.json"))
        }]);
        let mut service = lambda_service(&runtime, &[loops(n)]);
        assert_eq!(decoded(runtime.next_outcome()).status, 200);
        let line = service.wait_for_line(|l| l.contains("lambda-runtime-client-context"));
        assert!(line.contains("WARN"), "{line}");
    }
}

#[test]
fn a_runtime_api_that_closes_every_connection_is_reconnected() {
    for n in LOOPS {
        let events: Vec<String> = (0..20).map(|_| event("http-api-health.json")).collect();
        let runtime = FakeRuntime::closing_connections(events);
        let _service = lambda_service(&runtime, &[loops(n)]);
        for _ in 0..20 {
            assert_eq!(decoded(runtime.next_outcome()).status, 200, "{n} loops");
        }
    }
}

#[test]
fn the_request_line_and_x_request_id_carry_the_lambda_request_id() {
    let (runtime, mut service) = function(
        vec![
            http_api_event("GET", "/health", &[], None),
            http_api_event("GET", "/health", &[("x-request-id", "client-7")], None),
        ],
        "/",
    );
    assert_eq!(
        decoded(runtime.next_outcome()).header("x-request-id"),
        Some("req-1")
    );
    assert_eq!(
        decoded(runtime.next_outcome()).header("x-request-id"),
        Some("client-7")
    );
    service.wait_for_line(|l| {
        l.starts_with("[REQ] 200 | GET     | /health | ") && l.ends_with(" | req-1")
    });
    service.wait_for_line(|l| l.ends_with(" | client-7"));
    // lambda_runtime's own line per invocation says nothing more; it is off by default.
    assert!(
        !service.stderr_so_far().contains("lambda_runtime"),
        "{}",
        service.stderr_so_far()
    );
}

#[test]
fn json_logs_in_lambda_mode_carry_lambdas_fields_and_cold_start_once() {
    let runtime = FakeRuntime::start([
        http_api_event("GET", "/health", &[], None),
        http_api_event("GET", "/nope\n{\"forged\":true}", &[], None),
    ]);
    let mut service = lambda_service(&runtime, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    runtime.next_outcome();
    runtime.next_outcome();
    service.wait_for_line(|l| l.contains("\"requestId\":\"req-2\""));
    let lines: Vec<Value> = service
        .stderr_so_far()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "message", "target"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let requests: Vec<&Value> = lines.iter().filter(|l| l["target"] == "request").collect();
    assert_eq!(requests.len(), 2, "{lines:?}");
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[0]["method"], "GET");
    assert_eq!(requests[0]["path"], "/health");
    assert!(requests[0]["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(requests[0]["request_id"], "req-1");
    assert_eq!(requests[0]["requestId"], "req-1");
    assert_eq!(
        requests[0]["xrayTraceId"],
        "Root=1-6744f0d4-0123456789abcdef01234567"
    );
    assert_eq!(requests[0]["cold_start"], true);
    assert_eq!(requests[1]["cold_start"], false);
    assert_eq!(requests[1]["status"], 404);
    // lambda-web percent-encodes the path it is given, `:` included.
    assert_eq!(requests[1]["path"], "/nope%0A%7B%22forged%22%3Atrue%7D");
}

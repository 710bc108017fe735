//! Every row of the HTTP contract and every error, through the App factory in-process.

use crate::support::{call, call_in, lambda};
use actix_web::http::Method;
use actix_web::test::TestRequest;
use rust_hybrid_api::limits::{MAX_HEADER_BYTES, MAX_URI_BYTES};
use rust_hybrid_api::routes::ENDPOINTS;
use serde_json::json;

fn get(path: &str) -> TestRequest {
    TestRequest::get().uri(path)
}

fn post_json(path: &str, body: &'static [u8]) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

// ---- GET {root}/ ----

#[actix_rt::test]
async fn index_describes_the_service_with_full_endpoint_paths() {
    let reply = call(&[("ROOT_PATH", "api")], get("/api")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["service"], "rust-hybrid-api");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["mode"], "http");
    let endpoints: Vec<(String, String)> = body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["description"].as_str().unwrap().is_empty());
            (
                e["method"].as_str().unwrap().into(),
                e["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("GET", "/api"),
        ("GET", "/api/health"),
        ("POST", "/api/echo"),
        ("GET", "/api/time"),
        ("GET", "/api/openapi.json"),
    ]
    .map(|(m, p)| (m.to_owned(), p.to_owned()));
    assert_eq!(endpoints, expected);
}

#[actix_rt::test]
async fn index_reports_lambda_mode_when_running_under_lambda() {
    let reply = call_in(lambda(), &[], get("/")).await;
    assert_eq!(reply.json()["mode"], "lambda");
}

#[actix_rt::test]
async fn every_listed_endpoint_answers_its_method() {
    for endpoint in ENDPOINTS {
        let request = TestRequest::default()
            .method(Method::from_bytes(endpoint.method.as_bytes()).unwrap())
            .uri(endpoint.route)
            .set_payload("{}");
        let reply = call(&[], request).await;
        assert_eq!(reply.status, 200, "{} {}", endpoint.method, endpoint.route);
    }
}

// ---- GET {root}/health ----

#[actix_rt::test]
async fn health_returns_exactly_status_ok() {
    let reply = call(&[], get("/health")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, br#"{"status":"ok"}"#);
}

// ---- GET {root}/time ----

#[actix_rt::test]
async fn time_returns_the_current_utc_time_in_rfc3339() {
    let reply = call(&[], get("/time")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 1);
    let text = body["time"].as_str().unwrap();
    assert!(text.ends_with('Z'), "{text}");
    let time = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    let skew = (chrono::Utc::now() - time.to_utc()).num_seconds().abs();
    assert!(skew <= 5, "{text} is {skew}s away from now");
}

// ---- POST {root}/echo ----

#[actix_rt::test]
async fn echo_returns_the_document_byte_for_byte() {
    let sent: &[u8] = b"{\"z\":1,\"a\":123456789012345678901234567890,\"f\":1.000000000000000000001,\n \"e\":1e400}";
    let reply = call(&[], post_json("/echo", sent)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, sent);
}

#[actix_rt::test]
async fn echo_accepts_any_json_value() {
    for sent in [
        &b"null"[..],
        b"false",
        b"-0.5",
        b"\"text\"",
        b"[1,[2,[3]]]",
        b"{}",
    ] {
        let reply = call(&[], post_json("/echo", sent)).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(sent));
        assert_eq!(reply.body, sent);
    }
}

#[actix_rt::test]
async fn echo_accepts_json_types_with_parameters_plus_json_and_no_content_type() {
    for content_type in [
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/merge-patch+json"),
        Some("application/vnd.api+json"),
        None,
    ] {
        let mut request = TestRequest::post().uri("/echo").set_payload("[1]");
        if let Some(value) = content_type {
            request = request.insert_header(("content-type", value));
        }
        let reply = call(&[], request).await;
        assert_eq!(reply.status, 200, "{content_type:?}");
    }
}

#[actix_rt::test]
async fn echo_returns_415_for_other_content_types() {
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "json",
    ] {
        let request = TestRequest::post()
            .uri("/echo")
            .insert_header(("content-type", content_type))
            .set_payload("{}");
        let message = call(&[], request)
            .await
            .assert_error(415, "unsupported_media_type");
        assert!(message.contains("send application/json"), "{message}");
        assert!(message.contains(content_type), "{message}");
    }
}

#[actix_rt::test]
async fn echo_returns_400_for_malformed_json_with_line_and_column() {
    let reply = call(&[], post_json("/echo", b"{\"a\": 1,\n  \"b\": tru}")).await;
    let message = reply.assert_error(400, "invalid_json");
    assert_eq!(
        message,
        "The request body is not valid JSON: expected ident at line 2 column 11."
    );
}

#[actix_rt::test]
async fn echo_returns_400_for_trailing_garbage_and_bad_encodings() {
    for sent in [
        &b"{\"a\":1} x"[..],
        b"\xff",
        b"\"\\ud800\"",
        b"NaN",
        b"\xef\xbb\xbf{}",
    ] {
        call(&[], post_json("/echo", sent))
            .await
            .assert_error(400, "invalid_json");
    }
}

#[actix_rt::test]
async fn echo_returns_400_for_deep_nesting() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let request = TestRequest::post().uri("/echo").set_payload(deep);
    let message = call(&[], request).await.assert_error(400, "invalid_json");
    assert!(
        message.contains("nesting deeper than 128 levels"),
        "{message}"
    );
}

#[actix_rt::test]
async fn echo_returns_400_for_an_empty_body() {
    let message = call(&[], post_json("/echo", b""))
        .await
        .assert_error(400, "empty_body");
    assert!(message.contains("empty"), "{message}");
}

#[actix_rt::test]
async fn echo_returns_413_over_the_configured_limit() {
    let limit = [("MAX_BODY_BYTES", "8")];
    let at_limit = call(&limit, post_json("/echo", b"[1,2,33]")).await;
    assert_eq!(at_limit.status, 200);
    let message = call(&limit, post_json("/echo", b"[1,2,333]"))
        .await
        .assert_error(413, "payload_too_large");
    assert!(message.contains("limit of 8 bytes"), "{message}");
}

#[actix_rt::test]
async fn echo_returns_413_when_content_length_announces_too_much() {
    let request = post_json("/echo", b"[]").insert_header(("content-length", "9"));
    call(&[("MAX_BODY_BYTES", "8")], request)
        .await
        .assert_error(413, "payload_too_large");
}

#[actix_rt::test]
async fn echo_default_limit_is_lambdas_6_mib() {
    let fill = |size: usize| format!("\"{}\"", "x".repeat(size - 2));
    let exactly = TestRequest::post()
        .uri("/echo")
        .set_payload(fill(6 * 1024 * 1024));
    assert_eq!(call(&[], exactly).await.status, 200);
    let over = TestRequest::post()
        .uri("/echo")
        .set_payload(fill(6 * 1024 * 1024 + 1));
    call(&[], over).await.assert_error(413, "payload_too_large");
}

// ---- errors, methods, paths ----

#[actix_rt::test]
async fn unknown_paths_return_404_json() {
    for path in ["/nope", "/health/extra", "/echo/1", "/HEALTH"] {
        let message = call(&[], get(path)).await.assert_error(404, "not_found");
        assert!(message.contains(path), "{message}");
    }
}

/// Every method on every route gets only the contract's answer.
#[actix_rt::test]
async fn every_method_on_every_route_gets_the_contract_answer_or_405_with_allow() {
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    ];
    for endpoint in ENDPOINTS {
        let (path, allow) = (endpoint.route, endpoint.allow());
        // The contract's two kinds of endpoint, whatever the route table says.
        let expected = if endpoint.method == "GET" {
            "GET, HEAD, OPTIONS"
        } else {
            "POST, OPTIONS"
        };
        assert_eq!(allow, expected, "{path}");
        for method in methods {
            let request = TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload("{}");
            let reply = call(&[], request).await;
            let case = format!("{method} {path}");
            match method {
                "OPTIONS" => {
                    assert_eq!(reply.status, 204, "{case}");
                    assert_eq!(reply.header("allow"), Some(allow), "{case}");
                    assert!(reply.body.is_empty(), "{case}");
                }
                "GET" | "HEAD" if endpoint.method == "GET" => {
                    assert_eq!(reply.status, 200, "{case}")
                }
                "POST" if endpoint.method == "POST" => assert_eq!(reply.status, 200, "{case}"),
                _ => {
                    let message = reply.assert_error(405, "method_not_allowed");
                    assert_eq!(reply.header("allow"), Some(allow), "{case}");
                    assert!(message.contains(method), "{message}");
                }
            }
        }
    }
    for method in methods {
        let request = TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/nope");
        call(&[], request).await.assert_error(404, "not_found");
    }
}

#[actix_rt::test]
async fn a_trailing_slash_is_tolerated() {
    assert_eq!(call(&[], get("/health/")).await.body, br#"{"status":"ok"}"#);
    assert_eq!(
        call(&[], get("//health//")).await.body,
        br#"{"status":"ok"}"#
    );
    assert_eq!(call(&[], post_json("/echo/", b"[]")).await.status, 200);
    let api = [("ROOT_PATH", "/api")];
    assert_eq!(call(&api, get("/api/")).await.status, 200);
    assert_eq!(call(&api, get("/api/time/")).await.status, 200);
}

#[actix_rt::test]
async fn root_path_mounts_every_route_and_nothing_outside_it() {
    let api = [("ROOT_PATH", "api/")];
    assert_eq!(
        call(&api, get("/api/health")).await.body,
        br#"{"status":"ok"}"#
    );
    assert_eq!(call(&api, post_json("/api/echo", b"1")).await.status, 200);
    for outside in ["/health", "/", "/apihealth", "/api2/health"] {
        call(&api, get(outside))
            .await
            .assert_error(404, "not_found");
    }
}

#[actix_rt::test]
async fn head_in_lambda_mode_keeps_status_and_headers_and_states_the_gets_length_without_the_body()
{
    for path in ["/", "/health", "/time", "/nope"] {
        let got = call_in(lambda(), &[], get(path)).await;
        let head = call_in(
            lambda(),
            &[],
            TestRequest::default().method(Method::HEAD).uri(path),
        )
        .await;
        assert_eq!(head.status, got.status, "{path}");
        assert_eq!(
            head.header("content-type"),
            got.header("content-type"),
            "{path}"
        );
        // lambda-web writes no Content-Length; HTTP mode's is the GET body's, and so is this.
        let length = got.body.len().to_string();
        assert_eq!(
            head.header("content-length"),
            Some(length.as_str()),
            "{path}"
        );
        assert!(head.body.is_empty(), "{path}: {:?}", head.body);
    }
}

#[actix_rt::test]
async fn every_response_forbids_content_type_sniffing() {
    let requests = [
        get("/"),
        get("/health"),
        get("/time"),
        post_json("/echo", b"{}"),
        post_json("/echo", b"{"),
        get("/missing"),
        TestRequest::delete().uri("/health"),
    ];
    for request in requests {
        let reply = call(&[], request).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            reply.status
        );
    }
}

#[actix_rt::test]
async fn echo_and_time_answers_are_never_cached() {
    let limit = [("MAX_BODY_BYTES", "4")];
    let requests = [
        get("/time"),
        get("/time/"),
        TestRequest::put().uri("/time"),
        post_json("/echo", b"[]"),
        post_json("/echo", b"[1,2,3]"),
        post_json("/echo", b"nope"),
        get("/echo"),
    ];
    for request in requests {
        let reply = call(&limit, request).await;
        assert_eq!(
            reply.header("cache-control"),
            Some("no-store"),
            "{}",
            reply.status
        );
    }
    for path in ["/", "/health"] {
        assert_eq!(
            call(&[], get(path)).await.header("cache-control"),
            None,
            "{path}"
        );
    }
}

#[actix_rt::test]
async fn errors_are_json_for_every_status() {
    let body = call(&[], get("/missing")).await.json();
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "There is no endpoint at /missing; GET / lists them."})
    );
}

#[actix_rt::test]
async fn every_response_carries_a_generated_request_id() {
    let mut seen = Vec::new();
    for request in [get("/health"), get("/nope"), post_json("/echo", b"{")] {
        let reply = call(&[], request).await;
        let id = reply
            .header("x-request-id")
            .expect("x-request-id")
            .to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        seen.push(id);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "ids are distinct: {seen:?}");
}

#[actix_rt::test]
async fn a_sane_incoming_request_id_is_propagated_and_anything_else_replaced() {
    let with_id = |id: &str| get("/health").insert_header(("x-request-id", id));
    let kept = call(&[], with_id("3f2a9c1e-8d4b-4b7a.prod:7")).await;
    assert_eq!(
        kept.header("x-request-id"),
        Some("3f2a9c1e-8d4b-4b7a.prod:7")
    );
    for unsafe_id in ["", "has space", "a|b", &"x".repeat(129)] {
        let replaced = call(&[], with_id(unsafe_id)).await;
        let id = replaced.header("x-request-id").expect("x-request-id");
        assert_ne!(id, unsafe_id);
        assert_eq!(id.len(), 32, "{id}");
    }
}

#[actix_rt::test]
async fn an_overlong_path_and_query_get_a_json_414() {
    let path = format!("/health?q={}", "a".repeat(MAX_URI_BYTES));
    let message = call(&[], get(&path))
        .await
        .assert_error(414, "uri_too_long");
    assert!(message.contains("8192 bytes"), "{message}");
    let at_limit = format!(
        "/health?q={}",
        "a".repeat(MAX_URI_BYTES - "/health?q=".len())
    );
    assert_eq!(call(&[], get(&at_limit)).await.status, 200);
}

#[actix_rt::test]
async fn oversized_headers_get_a_json_431() {
    let big = "a".repeat(MAX_HEADER_BYTES);
    let request = get("/health").insert_header(("x-big", big.as_str()));
    let message = call(&[], request)
        .await
        .assert_error(431, "headers_too_large");
    assert!(message.contains("16384 bytes"), "{message}");
    let fits = "a".repeat(MAX_HEADER_BYTES / 2);
    let request = get("/health").insert_header(("x-big", fits.as_str()));
    assert_eq!(call(&[], request).await.status, 200);
}

#[actix_rt::test]
async fn head_limit_errors_are_logged_answers_with_the_usual_headers() {
    let path = format!("/{}", "a".repeat(MAX_URI_BYTES + 1));
    let reply = call(&[], get(&path)).await;
    assert_eq!(reply.status, 414);
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert!(reply.header("x-request-id").is_some());
}

//! Property tests through the App factory, in-process: whatever a client sends, `/echo` and the
//! router answer inside the contract, and no path can break the one-line request log.

use actix_web::test::{self, TestRequest};
use proptest::prelude::*;
use rust_hybrid_api::app::app;
use rust_hybrid_api::context::AppContext;
use rust_hybrid_api::logging::RequestLine;
use serde_json::Value;
use std::time::Duration;

/// Sends each request through one App (body limit `max_body_bytes`) and returns status and body.
fn serve_all(max_body_bytes: &str, requests: Vec<TestRequest>) -> Vec<(u16, Vec<u8>)> {
    let settings = crate::support::settings(&[("MAX_BODY_BYTES", max_body_bytes)]);
    actix_rt::System::new().block_on(async move {
        let service = test::init_service(app(AppContext::new(&settings))).await;
        let mut replies = Vec::new();
        for request in requests {
            let response = test::call_service(&service, request.to_request()).await;
            let status = response.status().as_u16();
            replies.push((status, test::read_body(response).await.to_vec()));
        }
        replies
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Any string, with control characters, line separators and backslashes far more often than
/// chance would give them (proptest's own `String` strategy leaves control characters out).
fn any_path() -> impl Strategy<Value = String> {
    let tricky = prop_oneof![
        (0u8..0x20).prop_map(char::from),
        Just('\u{7f}'),
        Just('\u{85}'),
        Just('\u{2028}'),
        Just('\u{2029}'),
        Just('\\'),
        Just('%'),
    ];
    prop::collection::vec(prop_oneof![any::<char>(), tricky], 0..48)
        .prop_map(|chars| chars.into_iter().collect())
}

fn echo(body: Vec<u8>, content_type: &str) -> TestRequest {
    TestRequest::post()
        .uri("/echo")
        .insert_header(("content-type", content_type))
        .set_payload(body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_json_value_comes_back_semantically_identical(value in json_value(), pretty in any::<bool>()) {
        let sent = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        let replies = serve_all("6291456", vec![echo(sent.clone(), "application/json")]);
        let (status, body) = &replies[0];
        prop_assert_eq!(*status, 200);
        prop_assert_eq!(serde_json::from_slice::<Value>(body).unwrap(), serde_json::from_slice::<Value>(&sent).unwrap());
        prop_assert_eq!(body, &sent);
    }

    #[test]
    fn arbitrary_bytes_get_200_400_413_or_415_and_never_a_5xx(
        body in prop::collection::vec(any::<u8>(), 0..96),
        content_type in prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("text/plain"),
            Just("application/problem+json"),
        ],
    ) {
        // A 64-byte limit, so that the 413 branch is reached too.
        let replies = serve_all("64", vec![echo(body, content_type)]);
        let (status, body) = &replies[0];
        prop_assert!([200, 400, 413, 415].contains(status), "{}", status);
        if *status != 200 {
            let error: Value = serde_json::from_slice(body).unwrap();
            prop_assert!(error["error"].is_string() && error["message"].is_string());
        }
    }

    #[test]
    fn arbitrary_paths_never_get_a_5xx(path in any_path(), method in prop_oneof![Just("GET"), Just("POST"), Just("DELETE")]) {
        let uri = format!("/{}", percent_encode(&path));
        let request = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&uri);
        let replies = serve_all("6291456", vec![request]);
        prop_assert!(replies[0].0 < 500, "{} {}: {}", method, uri, replies[0].0);
    }

    #[test]
    fn arbitrary_paths_never_break_the_one_line_log_format(path in any_path(), status in 100u16..600) {
        let line = RequestLine {
            status,
            method: "GET",
            path: &path,
            elapsed: Duration::from_micros(42),
            request_id: "r1",
        }
        .to_string();
        prop_assert_eq!(line.lines().count(), 1);
        prop_assert!(!line.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'), "{:?}", line);
        let prefix = format!("[REQ] {status:>3} | GET     | ");
        prop_assert!(line.starts_with(&prefix));
        prop_assert!(line.ends_with(" | 42.0µs | r1"), "{:?}", line);
    }
}

/// Percent-encodes every byte outside RFC 3986's unreserved set and `/`, so any string makes a
/// valid request target, as a client would send it.
fn percent_encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

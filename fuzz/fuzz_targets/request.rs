//! Fuzzes the request-handling path in-process, through the same App factory that HttpServer,
//! lambda-web and the tests use. An input is `[method][content type][path] 0 [headers] 0 [body]`,
//! with headers as `name: value` lines. Whatever it holds, the answer must stay inside the
//! contract: never a 5xx, every error a JSON `{"error", "message"}`, and a one-line log entry.

#![no_main]

use actix_service::boxed::{self, RcService};
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use libfuzzer_sys::fuzz_target;
use rust_hybrid_api::app::app;
use rust_hybrid_api::context::AppContext;
use rust_hybrid_api::config::Settings;
use rust_hybrid_api::logging::RequestLine;
use std::time::Duration;

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PROPFIND",
];
const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/vnd.api+json"),
];

type AppService = RcService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

// Leaked, not dropped: at exit, dropping the App would return requests to actix-http's own
// thread-local pool after that pool has been destroyed, which panics.
thread_local! {
    static RUNTIME: &'static actix_rt::Runtime =
        Box::leak(Box::new(actix_rt::Runtime::new().expect("runtime")));
    static APP: &'static AppService = RUNTIME.with(|rt| {
        // A small body limit, so that the 413 path is reached too.
        let settings = Settings::from_pairs(&[("MAX_BODY_BYTES", "4096")]).expect("valid settings");
        let service = rt.block_on(async {
            boxed::rc_service(test::init_service(app(AppContext::new(&settings))).await)
        });
        &*Box::leak(Box::new(service))
    });
}

fuzz_target!(|data: &[u8]| {
    let [method, content_type, rest @ ..] = data else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let (path, headers, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let method = METHODS[usize::from(*method) % METHODS.len()];
    let uri = format!("/{}", encode(path));
    if uri.parse::<actix_web::http::Uri>().is_err() {
        return;
    }
    let mut request = TestRequest::default()
        .method(Method::from_bytes(method.as_bytes()).expect("a valid method"))
        .uri(&uri)
        .set_payload(body.to_vec());
    if let Some(value) = CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()] {
        request = request.insert_header(("content-type", value));
    }
    for line in headers.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        request = request.append_header((name, value));
    }

    let (status, body) = RUNTIME.with(|rt| {
        APP.with(|service| {
            rt.block_on(async {
                let response = service.call(request.to_request()).await.expect("no middleware error");
                let status = response.status().as_u16();
                (status, test::read_body(response).await)
            })
        })
    });

    assert!(status < 500, "{method} {uri}: {status}");
    if status >= 400 && method != "HEAD" {
        let error: serde_json::Value = serde_json::from_slice(&body).expect("errors are JSON");
        assert!(error["error"].is_string() && error["message"].is_string(), "{error}");
    }
    let line = RequestLine {
        status,
        method,
        path: &uri,
        elapsed: Duration::ZERO,
        request_id: "fuzz",
    }
    .to_string();
    assert_eq!(line.lines().count(), 1, "{line:?}");
});

/// Keeps URI-safe ASCII as it is (so `?`, `%` and `/` reach the router) and percent-encodes the
/// rest, so that any bytes make a request target.
fn encode(path: &[u8]) -> String {
    path.iter()
        .map(|&b| match b {
            b'!'..=b'~' if !b"\"<>\\^`{|}#".contains(&b) => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

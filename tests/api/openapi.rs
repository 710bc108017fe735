//! openapi.yaml against the service: the document is served with `servers` set to ROOT_PATH,
//! every operation it lists is answered, every other method is refused with the `Allow` it
//! implies, and the index and the error codes agree with it. schemathesis (in `make test`)
//! checks the live responses against its schemas.

use crate::support::call;
use actix_web::http::Method;
use actix_web::test::TestRequest;
use rust_hybrid_api::error::ApiError;
use rust_hybrid_api::routes::{ENDPOINTS, OPENAPI_JSON};
use serde_json::Value;
use std::collections::BTreeSet;

/// The methods `Allow` lists, in the order it lists them.
const ALLOW_ORDER: [&str; 4] = ["GET", "HEAD", "POST", "OPTIONS"];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).unwrap()
}

/// Each documented path with its methods, upper-case, in `Allow` order.
fn operations() -> Vec<(String, Vec<&'static str>)> {
    let document = document();
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = ALLOW_ORDER
                .into_iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[actix_rt::test]
async fn openapi_json_is_the_embedded_document_with_servers_set_to_root_path() {
    for (root, server) in [("", "/"), ("v1/", "/v1")] {
        let path = format!("/{root}openapi.json");
        let reply = call(&[("ROOT_PATH", root)], TestRequest::get().uri(&path)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let mut served = reply.json();
        assert_eq!(served["servers"], serde_json::json!([{ "url": server }]));
        served["servers"] = document()["servers"].clone();
        assert_eq!(served, document(), "only servers differs");
    }
}

#[actix_rt::test]
async fn the_documented_version_is_the_crate_version() {
    assert_eq!(document()["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_rt::test]
async fn every_documented_operation_is_answered_and_other_methods_get_405_with_that_allow() {
    let methods = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
    ];
    for (path, documented) in operations() {
        let allow = documented.join(", ");
        for method in methods {
            let request = TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&path)
                .insert_header(("content-type", "application/json"))
                .set_payload("{}");
            let reply = call(&[], request).await;
            let case = format!("{method} {path}");
            if documented.contains(&method) {
                let responses =
                    &document()["paths"][&path][method.to_ascii_lowercase()]["responses"];
                let status = reply.status.to_string();
                assert!(
                    responses.get(&status).is_some(),
                    "{case}: {status} is not documented"
                );
                assert!(reply.status < 300, "{case}: {}", reply.status);
            } else {
                reply.assert_error(405, "method_not_allowed");
                assert_eq!(reply.header("allow"), Some(allow.as_str()), "{case}");
            }
        }
    }
}

#[test]
fn the_index_lists_exactly_the_documented_get_and_post_operations() {
    let documented: BTreeSet<(String, String)> = operations()
        .into_iter()
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .filter(|m| matches!(*m, "GET" | "POST"))
                .map(move |m| (m.to_owned(), path.clone()))
        })
        .collect();
    let listed: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_owned(), e.route.to_owned()))
        .collect();
    assert_eq!(listed, documented);
}

#[test]
fn the_documented_error_codes_are_exactly_the_ones_the_service_sends() {
    let documented: BTreeSet<String> = document()["components"]["schemas"]["Error"]["properties"]
        ["error"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    let path = String::new;
    let sent: BTreeSet<String> = [
        ApiError::NotFound {
            path: path(),
            index: path(),
        },
        ApiError::MethodNotAllowed {
            method: path(),
            path: path(),
            allow: "",
        },
        ApiError::UnsupportedMediaType {
            content_type: path(),
        },
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::EmptyBody,
        ApiError::InvalidJson { detail: path() },
        ApiError::UnreadableBody { detail: path() },
        ApiError::BodyTimeout { secs: 1 },
        ApiError::UriTooLong { limit: 1 },
        ApiError::HeadersTooLarge { limit: 1 },
        ApiError::EchoTooLarge { response_limit: 1 },
        ApiError::InvalidRequest { detail: path() },
        ApiError::ResponseTooLarge { size: 2, limit: 1 },
    ]
    .iter()
    .inspect(|error| every_variant_is_listed(error))
    .map(|error| error.code().to_owned())
    .collect();
    assert_eq!(documented, sent);
}

/// Stops compiling when ApiError gains a variant, until the list above has it too.
fn every_variant_is_listed(error: &ApiError) {
    match error {
        ApiError::NotFound { .. }
        | ApiError::MethodNotAllowed { .. }
        | ApiError::UnsupportedMediaType { .. }
        | ApiError::PayloadTooLarge { .. }
        | ApiError::EmptyBody
        | ApiError::InvalidJson { .. }
        | ApiError::UnreadableBody { .. }
        | ApiError::BodyTimeout { .. }
        | ApiError::UriTooLong { .. }
        | ApiError::HeadersTooLarge { .. }
        | ApiError::EchoTooLarge { .. }
        | ApiError::InvalidRequest { .. }
        | ApiError::ResponseTooLarge { .. } => {}
    }
}

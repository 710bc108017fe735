//! `GET {root}/openapi.json`: the contract, openapi.yaml as JSON (build.rs converts it at build
//! time), with `servers` set to the running `ROOT_PATH` so that clients and tools call the right
//! paths.

use crate::config::RootPath;
use crate::context::AppContext;
use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The document for the running `ROOT_PATH`, built on the first request a worker gets, not at
/// start-up: cold start is on the Lambda critical path.
#[derive(Default)]
pub struct Cached(OnceLock<Bytes>);

/// openapi.yaml, as the JSON build.rs made of it.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

pub async fn openapi(ctx: web::Data<AppContext>, cached: web::Data<Cached>) -> HttpResponse {
    let document = cached.0.get_or_init(|| document(&ctx.root_path));
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.clone())
}

/// The document served under `root`.
pub fn document(root: &RootPath) -> Bytes {
    let mut document: Value =
        serde_json::from_str(OPENAPI_JSON).expect("build.rs writes valid JSON");
    document["servers"] = json!([{ "url": root.to_string() }]);
    Bytes::from(document.to_string())
}

//! The four endpoints and the OpenAPI document. [`configure`] registers them, so `HttpServer`, Lambda and the tests all
//! serve the very same routes.

mod echo;
mod health;
mod index;
mod openapi;
mod time;

use crate::app::AppContext;
use crate::config::RootPath;
use crate::error::ApiError;
use actix_web::dev::Handler;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{guard, web, FromRequest, HttpRequest, HttpResponse, Responder};
use std::future::{ready, Ready};

pub use echo::validate_json;
pub use openapi::{document as openapi_document, OPENAPI_JSON};

/// One row of the endpoint list the index returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method (GET routes also answer HEAD).
    pub method: &'static str,
    /// The route relative to `ROOT_PATH`.
    pub route: &'static str,
    /// One line for the index.
    pub description: &'static str,
}

/// What the service offers; the index lists these and a test checks each one answers.
pub const ENDPOINTS: [Endpoint; 5] = [
    Endpoint {
        method: "GET",
        route: "/",
        description: "This welcome document: service, version, mode and endpoints.",
    },
    Endpoint {
        method: "GET",
        route: "/health",
        description: "Liveness check; always {\"status\":\"ok\"}.",
    },
    Endpoint {
        method: "POST",
        route: "/echo",
        description: "Returns the JSON document sent in the body, unchanged.",
    },
    Endpoint {
        method: "GET",
        route: "/time",
        description: "The server's current time in RFC 3339, UTC.",
    },
    Endpoint {
        method: "GET",
        route: "/openapi.json",
        description: "This API's OpenAPI 3 description.",
    },
];

/// Mounts every endpoint under `root`.
pub fn configure(cfg: &mut web::ServiceConfig, root: &RootPath) {
    cfg.service(readable(root.join("/"), index::index))
        .service(readable(root.join("/health"), health::health))
        .service(readable(root.join("/time"), time::time).wrap(no_store()))
        .service(readable(root.join("/openapi.json"), openapi::openapi))
        .service(
            web::resource(root.join("/echo"))
                .route(web::post().to(echo::echo))
                .route(web::route().guard(guard::Options()).to(options(ECHO_ALLOW)))
                .default_service(web::to(reject_method(ECHO_ALLOW)))
                .wrap(no_store()),
        );
}

/// The methods the read-only endpoints answer, as `Allow` lists them.
const READABLE_ALLOW: &str = "GET, HEAD, OPTIONS";
/// The methods `/echo` answers, as `Allow` lists them.
const ECHO_ALLOW: &str = "POST, OPTIONS";

/// `Cache-Control: no-store` on every answer of a resource (405s and errors too): an echoed
/// body may hold anything the client sent, and a cached time is a wrong time.
fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"))
}

/// The answer for any path no route matches.
pub async fn not_found(
    req: HttpRequest,
    ctx: web::Data<AppContext>,
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        path: req.path().to_owned(),
        index: ctx.root_path.join("/"),
    })
}

/// A resource answering GET and HEAD with `handler`: HTTP/1.1 drops the body of a HEAD response
/// and keeps its headers, so one handler serves both. OPTIONS lists the methods.
fn readable<F, Args>(path: String, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(
            web::route()
                .guard(guard::Any(guard::Get()).or(guard::Head()))
                .to(handler),
        )
        .route(
            web::route()
                .guard(guard::Options())
                .to(options(READABLE_ALLOW)),
        )
        .default_service(web::to(reject_method(READABLE_ALLOW)))
}

/// `OPTIONS` on an endpoint: `204 No Content` with the `Allow` header (RFC 9110, 9.3.7). It is
/// not a CORS preflight answer; see the README.
fn options(allow: &'static str) -> impl Fn() -> Ready<HttpResponse> + Clone + 'static {
    move || {
        ready(
            HttpResponse::NoContent()
                .insert_header((header::ALLOW, allow))
                .finish(),
        )
    }
}

fn reject_method(
    allow: &'static str,
) -> impl Fn(HttpRequest) -> Ready<Result<HttpResponse, ApiError>> + Clone + 'static {
    move |req| {
        ready(Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            allow,
        }))
    }
}

//! The four endpoints and the OpenAPI document. [`configure`] registers them, so `HttpServer`, Lambda and the tests all
//! serve the very same routes.

mod echo;
mod health;
mod index;
mod openapi;
mod time;

use crate::config::RootPath;
use crate::context::AppContext;
use crate::error::ApiError;
use actix_web::dev::Handler;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::{guard, web, FromRequest, HttpRequest, HttpResponse, Responder};
use std::future::{ready, Ready};

pub use openapi::{document as openapi_document, OPENAPI_JSON};

/// One endpoint, declared once: [`configure`] mounts it, the index lists it, its `Allow` header
/// and the tests come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method (GET routes also answer HEAD).
    pub method: &'static str,
    /// The route relative to `ROOT_PATH`.
    pub route: &'static str,
    /// One line for the index.
    pub description: &'static str,
    /// Every answer carries `Cache-Control: no-store` (405s and errors too): an echoed body may
    /// hold anything the client sent, and a cached time is a wrong time.
    pub no_store: bool,
    handler: Route,
}

impl Endpoint {
    /// The methods the endpoint answers, as `Allow` lists them.
    pub fn allow(&self) -> &'static str {
        if self.method == "GET" {
            "GET, HEAD, OPTIONS"
        } else {
            "POST, OPTIONS"
        }
    }
}

/// Which handler serves an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Index,
    Health,
    Echo,
    Time,
    OpenApi,
}

/// What the service offers.
pub const ENDPOINTS: [Endpoint; 5] = [
    Endpoint {
        method: "GET",
        route: "/",
        description: "This welcome document: service, version, mode and endpoints.",
        no_store: false,
        handler: Route::Index,
    },
    Endpoint {
        method: "GET",
        route: "/health",
        description: "Liveness check; always {\"status\":\"ok\"}.",
        no_store: false,
        handler: Route::Health,
    },
    Endpoint {
        method: "POST",
        route: "/echo",
        description: "Returns the JSON document sent in the body, unchanged.",
        no_store: true,
        handler: Route::Echo,
    },
    Endpoint {
        method: "GET",
        route: "/time",
        description: "The server's current time in RFC 3339, UTC.",
        no_store: true,
        handler: Route::Time,
    },
    Endpoint {
        method: "GET",
        route: "/openapi.json",
        description: "This API's OpenAPI 3 description.",
        no_store: false,
        handler: Route::OpenApi,
    },
];

/// Mounts every endpoint under `root`.
pub fn configure(cfg: &mut web::ServiceConfig, root: &RootPath) {
    cfg.app_data(web::Data::new(openapi::Cached::default()));
    for endpoint in &ENDPOINTS {
        let path = root.join(endpoint.route);
        let resource = match endpoint.handler {
            Route::Index => resource(path, endpoint, index::index),
            Route::Health => resource(path, endpoint, health::health),
            Route::Echo => resource(path, endpoint, echo::echo),
            Route::Time => resource(path, endpoint, time::time),
            Route::OpenApi => resource(path, endpoint, openapi::openapi),
        };
        cfg.service(resource.wrap(Condition::new(endpoint.no_store, no_store())));
    }
}

/// `Cache-Control: no-store`, for the endpoints that ask for it.
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

/// `path` answering `endpoint.method` with `handler`; a GET handler also answers HEAD (HTTP/1.1
/// drops the body of a HEAD response and keeps its headers). OPTIONS lists the methods, and any
/// other method gets a 405 with `Allow`.
fn resource<F, Args>(path: String, endpoint: &Endpoint, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let methods = if endpoint.method == "GET" {
        web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
    } else {
        web::route().guard(guard::Post())
    };
    web::resource(path)
        .route(methods.to(handler))
        .route(
            web::route()
                .guard(guard::Options())
                .to(options(endpoint.allow())),
        )
        .default_service(web::to(reject_method(endpoint.allow())))
}

/// `OPTIONS` on an endpoint: `204 No Content` with the `Allow` header (RFC 9110, 9.3.7). It is
/// not a CORS preflight answer; see the README's "Behaviour we chose".
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

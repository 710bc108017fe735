//! The one `App` factory. `HttpServer::new`, `lambda_web::run_actix_on_lambda` and the tests all
//! call [`app`], so every mode serves the same routes through the same middleware.

use crate::config::{RootPath, Settings, DEFAULT_MAX_BODY_BYTES};
use crate::{middleware, routes};
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition, DefaultHeaders, NormalizePath};
use actix_web::web::{self, Bytes};
use actix_web::{App, Error};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How the process receives requests. Only the launcher decides it; the app reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A plain HTTP server.
    Http,
    /// Events from the AWS Lambda Runtime API, through lambda-web.
    Lambda,
}

impl Mode {
    /// The name the index reports: `http` or `lambda`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Lambda => "lambda",
        }
    }
}

/// What the handlers need to know, shared by every worker.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// The mode the launcher chose.
    pub mode: Mode,
    /// Where the routes are mounted.
    pub root_path: RootPath,
    /// The `/echo` body limit: `MAX_BODY_BYTES`, or by default 6 MiB in HTTP mode (Lambda's
    /// request limit) and in Lambda mode the largest body whose echo always fits Lambda's
    /// response limit.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive.
    pub body_timeout: Duration,
    /// The OpenAPI document for `root_path`, built on first request and shared by every worker.
    pub openapi: Arc<OnceLock<Bytes>>,
}

impl AppContext {
    /// The context for `mode` under `settings`.
    pub fn new(mode: Mode, settings: &Settings) -> Self {
        AppContext {
            mode,
            root_path: settings.root_path.clone(),
            max_body_bytes: settings.max_body_bytes.unwrap_or(match mode {
                Mode::Http => DEFAULT_MAX_BODY_BYTES,
                Mode::Lambda => crate::lambda::DEFAULT_LAMBDA_BODY_LIMIT,
            }),
            body_timeout: settings.body_timeout,
            openapi: Arc::default(),
        }
    }
}

/// Builds the application. Middleware runs outermost first: the request logger (which sees the
/// path as the client sent it), then HEAD-body removal in Lambda mode, then
/// `X-Content-Type-Options: nosniff` on every response, then the request-head limits (JSON 414
/// and 431), then trailing-slash trimming (`/health/` routes like `/health`).
pub fn app(
    ctx: AppContext,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let in_lambda = ctx.mode == Mode::Lambda;
    let root_path = ctx.root_path.clone();
    App::new()
        .app_data(web::Data::new(ctx))
        .configure(|cfg| routes::configure(cfg, &root_path))
        .default_service(web::to(routes::not_found))
        .wrap(NormalizePath::trim())
        .wrap(from_fn(middleware::check_request_head))
        .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
        .wrap(Condition::new(
            in_lambda,
            from_fn(middleware::drop_head_body),
        ))
        .wrap(from_fn(middleware::log_request))
}

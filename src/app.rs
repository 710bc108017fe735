//! The one `App` factory. `HttpServer::new`, `lambda_web::run_actix_on_lambda` and the tests all
//! call [`app`], so every mode serves the same routes through the same middleware.

use crate::context::AppContext;
use crate::{middleware, routes};
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition, DefaultHeaders, NormalizePath};
use actix_web::web;
use actix_web::{App, Error};

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
    let in_lambda = ctx.mode.is_lambda();
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

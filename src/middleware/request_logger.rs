//! One log line per request, written once the response is known (its format:
//! [`crate::logging::RequestLine`]). The line carries the request id, which the response also
//! carries as `X-Request-Id`.

use super::request_id::{RequestId, X_REQUEST_ID};
use crate::context::AppContext;
use crate::logging::{self, LambdaFields, RequestLine};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The header through which Lambda mode's Runtime API proxy tells the app about the invocation
/// (`{"request_id", "deadline", "invoked_function_arn", "xray_trace_id"}`, as
/// aws-lambda-web-adapter passes it, with `tenant_id` under tenant isolation and
/// `"response_mode": "streaming"` when the answer is streamed). The proxy always replaces what
/// a client sent.
pub const LAMBDA_CONTEXT_HEADER: &str = "x-amzn-lambda-context";

/// Logs every request, including 404s and errors, with its [`RequestId`], which it also puts in
/// the request's extensions and the response's `X-Request-Id`. A streamed Lambda answer is
/// marked there with [`StreamedAnswer`]. It boxes the response body so
/// that the one App type suits `HttpServer`, lambda-web (which needs a `Display` body error) and
/// the tests.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    // Cheap clones (reference-counted); the request itself must stay unshared because
    // NormalizePath rewrites it further in.
    let method = req.method().clone();
    let uri = req.uri().clone();
    let lambda = req
        .app_data::<web::Data<AppContext>>()
        .filter(|ctx| ctx.mode.is_lambda())
        .and_then(|_| req.headers().get(LAMBDA_CONTEXT_HEADER))
        .and_then(|value| serde_json::from_slice::<Invocation>(value.as_bytes()).ok());
    let id = RequestId::from_incoming_or(
        req.headers().get(X_REQUEST_ID),
        lambda.as_ref().map(|l| l.request_id.as_str()),
    );
    req.extensions_mut().insert(id.clone());
    if lambda.as_ref().is_some_and(Invocation::streamed) {
        req.extensions_mut().insert(StreamedAnswer);
    }
    let mut result = next.call(req).await;
    let status = match &mut result {
        Ok(res) => {
            res.headers_mut()
                .insert(X_REQUEST_ID, id.header_value().clone());
            res.status()
        }
        // Only middleware errors arrive here (handler errors are already responses); actix
        // renders them later, without the id header, so the log line is the only record.
        Err(err) => err.as_response_error().status_code(),
    };
    let line = RequestLine {
        status: status.as_u16(),
        method: method.as_str(),
        path: uri.path(),
        elapsed: started.elapsed(),
        request_id: id.as_str(),
    };
    log_line(&line, lambda.as_ref());
    result.map(ServiceResponse::map_into_boxed_body)
}

/// What a request line says of the Lambda invocation, from `x-amzn-lambda-context`, which the
/// Runtime API proxy sets and a client cannot (the proxy replaces it).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Invocation {
    /// The Lambda request id, which CloudWatch's `START` and `REPORT` lines carry.
    pub request_id: String,
    /// The X-Ray trace id, when there is one.
    #[serde(default)]
    pub xray_trace_id: Option<String>,
    /// The tenant, for a function with tenant isolation.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `streaming` when the answer is streamed.
    #[serde(default)]
    pub response_mode: Option<String>,
}

impl Invocation {
    /// Whether the answer is streamed.
    pub fn streamed(&self) -> bool {
        self.response_mode.as_deref() == Some("streaming")
    }
}

/// In a request's extensions when its Lambda answer will be streamed, and so is not held to the
/// buffered response limit.
#[derive(Debug, Clone, Copy)]
pub struct StreamedAnswer;

/// Whether the process has logged a Lambda request yet: the first one is its cold start.
static SERVED_ONE: AtomicBool = AtomicBool::new(false);

/// Logs `line`, with the invocation's fields in Lambda mode (JSON only; see `logging`).
pub fn log_line(line: &RequestLine<'_>, lambda: Option<&Invocation>) {
    let fields = lambda.map(|invocation| LambdaFields {
        request_id: &invocation.request_id,
        xray_trace_id: invocation.xray_trace_id.as_deref(),
        tenant_id: invocation.tenant_id.as_deref(),
        cold_start: !SERVED_ONE.swap(true, Ordering::Relaxed),
    });
    logging::request(line, fields.as_ref());
}

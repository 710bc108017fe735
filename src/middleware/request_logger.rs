//! One log line per request, written once the response is known:
//!
//! ```text
//! [REQ] 200 | GET     | /health | 84.2µs | 9c1e0f3a5b7d2e4f1a2b3c4d5e6f7081
//! ```
//!
//! The last field is the request id, which the response also carries as `X-Request-Id`.
//! The path is the raw request path (still percent-encoded, without the query string, which may
//! carry secrets). Anything that could end or fake a line is escaped: a Lambda event can put any
//! string in a path.

use super::request_id::{RequestId, X_REQUEST_ID};
use crate::context::AppContext;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The header through which Lambda mode's Runtime API proxy tells the app about the invocation
/// (`{"request_id", "deadline", "invoked_function_arn", "xray_trace_id"}`, as
/// aws-lambda-web-adapter passes it). The proxy always replaces what a client sent.
pub const LAMBDA_CONTEXT_HEADER: &str = "x-amzn-lambda-context";

pub use crate::logging::REQUEST_LOG_TARGET;

/// Logs every request, including 404s and errors, with its [`RequestId`], which it also puts in
/// the request's extensions and the response's `X-Request-Id`. It boxes the response body so
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
}

/// Whether the process has logged a Lambda request yet: the first one is its cold start.
static SERVED_ONE: AtomicBool = AtomicBool::new(false);

/// Logs `line` at INFO under [`REQUEST_LOG_TARGET`]. The text format writes the line as it is;
/// the JSON format writes its fields, and in Lambda mode the invocation's.
pub fn log_line(line: &RequestLine<'_>, lambda: Option<&Invocation>) {
    let duration_ms = line.elapsed.as_secs_f64() * 1000.0;
    let (status, method, path, request_id) = (line.status, line.method, line.path, line.request_id);
    // In JSON the fields carry the line; the message says just enough to read at a glance.
    let message = Message(line, crate::logging::json());
    match lambda {
        None => log::info!(
            target: REQUEST_LOG_TARGET,
            status, method, path, duration_ms, request_id;
            "{message}"
        ),
        Some(invocation) => {
            let cold_start = !SERVED_ONE.swap(true, Ordering::Relaxed);
            log::info!(
                target: REQUEST_LOG_TARGET,
                status, method, path, duration_ms, request_id,
                requestId = invocation.request_id.as_str(),
                xrayTraceId = invocation.xray_trace_id.as_deref(),
                cold_start;
                "{message}"
            )
        }
    }
}

/// A request line as the log message: the whole line in the text format; `GET /health 200` in
/// JSON, whose fields hold the rest.
struct Message<'a>(&'a RequestLine<'a>, bool);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Message(line, json) = *self;
        if json {
            write!(
                f,
                "{} {} {}",
                line.method,
                EscapedPath(line.path),
                line.status
            )
        } else {
            line.fmt(f)
        }
    }
}

/// A request line in the original service's format (status 3 wide, method left-aligned in 7),
/// followed by the request id.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The response status code.
    pub status: u16,
    /// The request method.
    pub method: &'a str,
    /// The raw request path; escaped when written.
    pub path: &'a str,
    /// Time from the request reaching the logger to the response being ready.
    pub elapsed: Duration,
    /// The request id; always a safe token.
    pub request_id: &'a str,
}

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[REQ] {:>3} | {:<7} | {} | {:.1?} | {}",
            self.status,
            self.method,
            EscapedPath(self.path),
            self.elapsed,
            self.request_id
        )
    }
}

/// A path that cannot break a log line: control characters, the Unicode line and paragraph
/// separators and backslashes are written as escapes (`\n`, `\u{1b}`, `\\`).
#[derive(Debug, Clone, Copy)]
pub struct EscapedPath<'a>(pub &'a str);

impl fmt::Display for EscapedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs_escape = |c: char| c.is_control() || matches!(c, '\\' | '\u{2028}' | '\u{2029}');
        if !self.0.contains(needs_escape) {
            return f.write_str(self.0);
        }
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(status: u16, method: &str, path: &str, micros: u64) -> String {
        RequestLine {
            status,
            method,
            path,
            elapsed: Duration::from_nanos(micros * 1000 + 200),
            request_id: "r1",
        }
        .to_string()
    }

    #[test]
    fn matches_the_original_format() {
        assert_eq!(
            line(200, "GET", "/health", 84),
            "[REQ] 200 | GET     | /health | 84.2µs | r1"
        );
        assert_eq!(
            line(404, "DELETE", "/x", 1500),
            "[REQ] 404 | DELETE  | /x | 1.5ms | r1"
        );
    }

    #[test]
    fn long_methods_are_not_truncated() {
        assert_eq!(
            line(405, "PROPFIND", "/", 3),
            "[REQ] 405 | PROPFIND | / | 3.2µs | r1"
        );
    }

    #[test]
    fn control_characters_in_the_path_cannot_start_a_new_line() {
        let forged = "/health\n[REQ] 200 | GET     | /admin | 1.0µs\r\u{1b}[2J\u{2028}\\";
        let logged = line(404, "GET", forged, 7);
        assert_eq!(logged.lines().count(), 1);
        assert_eq!(
            logged,
            "[REQ] 404 | GET     | /health\\n[REQ] 200 | GET     | /admin | 1.0µs\\r\\u{1b}[2J\\u{2028}\\\\ | 7.2µs | r1"
        );
    }

    #[test]
    fn printable_unicode_is_kept() {
        assert_eq!(EscapedPath("/日本語/é").to_string(), "/日本語/é");
    }
}

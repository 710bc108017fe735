//! Request-head limits, answered with the JSON error contract.
//!
//! actix-http refuses a request head over 128 KiB or with more than 96 headers itself, with an
//! empty-bodied 431, before the App sees it. These lower limits catch realistic oversized
//! requests (a runaway query string, a cookie jar) first, so they get a JSON 414 or 431 like
//! every other error, and keep a 404 from echoing kilobytes of path back. API Gateway's own
//! limit (10 KB of request line and headers) is lower still, so Lambda behind it never sees them.

use crate::error::ApiError;
use crate::limits::{MAX_HEADER_BYTES, MAX_URI_BYTES};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

/// Refuses a request whose target or headers are over the limits, before any route runs.
pub async fn check_request_head(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(error) = head_error(&req) {
        return Ok(req.into_response(error.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn head_error(req: &ServiceRequest) -> Option<ApiError> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (header_bytes > MAX_HEADER_BYTES).then_some(ApiError::HeadersTooLarge {
        limit: MAX_HEADER_BYTES,
    })
}

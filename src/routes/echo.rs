//! `POST {root}/echo`: returns the JSON document it was sent.
//!
//! The response is the request body itself, byte for byte, once it is known to be one valid JSON
//! document. Nothing is parsed into numbers or maps, so big numbers, key order and formatting
//! come back exactly as sent.

use crate::context::AppContext;
use crate::error::ApiError;
use crate::json::validate_json;
use crate::limits::{json_text_fits, LAMBDA_RESPONSE_LIMIT};
use crate::middleware::StreamedAnswer;
use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

pub async fn echo(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let limit = ctx.max_body_bytes;
    if declared_length(&req).is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // Without a deadline, a client that announces a body and stalls would hold its connection
    // for ever: actix-http times out only the request head.
    let body = actix_rt::time::timeout(ctx.body_timeout, payload.to_bytes_limited(limit))
        .await
        .map_err(|_| ApiError::BodyTimeout {
            secs: ctx.body_timeout.as_secs(),
        })?
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|err| ApiError::UnreadableBody {
            detail: err.to_string(),
        })?;
    if body.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    validate_json(&body)?;
    // A buffered Lambda answer carries the body as a JSON string; refuse now what could not be
    // returned. A streamed one carries it as it is, up to 200 MB.
    let streamed = || req.extensions().contains::<StreamedAnswer>();
    if ctx.mode.is_lambda() && !streamed() && !json_text_fits(&body) {
        return Err(ApiError::EchoTooLarge {
            response_limit: LAMBDA_RESPONSE_LIMIT,
        });
    }
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// `application/json`, any `+json` type (parameters such as `charset` allowed), or none at all.
fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let unsupported = || ApiError::UnsupportedMediaType {
        content_type: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    };
    let text = value.to_str().map_err(|_| unsupported())?;
    let essence = text.split(';').next().unwrap_or_default().trim();
    let is_json = essence.eq_ignore_ascii_case("application/json")
        || essence.split_once('/').is_some_and(|(kind, subtype)| {
            !kind.is_empty() && subtype.to_ascii_lowercase().ends_with("+json")
        });
    if is_json {
        Ok(())
    } else {
        Err(unsupported())
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

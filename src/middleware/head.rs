//! HEAD without a body, and with the GET's `Content-Length`, in Lambda mode.
//!
//! In HTTP mode actix-http already sends HEAD responses without their body and with the GET
//! body's `Content-Length`. lambda-web has no such step: it would put the body in the response
//! envelope, and it writes no `Content-Length` at all (the front end frames the body it is
//! given), so a HEAD answer would say nothing about the GET's length. In Lambda mode this
//! middleware therefore empties the body and states its length as a header.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, CONTENT_LENGTH};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::Error;

/// Empties the body of HEAD responses and sets `Content-Length` to the length the body had;
/// installed in Lambda mode only.
pub async fn drop_head_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let is_head = req.method() == Method::HEAD;
    let mut res = next.call(req).await?;
    if !is_head {
        return Ok(res.map_into_boxed_body());
    }
    // Every route answers with a body of known size; a streaming body (none today) would have
    // no length to state, and then the header is left out rather than guessed.
    if let BodySize::Sized(length) = res.response().body().size() {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(res.map_body(|_, _| BoxBody::new(())))
}

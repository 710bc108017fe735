//! HEAD without a body in Lambda mode.
//!
//! In HTTP mode actix-http already sends HEAD responses without their body and with the GET
//! body's `Content-Length`. lambda-web has no such step and would put the body in the response
//! envelope, so in Lambda mode this middleware empties it.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::Error;

/// Empties the body of HEAD responses; installed in Lambda mode only.
pub async fn drop_head_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let is_head = req.method() == Method::HEAD;
    let res = next.call(req).await?;
    Ok(if is_head {
        res.map_body(|_, _| BoxBody::new(()))
    } else {
        res.map_into_boxed_body()
    })
}

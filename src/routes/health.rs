//! `GET {root}/health`: liveness, for load balancers and container health checks.

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"status":"ok"}"#)
}

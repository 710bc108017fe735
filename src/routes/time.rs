//! `GET {root}/time`: the server clock, RFC 3339 in UTC to the second.

use actix_web::HttpResponse;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

#[derive(Serialize)]
struct Time {
    time: String,
}

pub async fn time() -> HttpResponse {
    HttpResponse::Ok().json(Time {
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

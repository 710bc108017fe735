//! `GET {root}/`: what this service is and what it offers, with full paths under `ROOT_PATH`.

use super::ENDPOINTS;
use crate::context::AppContext;
use actix_web::{web, HttpResponse};
use serde::Serialize;

#[derive(Serialize)]
struct Welcome<'a> {
    service: &'static str,
    version: &'static str,
    mode: &'static str,
    endpoints: Vec<EndpointDoc<'a>>,
}

#[derive(Serialize)]
struct EndpointDoc<'a> {
    method: &'static str,
    path: String,
    description: &'a str,
}

pub async fn index(ctx: web::Data<AppContext>) -> HttpResponse {
    HttpResponse::Ok().json(Welcome {
        service: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        mode: ctx.mode.name(),
        endpoints: ENDPOINTS
            .iter()
            .map(|e| EndpointDoc {
                method: e.method,
                path: ctx.root_path.join(e.route),
                description: e.description,
            })
            .collect(),
    })
}

//! The HTTP floor for `make bench`: actix-web with nothing but the two benchmarked routes, no
//! middleware, no logging. Our service's throughput is reported as a ratio to this.
//!
//! `PORT=8081 cargo run --release --example floor_actix`

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_rt::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    HttpServer::new(|| {
        App::new()
            .route(
                "/health",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(r#"{"status":"ok"}"#)
                }),
            )
            .route(
                "/echo",
                web::post().to(|body: web::Bytes| async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }),
            )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

//! The `make bench` peer: the service's four routes as a lambda_http 1.x function, with the same
//! bodies, so that Lambda mode's cost is compared with the official runtime doing the same work.

use lambda_http::{run_concurrent, service_fn, Body, Error, Request, Response};

async fn handle(request: Request) -> Result<Response<Body>, Error> {
    let (status, body) = match (request.method().as_str(), request.uri().path()) {
        ("GET", "/health") => (200, r#"{"status":"ok"}"#.to_owned()),
        ("GET", "/time") => {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            (200, format!(r#"{{"time":"{now}"}}"#))
        }
        ("GET", "/") => (
            200,
            serde_json::json!({
                "service": "lambda-http-peer",
                "mode": "lambda",
                "endpoints": ["/", "/health", "/echo", "/time"],
            })
            .to_string(),
        ),
        ("POST", "/echo") => match serde_json::from_slice::<serde_json::Value>(request.body()) {
            Ok(_) => (200, String::from_utf8_lossy(request.body()).into_owned()),
            Err(err) => (400, serde_json::json!({"error": "invalid_json", "message": err.to_string()}).to_string()),
        },
        (_, path) => (404, serde_json::json!({"error": "not_found", "message": path}).to_string()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))?)
}

/// `run_concurrent` serves one invocation at a time without `AWS_LAMBDA_MAX_CONCURRENCY`, as
/// `run` does, and that many at once with it, over the runtime's worker threads.
#[tokio::main]
async fn main() -> Result<(), Error> {
    run_concurrent(service_fn(handle)).await
}

//! A fake AWS Lambda Runtime API, served by actix-web on an ephemeral loopback port.
//!
//! It hands out the queued events one by one on `GET /2018-06-01/runtime/invocation/next`, with
//! the `Lambda-Runtime-*` headers lambda_runtime reads, and records every response and error the
//! function posts back. When the queue is empty, `next` long-polls forever, as the real API does.

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(30);

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the body is the response envelope.
    Response { request_id: String, body: Value },
    /// `POST /invocation/{id}/error` (or `/init/error`, with no id).
    Error { request_id: String, body: Value },
}

impl Outcome {
    pub fn request_id(&self) -> &str {
        match self {
            Outcome::Response { request_id, .. } | Outcome::Error { request_id, .. } => request_id,
        }
    }

    pub fn into_response(self) -> Value {
        match self {
            Outcome::Response { body, .. } => body,
            Outcome::Error { body, .. } => {
                panic!("expected a response, got an invocation error: {body}")
            }
        }
    }
}

struct State {
    events: Mutex<VecDeque<(String, String)>>,
    outcomes: Mutex<Sender<Outcome>>,
}

pub struct FakeRuntime {
    pub addr: SocketAddr,
    outcomes: Receiver<Outcome>,
    server: ServerHandle,
}

impl FakeRuntime {
    /// Starts serving `events` (raw bodies, not necessarily JSON) as invocations `req-1`, `req-2`…
    pub fn start<I, S>(events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let queue = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| (format!("req-{}", i + 1), event.into()))
            .collect();
        let (outcome_tx, outcome_rx) = mpsc::channel();
        let state = web::Data::new(State {
            events: Mutex::new(queue),
            outcomes: Mutex::new(outcome_tx),
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        // Room for the base64 envelope of a 6 MiB body; real Lambda would
                        // refuse a response over 6 MB, which this fake does not model.
                        .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                        .route("/2018-06-01/runtime/invocation/next", web::get().to(next))
                        .route(
                            "/2018-06-01/runtime/invocation/{id}/response",
                            web::post().to(response),
                        )
                        .route(
                            "/2018-06-01/runtime/invocation/{id}/error",
                            web::post().to(error),
                        )
                        .route("/2018-06-01/runtime/init/error", web::post().to(init_error))
                })
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")
                .expect("bind the fake Runtime API");
                let addr = server.addrs()[0];
                let server = server.run();
                ready_tx
                    .send((addr, server.handle()))
                    .expect("test is waiting");
                server.await
            })
        });
        let (addr, server) = ready_rx.recv().expect("fake Runtime API started");
        FakeRuntime {
            addr,
            outcomes: outcome_rx,
            server,
        }
    }

    /// The next response or error the function posted, in order.
    pub fn next_outcome(&self) -> Outcome {
        self.outcomes
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("the function posted nothing within {WAIT:?}"))
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

async fn next(state: web::Data<State>) -> HttpResponse {
    let event = state.events.lock().expect("lock").pop_front();
    let Some((request_id, body)) = event else {
        return std::future::pending().await;
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + WAIT;
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Lambda-Runtime-Aws-Request-Id", request_id.as_str()))
        .insert_header((
            "Lambda-Runtime-Deadline-Ms",
            deadline.as_millis().to_string(),
        ))
        .insert_header((
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:rust-hybrid-api",
        ))
        .insert_header((
            "Lambda-Runtime-Trace-Id",
            "Root=1-6744f0d4-0123456789abcdef01234567",
        ))
        .body(body)
}

async fn response(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    record(
        &state,
        Outcome::Response {
            request_id: req.match_info()["id"].to_owned(),
            body: parse(&body),
        },
    )
}

async fn error(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    record(
        &state,
        Outcome::Error {
            request_id: req.match_info()["id"].to_owned(),
            body: parse(&body),
        },
    )
}

async fn init_error(body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    record(
        &state,
        Outcome::Error {
            request_id: String::new(),
            body: parse(&body),
        },
    )
}

fn record(state: &State, outcome: Outcome) -> HttpResponse {
    let _receiver_gone = state.outcomes.lock().expect("lock").send(outcome);
    HttpResponse::Accepted().json(serde_json::json!({"status": "OK"}))
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

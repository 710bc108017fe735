//! A fake AWS Lambda Runtime API, served by actix-web on an ephemeral loopback port.
//!
//! It hands out the queued events one by one on `GET /2018-06-01/runtime/invocation/next`, with
//! the `Lambda-Runtime-*` headers lambda_runtime reads, and records every response and error the
//! function posts back. When the queue is empty, `next` long-polls forever, as the real API does.
//! Like the real API it refuses a response over 6 MB with 413. [`Invocation`] adds the faults a
//! test asks for: a `/next` status or missing headers, a `/response` status, closed connections.

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(30);
pub use rust_hybrid_api::limits::LAMBDA_RESPONSE_LIMIT as RESPONSE_LIMIT;

/// One event as the fake hands it out, with the faults a test asks for.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The event, sent as it is.
    pub body: String,
    /// The status of the `/next` answer; 200 when unset.
    pub next_status: Option<u16>,
    /// `Lambda-Runtime-*` headers to leave out of the `/next` answer.
    pub omit: Vec<&'static str>,
    /// Extra headers on the `/next` answer.
    pub headers: Vec<(&'static str, String)>,
    /// The status the fake answers the function's `/response` with; 202 when unset.
    pub response_status: Option<u16>,
}

impl<S: Into<String>> From<S> for Invocation {
    fn from(body: S) -> Self {
        Invocation {
            body: body.into(),
            ..Invocation::default()
        }
    }
}

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the body is the response envelope.
    Response { request_id: String, body: Value },
    /// `POST /invocation/{id}/error` (or `/init/error`, with no id).
    Error { request_id: String, body: Value },
    /// A `/response` the fake refused (over [`RESPONSE_LIMIT`], or as the invocation asked).
    Refused {
        request_id: String,
        status: u16,
        size: usize,
    },
}

impl Outcome {
    pub fn request_id(&self) -> &str {
        match self {
            Outcome::Response { request_id, .. }
            | Outcome::Error { request_id, .. }
            | Outcome::Refused { request_id, .. } => request_id,
        }
    }

    pub fn into_response(self) -> Value {
        match self {
            Outcome::Response { body, .. } => body,
            Outcome::Error { body, .. } => {
                panic!("expected a response, got an invocation error: {body}")
            }
            refused @ Outcome::Refused { .. } => panic!("expected a response, got {refused:?}"),
        }
    }
}

struct State {
    events: Mutex<VecDeque<(String, Invocation)>>,
    /// The `/response` status each request id asked for.
    response_status: Mutex<HashMap<String, u16>>,
    outcomes: Mutex<Sender<Outcome>>,
    close_connections: bool,
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
        S: Into<Invocation>,
    {
        Self::serve(events, false)
    }

    /// Like [`FakeRuntime::start`], but every answer closes its connection, as a Runtime API
    /// restarting between invocations would.
    pub fn closing_connections<I, S>(events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Invocation>,
    {
        Self::serve(events, true)
    }

    fn serve<I, S>(events: I, close_connections: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Invocation>,
    {
        let queue = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| (format!("req-{}", i + 1), event.into()))
            .collect();
        let (outcome_tx, outcome_rx) = mpsc::channel();
        let state = web::Data::new(State {
            events: Mutex::new(queue),
            response_status: Mutex::default(),
            outcomes: Mutex::new(outcome_tx),
            close_connections,
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        // Room to receive (and then refuse) a response over the limit.
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
    let Some((request_id, invocation)) = event else {
        return std::future::pending().await;
    };
    if let Some(status) = invocation.response_status {
        state
            .response_status
            .lock()
            .expect("lock")
            .insert(request_id.clone(), status);
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + WAIT;
    let status = invocation.next_status.unwrap_or(200);
    let mut response = HttpResponse::build(StatusCode::from_u16(status).expect("a status"));
    response.content_type("application/json");
    let deadline = deadline.as_millis().to_string();
    for (name, value) in [
        ("Lambda-Runtime-Aws-Request-Id", request_id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:rust-hybrid-api",
        ),
        (
            "Lambda-Runtime-Trace-Id",
            "Root=1-6744f0d4-0123456789abcdef01234567",
        ),
    ] {
        if !invocation.omit.contains(&name) {
            response.insert_header((name, value));
        }
    }
    for (name, value) in &invocation.headers {
        response.insert_header((*name, value.as_str()));
    }
    closing(&state, &mut response);
    response.body(invocation.body)
}

fn closing(state: &State, response: &mut actix_web::HttpResponseBuilder) {
    if state.close_connections {
        response.force_close();
    }
}

async fn response(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let request_id = req.match_info()["id"].to_owned();
    let asked = state
        .response_status
        .lock()
        .expect("lock")
        .remove(&request_id);
    let status = match asked {
        Some(status) => status,
        None if body.len() > RESPONSE_LIMIT => 413,
        None => 202,
    };
    if status != 202 {
        let _receiver_gone = state.outcomes.lock().expect("lock").send(Outcome::Refused {
            request_id,
            status,
            size: body.len(),
        });
        let mut refusal = HttpResponse::build(StatusCode::from_u16(status).expect("a status"));
        closing(&state, &mut refusal);
        return refusal.json(serde_json::json!({
            "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "RequestEntityTooLarge"
        }));
    }
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
    let mut accepted = HttpResponse::Accepted();
    closing(state, &mut accepted);
    accepted.json(serde_json::json!({"status": "OK"}))
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

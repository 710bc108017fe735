//! A fake AWS Lambda Runtime API, served by actix-web on an ephemeral loopback port.
//!
//! It hands out the queued events one by one on `GET /2018-06-01/runtime/invocation/next`, with
//! the `Lambda-Runtime-*` headers lambda_runtime reads, and records every response and error the
//! function posts back. When the queue is empty, `next` long-polls forever, as the real API does.
//! Polls are served concurrently, as on Lambda Managed Instances, and the fake counts how many
//! are open at once. Like the real API it refuses a response over 6 MB with 413. [`Invocation`]
//! adds what a test asks for: a `/next` status or missing headers, its own trace id, a
//! `/response` status or delay, closed connections.

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// How long the fake holds the function's `/response` before answering it.
    pub response_delay: Option<Duration>,
    /// `Lambda-Runtime-Trace-Id`; [`TRACE_ID`] when unset.
    pub trace_id: Option<String>,
}

/// The trace id of an [`Invocation`] that names none.
pub const TRACE_ID: &str = "Root=1-6744f0d4-0123456789abcdef01234567";

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
    Response {
        request_id: String,
        body: Value,
        /// The `Lambda-Runtime-Invocation-Id` header of the post.
        invocation_id: Option<String>,
    },
    /// `POST /invocation/{id}/error` (or `/init/error`, with no id).
    Error {
        request_id: String,
        body: Value,
        /// The `Lambda-Runtime-Invocation-Id` header of the post.
        invocation_id: Option<String>,
    },
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

/// How the fake answers one invocation's `/response`: its status and delay.
type AskedResponse = (Option<u16>, Option<Duration>);

struct State {
    events: Mutex<VecDeque<(String, Invocation)>>,
    /// The `/response` status and delay each request id asked for.
    response_status: Mutex<HashMap<String, AskedResponse>>,
    polls: Arc<Polls>,
    outcomes: Mutex<Sender<Outcome>>,
    close_connections: bool,
}

pub struct FakeRuntime {
    pub addr: SocketAddr,
    outcomes: Receiver<Outcome>,
    server: ServerHandle,
    polls: Arc<Polls>,
}

/// `GET /next` requests: open now, the most open at once, events handed out.
#[derive(Default)]
pub struct Polls {
    open: AtomicUsize,
    most: AtomicUsize,
    handed_out: AtomicUsize,
}

/// Counts a poll open from creation to drop, however the request ends.
struct OpenPoll(Arc<Polls>);

impl OpenPoll {
    fn new(polls: &Arc<Polls>) -> Self {
        let open = polls.open.fetch_add(1, Ordering::SeqCst) + 1;
        polls.most.fetch_max(open, Ordering::SeqCst);
        OpenPoll(Arc::clone(polls))
    }
}

impl Drop for OpenPoll {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
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
        let polls = Arc::new(Polls::default());
        let state = web::Data::new(State {
            events: Mutex::new(queue),
            response_status: Mutex::default(),
            polls: Arc::clone(&polls),
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
            polls,
        }
    }

    /// `GET /next` requests open now.
    pub fn polls_open(&self) -> usize {
        self.polls.open.load(Ordering::SeqCst)
    }

    /// The most `GET /next` requests that were ever open at once.
    pub fn most_polls_open(&self) -> usize {
        self.polls.most.load(Ordering::SeqCst)
    }

    /// Events handed out so far.
    pub fn handed_out(&self) -> usize {
        self.polls.handed_out.load(Ordering::SeqCst)
    }

    /// Waits (at most 30 s) until `condition` holds for this fake.
    pub fn wait_until(&self, what: &str, condition: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !condition(self) {
            assert!(
                Instant::now() < deadline,
                "not within {WAIT:?}: {what} (polls open: {}, most: {}, handed out: {})",
                self.polls_open(),
                self.most_polls_open(),
                self.handed_out()
            );
            std::thread::sleep(Duration::from_millis(5));
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
    let _open = OpenPoll::new(&state.polls);
    let event = state.events.lock().expect("lock").pop_front();
    let Some((request_id, invocation)) = event else {
        return std::future::pending().await;
    };
    state.polls.handed_out.fetch_add(1, Ordering::SeqCst);
    if invocation.response_status.is_some() || invocation.response_delay.is_some() {
        state.response_status.lock().expect("lock").insert(
            request_id.clone(),
            (invocation.response_status, invocation.response_delay),
        );
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + WAIT;
    let status = invocation.next_status.unwrap_or(200);
    let mut response = HttpResponse::build(StatusCode::from_u16(status).expect("a status"));
    response.content_type("application/json");
    let deadline = deadline.as_millis().to_string();
    let trace_id = invocation.trace_id.as_deref().unwrap_or(TRACE_ID);
    for (name, value) in [
        ("Lambda-Runtime-Aws-Request-Id", request_id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:rust-hybrid-api",
        ),
        ("Lambda-Runtime-Trace-Id", trace_id),
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
    let (asked, delay) = state
        .response_status
        .lock()
        .expect("lock")
        .remove(&request_id)
        .unwrap_or_default();
    if let Some(delay) = delay {
        actix_rt::time::sleep(delay).await;
    }
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
            invocation_id: invocation_id(&req),
        },
    )
}

async fn error(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    record(
        &state,
        Outcome::Error {
            request_id: req.match_info()["id"].to_owned(),
            body: parse(&body),
            invocation_id: invocation_id(&req),
        },
    )
}

async fn init_error(body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    record(
        &state,
        Outcome::Error {
            request_id: String::new(),
            body: parse(&body),
            invocation_id: None,
        },
    )
}

fn record(state: &State, outcome: Outcome) -> HttpResponse {
    let _receiver_gone = state.outcomes.lock().expect("lock").send(outcome);
    let mut accepted = HttpResponse::Accepted();
    closing(state, &mut accepted);
    accepted.json(serde_json::json!({"status": "OK"}))
}

fn invocation_id(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("lambda-runtime-invocation-id")
        .map(|v| v.to_str().expect("an ASCII invocation id").to_owned())
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

//! A fake AWS Lambda Runtime API on an ephemeral loopback port: std threads, one per connection,
//! reading requests with the same reader as the benchmark's (`examples/support/wire.rs`), so a
//! chunked answer is read as Lambda reads it, chunk by chunk and with its trailers.
//!
//! It hands out the queued events one by one on `GET /2018-06-01/runtime/invocation/next`, with
//! the `Lambda-Runtime-*` headers lambda_runtime reads, and records every response and error the
//! function posts back. When the queue is empty, `next` long-polls until the fake is dropped, as
//! the real API does. Polls are served concurrently, as on Lambda Managed Instances, and the fake
//! counts how many are open at once. Like the real API it refuses a buffered response over 6 MB
//! with 413. [`Invocation`] adds what a test asks for: a `/next` status or missing headers, its
//! own trace id, extra headers, a `/response` status or delay, closed connections.

use super::wire::{self, Request};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// A `/response` marked `Lambda-Runtime-Function-Response-Mode: streaming`.
    Streamed(Streamed),
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

/// A streamed `/response` as it arrived: its request id, and the post itself (headers, chunks as
/// framed, trailers), which it derefs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Streamed {
    pub request_id: String,
    pub post: Request,
}

impl std::ops::Deref for Streamed {
    type Target = Request;

    fn deref(&self) -> &Request {
        &self.post
    }
}

impl Streamed {
    /// The prelude and the body, split at the first eight NUL bytes as Lambda splits them.
    pub fn split(&self) -> (Value, Vec<u8>) {
        let all = self.chunks.concat();
        let at = all
            .windows(8)
            .position(|w| w == [0; 8])
            .unwrap_or_else(|| panic!("no delimiter in {:?}", String::from_utf8_lossy(&all)));
        let prelude = serde_json::from_slice(&all[..at]).expect("the prelude is JSON");
        (prelude, all[at + 8..].to_vec())
    }
}

impl Outcome {
    pub fn request_id(&self) -> &str {
        match self {
            Outcome::Response { request_id, .. }
            | Outcome::Streamed(Streamed { request_id, .. })
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
            other => panic!("expected a buffered response, got {other:?}"),
        }
    }

    pub fn into_streamed(self) -> Streamed {
        match self {
            Outcome::Streamed(streamed) => streamed,
            other => panic!("expected a streamed response, got {other:?}"),
        }
    }

    /// The `Lambda-Runtime-Invocation-Id` the answer carried.
    pub fn invocation_id(&self) -> Option<&str> {
        match self {
            Outcome::Response { invocation_id, .. } | Outcome::Error { invocation_id, .. } => {
                invocation_id.as_deref()
            }
            Outcome::Streamed(streamed) => streamed.header("lambda-runtime-invocation-id"),
            Outcome::Refused { .. } => None,
        }
    }
}

/// How the fake answers one invocation's `/response`: its status and delay.
type AskedResponse = (Option<u16>, Option<Duration>);

struct State {
    events: Mutex<VecDeque<(String, Invocation)>>,
    /// The `/response` status and delay each request id asked for.
    response_status: Mutex<HashMap<String, AskedResponse>>,
    polls: Polls,
    outcomes: Mutex<Sender<Outcome>>,
    close_connections: bool,
    /// The fake was dropped: parked polls end and no connection is accepted.
    stopped: AtomicBool,
}

pub struct FakeRuntime {
    pub addr: SocketAddr,
    outcomes: Receiver<Outcome>,
    state: Arc<State>,
}

/// `GET /next` requests: open now, the most open at once, events handed out.
#[derive(Default)]
struct Polls {
    open: AtomicUsize,
    most: AtomicUsize,
    handed_out: AtomicUsize,
}

/// Counts a poll open from creation to drop, however the request ends.
struct OpenPoll<'a>(&'a Polls);

impl<'a> OpenPoll<'a> {
    fn new(polls: &'a Polls) -> Self {
        let open = polls.open.fetch_add(1, Ordering::SeqCst) + 1;
        polls.most.fetch_max(open, Ordering::SeqCst);
        OpenPoll(polls)
    }
}

impl Drop for OpenPoll<'_> {
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
        let state = Arc::new(State {
            events: Mutex::new(queue),
            response_status: Mutex::default(),
            polls: Polls::default(),
            outcomes: Mutex::new(outcome_tx),
            close_connections,
            stopped: AtomicBool::new(false),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Runtime API");
        let addr = listener.local_addr().expect("a bound address");
        let serving = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if serving.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&serving);
                std::thread::spawn(move || serve_connection(stream, &state));
            }
        });
        FakeRuntime {
            addr,
            outcomes: outcome_rx,
            state,
        }
    }

    /// `GET /next` requests open now.
    pub fn polls_open(&self) -> usize {
        self.state.polls.open.load(Ordering::SeqCst)
    }

    /// The most `GET /next` requests that were ever open at once.
    pub fn most_polls_open(&self) -> usize {
        self.state.polls.most.load(Ordering::SeqCst)
    }

    /// Events handed out so far.
    pub fn handed_out(&self) -> usize {
        self.state.polls.handed_out.load(Ordering::SeqCst)
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
        self.state.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one connection's requests in turn, until either side closes it.
fn serve_connection(stream: TcpStream, state: &State) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = wire::read_request(&mut reader) {
        let path = request.target.clone();
        let answer = if request.method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            match next(state) {
                Some(answer) => answer,
                None => return,
            }
        } else if request.method == "POST" && path == "/2018-06-01/runtime/init/error" {
            record(state, error_outcome(String::new(), &request))
        } else if let Some((id, kind)) = path
            .strip_prefix("/2018-06-01/runtime/invocation/")
            .and_then(|rest| rest.split_once('/'))
            .filter(|_| request.method == "POST")
        {
            match kind {
                "response" => response(state, id.to_owned(), request),
                "error" => record(state, error_outcome(id.to_owned(), &request)),
                _ => Answer::status(404),
            }
        } else {
            Answer::status(404)
        };
        if writer
            .write_all(&answer.to_bytes(state.close_connections))
            .is_err()
            || state.close_connections
        {
            return;
        }
    }
}

/// An HTTP answer of the fake's.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn status(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn json(status: u16, body: &Value) -> Self {
        Answer {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} X\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// The next event, or `None` once the fake is dropped while the poll waits for one.
fn next(state: &State) -> Option<Answer> {
    let _open = OpenPoll::new(&state.polls);
    let (request_id, invocation) = loop {
        if let Some(event) = state.events.lock().expect("lock").pop_front() {
            break event;
        }
        // Events are all queued at the start: an empty queue stays empty until the fake stops.
        if state.stopped.load(Ordering::SeqCst) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    state.polls.handed_out.fetch_add(1, Ordering::SeqCst);
    if invocation.response_status.is_some() || invocation.response_delay.is_some() {
        state.response_status.lock().expect("lock").insert(
            request_id.clone(),
            (invocation.response_status, invocation.response_delay),
        );
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + WAIT;
    let deadline = deadline.as_millis().to_string();
    let trace_id = invocation.trace_id.as_deref().unwrap_or(TRACE_ID);
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
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
            headers.push((name, value.to_owned()));
        }
    }
    headers.extend(invocation.headers.iter().cloned());
    Some(Answer {
        status: invocation.next_status.unwrap_or(200),
        headers,
        body: invocation.body.into_bytes(),
    })
}

fn response(state: &State, request_id: String, request: Request) -> Answer {
    let (asked, delay) = state
        .response_status
        .lock()
        .expect("lock")
        .remove(&request_id)
        .unwrap_or_default();
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    let streamed = request.header("lambda-runtime-function-response-mode") == Some("streaming");
    let status = match asked {
        Some(status) => status,
        None if !streamed && request.body.len() > RESPONSE_LIMIT => 413,
        None => 202,
    };
    if status != 202 {
        let _receiver_gone = state.outcomes.lock().expect("lock").send(Outcome::Refused {
            request_id,
            status,
            size: request.body.len(),
        });
        return Answer::json(
            status,
            &serde_json::json!({
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "RequestEntityTooLarge"
            }),
        );
    }
    let outcome = if streamed {
        Outcome::Streamed(Streamed {
            request_id,
            post: request,
        })
    } else {
        Outcome::Response {
            request_id,
            body: parse(&request.body),
            invocation_id: invocation_id(&request),
        }
    };
    record(state, outcome)
}

fn error_outcome(request_id: String, request: &Request) -> Outcome {
    Outcome::Error {
        request_id,
        body: parse(&request.body),
        invocation_id: invocation_id(request),
    }
}

fn record(state: &State, outcome: Outcome) -> Answer {
    let _receiver_gone = state.outcomes.lock().expect("lock").send(outcome);
    Answer::json(202, &serde_json::json!({"status": "OK"}))
}

fn invocation_id(request: &Request) -> Option<String> {
    request
        .header("lambda-runtime-invocation-id")
        .map(str::to_owned)
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

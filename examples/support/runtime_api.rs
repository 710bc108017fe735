//! A minimal AWS Lambda Runtime API on loopback, for `make bench` (examples/bench_lambda.rs,
//! examples/bench_concurrent.rs) and `make test-load` (examples/soak_lambda.rs): std threads
//! (one per connection, so concurrent polls work) and no framework, so it costs little next to
//! what it measures. It hands out events in turn, at most as many as it is allowed, and records
//! when each was served and what the function answered, by request id. It also answers the
//! Extensions API's register call and holds its event poll open, which
//! aws-lambda-web-adapter needs before it starts.
//!
//! The integration tests use their own fake (`tests/api/support/fake_runtime.rs`), which
//! injects faults: statuses, missing headers, closed connections, refused responses. This
//! one stays because the benchmark needs a Runtime API that adds almost nothing to the latency it
//! measures (a hand-written HTTP/1.1 loop on std threads, no framework, no fault paths); the
//! Lambda soak shares it so that its figures are comparable with the benchmark's. Both read
//! requests with `wire.rs`, chunked ones (streamed answers) included.

// Each example that includes this module uses part of it.
#![allow(dead_code)]

#[path = "wire.rs"]
mod wire;

use rust_hybrid_api::config;
use serde_json::Value;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    /// Handed out in turn.
    events: Vec<String>,
    /// Events that may still be handed out; `/next` waits while this is 0.
    budget: usize,
    /// Bumped for each new process, so a killed process's pending `/next` cannot take an event.
    generation: u64,
    next_id: u64,
    first_poll: Option<Instant>,
    served: Vec<(u64, Instant)>,
    answered: Vec<Answered>,
}

/// One answer the function posted: when it arrived, for which request id, and the body.
#[derive(Debug, Clone)]
pub struct Answered {
    pub at: Instant,
    pub id: u64,
    pub body: Value,
}

/// What [`FakeRuntime::wait_for`] returns: the first poll, when each event was served (by
/// request id), and the answers.
pub struct Recordings {
    pub first_poll: Option<Instant>,
    pub served: Vec<(u64, Instant)>,
    pub answered: Vec<Answered>,
}

impl Recordings {
    /// Served → answered for every answered invocation, matched by request id.
    pub fn latencies(&self) -> Vec<Duration> {
        let served: std::collections::HashMap<u64, Instant> = self.served.iter().copied().collect();
        self.answered
            .iter()
            .filter_map(|a| Some(a.at - *served.get(&a.id)?))
            .collect()
    }
}

/// The state, and two wake-ups: one for the polls (events allowed, or a new process), one for
/// [`FakeRuntime::wait_for`] (an answer), so that an answer does not wake every waiting poll.
struct Shared {
    state: Mutex<State>,
    events: Condvar,
    answers: Condvar,
}

pub struct FakeRuntime {
    pub addr: String,
    shared: Arc<Shared>,
}

impl FakeRuntime {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr").to_string();
        let state = Arc::new(Shared {
            state: Mutex::default(),
            events: Condvar::new(),
            answers: Condvar::new(),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeRuntime {
            addr,
            shared: state,
        }
    }

    /// Prepares for a new process: clears the recordings and allows `budget` events, taken from
    /// `events` in turn.
    pub fn reset(&self, events: &[String], budget: usize) {
        let mut state = self.shared.state.lock().expect("lock");
        *state = State {
            events: events.to_vec(),
            budget,
            generation: state.generation + 1,
            next_id: state.next_id,
            ..State::default()
        };
        self.shared.events.notify_all();
    }

    /// For the running process: clears the recordings and allows `budget` more events.
    pub fn allow(&self, budget: usize) {
        let mut state = self.shared.state.lock().expect("lock");
        state.budget = budget;
        state.served.clear();
        state.answered.clear();
        self.shared.events.notify_all();
    }

    /// Waits until `count` responses have been posted and returns the recordings.
    pub fn wait_for(&self, count: usize) -> Recordings {
        let state = self.shared.state.lock().expect("lock");
        let (state, timeout) = self
            .shared
            .answers
            .wait_timeout_while(state, WAIT, |s| s.answered.len() < count)
            .expect("lock");
        assert!(
            !timeout.timed_out(),
            "only {} of {count} responses within {WAIT:?}",
            state.answered.len()
        );
        Recordings {
            first_poll: state.first_poll,
            served: state.served.clone(),
            answered: state.answered.clone(),
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = wire::read_request(&mut reader) {
        let arrived = Instant::now();
        let (method, target) = (request.method.as_str(), request.target.as_str());
        let lock = &shared.state;
        if method == "POST" && target.contains("/extension/register") {
            let registered = b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: bench-extension\r\n\
                Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            if writer.write_all(registered).is_err() {
                return;
            }
        } else if method == "GET" && target.contains("/extension/event/next") {
            // No lifecycle event comes while the benchmark runs; the poll ends with the process.
            let state = lock.lock().expect("lock");
            let generation = state.generation;
            let _ended = shared
                .events
                .wait_while(state, |s| s.generation == generation)
                .expect("lock");
            return;
        } else if method == "GET" && target.contains("/invocation/next") {
            let mut state = lock.lock().expect("lock");
            state.first_poll.get_or_insert(arrived);
            let generation = state.generation;
            state = shared
                .events
                .wait_while(state, |s| s.budget == 0 && s.generation == generation)
                .expect("lock");
            if state.generation != generation {
                return;
            }
            state.budget -= 1;
            state.next_id += 1;
            let event = &state.events[state.next_id as usize % state.events.len()];
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                + WAIT;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: bench-{}\r\nLambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 Content-Length: {}\r\n\r\n{}",
                state.next_id,
                deadline.as_millis(),
                event.len(),
                event
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            let id = state.next_id;
            state.served.push((id, Instant::now()));
        } else {
            let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
            if target.contains("/response") || target.contains("/error") {
                let id = target
                    .split("/invocation/bench-")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|id| id.parse().ok())
                    .unwrap_or(0);
                let mut state = lock.lock().expect("lock");
                state.answered.push(Answered {
                    at: arrived,
                    id,
                    body: answer_of(&request),
                });
                shared.answers.notify_one();
            }
        }
    }
}

/// A buffered answer's envelope, or a streamed answer's prelude (what precedes the eight NUL
/// bytes), which carries its `statusCode` too; `Null` when it is neither.
fn answer_of(request: &wire::Request) -> Value {
    let body = request.body.as_slice();
    let json = if request.header("lambda-runtime-function-response-mode") == Some("streaming") {
        let end = body
            .windows(8)
            .position(|w| w == [0; 8])
            .unwrap_or(body.len());
        &body[..end]
    } else {
        body
    };
    serde_json::from_slice(json).unwrap_or(Value::Null)
}

/// Starts `binary` in Lambda mode against `runtime`; `BENCH_RUST_LOG` sets its `RUST_LOG` and
/// `BENCH_LOG_FORMAT` its `LOG_FORMAT`; `BENCH_DEBUG` shows its stderr, `BENCH_STDERR_FILE`
/// appends it to that file.
pub fn spawn(binary: &str, runtime: &FakeRuntime) -> Child {
    spawn_with(binary, runtime, &[])
}

/// [`spawn`] with `vars` added to the Lambda environment.
pub fn spawn_with(binary: &str, runtime: &FakeRuntime, vars: &[(&str, &str)]) -> Child {
    Command::new(binary)
        .env_clear()
        .env(config::AWS_LAMBDA_RUNTIME_API, &runtime.addr)
        .env(config::AWS_LAMBDA_FUNCTION_NAME, "bench")
        .env(config::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128")
        .env(config::AWS_LAMBDA_FUNCTION_VERSION, "$LATEST")
        .envs(std::env::var("BENCH_RUST_LOG").map(|filter| ("RUST_LOG", filter)))
        .envs(std::env::var("BENCH_LOG_FORMAT").map(|format| ("LOG_FORMAT", format)))
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr())
        .spawn()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"))
}

fn stderr() -> Stdio {
    if std::env::var_os("BENCH_DEBUG").is_some() {
        return Stdio::inherit();
    }
    match std::env::var_os("BENCH_STDERR_FILE") {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_or_else(|e| panic!("{}: {e}", path.to_string_lossy()), Stdio::from),
        None => Stdio::null(),
    }
}

pub fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A `/proc/PID/status` field such as `VmRSS` or `VmHWM`, in KiB; 0 when it cannot be read.
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status
                .lines()
                .find(|l| l.split(':').next() == Some(field))?
                .to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

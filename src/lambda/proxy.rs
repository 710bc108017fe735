//! The Runtime API proxy: a loopback HTTP server that lambda_runtime 0.7 (inside lambda-web) is
//! pointed at, relaying to the real Runtime API with hyper 0.14, the client lambda_runtime
//! itself uses. On the way in it reshapes each event ([`super::event`]); on the way out it
//! reshapes each answer for its source and keeps it within Lambda's limit ([`super::response`]).
//!
//! **Polls.** Every lambda-web loop keeps one `GET /next` open here; the proxy keeps at most as
//! many open upstream as loops are waiting, so with `AWS_LAMBDA_MAX_CONCURRENCY` loops Lambda
//! sees that many polls and never more (with several proxies, one per worker thread, each
//! bounds its own loops' polls). An upstream poll is not tied to the loop that caused it:
//! if that loop goes away mid-poll, the event waits for the next loop that asks, rather than
//! being lost. The first poll is sent as soon as the proxy starts, so the event is on its way
//! while lambda-web builds the App: that took exec → first response from 2.1× to 1.2× the
//! lambda_http peer (`make bench`).
//!
//! **Per invocation.** Answers are matched to their invocation by request id, and carry back
//! the `Lambda-Runtime-Invocation-Id` the event came with, if any (Lambda then refuses a late
//! answer with 410 Gone, which is logged and passed over). With more than one loop, the trace id
//! is kept from lambda_runtime, which would write it into the process environment
//! (`_X_AMZN_TRACE_ID`) where concurrent invocations overwrite each other's; each request gets
//! its own in `x-amzn-trace-id` and `x-amzn-lambda-context` instead.
//!
//! **Streaming.** With `LAMBDA_INVOKE_MODE=response_stream`, the answers to Function URLs and
//! REST APIs (the sources that invoke with `InvokeWithResponseStream`) leave as Lambda's
//! streaming protocol: one chunked `POST /response` marked
//! `Lambda-Runtime-Function-Response-Mode: streaming`, whose chunks are the JSON prelude, eight
//! NUL bytes, and the body. The app has answered whole by then, so this buys compatibility with
//! streaming front ends and answers over 6 MB, not an earlier first byte.
//!
//! **Tenants.** A `Lambda-Runtime-Aws-Tenant-Id` on `/next` goes to the app (see
//! [`super::event::TENANT_ID_HEADER`]).
//!
//! It also absorbs what would make lambda_runtime panic: a `/next` answer without a request id or
//! deadline ends the process with one clear line, a malformed Client-Context or Cognito header is
//! dropped with a warning, and a refused `/response` is logged rather than ignored. On shutdown
//! ([`Proxy::drain`]) it opens no new polls and waits for every invocation in flight to be
//! answered.

use super::event::{self, Decision, Delivery, Invocation};
use super::response::{self, Answer};
use super::source::Source;
use crate::logging::RequestLine;
use crate::middleware::{log_line, RequestId};
use hyper::client::HttpConnector;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Client, Method, Request, Response, StatusCode, Uri};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// What the Runtime API answered: status, headers, body.
type Fetched = Result<(StatusCode, HeaderMap, hyper::body::Bytes), String>;

/// An event ready for lambda_runtime: the headers of its `/next` answer and the reshaped event.
type Ready = (HeaderMap, Vec<u8>);

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const DEADLINE: &str = "lambda-runtime-deadline-ms";
const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const TRACE_ID: &str = "lambda-runtime-trace-id";
const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
/// Sent on `/next` to a function with tenant isolation: the tenant the invocation is for.
const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
/// Marks a `/response` as streamed.
const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
/// The content type of a streamed HTTP answer: prelude, [`DELIMITER`], body.
const STREAMED_HTTP: &str = "application/vnd.awslambda.http-integration-response";
/// What separates a streamed answer's prelude from its body.
const DELIMITER: [u8; 8] = [0; 8];
/// Added to the Runtime API in 2026: echoed on the invocation's `/response` and `/error`, so
/// Lambda can refuse (410 Gone) an answer that comes after the invocation timed out.
pub const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// How a proxy serves its loops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// More than one invocation runs at a time in the process: trace ids go to each request,
    /// never to lambda_runtime.
    pub concurrent: bool,
    /// Answers to the sources that can stream are streamed (`LAMBDA_INVOKE_MODE`).
    pub stream: bool,
}

/// A running proxy: where lambda_runtime should connect. A handle: clones share the proxy, and
/// any thread may drain it; it serves on the thread that started it.
#[derive(Clone)]
pub struct Proxy {
    /// The loopback address to give lambda_runtime as `AWS_LAMBDA_RUNTIME_API`.
    pub addr: SocketAddr,
    relay: Arc<Relay>,
    connected: Arc<Notify>,
}

impl Proxy {
    /// Binds a loopback port and starts relaying to `runtime_api` (`host:port`, or
    /// `http://host:port/base` as emulators set it), on the current thread's tokio runtime.
    /// When the Runtime API answers something the function cannot go on from, the reason goes
    /// to `fatal`.
    pub fn start(
        runtime_api: &str,
        options: Options,
        fatal: mpsc::UnboundedSender<String>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let relay = Arc::new(Relay {
            upstream: Upstream::new(runtime_api),
            options,
            pending: Mutex::default(),
            polls: Mutex::default(),
            in_flight: watch::Sender::new(0),
            fatal,
        });
        relay.poll_ahead();
        let serving = Arc::clone(&relay);
        let connected = Arc::new(Notify::new());
        let accepted = Arc::clone(&connected);
        let make = make_service_fn(move |_| {
            accepted.notify_waiters();
            let relay = serving.clone();
            async move {
                Ok::<_, Infallible>(service_fn(move |req| {
                    let relay = relay.clone();
                    async move { Ok::<_, Infallible>(relay.handle(req).await) }
                }))
            }
        });
        let server = hyper::Server::from_tcp(listener)
            .map_err(std::io::Error::other)?
            .http1_only(true)
            .tcp_nodelay(true)
            .serve(make);
        tokio::spawn(async move {
            if let Err(err) = server.await {
                log::error!("Runtime API proxy stopped: {err}");
            }
        });
        Ok(Proxy {
            addr,
            relay,
            connected,
        })
    }

    /// Resolves when the proxy next accepts a connection (a loop that has just started).
    pub fn connected(&self) -> impl std::future::Future<Output = ()> + '_ {
        self.connected.notified()
    }

    /// Yields to the scheduler a few times, so that the first `GET /next` (a spawned task)
    /// connects and is written before the caller goes on with work that does not yield.
    pub async fn let_first_poll_start(&self) {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }

    /// Makes every proxy in `proxies` open no more polls, then waits, at most `within` in all,
    /// until every invocation they received has been answered; returns how many were still
    /// unanswered.
    pub async fn drain(proxies: &[Proxy], within: Duration) -> usize {
        for proxy in proxies {
            proxy.relay.polls().draining = true;
        }
        let deadline = tokio::time::Instant::now() + within;
        let mut unanswered = 0;
        for proxy in proxies {
            let mut in_flight = proxy.relay.in_flight.subscribe();
            let _ = tokio::time::timeout_at(deadline, in_flight.wait_for(|n| *n == 0)).await;
            unanswered += *proxy.relay.in_flight.borrow();
        }
        unanswered
    }
}

/// The real Runtime API.
struct Upstream {
    client: Client<HttpConnector>,
    /// `http://host:port` plus any base path, without a trailing slash.
    base: String,
}

impl Upstream {
    fn new(runtime_api: &str) -> Self {
        let base = if runtime_api.contains("://") {
            runtime_api.trim_end_matches('/').to_owned()
        } else {
            format!("http://{runtime_api}")
        };
        let mut connector = HttpConnector::new();
        // Without it, a request written in two segments waits for the delayed ACK (~40 ms).
        connector.set_nodelay(true);
        let client = Client::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Upstream { client, base }
    }

    fn uri(&self, path_and_query: &str) -> Uri {
        format!("{}{path_and_query}", self.base)
            .parse()
            .expect("the launcher validated AWS_LAMBDA_RUNTIME_API and the path is ours")
    }

    /// Sends `request`, retrying once on a connection the Runtime API had closed.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &HeaderMap,
        payload: Payload,
    ) -> Fetched {
        let mut last_error = String::new();
        for _ in 0..2 {
            let mut request = Request::builder()
                .method(method.clone())
                .uri(self.uri(path));
            for (name, value) in headers {
                if name != CONTENT_LENGTH && name != hyper::header::HOST {
                    request = request.header(name, value);
                }
            }
            let (body, feeding) = match &payload {
                Payload::Whole(bytes) => (Body::from(bytes.clone()), None),
                // A body of unknown length: hyper sends it chunked, one chunk per send_data.
                Payload::Chunks(chunks) => {
                    let (sender, body) = Body::channel();
                    (body, Some((sender, chunks.clone())))
                }
            };
            let request = request.body(body).map_err(|e| e.to_string())?;
            let feed = async move {
                let Some((mut sender, chunks)) = feeding else {
                    return;
                };
                for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
                    if sender.send_data(chunk).await.is_err() {
                        return;
                    }
                }
            };
            let (answered, ()) = tokio::join!(self.client.request(request), feed);
            match answered {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = hyper::body::to_bytes(body)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok((parts.status, parts.headers, body));
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        Err(last_error)
    }
}

struct Relay {
    upstream: Upstream,
    options: Options,
    /// The invocations lambda-web is handling, by request id.
    pending: Mutex<HashMap<String, Pending>>,
    polls: Mutex<Polls>,
    /// Invocations received and not yet answered.
    in_flight: watch::Sender<usize>,
    fatal: mpsc::UnboundedSender<String>,
}

/// What the answer to an invocation lambda-web is handling needs.
struct Pending {
    source: Source,
    delivery: Delivery,
    invocation_id: Option<HeaderValue>,
}

/// A request body for the Runtime API: whole, or in chunks that each go out as a chunk of a
/// chunked body (Lambda's streaming protocol, and emulators that read it, want the prelude and
/// the delimiter in chunks of their own).
enum Payload {
    Whole(hyper::body::Bytes),
    Chunks(Vec<hyper::body::Bytes>),
}

/// The `GET /next` requests: the loops' and the proxy's own.
#[derive(Default)]
struct Polls {
    /// Events fetched that no loop has taken yet, because the loop that asked went away.
    ready: VecDeque<Ready>,
    /// Loops waiting for an event.
    waiting: VecDeque<oneshot::Sender<Ready>>,
    /// Polls open upstream; never more than loops waiting, plus the first one.
    upstream: usize,
    /// Shutting down: no new upstream polls.
    draining: bool,
}

/// What became of one event the Runtime API sent.
enum Taken {
    /// For lambda-web.
    Event(Ready),
    /// Answered, or refused, here.
    Handled,
    /// The Runtime API cannot be worked with; the process ends.
    Fatal,
}

impl Relay {
    fn polls(&self) -> MutexGuard<'_, Polls> {
        self.polls.lock().expect("never held across a panic")
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().expect("never held across a panic")
    }

    /// Opens one upstream poll before any loop asks. Called once, at start.
    fn poll_ahead(self: &Arc<Self>) {
        self.polls().upstream += 1;
        tokio::spawn(Arc::clone(self).poll_upstream());
    }

    async fn handle(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if req.method() == Method::GET && path == NEXT {
            return self.next().await;
        }
        let (parts, body) = req.into_parts();
        let body = match hyper::body::to_bytes(body).await {
            Ok(body) => body,
            Err(err) => return plain(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        let answered = path
            .strip_prefix(INVOCATION)
            .and_then(|rest| rest.rsplit_once('/'));
        match answered {
            Some((request_id, "response")) => self.respond(request_id, &body).await,
            Some((request_id, "error")) => {
                let pending = self.pending().remove(request_id);
                let invocation_id = pending.as_ref().and_then(|p| p.invocation_id.clone());
                let status = self
                    .post(
                        request_id,
                        "error",
                        invocation_id,
                        parts.headers,
                        Payload::Whole(body),
                    )
                    .await;
                if pending.is_some() {
                    self.answered();
                }
                plain(status, "")
            }
            // Init errors, and anything else, pass through as they are.
            _ => {
                let path_and_query = parts
                    .uri
                    .path_and_query()
                    .map_or(path.as_str(), |p| p.as_str());
                match self
                    .upstream
                    .send(
                        parts.method,
                        path_and_query,
                        &parts.headers,
                        Payload::Whole(body),
                    )
                    .await
                {
                    Ok((status, _, body)) => plain_bytes(status, body),
                    Err(err) => {
                        log::error!("Runtime API unreachable for {path}: {err}");
                        plain(StatusCode::BAD_GATEWAY, &err)
                    }
                }
            }
        }
    }

    /// A loop's `GET /next`: an event already fetched, or the next one, for which an upstream
    /// poll is opened unless enough are open already.
    async fn next(self: &Arc<Self>) -> Response<Body> {
        let event = {
            let mut polls = self.polls();
            if let Some(ready) = polls.ready.pop_front() {
                return forward(ready);
            }
            let (sender, event) = oneshot::channel();
            polls.waiting.retain(|loop_| !loop_.is_closed());
            polls.waiting.push_back(sender);
            if !polls.draining && polls.upstream < polls.waiting.len() {
                polls.upstream += 1;
                tokio::spawn(Arc::clone(self).poll_upstream());
            }
            event
        };
        match event.await {
            Ok(ready) => forward(ready),
            // Senders are dropped only once sent to, or with the process.
            Err(_) => std::future::pending().await,
        }
    }

    /// One upstream poll: fetches events until one is for lambda-web and hands it to a waiting
    /// loop, answering or refusing the others here.
    async fn poll_upstream(self: Arc<Self>) {
        loop {
            let fetched = self
                .upstream
                .send(
                    Method::GET,
                    NEXT,
                    &HeaderMap::new(),
                    Payload::Whole(Default::default()),
                )
                .await;
            match self.take(fetched).await {
                Taken::Event(ready) => return self.deliver(ready),
                Taken::Fatal => return,
                Taken::Handled => {
                    let mut polls = self.polls();
                    if polls.draining {
                        polls.upstream -= 1;
                        return;
                    }
                }
            }
        }
    }

    /// Gives `ready` to the first loop still waiting, or keeps it for the next that asks.
    fn deliver(&self, mut ready: Ready) {
        let mut polls = self.polls();
        polls.upstream -= 1;
        while let Some(waiting) = polls.waiting.pop_front() {
            match waiting.send(ready) {
                Ok(()) => return,
                Err(unsent) => ready = unsent,
            }
        }
        polls.ready.push_back(ready);
    }

    /// Decides what to do with one `/next` answer.
    async fn take(&self, fetched: Fetched) -> Taken {
        let (status, mut headers, body) = match fetched {
            Ok(answer) => answer,
            Err(err) => return self.fail(format!("cannot reach the Runtime API: {err}")),
        };
        let invocation = match invocation(status, &mut headers, &body) {
            Ok(invocation) => invocation,
            Err(reason) => return self.fail(reason),
        };
        self.in_flight.send_modify(|n| *n += 1);
        let invocation_id = headers.get(INVOCATION_ID).cloned();
        let concurrent = self.options.concurrent;
        if concurrent {
            headers.remove(TRACE_ID);
        }
        match event::normalize(&body, &invocation, concurrent, self.options.stream) {
            Decision::Forward {
                event,
                source,
                delivery,
            } => {
                self.pending().insert(
                    invocation.request_id,
                    Pending {
                        source,
                        delivery,
                        invocation_id,
                    },
                );
                headers.remove(CONTENT_LENGTH);
                return Taken::Event((headers, event));
            }
            Decision::Answer {
                source,
                delivery,
                error,
                method,
                path,
                request_id,
            } => {
                let started = Instant::now();
                let id = RequestId::from_incoming_or(
                    request_id
                        .and_then(|id| HeaderValue::from_str(&id).ok())
                        .as_ref(),
                    Some(&invocation.request_id),
                );
                let answer = Answer::from_error(&error, id.as_str());
                let line = RequestLine {
                    status: answer.status,
                    method: &method,
                    path: &path,
                    elapsed: started.elapsed(),
                    request_id: id.as_str(),
                };
                let lambda = crate::middleware::Invocation {
                    request_id: invocation.request_id.clone(),
                    xray_trace_id: invocation.trace_id.clone(),
                    tenant_id: invocation.tenant_id.clone(),
                    response_mode: None,
                };
                log_line(&line, Some(&lambda));
                let pending = Pending {
                    source,
                    delivery,
                    invocation_id,
                };
                self.answer(&invocation.request_id, &pending, answer).await;
            }
            Decision::Refuse {
                error_type,
                message,
            } => {
                log::warn!(
                    "invocation {} refused: {error_type}: {message}",
                    invocation.request_id
                );
                let body = serde_json::json!({"errorType": error_type, "errorMessage": message});
                let mut headers = json_headers();
                headers.insert(ERROR_TYPE, HeaderValue::from_static(error_type));
                self.post(
                    &invocation.request_id,
                    "error",
                    invocation_id,
                    headers,
                    Payload::Whole(body.to_string().into()),
                )
                .await;
            }
        }
        self.answered();
        Taken::Handled
    }

    /// Reshapes lambda-web's answer for the event's source and posts it.
    async fn respond(&self, request_id: &str, body: &[u8]) -> Response<Body> {
        let pending = self.pending().remove(request_id);
        match (&pending, Answer::from_lambda_web(body)) {
            (Some(pending), Ok(answer)) => self.answer(request_id, pending, answer).await,
            // Not an invocation this proxy handed out, or not readable: passed on as it is.
            (_, read) => {
                if let Err(err) = read {
                    log::error!("lambda-web's answer to {request_id} is not readable ({err}); passed on as it is");
                }
                let invocation_id = pending.as_ref().and_then(|p| p.invocation_id.clone());
                let whole = Payload::Whole(body.to_vec().into());
                self.post(request_id, "response", invocation_id, json_headers(), whole)
                    .await;
            }
        }
        if pending.is_some() {
            self.answered();
        }
        plain(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
    }

    /// Posts `answer` to the invocation `request_id`: a response envelope in its source's
    /// shape, or streamed.
    async fn answer(&self, request_id: &str, pending: &Pending, answer: Answer) {
        let invocation_id = pending.invocation_id.clone();
        match pending.delivery {
            Delivery::Buffered => {
                let envelope = response::envelope_within_limit(&answer, pending.source.shape());
                let whole = Payload::Whole(envelope.into());
                self.post(request_id, "response", invocation_id, json_headers(), whole)
                    .await;
            }
            Delivery::Streamed => {
                let (prelude, body) = response::stream_within_limit(answer, pending.source);
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(STREAMED_HTTP));
                headers.insert(RESPONSE_MODE, HeaderValue::from_static("streaming"));
                let chunks = vec![
                    prelude.into(),
                    hyper::body::Bytes::from_static(&DELIMITER),
                    body.into(),
                ];
                self.post(
                    request_id,
                    "response",
                    invocation_id,
                    headers,
                    Payload::Chunks(chunks),
                )
                .await;
            }
        }
    }

    /// Posts an invocation's `/response` or `/error`, with its invocation id when it had one,
    /// and logs what the Runtime API refused. Returns the Runtime API's status.
    async fn post(
        &self,
        request_id: &str,
        kind: &str,
        invocation_id: Option<HeaderValue>,
        mut headers: HeaderMap,
        payload: Payload,
    ) -> StatusCode {
        let path = format!("{INVOCATION}{request_id}/{kind}");
        if let Some(id) = invocation_id {
            headers.insert(INVOCATION_ID, id);
        }
        let size = match &payload {
            Payload::Whole(body) => body.len(),
            Payload::Chunks(chunks) => chunks.iter().map(|c| c.len()).sum(),
        };
        match self
            .upstream
            .send(Method::POST, &path, &headers, payload)
            .await
        {
            Ok((status, _, _)) if status.is_success() => status,
            Ok((StatusCode::GONE, _, _)) => {
                log::warn!(
                    "the Runtime API no longer takes the {kind} to {request_id} (410 Gone: the invocation timed out or was answered)"
                );
                StatusCode::GONE
            }
            Ok((status, _, body)) => {
                log::error!(
                    "the Runtime API refused the {kind} to {request_id} ({size} bytes): {status} {}",
                    excerpt(&body)
                );
                status
            }
            Err(err) => {
                log::error!("could not post the {kind} to {request_id}: {err}");
                StatusCode::BAD_GATEWAY
            }
        }
    }

    /// One invocation fewer in flight.
    fn answered(&self) {
        self.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// Reports `reason` to the launcher, which ends the process; the poll stays unanswered
    /// until then.
    fn fail(&self, reason: String) -> Taken {
        let _ = self.fatal.send(reason);
        Taken::Fatal
    }
}

fn forward((headers, event): Ready) -> Response<Body> {
    let mut response = Response::new(Body::from(event));
    *response.headers_mut() = headers;
    response
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// The invocation a `/next` answer describes, after repairing what lambda_runtime would panic on
/// and can do without; an error for what it cannot.
fn invocation(
    status: StatusCode,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<Invocation, String> {
    if status != StatusCode::OK {
        return Err(format!(
            "the Runtime API answered GET /next with {status}: {}",
            excerpt(body)
        ));
    }
    let text = |headers: &HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request_id = text(headers, REQUEST_ID)
        .filter(|id| !id.is_empty() && !id.contains(['/', '?', '#', ' ']))
        .ok_or(
            "the Runtime API sent an event without a usable Lambda-Runtime-Aws-Request-Id header",
        )?;
    let deadline_ms = text(headers, DEADLINE)
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| {
            format!("the Runtime API sent event {request_id} without a usable Lambda-Runtime-Deadline-Ms header")
        })?;
    // lambda_runtime fails the whole loop on these; they are optional, so drop what it cannot read.
    repair::<ClientContext>(headers, CLIENT_CONTEXT, &request_id);
    repair::<CognitoIdentity>(headers, COGNITO_IDENTITY, &request_id);
    if headers
        .get(FUNCTION_ARN)
        .is_some_and(|v| v.to_str().is_err())
    {
        headers.remove(FUNCTION_ARN);
    }
    Ok(Invocation {
        function_arn: text(headers, FUNCTION_ARN),
        trace_id: headers
            .get(TRACE_ID)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        // Lambda's tenant ids are visible ASCII; anything else cannot be passed on as a header.
        tenant_id: text(headers, TENANT_ID).filter(|id| !id.is_empty()),
        request_id,
        deadline_ms,
    })
}

// The shapes lambda_runtime 0.7 reads the two optional context headers into; its own types are
// private, and a header it cannot read into them ends its run loop. Only the shape matters here.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ClientContext {
    #[serde(default)]
    client: ClientApplication,
    #[serde(default)]
    custom: HashMap<String, String>,
    #[serde(default)]
    environment: HashMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct ClientApplication {
    #[serde(alias = "installation_id")]
    installation_id: String,
    #[serde(alias = "app_title")]
    app_title: String,
    #[serde(alias = "app_version_name")]
    app_version_name: String,
    #[serde(alias = "app_version_code")]
    app_version_code: String,
    #[serde(alias = "app_package_name")]
    app_package_name: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct CognitoIdentity {
    #[serde(alias = "cognitoIdentityId", alias = "identity_id")]
    identity_id: String,
    #[serde(alias = "cognitoIdentityPoolId", alias = "identity_pool_id")]
    identity_pool_id: String,
}

fn repair<T: serde::de::DeserializeOwned>(headers: &mut HeaderMap, name: &str, request_id: &str) {
    let readable = headers.get(name).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|text| serde_json::from_str::<T>(text).ok())
            .is_some()
    });
    if readable == Some(false) {
        log::warn!("invocation {request_id}: dropped a malformed {name} header");
        headers.remove(name);
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    crate::logging::EscapedPath(&text).to_string()
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    plain_bytes(status, text.to_owned().into())
}

fn plain_bytes(status: StatusCode, body: hyper::body::Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    hyper::header::HeaderName::from_static(n),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_next_answer_without_request_id_or_deadline_is_an_error_not_a_panic() {
        let mut only_deadline = next_headers(&[(DEADLINE, "1")]);
        assert!(invocation(StatusCode::OK, &mut only_deadline, b"{}")
            .unwrap_err()
            .contains("Lambda-Runtime-Aws-Request-Id"));
        let mut only_id = next_headers(&[(REQUEST_ID, "r")]);
        assert!(invocation(StatusCode::OK, &mut only_id, b"{}")
            .unwrap_err()
            .contains("Lambda-Runtime-Deadline-Ms"));
        let mut fine = next_headers(&[(REQUEST_ID, "r"), (DEADLINE, "1")]);
        assert!(
            invocation(StatusCode::INTERNAL_SERVER_ERROR, &mut fine, b"oops")
                .unwrap_err()
                .contains("500")
        );
    }

    #[test]
    fn a_malformed_client_context_is_dropped_and_a_good_one_kept() {
        let mut headers = next_headers(&[
            (REQUEST_ID, "r"),
            (DEADLINE, "1"),
            (CLIENT_CONTEXT, "{\"custom\":{\"n\":1}}"),
            (
                COGNITO_IDENTITY,
                "{\"identity_id\":\"i\",\"identity_pool_id\":\"p\"}",
            ),
        ]);
        let invocation = invocation(StatusCode::OK, &mut headers, b"{}").unwrap();
        assert_eq!(invocation.request_id, "r");
        assert!(headers.get(CLIENT_CONTEXT).is_none());
        assert!(headers.get(COGNITO_IDENTITY).is_some());
    }
}

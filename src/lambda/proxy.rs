//! The Runtime API proxy: a loopback HTTP server that lambda_runtime 0.7 (inside lambda-web) is
//! pointed at, relaying to the real Runtime API with hyper 0.14, the client lambda_runtime
//! itself uses. On the way in it reshapes each event ([`super::event`]); on the way out it
//! reshapes each answer for its source and keeps it within Lambda's limit ([`super::response`]).
//!
//! It asks the Runtime API for the first event as soon as it starts, rather than when
//! lambda_runtime first asks, so the event is on its way while lambda-web builds the App: that
//! took exec → first response from 2.1× to 1.2× the lambda_http peer (`make bench`). Later
//! events are asked for when lambda_runtime asks: asking earlier gained nothing measurable.
//!
//! It also absorbs what would make lambda_runtime panic: a `/next` answer without a request id or
//! deadline ends the process with one clear line, a malformed Client-Context or Cognito header is
//! dropped with a warning, and a refused `/response` is logged rather than ignored.

use super::event::{self, Decision, Invocation};
use super::response::{self, Answer};
use super::source::Source;
use crate::logging::RequestLine;
use crate::middleware::{log_line, RequestId};
use hyper::client::HttpConnector;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Client, Method, Request, Response, StatusCode, Uri};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the Runtime API answered to `GET /next`: status, headers, body.
type Fetched = Result<(StatusCode, HeaderMap, hyper::body::Bytes), String>;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const DEADLINE: &str = "lambda-runtime-deadline-ms";
const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const TRACE_ID: &str = "lambda-runtime-trace-id";
const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";

/// A running proxy: where lambda_runtime should connect, and what ends it.
pub struct Proxy {
    /// The loopback address to give lambda_runtime as `AWS_LAMBDA_RUNTIME_API`.
    pub addr: SocketAddr,
    fatal: mpsc::UnboundedReceiver<String>,
}

impl Proxy {
    /// Binds a loopback port and starts relaying to `runtime_api` (`host:port`, or
    /// `http://host:port/base` as emulators set it). Must be called inside a tokio runtime.
    pub fn start(runtime_api: &str) -> std::io::Result<Self> {
        let upstream = Upstream::new(runtime_api);
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (fatal_tx, fatal) = mpsc::unbounded_channel();
        let relay = Arc::new(Relay {
            upstream,
            pending: Mutex::default(),
            prefetched: Mutex::default(),
            fatal: fatal_tx,
        });
        relay.prefetch();
        let make = make_service_fn(move |_| {
            let relay = relay.clone();
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
        Ok(Proxy { addr, fatal })
    }

    /// Yields to the scheduler a few times, so that the first `GET /next` (a spawned task)
    /// connects and is written before the caller goes on with work that does not yield.
    pub async fn let_first_poll_start(&self) {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }

    /// Resolves with the reason when the Runtime API answered something the function cannot go
    /// on from; never resolves otherwise.
    pub async fn failed(&mut self) -> String {
        match self.fatal.recv().await {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
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
        body: hyper::body::Bytes,
    ) -> Result<(StatusCode, HeaderMap, hyper::body::Bytes), String> {
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
            let request = request
                .body(Body::from(body.clone()))
                .map_err(|e| e.to_string())?;
            match self.client.request(request).await {
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
    /// The source of each invocation lambda-web is handling, by request id.
    pending: Mutex<HashMap<String, Source>>,
    /// The `GET /next` already sent to the Runtime API, if any.
    prefetched: Mutex<Option<JoinHandle<Fetched>>>,
    fatal: mpsc::UnboundedSender<String>,
}

impl Relay {
    /// Sends `GET /next` to the Runtime API now; the next `/next` from lambda_runtime takes its
    /// answer instead of asking again. Called once, at start.
    fn prefetch(self: &Arc<Self>) {
        let relay = Arc::clone(self);
        let task = tokio::spawn(async move { relay.fetch_next().await });
        *self.prefetched.lock().expect("never held across a panic") = Some(task);
    }

    async fn fetch_next(&self) -> Fetched {
        self.upstream
            .send(Method::GET, NEXT, &HeaderMap::new(), Default::default())
            .await
    }

    async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        if req.method() == Method::GET && path == NEXT {
            return self.next().await;
        }
        let (parts, body) = req.into_parts();
        let body = match hyper::body::to_bytes(body).await {
            Ok(body) => body,
            Err(err) => return plain(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        if let Some(request_id) = path
            .strip_prefix(INVOCATION)
            .and_then(|rest| rest.strip_suffix("/response"))
        {
            return self.respond(request_id, &body).await;
        }
        // Invocation and init errors, and anything else, pass through as they are.
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or(path.as_str(), |p| p.as_str());
        match self
            .upstream
            .send(parts.method, path_and_query, &parts.headers, body)
            .await
        {
            Ok((status, _, body)) => plain_bytes(status, body),
            Err(err) => {
                log::error!("Runtime API unreachable for {path}: {err}");
                plain(StatusCode::BAD_GATEWAY, &err)
            }
        }
    }

    /// Fetches events until one is for lambda-web, answering or refusing the others here.
    async fn next(&self) -> Response<Body> {
        loop {
            let prefetched = self
                .prefetched
                .lock()
                .expect("never held across a panic")
                .take();
            let fetched = match prefetched {
                Some(task) => task.await.unwrap_or_else(|e| Err(e.to_string())),
                None => self.fetch_next().await,
            };
            let (status, mut headers, body) = match fetched {
                Ok(answer) => answer,
                Err(err) => {
                    return self
                        .fail(format!("cannot reach the Runtime API: {err}"))
                        .await
                }
            };
            let invocation = match invocation(status, &mut headers, &body) {
                Ok(invocation) => invocation,
                Err(reason) => return self.fail(reason).await,
            };
            match event::normalize(&body, &invocation) {
                Decision::Forward { event, source } => {
                    self.pending
                        .lock()
                        .expect("never held across a panic")
                        .insert(invocation.request_id, source);
                    headers.remove(CONTENT_LENGTH);
                    let mut response = Response::new(Body::from(event));
                    *response.headers_mut() = headers;
                    return response;
                }
                Decision::Answer {
                    source,
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
                    };
                    log_line(&line, Some(&lambda));
                    let envelope = answer.envelope(source);
                    self.post_response(&invocation.request_id, envelope.into())
                        .await;
                }
                Decision::Refuse {
                    error_type,
                    message,
                } => {
                    log::warn!(
                        "invocation {} refused: {error_type}: {message}",
                        invocation.request_id
                    );
                    let body =
                        serde_json::json!({"errorType": error_type, "errorMessage": message});
                    let path = format!("{INVOCATION}{}/error", invocation.request_id);
                    let mut headers = HeaderMap::new();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    headers.insert(
                        "lambda-runtime-function-error-type",
                        HeaderValue::from_static("UnsupportedEvent"),
                    );
                    if let Err(err) = self
                        .upstream
                        .send(Method::POST, &path, &headers, body.to_string().into())
                        .await
                    {
                        log::error!("could not report the invocation error: {err}");
                    }
                }
            }
        }
    }

    /// Reshapes lambda-web's answer for the event's source and posts it.
    async fn respond(&self, request_id: &str, body: &[u8]) -> Response<Body> {
        let source = self
            .pending
            .lock()
            .expect("never held across a panic")
            .remove(request_id);
        let envelope = match (source, Answer::from_lambda_web(body)) {
            (Some(source), Ok(answer)) => response::envelope_within_limit(&answer, source),
            (_, Err(err)) => {
                log::error!("lambda-web's answer to {request_id} is not readable ({err}); passed on as it is");
                body.to_vec()
            }
            (None, Ok(_)) => body.to_vec(),
        };
        self.post_response(request_id, envelope.into()).await;
        plain(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
    }

    async fn post_response(&self, request_id: &str, envelope: hyper::body::Bytes) {
        let path = format!("{INVOCATION}{request_id}/response");
        let size = envelope.len();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match self
            .upstream
            .send(Method::POST, &path, &headers, envelope)
            .await
        {
            Ok((status, _, _)) if status.is_success() => {}
            Ok((status, _, body)) => log::error!(
                "the Runtime API refused the response to {request_id} ({size} bytes): {status} {}",
                excerpt(&body)
            ),
            Err(err) => log::error!("could not post the response to {request_id}: {err}"),
        }
    }

    /// Reports `reason` to the launcher, which ends the process; lambda_runtime gets no answer.
    async fn fail(&self, reason: String) -> Response<Body> {
        let _ = self.fatal.send(reason);
        std::future::pending().await
    }
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

//! Reshapes every HTTP event Lambda can deliver (API Gateway REST APIs, HTTP APIs with payload
//! 1.0 or 2.0, Function URLs, ALB target groups with multi-value headers on or off, VPC Lattice
//! target groups with event structure V1 or V2) into the one form lambda-web 0.2.1 parses
//! without surprises: a payload 2.0 event with the stage removed, the path percent-decoded once
//! (lambda-web encodes it again), a query that is a valid URI query, lower-case headers with
//! repeated values joined, and cookies in `cookies`.
//!
//! Events that cannot become an HTTP request (a header value with CR/LF, an invalid method, a
//! body marked base64 that is not) are answered here with the service's JSON 400 or 414, and
//! events that are not HTTP events at all are refused with an invocation error that says what
//! arrived. All of it is pure: bytes in, a decision out.

use super::source::Source;
use crate::error::ApiError;
use crate::limits::MAX_URI_BYTES;
pub use crate::middleware::LAMBDA_CONTEXT_HEADER;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// The event's `requestContext`, as JSON, for the app, as aws-lambda-web-adapter passes it.
/// Whatever a client sent under this name, or [`LAMBDA_CONTEXT_HEADER`], is replaced.
pub const REQUEST_CONTEXT_HEADER: &str = "x-amzn-request-context";

/// The invocation's X-Ray trace id, for the app, when more than one invocation runs at a time
/// (as lambda_http passes it); replaces what a client or load balancer sent under this name.
pub const TRACE_ID_HEADER: &str = "x-amzn-trace-id";

/// The invocation's tenant, for the app, when the function uses tenant isolation (as
/// aws-lambda-web-adapter passes it). A client's own header of this name is always removed.
pub const TENANT_ID_HEADER: &str = "x-amz-tenant-id";

/// The sources this function answers, for the message of an invocation error.
const SUPPORTED: &str = "this function answers HTTP events only: API Gateway REST APIs, \
    HTTP APIs (payload 1.0 and 2.0), Lambda Function URLs, Application Load Balancers and \
    VPC Lattice (event structures V1 and V2)";

/// What the Runtime API said about the invocation, passed on to the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`, for a function with tenant isolation.
    pub tenant_id: Option<String>,
}

/// How the answer to an event leaves the function, which the app is told (an `/echo` that is
/// streamed is not held to the buffered response limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One `/response` of a JSON envelope.
    Buffered,
    /// A streamed `/response`: prelude, delimiter, body.
    Streamed,
}

/// What to do with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Hand this payload 2.0 event to lambda-web; answer in the shape of `source`.
    Forward {
        /// The reshaped event, serialized.
        event: Vec<u8>,
        /// Where the event came from.
        source: Source,
        /// How the answer leaves.
        delivery: Delivery,
    },
    /// Answer with the service's JSON error without involving the app.
    Answer {
        /// Where the event came from.
        source: Source,
        /// How the answer leaves.
        delivery: Delivery,
        /// The error to answer with.
        error: ApiError,
        /// The request's method, as the event gave it (for the request line).
        method: String,
        /// The request's path, as the event gave it (for the request line).
        path: String,
        /// The client's `X-Request-Id`, if it sent one.
        request_id: Option<String>,
    },
    /// Not an HTTP event: report an invocation error.
    Refuse {
        /// `errorType`.
        error_type: &'static str,
        /// `errorMessage`: what the event looked like and what is supported.
        message: String,
    },
}

/// Decides what to do with the raw event `raw` of `invocation`. With `trace_header`, the
/// invocation's trace id also goes to the app in [`TRACE_ID_HEADER`]. `stream`: the function
/// streams its answers (`LAMBDA_INVOKE_MODE=response_stream`), to the sources that can take it.
pub fn normalize(
    raw: &[u8],
    invocation: &Invocation,
    trace_header: bool,
    stream: bool,
) -> Decision {
    let value: Value = match serde_json::from_slice(raw) {
        Ok(value) => value,
        Err(err) => return refuse(format!("the event is not JSON ({err})")),
    };
    let Value::Object(event) = value else {
        return refuse(format!(
            "the event is {}, not a JSON object",
            kind_of(&value)
        ));
    };
    let source = match classify(&event) {
        Ok(source) => source,
        Err(description) => return refuse(description),
    };
    let delivery = if stream && source.can_stream() {
        Delivery::Streamed
    } else {
        Delivery::Buffered
    };
    Request::read(&event, source).into_decision(&event, invocation, trace_header, delivery)
}

fn refuse(description: String) -> Decision {
    Decision::Refuse {
        error_type: "UnsupportedEvent",
        message: format!("{description}; {SUPPORTED}"),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a JSON boolean",
        Value::Number(_) => "a JSON number",
        Value::String(_) => "a JSON string",
        Value::Array(_) => "a JSON array",
        Value::Object(_) => "a JSON object",
    }
}

/// Which HTTP source sent `event`, or a description of what it is instead.
fn classify(event: &Map<String, Value>) -> Result<Source, String> {
    let context = event.get("requestContext").and_then(Value::as_object);
    let context_has = |key: &str| context.is_some_and(|c| c.get(key).is_some_and(|v| !v.is_null()));
    let is_string = |key: &str| event.get(key).is_some_and(Value::is_string);
    // Serializers such as cargo lambda's write absent fields as null, so look for values.
    if is_string("methodArn") || is_string("routeArn") {
        return Err("the event is an API Gateway authorizer request".into());
    }
    if context_has("connectionId") {
        return Err("the event is an API Gateway WebSocket message".into());
    }
    // Lattice's V2 events carry "version": "2.0" too; its context, not the version, tells.
    let lattice = ["serviceNetworkArn", "serviceArn", "targetGroupArn"];
    if lattice.iter().any(|key| context_has(key)) {
        if is_string("method") {
            return Ok(Source::LatticeV2);
        }
        return Err("the event is a VPC Lattice request without a method".into());
    }
    if is_string("raw_path") && is_string("method") {
        return Ok(Source::LatticeV1);
    }
    let v2_method = context
        .and_then(|c| c.get("http"))
        .and_then(|http| http.get("method"))
        .is_some_and(Value::is_string);
    if event.get("version").and_then(Value::as_str) == Some("2.0") && v2_method {
        let domain = context
            .and_then(|c| c.get("domainName"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Function URLs are always served from <url-id>.lambda-url.<region>.on.aws (a custom
        // domain reaches them through CloudFront, which keeps this domainName). HTTP APIs always
        // name their apiId; cargo lambda's Function URL emulation names none and says
        // "localhost", so that shape is a Function URL too.
        let emulated = !context_has("apiId") && !domain.contains('.');
        if domain.contains(".lambda-url.") || emulated {
            return Ok(Source::FunctionUrl);
        }
        return Ok(Source::HttpApiV2);
    }
    if is_string("httpMethod") {
        if context_has("elb") {
            let multi_value = event.get("multiValueHeaders").is_some_and(Value::is_object);
            return Ok(Source::Alb { multi_value });
        }
        if event.get("version").and_then(Value::as_str) == Some("1.0") {
            return Ok(Source::HttpApiV1);
        }
        return Ok(Source::RestApi);
    }
    Err(describe(event))
}

/// What a non-HTTP event looks like, from the keys the common AWS sources use.
fn describe(event: &Map<String, Value>) -> String {
    if let Some(source) = event
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| {
            record
                .get("eventSource")
                .or_else(|| record.get("EventSource"))
        })
        .and_then(Value::as_str)
    {
        // "a record batch from aws:sqs", not "a aws:sqs record batch": the source's name starts
        // with a vowel sound, and this way no article has to guess it.
        return format!("the event is a record batch from {source}");
    }
    if event.contains_key("detail-type") {
        return "the event is an EventBridge event".into();
    }
    if event.is_empty() {
        return "the event is an empty JSON object".into();
    }
    let keys: Vec<&str> = event.keys().map(String::as_str).take(8).collect();
    format!(
        "the event is a JSON object with the keys {} and no HTTP method",
        keys.join(", ")
    )
}

/// The parts of an HTTP event the app needs, read from any source.
struct Request {
    source: Source,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    source_ip: String,
    domain_name: String,
}

impl Request {
    fn read(event: &Map<String, Value>, source: Source) -> Self {
        let context = event.get("requestContext").and_then(Value::as_object);
        let context_at = |pointer: &str| event.get("requestContext")?.pointer(pointer);
        let str_at = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let (method, path, query) = match source {
            Source::HttpApiV2 | Source::FunctionUrl => {
                let http = context.and_then(|c| c.get("http"));
                let method = str_at(http.and_then(|h| h.get("method")));
                let raw_path = str_at(event.get("rawPath"))
                    .or_else(|| str_at(http.and_then(|h| h.get("path"))))
                    .unwrap_or_default();
                let stage = context.and_then(|c| c.get("stage")).and_then(Value::as_str);
                let path = without_stage(&raw_path, stage).to_owned();
                let query = str_at(event.get("rawQueryString")).unwrap_or_default();
                (method, path, valid_query(&query))
            }
            Source::RestApi | Source::HttpApiV1 | Source::Alb { .. } => {
                let method = str_at(event.get("httpMethod"));
                let path = str_at(event.get("path")).unwrap_or_default();
                // API Gateway decodes query parameters; an ALB passes them as the client sent them.
                let encode = !matches!(source, Source::Alb { .. });
                let parameters = event
                    .get("multiValueQueryStringParameters")
                    .and_then(Value::as_object)
                    .or_else(|| {
                        event
                            .get("queryStringParameters")
                            .and_then(Value::as_object)
                    });
                (method, path, query_from_parameters(parameters, encode))
            }
            Source::LatticeV1 | Source::LatticeV2 => {
                let (path_key, query_key) = if source == Source::LatticeV1 {
                    ("raw_path", "query_string_parameters")
                } else {
                    ("path", "queryStringParameters")
                };
                let method = str_at(event.get("method"));
                let target = str_at(event.get(path_key)).unwrap_or_default();
                // Lattice passes parameters as the client sent them, as an ALB does. A path
                // that carries its own query keeps it when there are no parameters.
                let (path, in_path) = match target.split_once('?') {
                    Some((path, query)) => (path.to_owned(), valid_query(query)),
                    None => (target, String::new()),
                };
                let parameters = event.get(query_key).and_then(Value::as_object);
                let query = match query_from_parameters(parameters, false) {
                    query if query.is_empty() => in_path,
                    query => query,
                };
                (method, path, query)
            }
        };
        let method = method.unwrap_or_default();
        let (headers, mut cookies) = read_headers(event, source);
        if let Some(Value::Array(list)) = event.get("cookies") {
            cookies.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let forwarded_for = || {
            headers
                .iter()
                .find(|(name, _)| name == "x-forwarded-for")
                .and_then(|(_, value)| value.split(',').next())
                .map(|ip| ip.trim().to_owned())
        };
        let source_ip = match source {
            Source::HttpApiV2 | Source::FunctionUrl => str_at(context_at("/http/sourceIp")),
            Source::RestApi | Source::HttpApiV1 => str_at(context_at("/identity/sourceIp")),
            Source::Alb { .. } | Source::LatticeV1 | Source::LatticeV2 => forwarded_for(),
        };
        let domain_name = str_at(context.and_then(|c| c.get("domainName")))
            .or_else(|| {
                headers
                    .iter()
                    .find(|(name, _)| name == "host")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| "localhost".into());
        Request {
            source,
            method,
            path: decode_once(&path),
            query,
            headers,
            cookies,
            source_ip: source_ip.unwrap_or_default(),
            domain_name,
        }
    }

    /// Checks what lambda-web would otherwise panic on or answer in plain text, then builds the
    /// payload 2.0 event.
    fn into_decision(
        self,
        event: &Map<String, Value>,
        invocation: &Invocation,
        trace_header: bool,
        delivery: Delivery,
    ) -> Decision {
        let body = event.get("body").filter(|body| !body.is_null());
        let base64_key = if self.source == Source::LatticeV1 {
            "is_base64_encoded"
        } else {
            "isBase64Encoded"
        };
        let base64 = event
            .get(base64_key)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(error) = self.invalid(body, base64) {
            let request_id = self
                .headers
                .iter()
                .find(|(name, _)| name == "x-request-id")
                .map(|(_, value)| value.clone());
            return Decision::Answer {
                source: self.source,
                delivery,
                error,
                method: self.method,
                path: self.path,
                request_id,
            };
        }
        // serde_json's writer, not Value's Display, whose fmt path costs twice as much.
        let context = event.get("requestContext").map_or_else(
            || "{}".into(),
            |context| serde_json::to_string(context).expect("a Value serializes"),
        );
        let lambda = serde_json::to_string(&LambdaContext {
            request_id: &invocation.request_id,
            deadline: invocation.deadline_ms,
            invoked_function_arn: invocation.function_arn.as_deref(),
            xray_trace_id: invocation.trace_id.as_deref(),
            tenant_id: invocation.tenant_id.as_deref(),
            response_mode: (delivery == Delivery::Streamed).then_some("streaming"),
        })
        .expect("strings and numbers serialize");
        let reshaped = Reshaped {
            version: "2.0",
            route_key: "$default",
            raw_path: &self.path,
            raw_query_string: &self.query,
            headers: Headers {
                client: &self.headers,
                context: &context,
                lambda: &lambda,
                trace_id: invocation.trace_id.as_deref().filter(|_| trace_header),
                tenant_id: invocation.tenant_id.as_deref(),
            },
            is_base64_encoded: base64,
            request_context: ReshapedContext {
                domain_name: &self.domain_name,
                http: ReshapedHttp {
                    method: &self.method,
                    source_ip: &self.source_ip,
                },
            },
            cookies: &self.cookies,
            body: body.and_then(Value::as_str),
        };
        Decision::Forward {
            event: serde_json::to_vec(&reshaped).expect("strings serialize"),
            source: self.source,
            delivery,
        }
    }

    /// Why the request cannot be handed to the app, if it cannot.
    fn invalid(&self, body: Option<&Value>, base64: bool) -> Option<ApiError> {
        let bad = |detail: String| Some(ApiError::InvalidRequest { detail });
        if let Some(body) = body.filter(|body| !body.is_string()) {
            return bad(format!(
                "The event's body is {}, not a string.",
                kind_of(body)
            ));
        }
        let body = body.and_then(Value::as_str);
        if self.method.is_empty() || !self.method.bytes().all(is_token_byte) {
            return bad(format!(
                "The event's HTTP method {:?} is not a valid method.",
                self.method
            ));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return bad(format!(
                    "The header name {name:?} is not a valid HTTP header name."
                ));
            }
            if !value.bytes().all(is_header_value_byte) {
                return bad(format!(
                    "The value of the header {name:?} has control characters, which HTTP does not allow."
                ));
            }
        }
        if self
            .cookies
            .iter()
            .any(|c| !c.bytes().all(is_header_value_byte))
        {
            return bad("A cookie has control characters, which HTTP does not allow.".into());
        }
        if encoded_path_len(&self.path) + 1 + self.query.len() > MAX_URI_BYTES {
            return Some(ApiError::UriTooLong {
                limit: MAX_URI_BYTES,
            });
        }
        if base64 && body.is_some_and(|b| base64::decode(b).is_err()) {
            return bad("The event's body is marked as base64 but is not valid base64.".into());
        }
        None
    }
}

/// The payload 2.0 event lambda-web is given, written straight from the request's parts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reshaped<'a> {
    version: &'static str,
    route_key: &'static str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    headers: Headers<'a>,
    is_base64_encoded: bool,
    request_context: ReshapedContext<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    cookies: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReshapedContext<'a> {
    domain_name: &'a str,
    http: ReshapedHttp<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReshapedHttp<'a> {
    method: &'a str,
    source_ip: &'a str,
}

/// What [`LAMBDA_CONTEXT_HEADER`] carries: lambda_runtime's `Context` fields, as
/// aws-lambda-web-adapter passes them, and `response_mode` (`"streaming"`) when the answer is
/// streamed, named after the Runtime API header that says so.
#[derive(Serialize)]
struct LambdaContext<'a> {
    request_id: &'a str,
    deadline: u64,
    invoked_function_arn: Option<&'a str>,
    xray_trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mode: Option<&'static str>,
}

/// The client's headers (names unique, lower case), less the ones the proxy sets, then those.
struct Headers<'a> {
    client: &'a [(String, String)],
    context: &'a str,
    lambda: &'a str,
    trace_id: Option<&'a str>,
    tenant_id: Option<&'a str>,
}

impl Serialize for Headers<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A client's tenant header is dropped even without a tenant: only Lambda names one.
        let ours = |name: &str| {
            name == REQUEST_CONTEXT_HEADER
                || name == LAMBDA_CONTEXT_HEADER
                || name == TENANT_ID_HEADER
                || (name == TRACE_ID_HEADER && self.trace_id.is_some())
        };
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.client.iter().filter(|(name, _)| !ours(name)) {
            map.serialize_entry(name, value)?;
        }
        map.serialize_entry(REQUEST_CONTEXT_HEADER, self.context)?;
        map.serialize_entry(LAMBDA_CONTEXT_HEADER, self.lambda)?;
        if let Some(trace_id) = self.trace_id {
            map.serialize_entry(TRACE_ID_HEADER, trace_id)?;
        }
        if let Some(tenant_id) = self.tenant_id {
            map.serialize_entry(TENANT_ID_HEADER, tenant_id)?;
        }
        map.end()
    }
}

/// `rawPath` without `/{stage}` when the API has a named stage. HTTP APIs keep the stage in
/// `rawPath` for named stages; REST APIs put the path without it in `path`.
fn without_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return path;
    };
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// The path decoded once, as HTTP mode decodes it; lambda-web percent-encodes it again. A path
/// whose escapes do not decode to UTF-8 is kept as it is.
fn decode_once(path: &str) -> String {
    let decoded = match percent_decode_str(path).decode_utf8() {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => path.to_owned(),
    };
    if decoded.starts_with('/') {
        decoded
    } else {
        format!("/{decoded}")
    }
}

/// What lambda-web percent-encodes in a path (its `RFC3986_PATH_ESCAPE_SET`).
const LAMBDA_WEB_PATH_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'+')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn encoded_path_len(path: &str) -> usize {
    utf8_percent_encode(path, LAMBDA_WEB_PATH_SET)
        .map(str::len)
        .sum()
}

/// Bytes a URI query cannot hold as they are; `%`, `&`, `=` and `+` keep their meaning.
const INVALID_IN_QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Everything but RFC 3986's unreserved characters: for decoded parameter names and values.
const COMPONENT: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A raw query string with the bytes a URI cannot carry percent-encoded (a space, non-ASCII),
/// which HTTP APIs and Function URLs pass on as the client wrote them.
fn valid_query(query: &str) -> String {
    utf8_percent_encode(query, INVALID_IN_QUERY).to_string()
}

/// The query from a map of parameters whose values are strings or lists of strings (payload
/// 1.0, ALB and VPC Lattice events). `encode`: the values are decoded (API Gateway) and must be
/// percent-encoded; otherwise they are kept as the client sent them.
fn query_from_parameters(parameters: Option<&Map<String, Value>>, encode: bool) -> String {
    let part = |text: &str| {
        if encode {
            utf8_percent_encode(text, COMPONENT).to_string()
        } else {
            valid_query(text)
        }
    };
    let mut query = String::new();
    for (name, value) in parameters.into_iter().flatten() {
        for value in strings(value) {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&part(name));
            query.push('=');
            query.push_str(&part(value));
        }
    }
    query
}

/// A string, or each string of a list; nothing for anything else.
fn strings(value: &Value) -> impl Iterator<Item = &str> {
    let (one, list) = match value {
        Value::String(text) => (Some(text.as_str()), None),
        Value::Array(list) => (None, Some(list.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(list.into_iter().flatten())
}

/// Lower-case headers, repeated values joined with `, `, and `cookie` moved to the cookies.
fn read_headers(
    event: &Map<String, Value>,
    source: Source,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies = Vec::new();
    let mut add = |name: &str, value: &str| {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.push(value.to_owned());
        } else if let Some((_, joined)) = headers.iter_mut().find(|(n, _)| *n == name) {
            joined.push_str(", ");
            joined.push_str(value);
        } else {
            headers.push((name, value.to_owned()));
        }
    };
    let multi = match source {
        Source::RestApi | Source::HttpApiV1 | Source::Alb { .. } => {
            event.get("multiValueHeaders").and_then(Value::as_object)
        }
        _ => None,
    };
    // Lattice V2 lists every header's values; the other sources give one string each.
    let map = multi
        .filter(|m| !m.is_empty())
        .or_else(|| event.get("headers").and_then(Value::as_object));
    for (name, values) in map.into_iter().flatten() {
        for value in strings(values) {
            add(name, value);
        }
    }
    (headers, cookies)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What the `http` crate accepts in a header value: visible characters, spaces, tabs and
/// non-ASCII bytes, but no other controls.
fn is_header_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invocation() -> Invocation {
        Invocation {
            request_id: "req-1".into(),
            deadline_ms: 1_700_000_000_000,
            function_arn: Some("arn:aws:lambda:us-east-1:1:function:f".into()),
            trace_id: Some("Root=1-2-3".into()),
            tenant_id: None,
        }
    }

    /// The reshaped event for `event`, which must be forwarded.
    fn forwarded(event: Value) -> (Value, Source) {
        forwarded_with(event, false)
    }

    fn forwarded_with(event: Value, trace_header: bool) -> (Value, Source) {
        let (event, source, _) = forwarded_by(event, &invocation(), trace_header, false);
        (event, source)
    }

    fn forwarded_by(
        event: Value,
        invocation: &Invocation,
        trace_header: bool,
        stream: bool,
    ) -> (Value, Source, Delivery) {
        match normalize(
            event.to_string().as_bytes(),
            invocation,
            trace_header,
            stream,
        ) {
            Decision::Forward {
                event,
                source,
                delivery,
            } => (serde_json::from_slice(&event).unwrap(), source, delivery),
            other => panic!("expected Forward, got {other:?}"),
        }
    }

    /// The `x-amzn-lambda-context` the app is given.
    fn lambda_context(event: &Value) -> Value {
        serde_json::from_str(event["headers"][LAMBDA_CONTEXT_HEADER].as_str().unwrap()).unwrap()
    }

    fn answered(event: Value) -> ApiError {
        match normalize(event.to_string().as_bytes(), &invocation(), false, false) {
            Decision::Answer { error, .. } => error,
            other => panic!("expected Answer, got {other:?}"),
        }
    }

    fn refused(raw: &str) -> String {
        match normalize(raw.as_bytes(), &invocation(), false, false) {
            Decision::Refuse {
                error_type,
                message,
            } => {
                assert_eq!(error_type, "UnsupportedEvent");
                assert!(message.contains("HTTP events only"), "{message}");
                message
            }
            other => panic!("expected Refuse, got {other:?}"),
        }
    }

    #[test]
    fn fields_other_sources_use_are_ignored_when_null() {
        let (_, source) = forwarded(json!({
            "version": "2.0", "rawPath": "/", "routeArn": null, "methodArn": null,
            "requestContext": {"http": {"method": "GET"}, "connectionId": null, "apiId": "a"}
        }));
        assert_eq!(source, Source::HttpApiV2);
    }

    #[test]
    fn the_bare_rest_event_is_a_get_of_its_path() {
        let (event, source) = forwarded(json!({"httpMethod": "GET", "path": "/health"}));
        assert_eq!(source, Source::RestApi);
        assert_eq!(event["rawPath"], "/health");
        assert_eq!(event["rawQueryString"], "");
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
    }

    #[test]
    fn rest_events_route_on_path_without_the_stage_and_null_maps_are_empty() {
        let (event, _) = forwarded(json!({
            "httpMethod": "GET", "path": "/health", "headers": null, "multiValueHeaders": null,
            "queryStringParameters": null, "multiValueQueryStringParameters": null, "body": null,
            "requestContext": {"path": "/prod/health", "stage": "prod", "domainName": "x.example"}
        }));
        assert_eq!(event["rawPath"], "/health");
        assert_eq!(event["requestContext"]["domainName"], "x.example");
        assert!(event.get("body").is_none());
    }

    #[test]
    fn http_api_named_stages_are_removed_from_raw_path_and_default_is_left_alone() {
        let event = |raw_path: &str, stage: &str| {
            forwarded(json!({
                "version": "2.0", "rawPath": raw_path, "rawQueryString": "",
                "requestContext": {"stage": stage, "http": {"method": "GET"}}
            }))
            .0["rawPath"]
                .clone()
        };
        assert_eq!(event("/dev/health", "dev"), "/health");
        assert_eq!(event("/dev", "dev"), "/");
        assert_eq!(event("/devices", "dev"), "/devices");
        assert_eq!(event("/health", "$default"), "/health");
    }

    #[test]
    fn paths_are_percent_decoded_exactly_once() {
        let path = |raw: &str| {
            forwarded(json!({
                "version": "2.0", "rawPath": raw,
                "requestContext": {"http": {"method": "GET"}}
            }))
            .0["rawPath"]
                .clone()
        };
        assert_eq!(path("/%68ealth"), "/health");
        assert_eq!(path("/caf%C3%A9"), "/café");
        assert_eq!(path("/100%25"), "/100%");
        assert_eq!(path("/%FF"), "/%FF");
        assert_eq!(path("health"), "/health");
    }

    #[test]
    fn a_missing_or_null_raw_query_string_is_empty_and_invalid_bytes_are_encoded() {
        let query = |q: Value| {
            forwarded(json!({
                "version": "2.0", "rawPath": "/", "rawQueryString": q,
                "requestContext": {"http": {"method": "GET"}}
            }))
            .0["rawQueryString"]
                .clone()
        };
        assert_eq!(query(Value::Null), "");
        assert_eq!(query(json!("a=1&b=x%20y")), "a=1&b=x%20y");
        assert_eq!(query(json!("q=a b&c=é")), "q=a%20b&c=%C3%A9");
    }

    #[test]
    fn rest_parameters_are_encoded_and_alb_parameters_are_kept_as_sent() {
        let (rest, _) = forwarded(json!({
            "httpMethod": "GET", "path": "/",
            "multiValueQueryStringParameters": {"q": ["a b", "c&d"]},
        }));
        assert_eq!(rest["rawQueryString"], "q=a%20b&q=c%26d");
        let (alb, source) = forwarded(json!({
            "httpMethod": "GET", "path": "/", "requestContext": {"elb": {}},
            "queryStringParameters": {"q": "a%20b"}, "headers": {"Host": "h"},
        }));
        assert_eq!(source, Source::Alb { multi_value: false });
        assert_eq!(alb["rawQueryString"], "q=a%20b");
    }

    #[test]
    fn headers_are_lower_cased_repeated_values_joined_and_cookies_moved() {
        let (event, source) = forwarded(json!({
            "httpMethod": "GET", "path": "/", "requestContext": {"elb": {}},
            "multiValueHeaders": {"Accept": ["a", "b"], "Cookie": ["x=1", "y=2"]},
        }));
        assert_eq!(source, Source::Alb { multi_value: true });
        assert_eq!(event["headers"]["accept"], "a, b");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["x=1", "y=2"]));
    }

    #[test]
    fn the_app_gets_the_request_and_lambda_context_and_clients_cannot_forge_them() {
        let (event, _) = forwarded(json!({
            "version": "2.0", "rawPath": "/",
            "headers": {"x-amzn-lambda-context": "forged", "x-amzn-request-context": "forged"},
            "requestContext": {"http": {"method": "GET"}, "stage": "$default"}
        }));
        let lambda: Value =
            serde_json::from_str(event["headers"][LAMBDA_CONTEXT_HEADER].as_str().unwrap())
                .unwrap();
        assert_eq!(lambda["request_id"], "req-1");
        assert_eq!(lambda["xray_trace_id"], "Root=1-2-3");
        let request: Value =
            serde_json::from_str(event["headers"][REQUEST_CONTEXT_HEADER].as_str().unwrap())
                .unwrap();
        assert_eq!(request["stage"], "$default");
    }

    #[test]
    fn with_the_trace_header_the_app_gets_the_invocations_trace_id_in_place_of_the_clients() {
        let event = json!({
            "version": "2.0", "rawPath": "/", "headers": {"x-amzn-trace-id": "Root=client"},
            "requestContext": {"http": {"method": "GET"}}
        });
        let (concurrent, _) = forwarded_with(event.clone(), true);
        assert_eq!(concurrent["headers"][TRACE_ID_HEADER], "Root=1-2-3");
        let (sequential, _) = forwarded_with(event, false);
        assert_eq!(sequential["headers"][TRACE_ID_HEADER], "Root=client");
    }

    #[test]
    fn a_body_that_is_not_a_string_or_null_is_an_invalid_request_saying_so() {
        let echo = |body: Value| {
            json!({"version": "2.0", "rawPath": "/echo", "body": body,
                   "requestContext": {"http": {"method": "POST"}}})
        };
        for (body, kind) in [
            (json!({"a": 1}), "a JSON object"),
            (json!(12), "a JSON number"),
            (json!([1]), "a JSON array"),
            (json!(true), "a JSON boolean"),
        ] {
            let error = answered(echo(body));
            assert_eq!(error.code(), "invalid_request");
            assert!(
                error
                    .to_json()
                    .contains(&format!("is {kind}, not a string")),
                "{}",
                error.to_json()
            );
        }
        let (null_body, _) = forwarded(echo(Value::Null));
        assert!(null_body.get("body").is_none());
    }

    #[test]
    fn what_cannot_be_an_http_request_gets_a_json_400_or_414() {
        let v2 = |headers: Value, method: &str| {
            json!({"version": "2.0", "rawPath": "/", "headers": headers,
                   "requestContext": {"http": {"method": method}}})
        };
        for (event, code) in [
            (v2(json!({"x-a": "1\r\n2"}), "GET"), "invalid_request"),
            (v2(json!({"x a": "1"}), "GET"), "invalid_request"),
            (v2(json!({}), "G ET"), "invalid_request"),
            (
                json!({"httpMethod": "POST", "path": "/echo", "body": "@@@", "isBase64Encoded": true}),
                "invalid_request",
            ),
            (
                json!({"httpMethod": "GET", "path": format!("/{}", "a".repeat(70_000))}),
                "uri_too_long",
            ),
        ] {
            assert_eq!(answered(event.clone()).code(), code, "{event}");
        }
    }

    #[test]
    fn non_http_events_are_refused_with_a_description_of_what_arrived() {
        assert!(refused("not json").contains("not JSON"));
        assert!(refused("[1]").contains("a JSON array"));
        assert!(refused("null").contains("null"));
        assert!(refused("{}").contains("empty JSON object"));
        assert!(refused(r#"{"Records":[{"eventSource":"aws:sqs"}]}"#)
            .contains("the event is a record batch from aws:sqs"));
        assert!(refused(r#"{"detail-type":"x","source":"y"}"#).contains("EventBridge"));
        assert!(refused(r#"{"requestContext":{"connectionId":"c"}}"#).contains("WebSocket"));
        assert!(refused(r#"{"type":"TOKEN","methodArn":"arn"}"#).contains("authorizer"));
        assert!(refused(r#"{"requestContext":{"serviceArn":"arn"}}"#).contains("VPC Lattice"));
        assert!(refused("{}").contains("VPC Lattice (event structures V1 and V2)"));
    }

    fn lattice_v2(path: &str) -> Value {
        json!({
            "version": "2.0", "path": path, "method": "GET",
            "headers": {"multi": ["x", "y"], "host": "svc.example", "x-forwarded-for": ["10.0.2.100"]},
            "queryStringParameters": {"q": ["hello%20world"], "multi": ["a", "b"]},
            "body": null, "isBase64Encoded": false,
            "requestContext": {
                "serviceNetworkArn": "arn:sn", "serviceArn": "arn:svc", "targetGroupArn": "arn:tg",
                "identity": {"type": "AWS_IAM"}, "region": "eu-west-1", "timeEpoch": "1724875399456789"
            }
        })
    }

    #[test]
    fn lattice_v2_events_are_told_apart_from_http_apis_by_their_context_not_their_version() {
        let (event, source) = forwarded(lattice_v2("/health"));
        assert_eq!(source, Source::LatticeV2);
        assert_eq!(event["rawPath"], "/health");
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "10.0.2.100");
        assert_eq!(event["requestContext"]["domainName"], "svc.example");
        // Repeated values joined; the query kept as the client encoded it.
        assert_eq!(event["headers"]["multi"], "x, y");
        assert_eq!(event["rawQueryString"], "multi=a&multi=b&q=hello%20world");
        let request: Value =
            serde_json::from_str(event["headers"][REQUEST_CONTEXT_HEADER].as_str().unwrap())
                .unwrap();
        assert_eq!(request["serviceArn"], "arn:svc");
        assert_eq!(request["timeEpoch"], "1724875399456789");
    }

    #[test]
    fn lattice_v1_events_are_read_from_their_snake_case_keys() {
        let (event, source) = forwarded(json!({
            "raw_path": "/echo", "method": "POST",
            "headers": {"content-type": "application/json", "multi": "abcd, DEF"},
            "query_string_parameters": {"tags": "tv"},
            "body": "eyJhIjoxfQ==", "is_base64_encoded": true
        }));
        assert_eq!(source, Source::LatticeV1);
        assert_eq!(event["rawPath"], "/echo");
        assert_eq!(event["rawQueryString"], "tags=tv");
        assert_eq!(event["headers"]["multi"], "abcd, DEF");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "eyJhIjoxfQ==");
        assert_eq!(event["headers"][REQUEST_CONTEXT_HEADER], "{}");
        let (in_path, _) = forwarded(json!({"raw_path": "/health?a=1", "method": "GET"}));
        assert_eq!(in_path["rawPath"], "/health");
        assert_eq!(in_path["rawQueryString"], "a=1");
    }

    #[test]
    fn lattice_events_that_cannot_be_http_requests_get_the_json_400() {
        let mut bad = lattice_v2("/");
        bad["method"] = json!("G ET");
        assert_eq!(answered(bad).code(), "invalid_request");
        let bad_base64 =
            json!({"raw_path": "/", "method": "POST", "body": "@@", "is_base64_encoded": true});
        assert_eq!(answered(bad_base64).code(), "invalid_request");
    }

    #[test]
    fn function_urls_and_rest_apis_are_told_apart_from_http_apis() {
        let v2 = |domain: &str| {
            json!({"version": "2.0", "rawPath": "/", "requestContext": {
                "domainName": domain, "http": {"method": "GET"}}})
        };
        assert_eq!(
            forwarded(v2("abc.lambda-url.us-east-1.on.aws")).1,
            Source::FunctionUrl
        );
        assert_eq!(
            forwarded(v2("abc.execute-api.us-east-1.amazonaws.com")).1,
            Source::HttpApiV2
        );
        let http_api_v1 = json!({"version": "1.0", "httpMethod": "GET", "path": "/"});
        assert_eq!(forwarded(http_api_v1).1, Source::HttpApiV1);
    }

    #[test]
    fn only_function_urls_and_rest_apis_are_streamed_and_the_app_is_told() {
        let url = json!({"version": "2.0", "rawPath": "/", "requestContext": {
            "domainName": "abc.lambda-url.us-east-1.on.aws", "http": {"method": "GET"}}});
        let rest = json!({"httpMethod": "GET", "path": "/"});
        let http_api = json!({"version": "2.0", "rawPath": "/", "requestContext": {
            "apiId": "r3pmxmplak", "domainName": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "GET"}}});
        for (event, streams) in [
            (url.clone(), true),
            (rest, true),
            (http_api, false),
            (lattice_v2("/"), false),
        ] {
            let (reshaped, _, delivery) = forwarded_by(event.clone(), &invocation(), false, true);
            let expected = if streams {
                Delivery::Streamed
            } else {
                Delivery::Buffered
            };
            assert_eq!(delivery, expected, "{event}");
            let mode = lambda_context(&reshaped).get("response_mode").cloned();
            assert_eq!(mode, streams.then(|| json!("streaming")), "{event}");
        }
        let (_, _, buffered) = forwarded_by(url, &invocation(), false, false);
        assert_eq!(buffered, Delivery::Buffered);
    }

    #[test]
    fn the_tenant_reaches_the_app_and_a_clients_tenant_header_never_does() {
        let event = json!({
            "version": "2.0", "rawPath": "/", "headers": {"X-Amz-Tenant-Id": "forged"},
            "requestContext": {"http": {"method": "GET"}}
        });
        let tenant = Invocation {
            tenant_id: Some("tenant-a".into()),
            ..invocation()
        };
        let (with, _, _) = forwarded_by(event.clone(), &tenant, false, false);
        assert_eq!(with["headers"][TENANT_ID_HEADER], "tenant-a");
        assert_eq!(lambda_context(&with)["tenant_id"], "tenant-a");
        let (without, _) = forwarded(event);
        assert!(
            without["headers"].get(TENANT_ID_HEADER).is_none(),
            "{without}"
        );
        assert!(lambda_context(&without).get("tenant_id").is_none());
    }
}

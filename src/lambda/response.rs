//! Turns lambda-web's answer (always the payload 2.0 shape, the body always base64) into what
//! the event's own source reads: a response envelope in its shape, text bodies as text, within
//! Lambda's size limit; or, streamed, a JSON prelude and the raw body.

use super::source::{Shape, Source};
use crate::error::ApiError;
use crate::limits::{LAMBDA_RESPONSE_LIMIT, LAMBDA_STREAM_LIMIT};
use actix_web::http::StatusCode;
use serde_json::{json, Map, Value};

/// An HTTP answer on its way back to the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers, names lower case, one value each (`set-cookie` is in `cookies`).
    pub headers: Vec<(String, String)>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// The body, decoded.
    pub body: Vec<u8>,
}

impl Answer {
    /// Reads what lambda-web posted (a payload 2.0 answer, its body always base64).
    pub fn from_lambda_web(raw: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        Self::from_envelope(&value)
    }

    /// Reads a response envelope of any source: `statusCode`, `headers` and/or
    /// `multiValueHeaders` (names lower-cased, one entry per value), `cookies`, and `body`,
    /// base64-decoded when `isBase64Encoded`.
    pub fn from_envelope(envelope: &Value) -> Result<Self, String> {
        let status = envelope
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("no statusCode in {envelope}"))?;
        let text = |value: &Value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("header value {value} is not a string"))
        };
        let mut headers = Vec::new();
        let mut cookies = Vec::new();
        let mut add = |name: &str, value: String| {
            let name = name.to_ascii_lowercase();
            if name == "set-cookie" {
                cookies.push(value);
            } else {
                headers.push((name, value));
            }
        };
        if let Some(single) = envelope.get("headers").and_then(Value::as_object) {
            for (name, value) in single {
                add(name, text(value)?);
            }
        }
        if let Some(multi) = envelope.get("multiValueHeaders").and_then(Value::as_object) {
            for (name, values) in multi {
                let values = values
                    .as_array()
                    .ok_or("a multiValueHeaders value is not a list")?;
                for value in values {
                    add(name, text(value)?);
                }
            }
        }
        if let Some(list) = envelope.get("cookies").and_then(Value::as_array) {
            for cookie in list {
                cookies.push(text(cookie)?);
            }
        }
        let body = envelope.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if envelope.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            base64::decode(body).map_err(|e| format!("body is not base64: {e}"))?
        } else {
            body.as_bytes().to_vec()
        };
        Ok(Answer {
            status,
            headers,
            cookies,
            body,
        })
    }

    /// The service's JSON error, with the headers every response of the app carries.
    pub fn from_error(error: &ApiError, request_id: &str) -> Self {
        Answer {
            status: actix_web::ResponseError::status_code(error).as_u16(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-content-type-options".into(), "nosniff".into()),
                ("x-request-id".into(), request_id.into()),
            ],
            cookies: Vec::new(),
            body: error.to_json().into_bytes(),
        }
    }

    /// The first value of the header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text when its content type is textual and it is UTF-8; `None` otherwise.
    fn text_body(&self) -> Option<&str> {
        let textual = match self.header("content-type") {
            Some(content_type) => {
                let t = content_type.to_ascii_lowercase();
                t.starts_with("text/")
                    || ["json", "xml", "javascript", "x-www-form-urlencoded"]
                        .iter()
                        .any(|kind| t.contains(kind))
            }
            None => self.body.is_empty(),
        };
        textual
            .then(|| std::str::from_utf8(&self.body).ok())
            .flatten()
    }

    /// The response envelope of `shape`, serialized.
    pub fn envelope(&self, shape: Shape) -> Vec<u8> {
        let (body, base64) = match self.text_body() {
            Some(text) => (Value::String(text.to_owned()), false),
            None => (Value::String(base64::encode(&self.body)), true),
        };
        let envelope = match shape {
            // Always a list, as lambda-web wrote it: some consumers (cargo lambda's Function
            // URL emulation) refuse an answer without one.
            Shape::V2 => json!({
                "statusCode": self.status, "headers": self.single_value(false),
                "cookies": self.cookies, "body": body, "isBase64Encoded": base64,
            }),
            Shape::MultiValue => json!({
                "statusCode": self.status, "multiValueHeaders": self.multi_value(),
                "body": body, "isBase64Encoded": base64,
            }),
            Shape::LoadBalancer { multi_value } => {
                let (key, headers) = if multi_value {
                    ("multiValueHeaders", self.multi_value())
                } else {
                    ("headers", self.single_value(true))
                };
                json!({
                    "statusCode": self.status, "statusDescription": self.status_description(),
                    key: headers, "body": body, "isBase64Encoded": base64,
                })
            }
        };
        serde_json::to_vec(&envelope).expect("a Value serializes")
    }

    /// The JSON prelude of a streamed answer to `source`: what a Function URL reads
    /// (`statusCode`, single-value `headers`, `cookies`) or, for a REST API, the same plus
    /// `multiValueHeaders` for the headers that repeat.
    pub fn prelude(&self, source: Source) -> Vec<u8> {
        let prelude = if source == Source::RestApi {
            let (mut headers, mut multi) = (Map::new(), Map::new());
            for (name, values) in self.lists() {
                match values.as_array().map(Vec::as_slice) {
                    Some([one]) => headers.insert(name, one.clone()),
                    _ => multi.insert(name, values),
                };
            }
            json!({
                "statusCode": self.status, "headers": headers, "multiValueHeaders": multi,
                "cookies": self.cookies,
            })
        } else {
            json!({
                "statusCode": self.status, "headers": self.single_value(false),
                "cookies": self.cookies,
            })
        };
        serde_json::to_vec(&prelude).expect("a Value serializes")
    }

    /// Headers one value each: a repeated header's values joined with `, ` (RFC 9110's list
    /// syntax). `with_cookie`: the first `Set-Cookie` too, for shapes without `cookies`; a
    /// single-value map cannot carry more than one, so the others are dropped with a warning.
    fn single_value(&self, with_cookie: bool) -> Map<String, Value> {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            match headers.get_mut(name) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), json!(value));
                }
            }
        }
        if with_cookie {
            if let Some(cookie) = self.cookies.first() {
                headers.insert("set-cookie".into(), json!(cookie));
            }
            if self.cookies.len() > 1 {
                log::warn!(
                    "{} Set-Cookie headers dropped: this source's answer holds one value per header",
                    self.cookies.len() - 1
                );
            }
        }
        headers
    }

    /// Headers as lists, `Set-Cookie` among them.
    fn multi_value(&self) -> Map<String, Value> {
        let mut headers = self.lists();
        if !self.cookies.is_empty() {
            headers.insert("set-cookie".into(), json!(self.cookies));
        }
        headers
    }

    /// Each header's values as a list, `Set-Cookie` not among them.
    fn lists(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let values = headers.entry(name.clone()).or_insert_with(|| json!([]));
            values.as_array_mut().expect("a list").push(json!(value));
        }
        headers
    }

    /// `200 OK`, as load balancers want it.
    fn status_description(&self) -> String {
        let reason = StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("{} {reason}", self.status).trim_end().to_owned()
    }
}

/// The envelope for `answer`, or, when that is over [`LAMBDA_RESPONSE_LIMIT`], the envelope of a JSON
/// 500 `response_too_large` (with one ERROR line naming the size), which always fits.
pub fn envelope_within_limit(answer: &Answer, shape: Shape) -> Vec<u8> {
    let envelope = answer.envelope(shape);
    if envelope.len() <= LAMBDA_RESPONSE_LIMIT {
        return envelope;
    }
    too_large(answer, envelope.len(), LAMBDA_RESPONSE_LIMIT).envelope(shape)
}

/// A streamed answer's two parts: the JSON prelude and the body. A body over
/// [`LAMBDA_STREAM_LIMIT`] becomes a JSON 500 `response_too_large`, as a buffered one does.
pub fn stream_within_limit(answer: Answer, source: Source) -> (Vec<u8>, Vec<u8>) {
    if answer.body.len() <= LAMBDA_STREAM_LIMIT {
        return (answer.prelude(source), answer.body);
    }
    let refusal = too_large(&answer, answer.body.len(), LAMBDA_STREAM_LIMIT);
    (refusal.prelude(source), refusal.body)
}

/// The JSON 500 `response_too_large` that replaces `answer`, `size` bytes against `limit`, with
/// one ERROR line naming both.
fn too_large(answer: &Answer, size: usize, limit: usize) -> Answer {
    let request_id = answer.header("x-request-id").unwrap_or("-");
    log::error!(
        "response too large: {size} bytes (status {}) is over Lambda's limit of {limit}; answered 500 response_too_large; request_id={request_id}",
        answer.status,
    );
    Answer::from_error(&ApiError::ResponseTooLarge { size, limit }, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{json_text_fits, DEFAULT_LAMBDA_BODY_LIMIT, ENVELOPE_ALLOWANCE};

    fn answer(content_type: &str, body: &[u8]) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            cookies: vec!["a=1".into(), "b=2".into()],
            body: body.to_vec(),
        }
    }

    fn parse(envelope: &[u8]) -> Value {
        serde_json::from_slice(envelope).unwrap()
    }

    #[test]
    fn lambda_webs_base64_answer_is_read_back_to_bytes() {
        let raw = json!({"statusCode": 404, "headers": {"Content-Type": "application/json"},
                         "cookies": ["a=1"], "body": base64::encode("{}"), "isBase64Encoded": true});
        let answer = Answer::from_lambda_web(raw.to_string().as_bytes()).unwrap();
        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.body, b"{}");
        assert_eq!(answer.cookies, ["a=1"]);
    }

    #[test]
    fn json_and_text_leave_as_text_and_other_bodies_as_base64() {
        let json = parse(&answer("application/json", b"{\"a\":1}").envelope(Shape::MultiValue));
        assert_eq!(json["body"], "{\"a\":1}");
        assert_eq!(json["isBase64Encoded"], false);
        let png = parse(&answer("image/png", &[0x89, b'P']).envelope(Shape::V2));
        assert_eq!(png["body"], base64::encode([0x89, b'P']));
        assert_eq!(png["isBase64Encoded"], true);
        let not_utf8 = parse(&answer("text/plain", &[0xff]).envelope(Shape::V2));
        assert_eq!(not_utf8["isBase64Encoded"], true);
    }

    #[test]
    fn each_source_gets_its_own_header_style() {
        let a = answer("application/json", b"{}");
        let v1 = parse(&a.envelope(Shape::MultiValue));
        assert_eq!(
            v1["multiValueHeaders"]["content-type"],
            json!(["application/json"])
        );
        assert_eq!(v1["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
        let v2 = parse(&a.envelope(Shape::V2));
        assert_eq!(v2["headers"]["content-type"], "application/json");
        assert_eq!(v2["cookies"], json!(["a=1", "b=2"]));
        let no_cookies = Answer {
            cookies: Vec::new(),
            ..a.clone()
        };
        assert_eq!(parse(&no_cookies.envelope(Shape::V2))["cookies"], json!([]));
        let alb = parse(&a.envelope(Shape::LoadBalancer { multi_value: false }));
        assert_eq!(alb["statusDescription"], "200 OK");
        assert_eq!(alb["headers"]["content-type"], "application/json");
        assert!(alb.get("multiValueHeaders").is_none());
        let alb_multi = parse(&a.envelope(Shape::LoadBalancer { multi_value: true }));
        assert_eq!(
            alb_multi["multiValueHeaders"]["content-type"],
            json!(["application/json"])
        );
    }

    #[test]
    fn streamed_preludes_put_repeated_headers_where_each_source_reads_them() {
        let repeated = Answer {
            headers: vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("b".into(), "3".into()),
            ],
            ..answer("application/json", b"{}")
        };
        let rest = parse(&repeated.prelude(Source::RestApi));
        assert_eq!(rest["statusCode"], 200);
        assert_eq!(rest["headers"], json!({"a": "1"}));
        assert_eq!(rest["multiValueHeaders"], json!({"b": ["2", "3"]}));
        assert_eq!(rest["cookies"], json!(["a=1", "b=2"]));
        let url = parse(&repeated.prelude(Source::FunctionUrl));
        assert_eq!(url["headers"], json!({"a": "1", "b": "2, 3"}));
        assert_eq!(url["cookies"], json!(["a=1", "b=2"]));
        assert!(url.get("multiValueHeaders").is_none() && url.get("body").is_none());
    }

    #[test]
    fn an_answer_over_the_limit_becomes_a_500_that_fits() {
        let big = answer("application/json", &vec![b'1'; LAMBDA_RESPONSE_LIMIT]);
        let envelope = envelope_within_limit(&big, Shape::V2);
        assert!(envelope.len() < 1024);
        let value = parse(&envelope);
        assert_eq!(value["statusCode"], 500);
        let body: Value = serde_json::from_str(value["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"], "response_too_large");
        let fits = answer(
            "application/json",
            &vec![b'1'; LAMBDA_RESPONSE_LIMIT - ENVELOPE_ALLOWANCE],
        );
        assert_eq!(
            parse(&envelope_within_limit(&fits, Shape::V2))["statusCode"],
            200
        );
    }

    #[test]
    fn the_default_lambda_body_limit_always_fits_even_when_every_byte_is_escaped() {
        let worst = vec![b'"'; DEFAULT_LAMBDA_BODY_LIMIT];
        assert!(json_text_fits(&worst));
        assert!(!json_text_fits(&vec![b'"'; DEFAULT_LAMBDA_BODY_LIMIT + 1]));
        let envelope = answer("application/json", &worst).envelope(Shape::MultiValue);
        assert!(
            envelope.len() <= LAMBDA_RESPONSE_LIMIT,
            "{}",
            envelope.len()
        );
    }
}

//! Reads what an emulator answered to one invocation (`curl -i`: its HTTP head, then its body)
//! and prints it as the API Gateway client would see it: status, headers, then the body
//! (base64-decoded when the envelope says so). An invocation error (`errorType`/`errorMessage`)
//! is printed as such and exits 1.
//!
//! Three answers are understood, whichever the function's `LAMBDA_INVOKE_MODE`:
//! - a buffered response envelope, the body of the emulator's answer;
//! - a streamed answer as `cargo lambda watch` relays it: it reads the prelude itself and answers
//!   with the prelude's status and headers (`Lambda-Runtime-Function-Response-Mode: streaming`)
//!   and the raw body;
//! - a streamed answer passed through as the function wrote it: the JSON prelude, 8 NUL bytes,
//!   the raw body.
//!
//! Used by `make lambda-invoke`: `curl -i … | target/debug/examples/decode_envelope`.

use rust_hybrid_api::lambda::response::Answer;
use serde_json::Value;
use std::io::{Read, Write};
use std::process::ExitCode;

/// What one invocation came to.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Answer(Answer),
    InvocationError { kind: String, message: String },
}

fn main() -> ExitCode {
    let mut input = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("decode_envelope: cannot read stdin: {err}");
        return ExitCode::FAILURE;
    }
    match decode(&input) {
        Ok(Decoded::Answer(answer)) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "status: {}", answer.status);
            for (name, value) in &answer.headers {
                let _ = writeln!(out, "{name}: {value}");
            }
            for cookie in &answer.cookies {
                let _ = writeln!(out, "set-cookie: {cookie}");
            }
            let _ = writeln!(out);
            let _ = out.write_all(&answer.body);
            let _ = writeln!(out);
            ExitCode::SUCCESS
        }
        Ok(Decoded::InvocationError { kind, message }) => {
            println!("invocation error: {kind}: {message}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!(
                "decode_envelope: {err}\n{}",
                String::from_utf8_lossy(&input)
            );
            ExitCode::FAILURE
        }
    }
}

/// The emulator's HTTP answer: status and headers (names lower case).
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(input: &[u8]) -> Result<Decoded, String> {
    let (head, body) = split_head(input)?;
    if let Some(answer) = passed_through_stream(body) {
        return Ok(Decoded::Answer(answer));
    }
    if let Some(head) =
        head.filter(|h| h.header("lambda-runtime-function-response-mode") == Some("streaming"))
    {
        return Ok(Decoded::Answer(relayed_stream(head, body.to_vec())));
    }
    let Ok(result) = serde_json::from_slice::<Value>(body) else {
        return Err("the emulator answered neither JSON nor a streamed answer".into());
    };
    if let Some(message) = result.get("errorMessage") {
        return Ok(Decoded::InvocationError {
            kind: result["errorType"].as_str().unwrap_or("unknown").to_owned(),
            message: message.as_str().unwrap_or_default().to_owned(),
        });
    }
    Answer::from_envelope(&result)
        .map(Decoded::Answer)
        .map_err(|err| format!("not a Lambda HTTP response: {err}"))
}

/// A streamed answer as the function wrote it: a JSON prelude with a `statusCode`, 8 NUL bytes,
/// the body. Only the first 8 NUL bytes are the delimiter: the body may hold more. A buffered
/// envelope never matches, because JSON escapes NUL.
fn passed_through_stream(body: &[u8]) -> Option<Answer> {
    let at = body.windows(8).position(|w| w == [0; 8])?;
    let prelude: Value = serde_json::from_slice(&body[..at]).ok()?;
    let mut answer = Answer::from_envelope(&prelude).ok()?;
    answer.body = body[at + 8..].to_vec();
    Some(answer)
}

/// `curl -i` output split into the final HTTP head (interim 1xx heads skipped) and the body;
/// input that does not start with a status line is all body, as a plain `curl` prints it.
fn split_head(mut input: &[u8]) -> Result<(Option<Head>, &[u8]), String> {
    let mut head = None;
    while input.starts_with(b"HTTP/") {
        let end = input
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("the emulator's answer has no end of headers")?;
        let text = String::from_utf8_lossy(&input[..end]).into_owned();
        input = &input[end + 4..];
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("not an HTTP status line: {text}"))?;
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        head = Some(Head { status, headers });
        if !(100..200).contains(&status) {
            break;
        }
    }
    Ok((head, input))
}

/// The function's answer from cargo lambda's relay of a stream: the prelude's status and
/// headers are the HTTP answer's, less what the emulator adds.
fn relayed_stream(head: Head, body: Vec<u8>) -> Answer {
    let mut headers = Vec::new();
    let mut cookies = Vec::new();
    for (name, value) in head.headers {
        match name.as_str() {
            // Its own framing and the streaming marker, not the function's.
            "transfer-encoding"
            | "content-length"
            | "connection"
            | "date"
            | "lambda-runtime-function-response-mode" => {}
            // Added to every answer by cargo lambda's CORS layer (docs/lambda.md, Local
            // emulation); this service sends neither.
            "vary" | "access-control-allow-credentials" => {}
            // It moves the prelude's Content-Length aside, as API Gateway does, because its
            // own answer is chunked; the function stated it as Content-Length.
            "x-amzn-remapped-content-length" => headers.push(("content-length".into(), value)),
            "set-cookie" => cookies.push(value),
            _ => headers.push((name, value)),
        }
    }
    Answer {
        status: head.status,
        headers,
        cookies,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(decoded: Decoded) -> Answer {
        match decoded {
            Decoded::Answer(answer) => answer,
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn a_buffered_envelope_after_the_emulators_head_is_decoded() {
        let input = b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n\
            {\"statusCode\":404,\"headers\":{\"content-type\":\"application/json\"},\"body\":\"{}\"}";

        let answer = answer(decode(input).unwrap());

        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.body, b"{}");
    }

    #[test]
    fn a_bare_envelope_without_a_head_is_decoded_too() {
        let input = br#"{"statusCode":200,"multiValueHeaders":{"a":["1"]},"body":"ok"}"#;

        let answer = answer(decode(input).unwrap());

        assert_eq!((answer.status, answer.header("a")), (200, Some("1")));
    }

    #[test]
    fn an_invocation_error_is_reported_as_one() {
        let input =
            b"HTTP/1.1 200 OK\r\n\r\n{\"errorType\":\"UnsupportedEvent\",\"errorMessage\":\"no\"}";

        let decoded = decode(input).unwrap();

        assert_eq!(
            decoded,
            Decoded::InvocationError {
                kind: "UnsupportedEvent".into(),
                message: "no".into()
            }
        );
    }

    #[test]
    fn cargo_lambdas_relay_of_a_stream_is_the_prelude_as_its_head_and_the_raw_body() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
            x-amzn-remapped-content-length: 2\r\ntransfer-encoding: chunked\r\n\
            lambda-runtime-function-response-mode: streaming\r\nvary: origin\r\n\
            access-control-allow-credentials: true\r\nset-cookie: a=1\r\n\
            date: Fri, 04 Dec 2026 14:04:16 GMT\r\n\r\n{\"x\":1}";

        let answer = answer(decode(input).unwrap());

        assert_eq!(answer.status, 404);
        assert_eq!(
            answer.headers,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("content-length".to_owned(), "2".to_owned()),
            ]
        );
        assert_eq!(answer.cookies, ["a=1"]);
        assert_eq!(answer.body, b"{\"x\":1}");
    }

    #[test]
    fn a_stream_passed_through_is_split_at_the_first_eight_nul_bytes() {
        let mut input = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        input.extend_from_slice(br#"{"statusCode":201,"headers":{"a":"1"},"cookies":["c=1"]}"#);
        input.extend_from_slice(&[0; 8]);
        input.extend_from_slice(b"body\0\0\0\0\0\0\0\0with NULs");

        let answer = answer(decode(&input).unwrap());

        assert_eq!((answer.status, answer.header("a")), (201, Some("1")));
        assert_eq!(answer.cookies, ["c=1"]);
        assert_eq!(answer.body, b"body\0\0\0\0\0\0\0\0with NULs");
    }

    #[test]
    fn an_answer_that_is_neither_is_refused_with_a_reason() {
        let error = decode(b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream died").unwrap_err();

        assert!(
            error.contains("neither JSON nor a streamed answer"),
            "{error}"
        );
    }
}

//! `POST {root}/echo`: returns the JSON document it was sent.
//!
//! The response is the request body itself, byte for byte, once it is known to be one valid JSON
//! document. Nothing is parsed into numbers or maps, so big numbers, key order and formatting
//! come back exactly as sent.

use crate::app::{AppContext, Mode};
use crate::error::ApiError;
use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::IgnoredAny;

/// Deeper documents are refused: the same limit serde_json applies when it builds values.
pub const MAX_DEPTH: usize = 128;

pub async fn echo(
    req: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let limit = ctx.max_body_bytes;
    if declared_length(&req).is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // Without a deadline, a client that announces a body and stalls would hold its connection
    // for ever: actix-http times out only the request head.
    let body = actix_rt::time::timeout(ctx.body_timeout, payload.to_bytes_limited(limit))
        .await
        .map_err(|_| ApiError::BodyTimeout {
            secs: ctx.body_timeout.as_secs(),
        })?
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|err| ApiError::UnreadableBody {
            detail: err.to_string(),
        })?;
    if body.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    validate_json(&body)?;
    // Lambda's answer carries the body as a JSON string; refuse now what could not be returned.
    if ctx.mode == Mode::Lambda && !crate::lambda::json_text_fits(&body) {
        return Err(ApiError::EchoTooLarge {
            response_limit: crate::lambda::RESPONSE_LIMIT,
        });
    }
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

/// `application/json`, any `+json` type (parameters such as `charset` allowed), or none at all.
fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let unsupported = || ApiError::UnsupportedMediaType {
        content_type: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    };
    let text = value.to_str().map_err(|_| unsupported())?;
    let essence = text.split(';').next().unwrap_or_default().trim();
    let is_json = essence.eq_ignore_ascii_case("application/json")
        || essence.split_once('/').is_some_and(|(kind, subtype)| {
            !kind.is_empty() && subtype.to_ascii_lowercase().ends_with("+json")
        });
    if is_json {
        Ok(())
    } else {
        Err(unsupported())
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Checks that `body` is exactly one JSON document that any strict parser accepts: UTF-8, the
/// RFC 8259 grammar, no lone UTF-16 surrogate escapes, and nesting no deeper than [`MAX_DEPTH`].
/// Errors say what is wrong and where, as serde_json does.
pub fn validate_json(body: &[u8]) -> Result<(), ApiError> {
    let invalid = |detail: String| ApiError::InvalidJson { detail };
    let text = std::str::from_utf8(body).map_err(|err| {
        let (line, column) = position(body, err.valid_up_to());
        invalid(format!("invalid UTF-8 at line {line} column {column}"))
    })?;
    // Grammar only: IgnoredAny does not build values, so numbers of any size are fine.
    serde_json::from_str::<IgnoredAny>(text).map_err(|err| invalid(err.to_string()))?;
    check_depth_and_surrogates(body).map_err(|(problem, offset)| {
        let (line, column) = position(body, offset);
        invalid(format!("{problem} at line {line} column {column}"))
    })
}

/// The two checks serde_json's grammar pass skips. `body` is already known to be valid JSON,
/// so this only needs to tell strings from structure.
fn check_depth_and_surrogates(body: &[u8]) -> Result<(), (&'static str, usize)> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = 0;
    while i < body.len() {
        match (in_string, body[i]) {
            (false, b'[' | b'{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(("nesting deeper than 128 levels", i));
                }
            }
            (false, b']' | b'}') => depth -= 1,
            (_, b'"') => in_string = !in_string,
            (true, b'\\') if body[i + 1] == b'u' => {
                let unit = hex4(&body[i + 2..i + 6]);
                if (0xDC00..0xE000).contains(&unit) {
                    return Err(("unpaired UTF-16 surrogate escape", i));
                }
                if (0xD800..0xDC00).contains(&unit) {
                    let low = body
                        .get(i + 6..i + 12)
                        .filter(|next| next.starts_with(b"\\u"))
                        .map(|next| hex4(&next[2..]));
                    if !low.is_some_and(|low| (0xDC00..0xE000).contains(&low)) {
                        return Err(("unpaired UTF-16 surrogate escape", i));
                    }
                    i += 6;
                }
                i += 5;
            }
            (true, b'\\') => i += 1,
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn hex4(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, d| {
        acc * 16 + char::from(*d).to_digit(16).unwrap_or_default()
    })
}

/// 1-based line and column (in characters) of a byte offset, as serde_json reports them.
fn position(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(body: &[u8]) -> String {
        match validate_json(body) {
            Err(ApiError::InvalidJson { detail }) => detail,
            other => panic!("expected InvalidJson for {body:?}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_every_kind_of_json_value() {
        for ok in [
            &b"null"[..],
            b"true",
            b" 0 ",
            b"-1.5e-300",
            b"1e400",
            b"123456789012345678901234567890",
            b"\"\\ud83d\\ude00 \\u00e9 \\\" \\\\\"",
            b"[]",
            b"{\"b\":1,\"a\":[{},[]]}",
            "\"日本語\"".as_bytes(),
        ] {
            assert_eq!(validate_json(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn syntax_errors_report_line_and_column() {
        assert_eq!(
            detail(b"{\"a\":1,\n \"b\": }"),
            "expected value at line 2 column 7"
        );
        assert_eq!(
            detail(b"{\"a\":1} x"),
            "trailing characters at line 1 column 9"
        );
    }

    #[test]
    fn invalid_utf8_is_located() {
        assert_eq!(
            detail(b"[\"ok\",\n\"\xff\"]"),
            "invalid UTF-8 at line 2 column 2"
        );
    }

    #[test]
    fn lone_surrogates_are_rejected() {
        assert_eq!(
            detail(b"[\"\\ud800\"]"),
            "unpaired UTF-16 surrogate escape at line 1 column 3"
        );
        assert!(detail(b"\"\\udc00\"").starts_with("unpaired"));
        assert!(detail(b"\"\\ud800\\u0041\"").starts_with("unpaired"));
        assert!(detail(b"\"\\ud800x\"").starts_with("unpaired"));
    }

    #[test]
    fn an_escaped_backslash_before_u_is_not_an_escape() {
        assert_eq!(validate_json(b"\"\\\\ud800\""), Ok(()));
    }

    #[test]
    fn nesting_is_limited() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(validate_json(ok.as_bytes()), Ok(()));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            detail(deep.as_bytes()),
            "nesting deeper than 128 levels at line 1 column 129"
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let body = format!("\"{}\"", "[".repeat(1000));
        assert_eq!(validate_json(body.as_bytes()), Ok(()));
    }

    #[test]
    fn non_json_literals_are_rejected() {
        for bad in [
            &b"NaN"[..],
            b"Infinity",
            b"\xef\xbb\xbf{}",
            b"{'a':1}",
            b"[1,]",
        ] {
            detail(bad);
        }
    }
}

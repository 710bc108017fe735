//! Strict JSON validation for `/echo`, which returns the body it was sent byte for byte and so
//! never builds a value: serde_json checks the grammar without keeping anything (`IgnoredAny`),
//! and a small scanner adds the two checks that pass skips, nesting depth (serde_json's own
//! limit of 128, which `IgnoredAny` does not apply) and lone UTF-16 surrogate escapes, which
//! other parsers reject. Errors name the problem and its line and column.

use crate::error::ApiError;
use crate::limits::MAX_JSON_DEPTH;
use serde::de::IgnoredAny;

/// Checks that `body` is exactly one JSON document that any strict parser accepts: UTF-8, the
/// RFC 8259 grammar, no lone UTF-16 surrogate escapes, and nesting no deeper than [`MAX_JSON_DEPTH`].
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
                if depth > MAX_JSON_DEPTH {
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
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
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

//! The two line formats, for log records and for request lines:
//! - text: request lines in the original service's format, everything else as
//!   `timestamp LEVEL target: message`;
//! - JSON: one object per line with `timestamp`, `level`, `message` and `target`, as Lambda's JSON
//!   log format expects, and the record's key-value fields (a request line's fields).
//!
//! Lines are appended to a `Vec`, which cannot fail. Request lines are written field by field,
//! without the formatting machinery where it is cheap to avoid: they are the one line per
//! request, and under `make bench` the generic path (a `log` record with key-value fields, each
//! formatted through `fmt`) cost twice as much CPU as this one.

use super::REQUEST_LOG_TARGET;
use crate::config::LogFormat;
use chrono::{DateTime, SecondsFormat, Utc};
use log::kv::{self, VisitSource, VisitValue};
use log::{Level, Record};
use std::cell::RefCell;
use std::fmt;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One request, as its log line reports it.
///
/// ```text
/// [REQ] 200 | GET     | /health | 84.2µs | 9c1e0f3a5b7d2e4f1a2b3c4d5e6f7081
/// ```
///
/// The text format is the original service's (status 3 wide, method left-aligned in 7, the
/// duration as `{:.1?}` writes it) followed by the request id. The path is the raw request path
/// (still percent-encoded, without the query string, which may carry secrets). Anything that
/// could end or fake a line is escaped: a Lambda event can put any string in a path.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The response status code.
    pub status: u16,
    /// The request method.
    pub method: &'a str,
    /// The raw request path; escaped when written.
    pub path: &'a str,
    /// Time from the request reaching the logger to the response being ready.
    pub elapsed: Duration,
    /// The request id; always a safe token.
    pub request_id: &'a str,
}

/// What a request line says of the Lambda invocation that carried the request (JSON only).
#[derive(Debug, Clone, Copy)]
pub struct LambdaFields<'a> {
    /// The Lambda request id, which CloudWatch's `START` and `REPORT` lines carry.
    pub request_id: &'a str,
    /// The X-Ray trace id, when there is one.
    pub xray_trace_id: Option<&'a str>,
    /// The tenant, for a function with tenant isolation.
    pub tenant_id: Option<&'a str>,
    /// Whether this is the first invocation the process serves.
    pub cold_start: bool,
}

/// Appends one log line in `format`, newline included.
pub(super) fn write_record(out: &mut Vec<u8>, record: &Record<'_>, format: LogFormat) {
    match format {
        LogFormat::Text => {
            let _ = write!(
                out,
                "{} {:<5} {}: {}",
                timestamp(),
                record.level(),
                record.target(),
                record.args()
            );
        }
        LogFormat::Json => {
            let mut json = JsonWriter::open(out, record.level());
            json.value(record.args());
            json.key("target");
            json.str(record.target());
            // A field that fails to convert is left out rather than losing the line.
            let _ = record.key_values().visit(&mut json);
            json.close();
        }
    }
    out.push(b'\n');
}

/// Appends a request line in `format`, newline included.
pub(super) fn write_request(
    out: &mut Vec<u8>,
    line: &RequestLine<'_>,
    lambda: Option<&LambdaFields<'_>>,
    format: LogFormat,
) {
    match format {
        LogFormat::Text => line.write_text(out),
        LogFormat::Json => line.write_json(out, lambda),
    }
    out.push(b'\n');
}

impl RequestLine<'_> {
    fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"[REQ] ");
        out.extend_from_slice(&b"  "[..3usize.saturating_sub(decimal_digits(self.status))]);
        push_integer(out, self.status);
        out.extend_from_slice(b" | ");
        let written = push_escaped(out, self.method);
        out.extend_from_slice(&b"       "[..7usize.saturating_sub(written)]);
        out.extend_from_slice(b" | ");
        push_escaped(out, self.path);
        out.extend_from_slice(b" | ");
        push_elapsed(out, self.elapsed);
        out.extend_from_slice(b" | ");
        push_escaped(out, self.request_id);
    }

    fn write_json(&self, out: &mut Vec<u8>, lambda: Option<&LambdaFields<'_>>) {
        let mut json = JsonWriter::open(out, Level::Info);
        // The message says just enough to read at a glance (`GET /health 200`); the fields
        // hold the rest.
        if needs_json_escape(self.method) || needs_json_escape(self.path) {
            json.value(&format_args!(
                "{} {} {}",
                self.method, self.path, self.status
            ));
        } else {
            json.0.push(b'"');
            json.0.extend_from_slice(self.method.as_bytes());
            json.0.push(b' ');
            json.0.extend_from_slice(self.path.as_bytes());
            json.0.push(b' ');
            push_integer(json.0, self.status);
            json.0.push(b'"');
        }
        json.name("target");
        json.str(REQUEST_LOG_TARGET);
        json.name("status");
        json.value(&self.status);
        json.name("method");
        json.str(self.method);
        json.name("path");
        json.str(self.path);
        json.name("duration_ms");
        push_millis(json.0, self.elapsed);
        json.name("request_id");
        json.str(self.request_id);
        if let Some(lambda) = lambda {
            json.name("requestId");
            json.str(lambda.request_id);
            if let Some(trace) = lambda.xray_trace_id {
                json.name("xrayTraceId");
                json.str(trace);
            }
            if let Some(tenant) = lambda.tenant_id {
                json.name("tenantId");
                json.str(tenant);
            }
            json.name("cold_start");
            json.value(&lambda.cold_start);
        }
        json.close();
    }
}

/// The text line, without its newline.
impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = Vec::with_capacity(96);
        self.write_text(&mut line);
        f.write_str(&String::from_utf8_lossy(&line))
    }
}

/// A field (a path, a method) that cannot break a log line: control characters, the Unicode line and paragraph
/// separators and backslashes are written as escapes (`\n`, `\u{1b}`, `\\`).
#[derive(Debug, Clone, Copy)]
pub struct EscapedPath<'a>(pub &'a str);

impl fmt::Display for EscapedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs_escape = |c: char| c.is_control() || matches!(c, '\\' | '\u{2028}' | '\u{2029}');
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

/// Appends `text` as [`EscapedPath`] writes it; returns how many characters that took. Every
/// text field of a request line goes through here: a Lambda event can put any string in a
/// method or a path.
fn push_escaped(out: &mut Vec<u8>, text: &str) -> usize {
    if is_printable_ascii(text) {
        out.extend_from_slice(text.as_bytes());
        return text.len();
    }
    let start = out.len();
    let _ = write!(out, "{}", EscapedPath(text));
    std::str::from_utf8(&out[start..]).map_or(0, |escaped| escaped.chars().count())
}

/// Whether `text` is printable ASCII without a backslash, which [`EscapedPath`] leaves as it is.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes()
        .all(|byte| matches!(byte, 0x20..=0x7e) && byte != b'\\')
}

/// Appends `elapsed` as `format!("{elapsed:.1?}")` writes it (`84.2µs`, `1.5ms`; the unit is
/// chosen before rounding, so 999.96 µs is `1000.0µs`; ties go to the even digit, as Debug rounds
/// them), without `fmt`'s decimal machinery.
fn push_elapsed(out: &mut Vec<u8>, elapsed: Duration) {
    let nanos = u128::from(elapsed.subsec_nanos());
    let (whole, fraction, unit_nanos, unit) = if elapsed.as_secs() > 0 {
        (u128::from(elapsed.as_secs()), nanos, 1_000_000_000, "s")
    } else if nanos >= 1_000_000 {
        (nanos / 1_000_000, nanos % 1_000_000, 1_000_000, "ms")
    } else if nanos >= 1_000 {
        (nanos / 1_000, nanos % 1_000, 1_000, "µs")
    } else {
        (nanos, 0, 10, "ns")
    };
    let tenth = unit_nanos / 10;
    let mut tenths = whole * 10 + fraction / tenth;
    let dropped = fraction % tenth;
    if dropped * 2 > tenth || (dropped * 2 == tenth && tenths % 2 == 1) {
        tenths += 1;
    }
    push_integer(out, tenths / 10);
    out.push(b'.');
    out.push(b'0' + (tenths % 10) as u8);
    out.extend_from_slice(unit.as_bytes());
}

/// Appends `elapsed` in milliseconds, exactly, with up to six decimals: 85,199 ns is `0.085199`
/// (the float `secs * 1000` would give 0.08519899999999999), 2 ms is `2.0`. Integer arithmetic
/// instead of float formatting, which was a fifth of a JSON request line's cost.
fn push_millis(out: &mut Vec<u8>, elapsed: Duration) {
    let nanos = elapsed.as_nanos();
    push_integer(out, nanos / 1_000_000);
    out.push(b'.');
    let mut fraction = nanos % 1_000_000;
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    // Trailing zeros dropped, one digit kept.
    let kept = digits
        .iter()
        .rposition(|&digit| digit != b'0')
        .map_or(1, |last| last + 1);
    out.extend_from_slice(&digits[..kept]);
}

/// Appends an integer in decimal; serde_json writes integers without `fmt` (with itoa).
fn push_integer(out: &mut Vec<u8>, value: impl serde::Serialize) {
    let _ = serde_json::to_writer(out, &value);
}

fn decimal_digits(value: u16) -> usize {
    value
        .checked_ilog10()
        .map_or(1, |digits| digits as usize + 1)
}

/// Whether JSON would escape anything in `text`: a control character, a quote or a backslash.
/// Written as a fold without early exit, which the compiler turns into a few wide comparisons.
fn needs_json_escape(text: &str) -> bool {
    text.bytes().fold(false, |escape, byte| {
        escape | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    })
}

/// Appends JSON to a line without building a value first.
struct JsonWriter<'a>(&'a mut Vec<u8>);

impl<'a> JsonWriter<'a> {
    /// Starts a line: `{"timestamp":"…","level":"…","message":`, the message to follow.
    fn open(out: &'a mut Vec<u8>, level: Level) -> Self {
        out.extend_from_slice(b"{\"timestamp\":\"");
        write_timestamp(out);
        out.extend_from_slice(b"\",\"level\":\"");
        out.extend_from_slice(level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"message\":");
        JsonWriter(out)
    }

    fn close(self) {
        self.0.push(b'}');
    }

    fn key(&mut self, key: &str) {
        self.0.push(b',');
        self.str(key);
        self.0.push(b':');
    }

    /// A key this module spells out, which has nothing to escape: copied without looking.
    /// Inlined, so that each key is a copy of known length rather than a call to `memcpy`.
    #[inline(always)]
    fn name(&mut self, name: &'static str) {
        debug_assert!(!needs_json_escape(name), "{name}");
        self.0.extend_from_slice(b",\"");
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    /// A string, copied as it is when nothing in it needs escaping, which is what almost every
    /// key and value is.
    fn str(&mut self, text: &str) {
        if needs_json_escape(text) {
            self.value(text);
        } else {
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        }
    }

    /// Any value serde_json can write; strings (`fmt::Arguments` included) are escaped as they
    /// are written, and a number JSON cannot hold (NaN, infinity) becomes `null`.
    fn value(&mut self, value: &(impl serde::Serialize + ?Sized)) {
        let _ = serde_json::to_writer(&mut *self.0, value);
    }
}

fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The same as [`timestamp`], without a calendar date for every line: each thread keeps the
/// text of the current second and adds the milliseconds.
fn write_timestamp(out: &mut Vec<u8>) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    // A clock before 1970 is written as 1970.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != now.as_secs() {
            let date = DateTime::<Utc>::from(UNIX_EPOCH + Duration::from_secs(now.as_secs()));
            *second = (now.as_secs(), date.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        out.extend_from_slice(second.1.as_bytes());
    });
    let millis = now.subsec_millis();
    out.extend_from_slice(&[
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
}

/// Each key-value field as `,"key":value`; `None` fields are left out.
impl<'kvs> VisitSource<'kvs> for JsonWriter<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        value.visit(&mut Field {
            json: self,
            key: key.as_str(),
        })
    }
}

/// One key-value field, written when its value is known not to be `None`.
struct Field<'a, 'b> {
    json: &'a mut JsonWriter<'b>,
    key: &'a str,
}

impl Field<'_, '_> {
    fn write(&mut self, value: &(impl serde::Serialize + ?Sized)) -> Result<(), kv::Error> {
        self.json.key(self.key);
        self.json.value(value);
        Ok(())
    }
}

impl<'v> VisitValue<'v> for Field<'_, '_> {
    fn visit_any(&mut self, value: kv::Value) -> Result<(), kv::Error> {
        self.write(&format_args!("{value}"))
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.write(&value)
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.write(&value)
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        // JSON has no NaN or infinity; such a field is left out.
        if value.is_finite() {
            self.write(&value)?;
        }
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.write(&value)
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.json.key(self.key);
        self.json.str(value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn record_line(format: LogFormat, target: &str, message: &str) -> String {
        let mut out = Vec::new();
        write_record(
            &mut out,
            &Record::builder()
                .level(Level::Info)
                .target(target)
                .args(format_args!("{message}"))
                .build(),
            format,
        );
        String::from_utf8(out).unwrap()
    }

    fn request_line(
        line: &RequestLine<'_>,
        lambda: Option<&LambdaFields<'_>>,
        format: LogFormat,
    ) -> String {
        let mut out = Vec::new();
        write_request(&mut out, line, lambda, format);
        String::from_utf8(out).unwrap()
    }

    fn text(status: u16, method: &str, path: &str, micros: u64) -> String {
        RequestLine {
            status,
            method,
            path,
            elapsed: Duration::from_nanos(micros * 1000 + 200),
            request_id: "r1",
        }
        .to_string()
    }

    /// The text format as the original service defined it, with `fmt`.
    fn reference_text(line: &RequestLine<'_>) -> String {
        format!(
            "[REQ] {:>3} | {:<7} | {} | {:.1?} | {}",
            line.status,
            EscapedPath(line.method).to_string(),
            EscapedPath(line.path),
            line.elapsed,
            EscapedPath(line.request_id)
        )
    }

    #[test]
    fn request_lines_match_the_original_format() {
        assert_eq!(
            text(200, "GET", "/health", 84),
            "[REQ] 200 | GET     | /health | 84.2µs | r1"
        );
        assert_eq!(
            text(404, "DELETE", "/x", 1500),
            "[REQ] 404 | DELETE  | /x | 1.5ms | r1"
        );
    }

    #[test]
    fn long_methods_are_not_truncated() {
        assert_eq!(
            text(405, "PROPFIND", "/", 3),
            "[REQ] 405 | PROPFIND | / | 3.2µs | r1"
        );
    }

    #[test]
    fn control_characters_in_the_path_cannot_start_a_new_line() {
        let forged = "/health\n[REQ] 200 | GET     | /admin | 1.0µs\r\u{1b}[2J\u{2028}\\";
        let logged = text(404, "GET", forged, 7);
        assert_eq!(logged.lines().count(), 1);
        assert_eq!(
            logged,
            "[REQ] 404 | GET     | /health\\n[REQ] 200 | GET     | /admin | 1.0µs\\r\\u{1b}[2J\\u{2028}\\\\ | 7.2µs | r1"
        );
    }

    #[test]
    fn control_characters_in_the_method_cannot_start_a_new_line() {
        let forged = "GET\n[REQ] 200 | GET     | /admin | 1.0µs | forged";
        let logged = text(400, forged, "/health", 7);
        assert_eq!(logged.lines().count(), 1);
        assert_eq!(
            logged,
            "[REQ] 400 | GET\\n[REQ] 200 | GET     | /admin | 1.0µs | forged | /health | 7.2µs | r1"
        );
        assert_eq!(
            text(400, "G\tT", "/", 1),
            "[REQ] 400 | G\\tT    | / | 1.2µs | r1",
            "padded by what is written"
        );
    }

    #[test]
    fn control_characters_in_the_request_id_cannot_start_a_new_line() {
        let line = RequestLine {
            status: 200,
            method: "GET",
            path: "/",
            elapsed: Duration::from_nanos(1_200),
            request_id: "r1\n[REQ] 200 | GET     | /admin",
        };
        assert_eq!(
            line.to_string(),
            "[REQ] 200 | GET     | / | 1.2µs | r1\\n[REQ] 200 | GET     | /admin"
        );
    }

    #[test]
    fn printable_unicode_is_kept() {
        assert_eq!(EscapedPath("/日本語/é").to_string(), "/日本語/é");
        assert_eq!(
            text(200, "GET", "/日本語", 1),
            "[REQ] 200 | GET     | /日本語 | 1.2µs | r1"
        );
    }

    #[test]
    fn durations_are_written_with_one_decimal_in_the_largest_unit() {
        for (nanos, written) in [
            (0, "0.0ns"),
            (999, "999.0ns"),
            (1_000, "1.0µs"),
            (1_049, "1.0µs"),
            (1_051, "1.1µs"),
            (1_050, "1.0µs"),
            (1_150, "1.2µs"),
            (84_200, "84.2µs"),
            (999_949, "999.9µs"),
            (999_950, "1000.0µs"),
            (1_000_000, "1.0ms"),
            (1_500_000, "1.5ms"),
            (999_999_999, "1000.0ms"),
            (1_000_000_000, "1.0s"),
            (1_250_000_000, "1.2s"),
            (86_400_000_000_000, "86400.0s"),
        ] {
            let mut out = Vec::new();
            push_elapsed(&mut out, Duration::from_nanos(nanos));
            assert_eq!(String::from_utf8(out).unwrap(), written, "{nanos} ns");
        }
    }

    proptest! {
        #[test]
        fn durations_are_written_as_debug_writes_them(secs in prop_oneof![Just(0u64), 0u64..100_000, any::<u64>()], nanos in 0u32..1_000_000_000) {
            let elapsed = Duration::new(secs, nanos);
            let mut out = Vec::new();
            push_elapsed(&mut out, elapsed);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{elapsed:.1?}"));
        }

        #[test]
        fn text_lines_are_the_original_format_for_any_input(
            status in any::<u16>(),
            method in "[A-Z]{0,12}|\\PC{0,10}|[\\x00-\\x7f\u{2028}]{0,10}",
            path in "\\PC{0,40}|[\\x00-\\x7f\u{80}-\u{a0}\u{2028}\u{2029}]{0,40}",
            request_id in "[a-z0-9-]{1,32}|[\\x00-\\x7f]{0,10}",
            nanos in any::<u64>(),
        ) {
            let line = RequestLine { status, method: &method, path: &path, elapsed: Duration::from_nanos(nanos), request_id: &request_id };
            prop_assert_eq!(line.to_string(), reference_text(&line));
            prop_assert_eq!(line.to_string().lines().count(), 1);
        }

        #[test]
        fn json_request_lines_parse_back_to_their_fields_for_any_input(
            method in "[A-Z]{1,12}|\\PC{0,10}",
            path in "\\PC{0,40}|[\\x00-\\x7f\u{2028}\"\\\\]{0,40}",
            status in any::<u16>(),
            nanos in 0u64..10_000_000_000,
        ) {
            let line = RequestLine { status, method: &method, path: &path, elapsed: Duration::from_nanos(nanos), request_id: "r1" };
            let written = request_line(&line, None, LogFormat::Json);
            prop_assert_eq!(written.lines().count(), 1);
            let value: Value = serde_json::from_str(&written).unwrap();
            let message = format!("{method} {path} {status}");
            prop_assert_eq!(value["message"].as_str(), Some(message.as_str()));
            prop_assert_eq!(value["method"].as_str(), Some(method.as_str()));
            prop_assert_eq!(value["path"].as_str(), Some(path.as_str()));
            prop_assert_eq!(value["status"].as_u64(), Some(u64::from(status)));
            prop_assert_eq!(value["duration_ms"].as_f64(), Some(nanos as f64 / 1e6));
            prop_assert!(value["duration_ms"].is_f64());
        }
    }

    #[test]
    fn milliseconds_are_exact_with_at_most_six_decimals() {
        for (nanos, written) in [
            (0, "0.0"),
            (1, "0.000001"),
            (85_199, "0.085199"),
            (100_000, "0.1"),
            (2_000_000, "2.0"),
            (1_234_567_890, "1234.56789"),
        ] {
            let mut out = Vec::new();
            push_millis(&mut out, Duration::from_nanos(nanos));
            assert_eq!(String::from_utf8(out).unwrap(), written, "{nanos} ns");
        }
    }

    #[test]
    fn json_request_lines_carry_every_field_and_the_lambda_ones_in_lambda_mode() {
        let line = RequestLine {
            status: 200,
            method: "GET",
            path: "/health",
            elapsed: Duration::from_nanos(85_199),
            request_id: "req-1",
        };
        let lambda = LambdaFields {
            request_id: "req-1",
            xray_trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793"),
            tenant_id: Some("tenant-7"),
            cold_start: true,
        };
        let written = request_line(&line, Some(&lambda), LogFormat::Json);
        let value: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["message"], "GET /health 200");
        assert_eq!(value["target"], REQUEST_LOG_TARGET);
        assert_eq!(value["status"], 200);
        assert_eq!(value["method"], "GET");
        assert_eq!(value["path"], "/health");
        assert_eq!(value["duration_ms"], 0.085199);
        assert_eq!(value["request_id"], "req-1");
        assert_eq!(value["requestId"], "req-1");
        assert_eq!(value["xrayTraceId"], lambda.xray_trace_id.unwrap());
        assert_eq!(value["tenantId"], "tenant-7");
        assert_eq!(value["cold_start"], true);
        chrono::DateTime::parse_from_rfc3339(value["timestamp"].as_str().unwrap()).unwrap();

        let without_tenant = LambdaFields {
            tenant_id: None,
            ..lambda
        };
        let written = request_line(&line, Some(&without_tenant), LogFormat::Json);
        assert!(!written.contains("tenantId"), "{written}");

        let plain = request_line(&line, None, LogFormat::Json);
        let value: Value = serde_json::from_str(&plain).unwrap();
        for field in ["requestId", "xrayTraceId", "tenantId", "cold_start"] {
            assert!(value.get(field).is_none(), "{field} in {plain}");
        }
    }

    #[test]
    fn other_text_lines_get_timestamp_level_and_target() {
        let other = record_line(LogFormat::Text, "rust_hybrid_api::launcher", "starting");
        assert!(
            other.ends_with(" INFO  rust_hybrid_api::launcher: starting\n"),
            "{other}"
        );
    }

    #[test]
    fn json_lines_have_the_fields_lambda_expects_and_cannot_be_split_or_forged() {
        let forged = "/a\n{\"level\":\"ERROR\"}\",\"level\":\"FATAL";
        let line = record_line(LogFormat::Json, "t", forged);
        assert_eq!(line.lines().count(), 1, "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["message"], forged);
        assert_eq!(value["target"], "t");
        let timestamp = value["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && timestamp.len() == 24,
            "{timestamp}"
        );
        chrono::DateTime::parse_from_rfc3339(timestamp).unwrap();
    }

    #[test]
    fn the_cached_timestamp_matches_the_formatted_one() {
        let mut cached = Vec::new();
        write_timestamp(&mut cached);
        let cached = String::from_utf8(cached).unwrap();
        let formatted = timestamp();
        assert_eq!(cached.len(), formatted.len(), "{cached} {formatted}");
        assert_eq!(
            cached[..19],
            formatted[..19],
            "the same second, unless it just turned"
        );
        chrono::DateTime::parse_from_rfc3339(&cached).unwrap();
    }

    #[test]
    fn every_control_character_is_escaped_and_parses_back() {
        let all: String = (0u8..0x20)
            .map(char::from)
            .chain("\"\\é\u{2028}".chars())
            .collect();
        let line = record_line(LogFormat::Json, "t", &all);
        assert_eq!(line.lines().count(), 1, "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], all.as_str());
    }

    #[test]
    fn key_values_become_json_fields_and_missing_ones_are_left_out() {
        let mut out = Vec::new();
        let none: Option<&str> = None;
        let fields: &[(&str, kv::Value)] = &[
            ("status", kv::Value::from(404u16)),
            ("duration_ms", kv::Value::from(0.25f64)),
            ("cold_start", kv::Value::from(true)),
            ("path", kv::Value::from("/x\"")),
            ("xrayTraceId", kv::ToValue::to_value(&none)),
            ("nan", kv::Value::from(f64::NAN)),
        ];
        write_record(
            &mut out,
            &Record::builder()
                .level(Level::Info)
                .target("t")
                .args(format_args!("m"))
                .key_values(&fields)
                .build(),
            LogFormat::Json,
        );
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["status"], 404);
        assert_eq!(value["duration_ms"], 0.25);
        assert_eq!(value["cold_start"], true);
        assert_eq!(value["path"], "/x\"");
        assert!(value.get("xrayTraceId").is_none(), "{value}");
        assert!(value.get("nan").is_none(), "{value}");
    }
}

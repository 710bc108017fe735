//! Every limit the service enforces, in one place. docs/operations.md's "Limits and failure behaviour"
//! tables mirror this one.
//!
//! | limit | value | what happens past it |
//! |---|---|---|
//! | [`DEFAULT_MAX_BODY_BYTES`] | 6 MiB, HTTP mode (`MAX_BODY_BYTES`) | JSON 413 |
//! | [`DEFAULT_LAMBDA_BODY_LIMIT`] | 3,143,680 bytes, Lambda mode (`MAX_BODY_BYTES`) | JSON 413 |
//! | [`DEFAULT_STREAMING_BODY_LIMIT`] | 6,287,360 bytes, Lambda mode with `LAMBDA_INVOKE_MODE=response_stream` (`MAX_BODY_BYTES`) | JSON 413 |
//! | [`LAMBDA_RESPONSE_LIMIT`] | 6 MiB, a Lambda response envelope | `/echo`: JSON 413 before echoing; anything else: JSON 500 `response_too_large` |
//! | [`LAMBDA_STREAM_LIMIT`] | 200 MiB, a streamed Lambda answer's body | JSON 500 `response_too_large` |
//! | [`MAX_URI_BYTES`] | 8 KiB of path and query | JSON 414 |
//! | [`MAX_HEADER_BYTES`] | 16 KiB of headers | JSON 431 |
//! | [`MAX_JSON_DEPTH`] | 128 levels of `/echo` nesting | JSON 400 `invalid_json` |
//! | [`MAX_REQUEST_ID_LEN`] | 128 characters of incoming `X-Request-Id` | a generated id instead |
//! | [`CLIENT_REQUEST_TIMEOUT`] | 5 s for a request head | actix-http's empty 408, connection closed |
//! | [`KEEP_ALIVE`] | 5 s idle between requests | connection closed |
//! | [`LOG_BUFFER_BYTES`] | 1 MiB of log lines waiting for a stalled stderr (HTTP mode) | lines dropped, then counted in one WARN line |
//! | [`LOG_FLUSH_TIMEOUT`] | 5 s to write out the log at exit | the rest is lost |
//! | [`LAMBDA_DRAIN_TIMEOUT`] | 1.5 s for invocations in flight to be answered after SIGTERM (Lambda mode) | the process exits 0 without them, with one WARN line |
//!
//! The settings with limits of their own (`BODY_TIMEOUT_SECS`, `SHUTDOWN_TIMEOUT_SECS`) are in
//! [`crate::config`].

use std::time::Duration;

/// HTTP mode's default body limit: Lambda's 6 MiB invocation payload limit, so that local runs
/// fail the way production does.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The largest response a function may return to the Runtime API (6 MB, in bytes).
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// The largest answer a function may stream (200 MB, in bytes): Lambda's default maximum for
/// `InvokeWithResponseStream` since July 2025.
pub const LAMBDA_STREAM_LIMIT: usize = 200 * 1024 * 1024;

/// The largest synchronous invocation payload, the event itself (6 MB, in bytes).
pub const LAMBDA_REQUEST_LIMIT: usize = 6 * 1024 * 1024;

/// Room kept around a body for a Lambda response envelope's fields and headers.
pub const ENVELOPE_ALLOWANCE: usize = 4 * 1024;

/// Lambda mode's default body limit: the largest JSON body whose echo always fits in
/// [`LAMBDA_RESPONSE_LIMIT`]. A JSON text grows at most twofold as a JSON string (`"` becomes
/// `\"`).
pub const DEFAULT_LAMBDA_BODY_LIMIT: usize = (LAMBDA_RESPONSE_LIMIT - ENVELOPE_ALLOWANCE) / 2;

/// Lambda mode's default body limit when answers may be streamed: what the 6 MB invocation
/// payload can carry besides the event's other fields. A streamed `/echo` is not held to the
/// buffered response limit; a buffered one still is (JSON 413 `echo_too_large`).
pub const DEFAULT_STREAMING_BODY_LIMIT: usize = LAMBDA_REQUEST_LIMIT - ENVELOPE_ALLOWANCE;

/// The longest request target (path and query) the service accepts, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The most header bytes the service accepts: names, values, and 4 bytes a line for `: ` and
/// CRLF. actix-http's own limit (its 128 KiB head buffer) is far above.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How deeply `/echo` documents may nest: serde_json's own recursion limit.
pub const MAX_JSON_DEPTH: usize = 128;

/// The longest incoming `X-Request-Id` kept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// How long a client may take to send a request's head (request line and headers). A slower
/// client gets actix-http's empty-bodied 408 and is disconnected, so it cannot hold a worker's
/// connection slot by trickling bytes. This is actix's default, stated because it is documented.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle keep-alive connection stays open between requests.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// How many bytes of log lines may wait for the writer in HTTP mode before new lines are
/// dropped: some 10,000 request lines, a fraction of a second at full load.
pub const LOG_BUFFER_BYTES: usize = 1024 * 1024;

/// How long the log is given to be written out at exit when stderr is stalled.
pub const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long Lambda mode waits, after a stop signal, for the invocations in flight to be answered
/// and posted. Lambda's shutdown phase lasts at most 2 s (with external extensions); this leaves
/// time to write out the log and exit.
pub const LAMBDA_DRAIN_TIMEOUT: Duration = Duration::from_millis(1500);

/// Whether a JSON text of `body` can be answered as a Lambda text body within
/// [`LAMBDA_RESPONSE_LIMIT`]: its length as a JSON string, plus [`ENVELOPE_ALLOWANCE`].
pub fn json_text_fits(body: &[u8]) -> bool {
    let escaped: usize = body
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum();
    escaped + ENVELOPE_ALLOWANCE <= LAMBDA_RESPONSE_LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lambda_body_limit_always_fits_even_when_every_byte_is_escaped() {
        assert!(json_text_fits(&vec![b'"'; DEFAULT_LAMBDA_BODY_LIMIT]));
        assert!(!json_text_fits(&vec![b'"'; DEFAULT_LAMBDA_BODY_LIMIT + 1]));
        assert_eq!(DEFAULT_LAMBDA_BODY_LIMIT, 3_143_680);
        assert_eq!(DEFAULT_STREAMING_BODY_LIMIT, 6_287_360);
    }

    #[test]
    fn plain_bytes_count_once_and_escaped_ones_as_serde_json_writes_them() {
        let largest = LAMBDA_RESPONSE_LIMIT - ENVELOPE_ALLOWANCE;
        assert!(json_text_fits(&vec![b'x'; largest]));
        assert!(!json_text_fits(&vec![b'x'; largest + 1]));
        assert!(!json_text_fits(&vec![0x01; largest / 6 + 1]));
    }
}

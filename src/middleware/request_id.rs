//! `X-Request-Id`: every response carries one and every request line logs it, so a client's
//! report can be matched to the log. A sane incoming id (a caller's trace, a load balancer's id)
//! is kept; anything else is replaced, because the id is echoed into a header and a log line.

use crate::limits::MAX_REQUEST_ID_LEN;
use actix_web::http::header::{HeaderName, HeaderValue};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The header that carries the id both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id: ASCII letters, digits, `-`, `_`, `.` and `:`, at most [`MAX_REQUEST_ID_LEN`]
/// long, so it is safe in a header and on a log line as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The incoming id when it is sane, a new one otherwise.
    pub fn from_incoming(incoming: Option<&HeaderValue>) -> Self {
        Self::from_incoming_or(incoming, None)
    }

    /// The incoming id when it is sane, else `fallback` (in Lambda mode the Lambda request id,
    /// so the response, the request line and CloudWatch's `REPORT` line share it) when that is
    /// sane, else a new one.
    pub fn from_incoming_or(incoming: Option<&HeaderValue>, fallback: Option<&str>) -> Self {
        match incoming {
            Some(value) if is_sane(value.as_bytes()) => RequestId(value.clone()),
            _ => fallback
                .filter(|id| is_sane(id.as_bytes()))
                .and_then(|id| HeaderValue::from_str(id).ok())
                .map_or_else(RequestId::generate, RequestId),
        }
    }

    /// A new id: 32 hex digits, unique within the process and unlikely to repeat across
    /// processes. The first half is random per process; the second is a counter passed through
    /// a bijective mixer, so ids never repeat and do not reveal how many requests were served.
    pub fn generate() -> Self {
        static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let (instance, key) = *KEYS.get_or_init(|| {
            // RandomState is seeded from the operating system's randomness.
            let seed = RandomState::new();
            (seed.hash_one(0u8), seed.hash_one(1u8))
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{instance:016x}{:016x}", mix(n ^ key));
        RequestId(HeaderValue::from_str(&id).expect("hex digits are a valid header value"))
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only sane (ASCII) ids are ever stored.
        self.0.to_str().unwrap_or_default()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The splitmix64 finalizer: a bijection on `u64`, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn incoming(id: &[u8]) -> RequestId {
        RequestId::from_incoming(Some(&HeaderValue::from_bytes(id).unwrap()))
    }

    #[test]
    fn a_sane_incoming_id_is_kept() {
        for id in ["abc", "3f2a9c1e-8d4b-4b7a-9e5f-0c1d2e3f4a5b", "Root:1.x_y"] {
            assert_eq!(incoming(id.as_bytes()).as_str(), id);
        }
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(incoming(longest.as_bytes()).as_str(), longest);
    }

    #[test]
    fn an_unsafe_or_oversized_incoming_id_is_replaced() {
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for id in [
            &b"with space"[..],
            b"x\tforged",
            b"a|b",
            b"quote\"",
            "caf\u{e9}".as_bytes(),
            too_long.as_bytes(),
        ] {
            let replaced = incoming(id);
            assert_ne!(replaced.as_str().as_bytes(), id);
            assert_eq!(replaced.as_str().len(), 32, "{replaced}");
        }
        assert_eq!(RequestId::from_incoming(None).as_str().len(), 32);
    }

    #[test]
    fn without_a_sane_incoming_id_a_sane_fallback_is_used() {
        let lambda = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
        assert_eq!(
            RequestId::from_incoming_or(None, Some(lambda)).as_str(),
            lambda
        );
        let bad = HeaderValue::from_static("with space");
        assert_eq!(
            RequestId::from_incoming_or(Some(&bad), Some(lambda)).as_str(),
            lambda
        );
        let good = HeaderValue::from_static("client-1");
        assert_eq!(
            RequestId::from_incoming_or(Some(&good), Some(lambda)).as_str(),
            "client-1"
        );
        assert_eq!(
            RequestId::from_incoming_or(None, Some("a b"))
                .as_str()
                .len(),
            32
        );
    }

    #[test]
    fn generated_ids_are_hex_and_distinct() {
        let ids: HashSet<String> = (0..10_000)
            .map(|_| RequestId::generate().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}

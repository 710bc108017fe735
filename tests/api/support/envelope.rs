//! Decodes a Lambda HTTP response envelope (API Gateway REST or HTTP API, ALB, Function URL)
//! back into status, headers and body: base64 first, then Brotli when `content-encoding: br`.
//! Shared by the tests and `make lambda-invoke` (examples/decode_envelope.rs).

use base64::STANDARD;
use serde_json::Value;
use std::io::Read;

/// A response as the client of API Gateway would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub status: u16,
    /// Lower-cased names, in envelope order; multi-value headers give one entry per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Decoded {
    pub fn from_envelope(envelope: &Value) -> Result<Self, String> {
        let status = envelope["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("no statusCode in {envelope}"))?;
        let mut headers = Vec::new();
        if let Some(single) = envelope["headers"].as_object() {
            for (name, value) in single {
                headers.push((name.to_ascii_lowercase(), text(value)?));
            }
        }
        if let Some(multi) = envelope["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                for value in values
                    .as_array()
                    .ok_or("multiValueHeaders value is not a list")?
                {
                    headers.push((name.to_ascii_lowercase(), text(value)?));
                }
            }
        }
        if let Some(cookies) = envelope["cookies"].as_array() {
            for cookie in cookies {
                headers.push(("set-cookie".to_owned(), text(cookie)?));
            }
        }
        let raw = envelope["body"].as_str().unwrap_or_default();
        let mut body = if envelope["isBase64Encoded"].as_bool().unwrap_or(false) {
            base64::decode_config(raw, STANDARD).map_err(|e| format!("body is not base64: {e}"))?
        } else {
            raw.as_bytes().to_vec()
        };
        let brotli = headers
            .iter()
            .any(|(name, value)| name == "content-encoding" && value == "br");
        if brotli {
            let mut plain = Vec::new();
            brotli::Decompressor::new(body.as_slice(), 4096)
                .read_to_end(&mut plain)
                .map_err(|e| format!("body is not valid Brotli: {e}"))?;
            body = plain;
        }
        Ok(Decoded {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn text(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("header value {value} is not a string"))
}

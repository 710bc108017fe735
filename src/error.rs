//! The error contract: every failure a client can cause becomes
//! `{"error": "<short_code>", "message": "<readable sentence>"}` with the matching status.

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// A request the service refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No route matches the path.
    NotFound {
        /// The request path.
        path: String,
        /// The index path, which lists the endpoints.
        index: String,
    },
    /// The path exists but not for this method; `allow` lists the methods that work.
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The methods the path answers, as the `Allow` header lists them.
        allow: &'static str,
    },
    /// `/echo` was sent something other than JSON.
    UnsupportedMediaType {
        /// The Content-Type the client sent.
        content_type: String,
    },
    /// The body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge {
        /// `MAX_BODY_BYTES`
        limit: usize,
    },
    /// In Lambda mode, the echo of the body would not fit in Lambda's response limit.
    EchoTooLarge {
        /// Lambda's response limit, in bytes.
        response_limit: usize,
    },
    /// `/echo` got no body at all.
    EmptyBody,
    /// The body is not a valid JSON document; `detail` says what and where.
    InvalidJson {
        /// What is wrong, and at which line and column.
        detail: String,
    },
    /// The body could not be read (the client broke the transfer).
    UnreadableBody {
        /// The transport error.
        detail: String,
    },
    /// The body did not arrive in time (`BODY_TIMEOUT_SECS`).
    BodyTimeout {
        /// The time allowed, in seconds.
        secs: u64,
    },
    /// The request target (path and query) is longer than the service accepts.
    UriTooLong {
        /// The longest request target accepted, in bytes.
        limit: usize,
    },
    /// The request headers together are larger than the service accepts.
    HeadersTooLarge {
        /// The most header bytes accepted.
        limit: usize,
    },
    /// A Lambda event that cannot become an HTTP request (a header value with a line break, a
    /// method that is not a token, a body marked base64 that is not).
    InvalidRequest {
        /// What is wrong with it.
        detail: String,
    },
    /// The answer is larger than Lambda lets a function return.
    ResponseTooLarge {
        /// The size of the answer's response envelope, in bytes.
        size: usize,
        /// Lambda's limit, in bytes.
        limit: usize,
    },
}

impl ApiError {
    /// The stable, machine-readable code clients can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } | ApiError::EchoTooLarge { .. } => "payload_too_large",
            ApiError::EmptyBody => "empty_body",
            ApiError::InvalidJson { .. } => "invalid_json",
            ApiError::UnreadableBody { .. } => "unreadable_body",
            ApiError::BodyTimeout { .. } => "body_timeout",
            ApiError::UriTooLong { .. } => "uri_too_long",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::ResponseTooLarge { .. } => "response_too_large",
        }
    }

    /// The JSON body of the error, `{"error": …, "message": …}`, for callers outside actix.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
        .expect("two strings always serialize")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // No method in the message: a 404 does not depend on it, and HEAD must get the
            // same Content-Length as GET.
            ApiError::NotFound { path, index } => {
                write!(f, "There is no endpoint at {path}; GET {index} lists them.")
            }
            ApiError::MethodNotAllowed {
                method,
                path,
                allow,
            } => write!(f, "{method} is not allowed on {path}; use {allow}."),
            ApiError::UnsupportedMediaType { content_type } => write!(
                f,
                "Content-Type {content_type:?} is not supported; send application/json."
            ),
            ApiError::PayloadTooLarge { limit } => {
                write!(
                    f,
                    "The request body is larger than the limit of {limit} bytes."
                )
            }
            ApiError::EchoTooLarge { response_limit } => write!(
                f,
                "The echo of this body would be larger than Lambda's response limit of {response_limit} bytes."
            ),
            ApiError::EmptyBody => f.write_str("The request body is empty; send a JSON document."),
            ApiError::InvalidJson { detail } => {
                write!(f, "The request body is not valid JSON: {detail}.")
            }
            ApiError::UnreadableBody { detail } => {
                write!(f, "The request body could not be read: {detail}.")
            }
            ApiError::BodyTimeout { secs } => {
                write!(f, "The request body did not arrive within {secs} seconds.")
            }
            ApiError::UriTooLong { limit } => write!(
                f,
                "The request path and query are longer than the limit of {limit} bytes."
            ),
            ApiError::HeadersTooLarge { limit } => write!(
                f,
                "The request headers are larger than the limit of {limit} bytes."
            ),
            ApiError::InvalidRequest { detail } => f.write_str(detail),
            ApiError::ResponseTooLarge { size, limit } => write!(
                f,
                "The response ({size} bytes) is larger than Lambda's limit of {limit} bytes."
            ),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } | ApiError::EchoTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::EmptyBody
            | ApiError::InvalidJson { .. }
            | ApiError::UnreadableBody { .. }
            | ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::ResponseTooLarge { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(ContentType::json());
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, *allow));
        }
        response.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn render(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.error_response();
        let status = response.status();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[actix_rt::test]
    async fn renders_code_and_message_as_json() {
        let (status, body) = render(ApiError::PayloadTooLarge { limit: 10 }).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            body,
            serde_json::json!({
                "error": "payload_too_large",
                "message": "The request body is larger than the limit of 10 bytes."
            })
        );
    }

    #[actix_rt::test]
    async fn method_not_allowed_carries_an_allow_header() {
        let error = ApiError::MethodNotAllowed {
            method: "PUT".into(),
            path: "/health".into(),
            allow: "GET, HEAD",
        };
        let response = error.error_response();
        assert_eq!(response.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
    }
}

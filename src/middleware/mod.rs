//! The middleware this service adds around its routes.

mod head;
mod limits;
mod request_id;
mod request_logger;

pub use head::drop_head_body;
pub use limits::{check_request_head, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use request_id::{RequestId, MAX_REQUEST_ID_LEN, X_REQUEST_ID};
pub use request_logger::{
    log_line, log_request, EscapedPath, Invocation, RequestLine, LAMBDA_CONTEXT_HEADER,
    REQUEST_LOG_TARGET,
};

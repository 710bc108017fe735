//! The middleware this service adds around its routes.

mod head;
mod request_head;
mod request_id;
mod request_logger;

pub use head::drop_head_body;
pub use request_head::check_request_head;
pub use request_id::{RequestId, X_REQUEST_ID};
pub use request_logger::{
    log_line, log_request, Invocation, StreamedAnswer, LAMBDA_CONTEXT_HEADER,
};

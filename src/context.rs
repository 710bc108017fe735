//! What every request handler and middleware may read about the running service: the mode and
//! the settings they need, shared by all workers. The launcher builds it from the settings; the
//! App factory puts it in the app data.

use crate::config::{Mode, RootPath, Settings};
use crate::limits::{
    DEFAULT_LAMBDA_BODY_LIMIT, DEFAULT_MAX_BODY_BYTES, DEFAULT_STREAMING_BODY_LIMIT,
};
use std::time::Duration;

/// The per-process request context.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// HTTP or Lambda.
    pub mode: Mode,
    /// Where the routes are mounted.
    pub root_path: RootPath,
    /// The `/echo` body limit: `MAX_BODY_BYTES`, or by default 6 MiB in HTTP mode (Lambda's
    /// request limit), in Lambda mode the largest body whose echo always fits Lambda's
    /// response limit, and in Lambda mode with streaming what an invocation can carry.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive.
    pub body_timeout: Duration,
}

impl AppContext {
    /// The context for `settings`, in its mode.
    pub fn new(settings: &Settings) -> Self {
        let default_body_limit = match settings.mode {
            Mode::Http => DEFAULT_MAX_BODY_BYTES,
            _ if settings.mode.streams() => DEFAULT_STREAMING_BODY_LIMIT,
            Mode::Lambda { .. } => DEFAULT_LAMBDA_BODY_LIMIT,
        };
        AppContext {
            mode: settings.mode.clone(),
            root_path: settings.root_path.clone(),
            max_body_bytes: settings.max_body_bytes.unwrap_or(default_body_limit),
            body_timeout: settings.body_timeout,
        }
    }
}

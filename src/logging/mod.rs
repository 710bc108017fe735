//! The logger: every line to stderr (which Lambda sends to CloudWatch and Docker to its log
//! driver), in the text or the JSON format (`format.rs`), through a buffer that never blocks a
//! request in HTTP mode and written through in Lambda mode (`output.rs`).
//!
//! env_logger's filter decides what is logged (`RUST_LOG` syntax); the rest is this module's
//! own: each line is formatted into a per-thread buffer and handed to the output in one call.
//! (env_logger's own formatting and pipe, with a lock each, cost about twice as much per line.)
//! Request lines, one per request, skip the `log` record and its key-value fields: the request
//! logger calls [`request`], which the same filter guards under the target [`REQUEST_LOG_TARGET`].

mod format;
mod output;

pub use format::{EscapedPath, LambdaFields, RequestLine};

use crate::config::LogFormat;
use crate::limits::LOG_FLUSH_TIMEOUT;
use log::{Level, Log, Metadata, Record};
use output::Output;
use std::cell::RefCell;
use std::io;
use std::sync::OnceLock;

/// The log target of request lines; `RUST_LOG=info,request=off` silences them.
pub const REQUEST_LOG_TARGET: &str = "request";

static LOGGER: OnceLock<Logger> = OnceLock::new();

struct Logger {
    filter: env_logger::Logger,
    format: LogFormat,
    output: Output,
}

/// Installs the global logger with an already validated filter, in `format`, buffered (HTTP
/// mode) or written through (Lambda mode). A second call is a no-op.
pub fn init(filter: &str, format: LogFormat, buffered: bool) {
    let logger = LOGGER.get_or_init(|| Logger {
        filter: env_logger::Builder::new().parse_filters(filter).build(),
        format,
        output: if buffered {
            Output::buffered(Box::new(io::stderr()), format)
        } else {
            Output::through_stderr()
        },
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(logger.filter.filter());
    }
}

/// Writes out every buffered line, waiting at most [`LOG_FLUSH_TIMEOUT`]; call before the process
/// exits. Lines written through are out already.
pub fn flush() {
    if let Some(logger) = LOGGER.get() {
        logger.output.flush_within(LOG_FLUSH_TIMEOUT);
    }
}

/// Logs a request line at INFO under [`REQUEST_LOG_TARGET`], with the Lambda invocation's fields
/// in Lambda mode. Nothing is written before [`init`].
pub fn request(line: &RequestLine<'_>, lambda: Option<&LambdaFields<'_>>) {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    let metadata = Metadata::builder()
        .level(Level::Info)
        .target(REQUEST_LOG_TARGET)
        .build();
    if logger.filter.enabled(&metadata) {
        logger.write(|out| format::write_request(out, line, lambda, logger.format));
    }
}

impl Logger {
    /// Formats one line with `format_line` into this thread's buffer and hands it to the output.
    fn write(&self, format_line: impl Fn(&mut Vec<u8>)) {
        thread_local! {
            static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        let write = |line: &mut Vec<u8>| {
            line.clear();
            format_line(line);
            self.output.write_line(line);
        };
        // A line logged while formatting another one (a `Display` that logs) gets its own buffer.
        let reused = LINE.try_with(|line| match line.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut Vec::new()),
        });
        if reused.is_err() {
            write(&mut Vec::new());
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if self.filter.matches(record) {
            self.write(|out| format::write_record(out, record, self.format));
        }
    }

    fn flush(&self) {}
}

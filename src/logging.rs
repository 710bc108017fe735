//! Log output: request lines exactly as the request logger formats them, everything else with
//! a UTC timestamp, level and target. All of it goes to stderr, which Lambda sends to
//! CloudWatch and Docker to its log driver.

use crate::middleware::REQUEST_LOG_TARGET;
use chrono::{SecondsFormat, Utc};
use env_logger::fmt::Formatter;
use log::Record;
use std::io::{self, Write};

/// Installs the global logger with an already validated `RUST_LOG` filter. A second call is a
/// no-op.
pub fn init(filter: &str) {
    let _already_set = env_logger::Builder::new()
        .parse_filters(filter)
        .format(format_record)
        .target(env_logger::Target::Stderr)
        .try_init();
}

fn format_record(buf: &mut Formatter, record: &Record<'_>) -> io::Result<()> {
    if record.target() == REQUEST_LOG_TARGET {
        return writeln!(buf, "{}", record.args());
    }
    writeln!(
        buf,
        "{} {:<5} {}: {}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        record.level(),
        record.target(),
        record.args()
    )
}

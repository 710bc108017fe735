//! Log output: request lines exactly as the request logger formats them, everything else with
//! a UTC timestamp, level and target. All of it goes to stderr, which Lambda sends to
//! CloudWatch and Docker to its log driver.
//!
//! In HTTP mode lines are buffered: a write system call per request line costs throughput under
//! load. The buffer is written out when it holds 64 KiB, every 100 ms, and at shutdown, so a
//! line is at most 100 ms late and only a SIGKILL can lose lines. In Lambda mode every line is
//! written through at once: Lambda may freeze the sandbox as soon as the response is returned,
//! and a frozen process must not sit on unwritten logs.

use crate::middleware::REQUEST_LOG_TARGET;
use chrono::{SecondsFormat, Utc};
use env_logger::fmt::Formatter;
use log::Record;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const BUFFER_LIMIT: usize = 64 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(100);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the global logger with an already validated `RUST_LOG` filter, buffered or written
/// through. A second call is a no-op.
pub fn init(filter: &str, buffered: bool) {
    let sink = SINK.get_or_init(|| Sink::new(Box::new(io::stderr()), buffered));
    let installed = env_logger::Builder::new()
        .parse_filters(filter)
        .format(format_record)
        .target(env_logger::Target::Pipe(Box::new(sink.clone())))
        .try_init()
        .is_ok();
    if installed && buffered {
        let sink = sink.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(FLUSH_EVERY);
            sink.write_out();
        });
    }
}

/// Writes out any buffered lines; call before the process exits.
pub fn flush() {
    if let Some(sink) = SINK.get() {
        sink.write_out();
    }
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

/// The writer env_logger writes each formatted record to. env_logger flushes after every
/// record, so `flush` does nothing here; [`Sink::write_out`] decides when lines leave.
#[derive(Clone)]
struct Sink(Arc<Mutex<SinkState>>);

struct SinkState {
    out: Box<dyn Write + Send>,
    pending: Vec<u8>,
    buffered: bool,
}

impl Sink {
    fn new(out: Box<dyn Write + Send>, buffered: bool) -> Self {
        Sink(Arc::new(Mutex::new(SinkState {
            out,
            pending: Vec::with_capacity(if buffered { BUFFER_LIMIT } else { 0 }),
            buffered,
        })))
    }

    fn write_out(&self) {
        if let Ok(mut state) = self.0.lock() {
            state.write_out();
        }
    }
}

impl SinkState {
    fn write_out(&mut self) {
        if !self.pending.is_empty() {
            // Nowhere to report a failed log write; drop the lines rather than the service.
            let _ = self.out.write_all(&self.pending);
            let _ = self.out.flush();
            self.pending.clear();
        }
    }
}

impl Write for Sink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut state = self
            .0
            .lock()
            .map_err(|_| io::Error::other("log sink poisoned"))?;
        state.pending.extend_from_slice(line);
        if !state.buffered || state.pending.len() >= BUFFER_LIMIT {
            state.write_out();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink(buffered: bool) -> (Sink, Captured) {
        let captured = Captured::default();
        (Sink::new(Box::new(captured.clone()), buffered), captured)
    }

    fn text(captured: &Captured) -> String {
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn written_through_lines_are_out_before_write_returns() {
        let (mut sink, out) = sink(false);
        sink.write_all("[REQ] 200 | GET     | / | 1.0µs\n".as_bytes())
            .unwrap();
        assert_eq!(text(&out), "[REQ] 200 | GET     | / | 1.0µs\n");
    }

    #[test]
    fn buffered_lines_wait_for_write_out_and_survive_flush_calls() {
        let (mut sink, out) = sink(true);
        sink.write_all(b"one\n").unwrap();
        sink.flush().unwrap();
        sink.write_all(b"two\n").unwrap();
        assert_eq!(text(&out), "");
        sink.write_out();
        assert_eq!(text(&out), "one\ntwo\n");
    }

    #[test]
    fn a_full_buffer_is_written_out_without_waiting() {
        let (mut sink, out) = sink(true);
        let line = vec![b'x'; 1024];
        for _ in 0..BUFFER_LIMIT / 1024 {
            sink.write_all(&line).unwrap();
        }
        assert_eq!(text(&out).len(), BUFFER_LIMIT);
    }
}

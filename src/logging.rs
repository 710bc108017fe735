//! Log output, to stderr (which Lambda sends to CloudWatch and Docker to its log driver), in one
//! of two formats:
//! - text (the default): request lines exactly as the request logger formats them, everything
//!   else as `timestamp LEVEL target: message`;
//! - JSON (`LOG_FORMAT=json`, or `AWS_LAMBDA_LOG_FORMAT=JSON` set by Lambda): one object per
//!   line with `timestamp`, `level`, `message`, `target` and the record's key-value fields, as
//!   Lambda's JSON log format expects.
//!
//! In HTTP mode a request never waits for the log: lines are appended to a bounded buffer that a
//! writer thread swaps out and writes, outside the lock, every 100 ms or as soon as 64 KiB are
//! waiting. When stderr stalls (a log reader that does not read) and the buffer is full, new
//! lines are dropped and counted, and the count is reported in one line as soon as writing works
//! again. (A queue that woke the writer for every line halved throughput under `make bench`:
//! each wake is a system call and a context switch on the server's core.) In Lambda mode every line is written before the call that
//! logs it returns: Lambda may freeze the sandbox as soon as the response is posted, and its log
//! agent always reads stderr.

use crate::config::LogFormat;
use crate::limits::{LOG_BUFFER_BYTES, LOG_FLUSH_TIMEOUT};
use crate::middleware::REQUEST_LOG_TARGET;
use chrono::{SecondsFormat, Utc};
use log::kv::{self, VisitSource, VisitValue};
use log::{Level, Record};
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The writer is woken early once this much is waiting.
const BATCH_BYTES: usize = 64 * 1024;
/// How late a line may be written when little is logged.
const WRITE_EVERY: Duration = Duration::from_millis(100);

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// Installs the global logger with an already validated filter, in `format`, buffered (HTTP
/// mode) or written through (Lambda mode). A second call is a no-op.
pub fn init(filter: &str, format: LogFormat, buffered: bool) {
    let output = OUTPUT.get_or_init(|| {
        if buffered {
            Output::buffered(Box::new(io::stderr()), format)
        } else {
            Output::through(Box::new(io::stderr()))
        }
    });
    let _ = env_logger::Builder::new()
        .parse_filters(filter)
        .format(move |buf, record| write_record(buf, record, format))
        .target(env_logger::Target::Pipe(Box::new(output.clone())))
        .try_init();
}

/// Writes out every buffered line, waiting at most [`LOG_FLUSH_TIMEOUT`]; call before the process
/// exits. Lines written through are out already.
pub fn flush() {
    if let Some(output) = OUTPUT.get() {
        output.flush_within(LOG_FLUSH_TIMEOUT);
    }
}

/// One log line in `format`, newline included.
fn write_record(out: &mut impl Write, record: &Record<'_>, format: LogFormat) -> io::Result<()> {
    match format {
        LogFormat::Text if record.target() == REQUEST_LOG_TARGET => {
            writeln!(out, "{}", record.args())
        }
        LogFormat::Text => writeln!(
            out,
            "{} {:<5} {}: {}",
            timestamp(),
            record.level(),
            record.target(),
            record.args()
        ),
        LogFormat::Json => {
            let mut fields = Map::new();
            fields.insert("timestamp".into(), timestamp().into());
            fields.insert("level".into(), record.level().as_str().into());
            fields.insert("message".into(), record.args().to_string().into());
            fields.insert("target".into(), record.target().into());
            // A field that fails to convert is left out rather than losing the line.
            let _ = record.key_values().visit(&mut JsonFields(&mut fields));
            serde_json::to_writer(&mut *out, &fields)?;
            out.write_all(b"\n")
        }
    }
}

fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Collects a record's key-value fields as JSON values; `None` fields are left out.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let mut json = ToJson(Value::Null);
        value.visit(&mut json)?;
        if !json.0.is_null() {
            self.0.insert(key.as_str().to_owned(), json.0);
        }
        Ok(())
    }
}

struct ToJson(Value);

impl<'v> VisitValue<'v> for ToJson {
    fn visit_any(&mut self, value: kv::Value) -> Result<(), kv::Error> {
        self.0 = Value::String(value.to_string());
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.0 = Value::Null;
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        self.0 = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
}

/// Where env_logger writes each formatted record. env_logger writes a record in one call.
#[derive(Clone)]
enum Output {
    /// Written by the thread that logs, before its call returns.
    Through(Arc<Mutex<Box<dyn Write + Send>>>),
    /// Appended to a buffer the writer thread writes out; dropped, and counted, when it is full.
    Buffered(Arc<Buffer>),
}

/// The lines waiting for the writer thread, shared with it.
struct Buffer {
    state: Mutex<Waiting>,
    /// Wakes the writer (a batch is ready, or a flush is asked for) and the flushers (written).
    wake: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct Waiting {
    lines: Vec<u8>,
    dropped: u64,
    /// Flushes asked for, and flushes done: a flush waits until `written` reaches its number.
    asked: u64,
    written: u64,
}

impl Output {
    fn through(out: Box<dyn Write + Send>) -> Self {
        Output::Through(Arc::new(Mutex::new(out)))
    }

    fn buffered(out: Box<dyn Write + Send>, format: LogFormat) -> Self {
        Self::buffered_with(out, format, LOG_BUFFER_BYTES)
    }

    fn buffered_with(out: Box<dyn Write + Send>, format: LogFormat, capacity: usize) -> Self {
        let buffer = Arc::new(Buffer {
            state: Mutex::default(),
            wake: Condvar::new(),
            capacity,
        });
        let shared = Arc::clone(&buffer);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(&shared, out, format))
            .expect("the log writer thread starts");
        Output::Buffered(buffer)
    }

    fn flush_within(&self, timeout: Duration) {
        let Output::Buffered(buffer) = self else {
            return;
        };
        let mut state = buffer.lock();
        state.asked += 1;
        let ticket = state.asked;
        buffer.wake.notify_all();
        let _ = buffer
            .wake
            .wait_timeout_while(state, timeout, |state| state.written < ticket);
    }
}

impl Buffer {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A panic while holding this lock cannot leave the bytes inconsistent; go on with them.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Write for Output {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self {
            Output::Through(out) => {
                // Nowhere to report a failed log write; keep the service running.
                if let Ok(mut out) = out.lock() {
                    let _ = out.write_all(line).and_then(|()| out.flush());
                }
            }
            Output::Buffered(buffer) => {
                let mut state = buffer.lock();
                let before = state.lines.len();
                if before + line.len() > buffer.capacity {
                    state.dropped += 1;
                } else {
                    state.lines.extend_from_slice(line);
                    // Wake the writer once per batch, not per line.
                    if before < BATCH_BYTES && state.lines.len() >= BATCH_BYTES {
                        buffer.wake.notify_all();
                    }
                }
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: every [`WRITE_EVERY`], or when woken, takes what is waiting and writes it
/// outside the lock, then reports lines that were dropped meanwhile.
fn write_lines(buffer: &Buffer, mut out: Box<dyn Write + Send>, format: LogFormat) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    loop {
        let (lost, ticket) = {
            let state = buffer.lock();
            let (mut state, _) = buffer
                .wake
                .wait_timeout_while(state, WRITE_EVERY, |state| {
                    state.lines.len() < BATCH_BYTES && state.asked == state.written
                })
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::swap(&mut batch, &mut state.lines);
            (std::mem::take(&mut state.dropped), state.asked)
        };
        if !batch.is_empty() {
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
        }
        if lost > 0 {
            let _ = write_dropped_report(&mut out, lost, format);
        }
        let mut state = buffer.lock();
        if state.written < ticket {
            state.written = ticket;
            buffer.wake.notify_all();
        }
    }
}

fn write_dropped_report(out: &mut impl Write, lost: u64, format: LogFormat) -> io::Result<()> {
    let message = format!(
        "{lost} log lines were dropped: the log output was not being read and its buffer of {LOG_BUFFER_BYTES} bytes was full"
    );
    let fields: &[(&str, kv::Value)] = &[("dropped_lines", kv::Value::from(lost))];
    write_record(
        out,
        &Record::builder()
            .level(Level::Warn)
            .target(module_path!())
            .args(format_args!("{message}"))
            .key_values(&fields)
            .build(),
        format,
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output the test can read back, and hold shut to play a stalled reader.
    #[derive(Clone, Default)]
    struct Captured {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
        fn stall(&self) {
            *self.gate.0.lock().unwrap() = true;
        }
        fn resume(&self) {
            *self.gate.0.lock().unwrap() = false;
            self.gate.1.notify_all();
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (stalled, wake) = &*self.gate;
            let _open = wake
                .wait_while(stalled.lock().unwrap(), |stalled| *stalled)
                .unwrap();
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record_line(format: LogFormat, target: &str, message: &str) -> String {
        let mut out = Vec::new();
        write_record(
            &mut out,
            &Record::builder()
                .level(Level::Info)
                .target(target)
                .args(format_args!("{message}"))
                .build(),
            format,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn written_through_lines_are_out_before_write_returns() {
        let captured = Captured::default();
        let mut output = Output::through(Box::new(captured.clone()));
        output.write_all(b"[REQ] 200\n").unwrap();
        assert_eq!(captured.text(), "[REQ] 200\n");
    }

    #[test]
    fn buffered_lines_are_all_out_after_flush() {
        let captured = Captured::default();
        let mut output = Output::buffered(Box::new(captured.clone()), LogFormat::Text);
        for i in 0..1000 {
            output.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        output.flush_within(Duration::from_secs(5));
        assert_eq!(captured.text().lines().count(), 1000);
    }

    #[test]
    fn a_stalled_output_drops_lines_without_blocking_and_reports_the_count_once_it_moves() {
        let captured = Captured::default();
        captured.stall();
        let mut output = Output::buffered_with(Box::new(captured.clone()), LogFormat::Text, 80);
        let started = Instant::now();
        for i in 0..100 {
            output.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "logging blocked"
        );
        captured.resume();
        output.flush_within(Duration::from_secs(5));
        let text = captured.text();
        let report = text
            .lines()
            .find(|l| l.contains("log lines were dropped"))
            .unwrap_or_else(|| panic!("no report in {text}"));
        let lost: usize = report.split_whitespace().nth(3).unwrap().parse().unwrap();
        let written = text.lines().filter(|l| l.starts_with("line ")).count();
        assert_eq!(written + lost, 100, "{text}");
        assert!(lost > 0);
    }

    #[test]
    fn text_request_lines_are_written_as_they_are_and_others_get_timestamp_level_and_target() {
        assert_eq!(
            record_line(LogFormat::Text, REQUEST_LOG_TARGET, "[REQ] 200 | GET"),
            "[REQ] 200 | GET\n"
        );
        let other = record_line(LogFormat::Text, "rust_hybrid_api::launcher", "starting");
        assert!(
            other.ends_with(" INFO  rust_hybrid_api::launcher: starting\n"),
            "{other}"
        );
    }

    #[test]
    fn json_lines_have_the_fields_lambda_expects_and_cannot_be_split_or_forged() {
        let forged = "/a\n{\"level\":\"ERROR\"}\",\"level\":\"FATAL";
        let line = record_line(LogFormat::Json, "request", forged);
        assert_eq!(line.lines().count(), 1, "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["message"], forged);
        assert_eq!(value["target"], "request");
        let timestamp = value["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && timestamp.len() == 24,
            "{timestamp}"
        );
        chrono::DateTime::parse_from_rfc3339(timestamp).unwrap();
    }

    #[test]
    fn key_values_become_json_fields_and_missing_ones_are_left_out() {
        let mut out = Vec::new();
        let none: Option<&str> = None;
        let fields: &[(&str, kv::Value)] = &[
            ("status", kv::Value::from(404u16)),
            ("duration_ms", kv::Value::from(0.25f64)),
            ("cold_start", kv::Value::from(true)),
            ("path", kv::Value::from("/x")),
            ("xrayTraceId", kv::ToValue::to_value(&none)),
        ];
        write_record(
            &mut out,
            &Record::builder()
                .level(Level::Info)
                .target("request")
                .args(format_args!("m"))
                .key_values(&fields)
                .build(),
            LogFormat::Json,
        )
        .unwrap();
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["status"], 404);
        assert_eq!(value["duration_ms"], 0.25);
        assert_eq!(value["cold_start"], true);
        assert_eq!(value["path"], "/x");
        assert!(value.get("xrayTraceId").is_none(), "{value}");
    }
}

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
use chrono::{SecondsFormat, Utc};
use log::kv::{self, VisitSource, VisitValue};
use log::{Level, Record};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The writer is woken early once this much is waiting.
const BATCH_BYTES: usize = 64 * 1024;
/// How late a line may be written when little is logged.
const WRITE_EVERY: Duration = Duration::from_millis(100);

/// The log target of request lines; `RUST_LOG=info,request=off` silences them.
pub const REQUEST_LOG_TARGET: &str = "request";

static OUTPUT: OnceLock<Output> = OnceLock::new();
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether lines are written as JSON, so that callers can leave out of the message what the
/// fields already say.
pub fn json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the global logger with an already validated filter, in `format`, buffered (HTTP
/// mode) or written through (Lambda mode). A second call is a no-op.
pub fn init(filter: &str, format: LogFormat, buffered: bool) {
    JSON.store(
        format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
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
            // Written straight out, escaping as it goes: a map of values per line cost a
            // quarter of the throughput under `make bench`.
            let mut json = JsonWriter { out, error: None };
            let _ = json.write_str("{\"timestamp\":\"");
            write_timestamp(&mut json);
            let _ = write!(json, "\",\"level\":\"{}\",\"message\":", record.level());
            json.string(format_args!("{}", record.args()));
            json.key("target");
            json.string(format_args!("{}", record.target()));
            // A field that fails to convert is left out rather than losing the line.
            let _ = record.key_values().visit(&mut json);
            let _ = json.write_str("}\n");
            json.error.map_or(Ok(()), Err)
        }
    }
}

/// Writes JSON to an `io::Write`, escaping strings as they are formatted, without building a
/// value; keeps the first I/O error.
struct JsonWriter<'a, W: Write + ?Sized> {
    out: &'a mut W,
    error: Option<io::Error>,
}

impl<W: Write + ?Sized> JsonWriter<'_, W> {
    fn key(&mut self, key: &str) {
        let _ = write!(self, ",");
        self.string(format_args!("{key}"));
        let _ = write!(self, ":");
    }

    fn string(&mut self, text: fmt::Arguments<'_>) {
        let _ = self.write_str("\"");
        let _ = fmt::write(&mut Escaped(self), text);
        let _ = self.write_str("\"");
    }
}

impl<W: Write + ?Sized> fmt::Write for JsonWriter<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.error.is_none() {
            if let Err(err) = self.out.write_all(text.as_bytes()) {
                self.error = Some(err);
            }
        }
        Ok(())
    }
}

/// The inside of a JSON string: quotes, backslashes and control characters escaped, as
/// serde_json writes them.
struct Escaped<'a, 'b, W: Write + ?Sized>(&'a mut JsonWriter<'b, W>);

impl<W: Write + ?Sized> fmt::Write for Escaped<'_, '_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut start = 0;
        for (i, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&text[start..])
    }
}

fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The same as [`timestamp`], without formatting the date for every line: each thread keeps
/// the text of the current second and adds the milliseconds.
fn write_timestamp(out: &mut impl fmt::Write) {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = Utc::now();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != now.timestamp() {
            *second = (now.timestamp(), now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        let _ = write!(out, "{}.{:03}Z", second.1, now.timestamp_subsec_millis());
    });
}

/// Each key-value field as `,"key":value`; `None` fields are left out.
impl<'kvs, W: Write + ?Sized> VisitSource<'kvs> for JsonWriter<'_, W> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        value.visit(&mut Field {
            json: self,
            key: key.as_str(),
        })
    }
}

/// One key-value field, written when its value is known not to be `None`.
struct Field<'a, 'b, W: Write + ?Sized> {
    json: &'a mut JsonWriter<'b, W>,
    key: &'a str,
}

impl<W: Write + ?Sized> Field<'_, '_, W> {
    fn raw(&mut self, value: fmt::Arguments<'_>) -> Result<(), kv::Error> {
        self.json.key(self.key);
        let _ = self.json.write_fmt(value);
        Ok(())
    }

    fn text(&mut self, value: fmt::Arguments<'_>) -> Result<(), kv::Error> {
        self.json.key(self.key);
        self.json.string(value);
        Ok(())
    }
}

impl<'v, W: Write + ?Sized> VisitValue<'v> for Field<'_, '_, W> {
    fn visit_any(&mut self, value: kv::Value) -> Result<(), kv::Error> {
        self.text(format_args!("{value}"))
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.raw(format_args!("{value}"))
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.raw(format_args!("{value}"))
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        // JSON has no NaN or infinity; such a field is left out.
        if value.is_finite() {
            self.raw(format_args!("{value}"))?;
        }
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.raw(format_args!("{value}"))
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.text(format_args!("{value}"))
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
    use serde_json::Value;
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
    fn the_cached_timestamp_matches_the_formatted_one() {
        let mut cached = String::new();
        write_timestamp(&mut cached);
        let formatted = timestamp();
        assert_eq!(cached.len(), formatted.len(), "{cached} {formatted}");
        assert_eq!(
            cached[..19],
            formatted[..19],
            "the same second, unless it just turned"
        );
        chrono::DateTime::parse_from_rfc3339(&cached).unwrap();
    }

    #[test]
    fn every_control_character_is_escaped_and_parses_back() {
        let all: String = (0u8..0x20)
            .map(char::from)
            .chain("\"\\é\u{2028}".chars())
            .collect();
        let line = record_line(LogFormat::Json, "t", &all);
        assert_eq!(line.lines().count(), 1, "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], all.as_str());
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

//! Where log lines go. In HTTP mode a request never waits for the log: lines are appended to a
//! bounded buffer that a writer thread swaps out and writes, outside the lock, every 100 ms or as
//! soon as 256 KiB are waiting. When stderr stalls (a log reader that does not read) and the
//! buffer is full, new lines are dropped and counted, and the count is reported in one line as
//! soon as writing works again. (A queue that woke the writer for every line halved throughput
//! under `make bench`: each wake is a system call and a context switch on the server's core.
//! Waking it every 64 KiB rather than 256 KiB still cost 0.8% of the server's CPU in JSON.)
//! In Lambda mode every line is written before the call that logs it returns: Lambda may freeze
//! the sandbox as soon as the response is posted, and its log agent always reads stderr. Threads
//! serving invocations at once (Lambda Managed Instances) do not queue behind each other's
//! writes: a line of at most [`ATOMIC_LINE_BYTES`] goes out in one `write(2)`, which a pipe (and
//! a file, through one file description) never interleaves with another, so such lines are
//! written side by side; only a longer line, which takes several writes, has the output to
//! itself. (With one lock for every line, at 32 invocations at once a line waited 0.6 µs on
//! average and up to 5 ms for another thread's write.)
//!
//! Why not a crate: tracing-appender's non-blocking writer (bounded, lossy) serves `tracing`,
//! not the `log` facade, and sends each line through a channel to its worker, the per-line
//! hand-off measured above; flexi_logger's async mode is also a channel per line, and it would
//! replace env_logger. What is needed here is one lock, a `Vec` and a thread.

use super::format::write_record;
use crate::config::LogFormat;
use crate::limits::LOG_BUFFER_BYTES;
use log::{kv, Level, Record};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// The writer is woken early once this much is waiting.
const BATCH_BYTES: usize = 256 * 1024;
/// How late a line may be written when little is logged.
const WRITE_EVERY: Duration = Duration::from_millis(100);

/// The longest line written in one `write(2)`: POSIX's `PIPE_BUF` on Linux, up to which a
/// pipe writes atomically.
pub(super) const ATOMIC_LINE_BYTES: usize = 4096;

/// An output any thread may write to at once, each call one `write(2)`.
pub(super) trait SharedWrite: Send + Sync {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize>;
}

impl SharedWrite for std::fs::File {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize> {
        (&*self).write(bytes)
    }
}

impl SharedWrite for io::PipeWriter {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize> {
        (&*self).write(bytes)
    }
}

/// Any writer, one call at a time.
impl SharedWrite for Mutex<Box<dyn Write + Send>> {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut out = self.lock().unwrap_or_else(|p| p.into_inner());
        out.write(bytes)
    }
}

/// Where the logger writes each line.
pub(super) enum Output {
    /// Written by the thread that logs, before its call returns.
    Through(Arc<Through>),
    /// Appended to a buffer the writer thread writes out; dropped, and counted, when it is full.
    Buffered(Arc<Buffer>),
}

/// The lines waiting for the writer thread, shared with it.
pub(super) struct Buffer {
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

/// Written-through output: short lines side by side (a shared lock), a long one alone.
pub(super) struct Through {
    out: Box<dyn SharedWrite>,
    long_line: RwLock<()>,
}

impl Output {
    pub(super) fn through(out: Box<dyn SharedWrite>) -> Self {
        Output::Through(Arc::new(Through {
            out,
            long_line: RwLock::new(()),
        }))
    }

    /// stderr, written with `write(2)` on a duplicate of its descriptor, bypassing the standard
    /// library's lock; through that lock if the descriptor cannot be duplicated.
    pub(super) fn through_stderr() -> Self {
        use std::os::fd::AsFd;
        match io::stderr().as_fd().try_clone_to_owned() {
            Ok(fd) => Self::through(Box::new(std::fs::File::from(fd))),
            Err(_) => Self::through(Box::new(Mutex::new(
                Box::new(io::stderr()) as Box<dyn Write + Send>
            ))),
        }
    }

    pub(super) fn buffered(out: Box<dyn Write + Send>, format: LogFormat) -> Self {
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

    pub(super) fn flush_within(&self, timeout: Duration) {
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

impl Output {
    /// Hands one whole line to the output.
    pub(super) fn write_line(&self, line: &[u8]) {
        match self {
            // Nowhere to report a failed log write; keep the service running.
            Output::Through(through) if line.len() <= ATOMIC_LINE_BYTES => {
                let _side_by_side = through.long_line.read().unwrap_or_else(|p| p.into_inner());
                let _ = write_all(&*through.out, line);
            }
            Output::Through(through) => {
                let _alone = through.long_line.write().unwrap_or_else(|p| p.into_inner());
                let _ = write_all(&*through.out, line);
            }
            Output::Buffered(buffer) => {
                let mut state = buffer.lock();
                let before = state.lines.len();
                if before + line.len() > buffer.capacity {
                    state.dropped += 1;
                    return;
                }
                state.lines.extend_from_slice(line);
                let batch_ready = before < BATCH_BYTES && state.lines.len() >= BATCH_BYTES;
                drop(state);
                // Once per batch, not per line, and after unlocking: a writer woken while the
                // lock is held preempts this thread on a shared core, finds the lock taken,
                // spins, sleeps again and has to be woken a second time.
                if batch_ready {
                    buffer.wake.notify_all();
                }
            }
        }
    }
}

/// Writes all of `bytes`: one `write(2)` unless the output takes less at a time.
fn write_all(out: &dyn SharedWrite, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write_once(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
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
    let mut line = Vec::new();
    write_record(
        &mut line,
        &Record::builder()
            .level(Level::Warn)
            .target(module_path!())
            .args(format_args!("{message}"))
            .key_values(&fields)
            .build(),
        format,
    );
    out.write_all(&line)?;
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

    #[test]
    fn written_through_lines_are_out_before_write_returns() {
        let captured = Captured::default();
        let boxed: Box<dyn Write + Send> = Box::new(captured.clone());
        let output = Output::through(Box::new(Mutex::new(boxed)));
        output.write_line(b"[REQ] 200\n");
        assert_eq!(captured.text(), "[REQ] 200\n");
    }

    #[test]
    fn lines_written_through_a_pipe_by_many_threads_at_once_never_interleave() {
        let (mut reader, writer) = io::pipe().unwrap();
        let output = Arc::new(Output::through(Box::new(writer)));
        let read = std::thread::spawn(move || {
            let mut text = String::new();
            io::Read::read_to_string(&mut reader, &mut text).unwrap();
            text
        });
        let line = |thread: usize, i: usize| {
            // Short lines, and every seventh one longer than a pipe writes at once.
            let fill = if i.is_multiple_of(7) {
                3 * ATOMIC_LINE_BYTES
            } else {
                40 + i % 90
            };
            format!(
                "{thread}:{i}:{}\n",
                char::from(b'a' + thread as u8).to_string().repeat(fill)
            )
        };
        let writers: Vec<_> = (0..8)
            .map(|thread| {
                let output = Arc::clone(&output);
                std::thread::spawn(move || {
                    for i in 0..500 {
                        output.write_line(line(thread, i).as_bytes());
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        drop(output);
        let text = read.join().unwrap();
        let mut seen = 0;
        for written in text.lines() {
            let mut parts = written.splitn(3, ':');
            let thread: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(format!("{written}\n"), line(thread, i), "a mixed line");
            seen += 1;
        }
        assert_eq!(seen, 8 * 500);
    }

    #[test]
    fn buffered_lines_are_all_out_after_flush() {
        let captured = Captured::default();
        let output = Output::buffered(Box::new(captured.clone()), LogFormat::Text);
        for i in 0..1000 {
            output.write_line(format!("line {i}\n").as_bytes());
        }
        output.flush_within(Duration::from_secs(5));
        assert_eq!(captured.text().lines().count(), 1000);
    }

    #[test]
    fn a_stalled_output_drops_lines_without_blocking_and_reports_the_count_once_it_moves() {
        let captured = Captured::default();
        captured.stall();
        let output = Output::buffered_with(Box::new(captured.clone()), LogFormat::Text, 80);
        let started = Instant::now();
        for i in 0..100 {
            output.write_line(format!("line {i}\n").as_bytes());
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
}

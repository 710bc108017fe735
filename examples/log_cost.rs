//! What one request line costs the thread that logs it, in each format: the logger as HTTP mode
//! installs it (buffered, to stderr), without a server around it. `make bench` measures the
//! whole cost under load; this isolates the formatting, for working on it.
//!
//! ```text
//! cargo build --release --example log_cost
//! taskset -c 0 target/release/examples/log_cost text 2>/dev/null
//! taskset -c 0 target/release/examples/log_cost json 2>/dev/null
//! ```
//!
//! Lines go in batches of 1,000 (215 KB of JSON) with a 1 ms pause after each, so that the
//! writer thread keeps up and no line is dropped (a dropped line costs less than a written one);
//! only the time inside the batches counts. Prints the best of five runs.

use rust_hybrid_api::config::LogFormat;
use rust_hybrid_api::logging::{self, RequestLine};
use rust_hybrid_api::middleware::log_line;
use std::time::{Duration, Instant};

const LINES: u32 = 500_000;
const BATCH: u32 = 1_000;

fn main() {
    let format = match std::env::args().nth(1).as_deref() {
        Some("json") => LogFormat::Json,
        Some("text") | None => LogFormat::Text,
        Some(other) => {
            eprintln!("usage: log_cost [text|json] (not {other:?})");
            std::process::exit(2);
        }
    };
    logging::init("info", format, true);
    let best = (0..5).map(|_| run()).min().unwrap_or_default();
    logging::flush();
    println!(
        "{format:?}: {:.0} ns per request line (best of 5 x {LINES})",
        best.as_secs_f64() * 1e9 / f64::from(LINES)
    );
}

/// The time spent logging [`LINES`] lines.
fn run() -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..LINES / BATCH {
        let started = Instant::now();
        for i in 0..BATCH {
            let line = RequestLine {
                status: 200,
                method: "GET",
                path: "/health",
                elapsed: Duration::from_nanos(84_200 + u64::from(i)),
                request_id: "9c1e0f3a5b7d2e4f1a2b3c4d5e6f7081",
            };
            log_line(&line, None);
        }
        spent += started.elapsed();
        std::thread::sleep(Duration::from_millis(1));
    }
    spent
}

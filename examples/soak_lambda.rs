//! Lambda-mode soak for `make test-load`: one function process serves INVOCATIONS events, taken
//! in turn from the event files, through the loopback fake Runtime API. It fails (exit 1) when
//! any invocation is not a 200 response envelope, or when the function's RSS at the end is more
//! than 10% above its RSS after the warm-up (the first tenth, at least 1,000 invocations).
//!
//! `soak_lambda BINARY INVOCATIONS EVENT_FILE...`

#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{rss_kib, spawn, stop, FakeRuntime};
use std::time::Instant;

/// Invocations allowed per wait: each batch must finish within the fake's 30 s wait.
const BATCH: usize = 5_000;

/// Serves `count` more invocations in batches; returns how many were not 200 envelopes.
fn serve(runtime: &FakeRuntime, count: usize) -> usize {
    let mut errors = 0;
    let mut left = count;
    while left > 0 {
        let batch = left.min(BATCH);
        runtime.allow(batch);
        errors += runtime
            .wait_for(batch)
            .answered
            .iter()
            .filter(|answer| answer.body["statusCode"] != 200)
            .inspect(|answer| eprintln!("soak: not a 200 envelope: {}", answer.body))
            .count();
        left -= batch;
    }
    errors
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(binary), Some(Ok(invocations)), files) = (
        args.get(1),
        args.get(2).map(|n| n.parse::<usize>()),
        args.get(3..).unwrap_or_default(),
    ) else {
        eprintln!("usage: soak_lambda BINARY INVOCATIONS EVENT_FILE...");
        std::process::exit(2);
    };
    let events: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    assert!(!events.is_empty(), "no event files given");

    let runtime = FakeRuntime::start();
    runtime.reset(&events, 0);
    let started = Instant::now();
    let child = spawn(binary, &runtime);
    let warm_up = (invocations / 10).max(1_000).min(invocations);
    let mut errors = serve(&runtime, warm_up);
    let rss_warm = rss_kib(child.id(), "VmRSS");
    errors += serve(&runtime, invocations - warm_up);
    let rss_end = rss_kib(child.id(), "VmRSS");
    let took = started.elapsed();
    stop(child);

    let growth = (rss_end as f64 / rss_warm as f64 - 1.0) * 100.0;
    println!(
        "soak: {invocations} invocations in {:.1} s ({:.0}/s), {errors} errors, RSS {rss_warm} KiB after {warm_up} -> {rss_end} KiB at the end ({growth:+.1}%)",
        took.as_secs_f64(),
        invocations as f64 / took.as_secs_f64()
    );
    if errors > 0 || growth > 10.0 {
        println!("soak: FAILED");
        std::process::exit(1);
    }
}

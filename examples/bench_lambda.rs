//! Lambda-mode benchmark for `make bench`: a minimal Runtime API on loopback (std threads, no
//! framework, so it costs little next to what it measures) driving a function binary.
//!
//! - cold start: exec → first `GET /next`, and exec → first response posted, over fresh processes;
//! - warm: invocations in one process, each timed from the event written to the response read,
//!   and the process's RSS at the end.
//!
//! It benchmarks our binary (HTTP API event with and without `accept-encoding: br`) and the
//! floor (`examples/floor_lambda.rs`), prints a markdown table, and writes the raw warm
//! latencies to `target/bench/lambda-*.txt`.
//!
//! `bench_lambda OURS FLOOR EVENT COLD_RUNS WARM_INVOCATIONS`; `BENCH_RUST_LOG` sets the
//! function's `RUST_LOG` (default: unset, so `info`), `BENCH_DEBUG` shows its stderr.

use serde_json::Value;
use std::time::{Duration, Instant};

#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{spawn, stop, FakeRuntime};

fn check(answer: &Value) {
    assert_eq!(
        answer["statusCode"], 200,
        "the function did not answer 200: {answer}"
    );
}

/// Median exec → first poll and exec → first response over `runs` fresh processes.
fn cold(binary: &str, event: &str, runs: usize, runtime: &FakeRuntime) -> (Duration, Duration) {
    let mut polls = Vec::new();
    let mut responses = Vec::new();
    for _ in 0..runs {
        runtime.reset(&[event.to_owned()], 1);
        let started = Instant::now();
        let child = spawn(binary, runtime);
        let (first_poll, _, answered) = runtime.wait_for(1);
        check(&answered[0].1);
        polls.push(first_poll.expect("polled") - started);
        responses.push(answered[0].0 - started);
        stop(child);
    }
    (median(&mut polls), median(&mut responses))
}

/// Per-invocation latencies over `count` warm invocations in one process, and its RSS in kB.
fn warm(binary: &str, event: &str, count: usize, runtime: &FakeRuntime) -> (Vec<Duration>, u64) {
    runtime.reset(&[event.to_owned()], 1);
    let child = spawn(binary, runtime);
    runtime.wait_for(1);
    runtime.allow(count);
    let (_, served, answered) = runtime.wait_for(count);
    answered.iter().for_each(|(_, value)| check(value));
    let latencies = served
        .iter()
        .zip(&answered)
        .map(|(s, (a, _))| *a - *s)
        .collect();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0);
    stop(child);
    (latencies, rss)
}

fn median(values: &mut [Duration]) -> Duration {
    percentile(values, 50.0)
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(ours: Duration, floor: Duration) -> String {
    format!("{:.2}", ours.as_secs_f64() / floor.as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, ours, floor, event_file, cold_runs, warm_count] = &args[..] else {
        eprintln!("usage: bench_lambda OURS FLOOR EVENT COLD_RUNS WARM_INVOCATIONS");
        std::process::exit(2);
    };
    let cold_runs: usize = cold_runs.parse().expect("COLD_RUNS is a number");
    let warm_count: usize = warm_count.parse().expect("WARM_INVOCATIONS is a number");
    let with_br: Value = serde_json::from_str(
        &std::fs::read_to_string(event_file).unwrap_or_else(|e| panic!("{event_file}: {e}")),
    )
    .expect("the event is JSON");
    let mut without_br = with_br.clone();
    if let Some(headers) = without_br["headers"].as_object_mut() {
        headers.remove("accept-encoding");
    }
    let (with_br, without_br) = (with_br.to_string(), without_br.to_string());

    let runtime = FakeRuntime::start();
    let (ours_poll, ours_first) = cold(ours, &without_br, cold_runs, &runtime);
    let (floor_poll, floor_first) = cold(floor, &without_br, cold_runs, &runtime);
    let (mut ours_warm, ours_rss) = warm(ours, &without_br, warm_count, &runtime);
    let (mut br_warm, br_rss) = warm(ours, &with_br, warm_count, &runtime);
    let (mut floor_warm, floor_rss) = warm(floor, &without_br, warm_count, &runtime);

    let _ = std::fs::create_dir_all("target/bench");
    for (name, values) in [
        ("ours", &ours_warm),
        ("ours-br", &br_warm),
        ("floor", &floor_warm),
    ] {
        let text: String = values
            .iter()
            .map(|d| format!("{}\n", d.as_nanos()))
            .collect();
        let _ = std::fs::write(format!("target/bench/lambda-{name}.txt"), text);
    }

    println!("| Lambda figure | ours | ours, `accept-encoding: br` | floor | ours / floor |");
    println!("|---|---|---|---|---|");
    println!(
        "| exec → first poll (median of {cold_runs}) | {} | | {} | {} |",
        ms(ours_poll),
        ms(floor_poll),
        ratio(ours_poll, floor_poll)
    );
    println!(
        "| exec → first response (median of {cold_runs}) | {} | | {} | {} |",
        ms(ours_first),
        ms(floor_first),
        ratio(ours_first, floor_first)
    );
    for p in [50.0, 99.0] {
        let (o, b, f) = (
            percentile(&mut ours_warm, p),
            percentile(&mut br_warm, p),
            percentile(&mut floor_warm, p),
        );
        println!(
            "| warm p{p} ({warm_count} invocations) | {} | {} | {} | {} |",
            ms(o),
            ms(b),
            ms(f),
            ratio(o, f)
        );
    }
    println!(
        "| RSS after the warm run | {:.1} MB | {:.1} MB | {:.1} MB | |",
        ours_rss as f64 / 1024.0,
        br_rss as f64 / 1024.0,
        floor_rss as f64 / 1024.0
    );
}

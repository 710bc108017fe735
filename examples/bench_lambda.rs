//! Lambda-mode benchmark for `make bench`: a minimal Runtime API on loopback (std threads, no
//! framework, so it costs little next to what it measures) driving a function binary.
//!
//! - cold start: exec → first `GET /next`, and exec → first response posted, over fresh processes;
//! - warm: invocations in one process, each timed from the event written to the response read,
//!   and the process's RSS at the end.
//!
//! It benchmarks each `NAME=BINARY` given, in turn on one fake Runtime API: in `make bench` our
//! binary, the peer (`bench/lambda-http-peer`, the same routes on lambda_http 1.x) and the floor
//! (`examples/floor_lambda.rs`). It prints a markdown table with every figure as a ratio to the
//! function named `peer`, and writes the raw warm latencies to `target/bench/lambda-NAME.txt`.
//!
//! `bench_lambda EVENT COLD_RUNS WARM_INVOCATIONS NAME=BINARY...`; `BENCH_RUST_LOG` sets the
//! functions' `RUST_LOG` (default: unset, so `info`), `BENCH_DEBUG` shows their stderr.

use serde_json::Value;
use std::time::{Duration, Instant};

#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{rss_kib, spawn, stop, FakeRuntime};

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
        let recorded = runtime.wait_for(1);
        check(&recorded.answered[0].body);
        polls.push(recorded.first_poll.expect("polled") - started);
        responses.push(recorded.answered[0].at - started);
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
    let recorded = runtime.wait_for(count);
    recorded.answered.iter().for_each(|a| check(&a.body));
    let latencies = recorded.latencies();
    let rss = rss_kib(child.id(), "VmRSS");
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
    let [_, event_file, cold_runs, warm_count, functions @ ..] = &args[..] else {
        eprintln!("usage: bench_lambda EVENT COLD_RUNS WARM_INVOCATIONS NAME=BINARY...");
        std::process::exit(2);
    };
    let functions: Vec<(&str, &str)> = functions
        .iter()
        .map(|f| f.split_once('=').expect("each function is NAME=BINARY"))
        .collect();
    let cold_runs: usize = cold_runs.parse().expect("COLD_RUNS is a number");
    let warm_count: usize = warm_count.parse().expect("WARM_INVOCATIONS is a number");
    let event = std::fs::read_to_string(event_file).unwrap_or_else(|e| panic!("{event_file}: {e}"));

    let runtime = FakeRuntime::start();
    let mut results = Vec::new();
    for (name, binary) in &functions {
        let (poll, first) = cold(binary, &event, cold_runs, &runtime);
        let (mut latencies, rss) = warm(binary, &event, warm_count, &runtime);
        let text: String = latencies
            .iter()
            .map(|d| format!("{}\n", d.as_nanos()))
            .collect();
        let _ = std::fs::create_dir_all("target/bench");
        let _ = std::fs::write(format!("target/bench/lambda-{name}.txt"), text);
        let p50 = percentile(&mut latencies, 50.0);
        let p99 = percentile(&mut latencies, 99.0);
        results.push((*name, [poll, first, p50, p99], rss));
    }

    let peer = results
        .iter()
        .find(|(name, ..)| *name == "peer")
        .map(|(_, f, _)| *f);
    let names: Vec<&str> = results.iter().map(|(name, ..)| *name).collect();
    let others: Vec<&str> = names.iter().copied().filter(|n| *n != "peer").collect();
    let mut header = format!("| Lambda figure | {} |", names.join(" | "));
    let mut rule = format!("|---|{}", "---|".repeat(names.len()));
    if peer.is_some() {
        for name in &others {
            header.push_str(&format!(" {name} / peer |"));
            rule.push_str("---|");
        }
    }
    println!("{header}");
    println!("{rule}");
    let labels = [
        format!("exec → first poll (median of {cold_runs})"),
        format!("exec → first response (median of {cold_runs})"),
        format!("warm p50 ({warm_count} invocations)"),
        format!("warm p99 ({warm_count} invocations)"),
    ];
    for (i, label) in labels.iter().enumerate() {
        let mut row = format!("| {label} |");
        for (_, figures, _) in &results {
            row.push_str(&format!(" {} |", ms(figures[i])));
        }
        if let Some(peer) = peer {
            for (name, figures, _) in &results {
                if *name != "peer" {
                    row.push_str(&format!(" {} |", ratio(figures[i], peer[i])));
                }
            }
        }
        println!("{row}");
    }
    let mut row = String::from("| RSS after the warm run |");
    for (_, _, rss) in &results {
        row.push_str(&format!(" {:.1} MB |", *rss as f64 / 1024.0));
    }
    println!("{row}");
}

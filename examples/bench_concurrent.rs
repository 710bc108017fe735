//! Lambda Managed Instances benchmark for `make bench`: functions serving
//! `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once, on one fake Runtime API that hands events to
//! concurrent polls as fast as they come.
//!
//! For each concurrency N and each function, in turn (N outer, so that runs compared with each
//! other are close in time), `ROUNDS` fresh processes each serve one event, 2,000 more (at most
//! `COUNT`) to warm up, then `COUNT` measured ones. Reported per N and function, the median round: invocations per
//! second (wall time from releasing the events to the last answer), CPU µs per invocation (every
//! thread of the function's processes, from `/proc/PID/task/*/schedstat`), served → answered
//! p50 and p99, and peak RSS.
//!
//! `bench_concurrent EVENT COUNT ROUNDS CONCURRENCIES NAME[@N,N]=FUNCTION[+EVENT][+VAR=VALUE]...`
//! - `CONCURRENCIES`: a comma list such as `1,8,32`; `@N,N` limits a function to some of them.
//! - `FUNCTION`: a Lambda function binary, or `lwa:ADAPTER:APP`, aws-lambda-web-adapter's
//!   `lambda-adapter` in front of `APP`'s HTTP mode on a free loopback port (LWA runs as an
//!   extension beside the app, so both processes count).
//! - `+EVENT` serves that event file to this function instead of `EVENT`; each `+VAR=VALUE` is
//!   set in its environment (`+LAMBDA_INVOKE_MODE=response_stream`).
//!
//! Below the table, the ratios `make bench` holds to its targets: ours against the peer and
//! aws-lambda-web-adapter, and, when those rows are given, a streamed Function URL against a
//! buffered one (`url-streamed`, `url-buffered`) and a VPC Lattice event against an HTTP API
//! event (`lattice`, `http-api`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{rss_kib, spawn_with, stop, FakeRuntime};

const WARM_UP: usize = 2000;

/// One function's processes while it runs.
struct Running {
    children: Vec<Child>,
}

/// One row of the benchmark: what runs, on which event, with which variables.
struct Function<'a> {
    name: &'a str,
    only: Option<Vec<usize>>,
    command: &'a str,
    event: String,
    vars: Vec<(&'a str, &'a str)>,
}

impl<'a> Function<'a> {
    /// `NAME[@N,N]=FUNCTION[+EVENT][+VAR=VALUE]...`, with `default_event` when it names none.
    fn parse(spec: &'a str, default_event: &str) -> Self {
        let (name, rest) = spec
            .split_once('=')
            .expect("each function is NAME=FUNCTION");
        let (name, only) = match name.split_once('@') {
            Some((name, only)) => (name, Some(numbers(only))),
            None => (name, None),
        };
        let mut parts = rest.split('+');
        let command = parts.next().expect("a function");
        let mut event = default_event.to_owned();
        let mut vars = Vec::new();
        for part in parts {
            match part.split_once('=') {
                Some(var) => vars.push(var),
                None => event = read_event(part),
            }
        }
        Function {
            name,
            only,
            command,
            event,
            vars,
        }
    }
}

fn numbers(text: &str) -> Vec<usize> {
    text.split(',')
        .map(|n| n.parse().expect("concurrencies are numbers"))
        .collect()
}

fn read_event(file: &str) -> String {
    std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

impl Running {
    fn start(function: &Function<'_>, runtime: &FakeRuntime, concurrency: usize) -> Self {
        let n = concurrency.to_string();
        let mut vars = vec![("AWS_LAMBDA_MAX_CONCURRENCY", n.as_str())];
        vars.extend(function.vars.iter().copied());
        let function = function.command;
        let Some(lwa) = function.strip_prefix("lwa:") else {
            return Running {
                children: vec![spawn_with(function, runtime, &vars)],
            };
        };
        let (adapter, app) = lwa.split_once(':').expect("lwa:ADAPTER:APP");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
            .to_string();
        let app = Command::new(app)
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", &port)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or("info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {app}: {e}"));
        vars.extend([
            ("AWS_LWA_PORT", port.as_str()),
            ("AWS_LWA_READINESS_CHECK_PATH", "/health"),
        ]);
        let adapter = spawn_with(adapter, runtime, &vars);
        Running {
            children: vec![app, adapter],
        }
    }

    fn cpu(&self) -> Duration {
        self.children.iter().map(|c| cpu_time(c.id())).sum()
    }

    fn peak_rss_kib(&self) -> u64 {
        self.children.iter().map(|c| rss_kib(c.id(), "VmHWM")).sum()
    }

    fn stop(self) {
        self.children.into_iter().for_each(stop);
    }
}

/// CPU time of every thread of `pid`: the first field of each `schedstat`, in nanoseconds.
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process runs");
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// One round's figures.
#[derive(Clone, Copy)]
struct Round {
    per_second: f64,
    cpu_us: f64,
    p50: Duration,
    p99: Duration,
    rss_kib: u64,
}

fn round(function: &Function<'_>, count: usize, n: usize, runtime: &FakeRuntime) -> Round {
    runtime.reset(std::slice::from_ref(&function.event), 1);
    let running = Running::start(function, runtime, n);
    check(&runtime.wait_for(1));
    let warm_up = WARM_UP.min(count);
    runtime.allow(warm_up);
    check(&runtime.wait_for(warm_up));
    let cpu_before = running.cpu();
    let released = Instant::now();
    runtime.allow(count);
    let recorded = runtime.wait_for(count);
    check(&recorded);
    let wall = recorded
        .answered
        .iter()
        .map(|a| a.at)
        .max()
        .expect("answers")
        - released;
    let cpu = running.cpu() - cpu_before;
    let mut latencies = recorded.latencies();
    assert_eq!(
        latencies.len(),
        count,
        "every answer matches an event served"
    );
    latencies.sort();
    let rss_kib = running.peak_rss_kib();
    running.stop();
    Round {
        per_second: count as f64 / wall.as_secs_f64(),
        cpu_us: cpu.as_secs_f64() * 1e6 / count as f64,
        p50: latencies[count / 2],
        p99: latencies[(count * 99).div_ceil(100) - 1],
        rss_kib,
    }
}

fn check(recorded: &runtime_api::Recordings) {
    for answer in &recorded.answered {
        assert_eq!(
            answer.body["statusCode"], 200,
            "the function did not answer 200: {}",
            answer.body
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, event_file, count, rounds, concurrencies, functions @ ..] = &args[..] else {
        eprintln!(
            "usage: bench_concurrent EVENT COUNT ROUNDS CONCURRENCIES NAME[@N,N]=FUNCTION..."
        );
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    let concurrencies = numbers(concurrencies);
    let event = read_event(event_file);
    let functions: Vec<Function<'_>> = functions
        .iter()
        .map(|spec| Function::parse(spec, &event))
        .collect();
    let runtime = FakeRuntime::start();

    println!(
        "| N | function | invocations/s | CPU µs/invocation | p50 ms | p99 ms | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for &n in &concurrencies {
        let mut by_function: Vec<(&str, Vec<Round>)> = Vec::new();
        for _ in 0..rounds {
            for function in &functions {
                if function
                    .only
                    .as_ref()
                    .is_some_and(|only| !only.contains(&n))
                {
                    continue;
                }
                let measured = round(function, count, n, &runtime);
                let name = &function.name;
                match by_function.iter_mut().find(|(f, _)| f == name) {
                    Some((_, runs)) => runs.push(measured),
                    None => by_function.push((name, vec![measured])),
                }
            }
        }
        for (name, mut runs) in by_function {
            runs.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
            let median = runs[runs.len() / 2];
            println!(
                "| {n} | {name} | {:.0} | {:.1} | {:.3} | {:.3} | {:.1} |",
                median.per_second,
                median.cpu_us,
                median.p50.as_secs_f64() * 1e3,
                median.p99.as_secs_f64() * 1e3,
                median.rss_kib as f64 / 1024.0
            );
            medians.push((n, name, median));
        }
    }
    let find = |n: usize, name: &str| {
        medians
            .iter()
            .find(|(m, f, _)| *m == n && *f == name)
            .map(|(_, _, r)| *r)
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "–".into(),
    };
    let p50 = |r: Round| r.p50.as_secs_f64();
    if functions.iter().any(|f| f.name == "url-streamed") {
        println!();
        println!("| N | streamed / buffered Function URL, CPU per invocation | streamed / buffered, p50 | VPC Lattice / HTTP API event, p50 | VPC Lattice / HTTP API, CPU per invocation |");
        println!("|---|---|---|---|---|");
        for &n in &concurrencies {
            let (streamed, buffered) = (find(n, "url-streamed"), find(n, "url-buffered"));
            let (lattice, http_api) = (find(n, "lattice"), find(n, "http-api"));
            println!(
                "| {n} | {} | {} | {} | {} |",
                ratio(streamed.map(|r| r.cpu_us), buffered.map(|r| r.cpu_us)),
                ratio(streamed.map(p50), buffered.map(p50)),
                ratio(lattice.map(p50), http_api.map(p50)),
                ratio(lattice.map(|r| r.cpu_us), http_api.map(|r| r.cpu_us)),
            );
        }
        return;
    }
    println!();
    println!("| N | ours / peer, invocations/s | ours / peer, CPU per invocation | ours / lwa, invocations/s | ours RSS / ours RSS at N = 1 |");
    println!("|---|---|---|---|---|");
    for &n in &concurrencies {
        let (ours, peer, lwa, ours_1) = (
            find(n, "ours"),
            find(n, "peer"),
            find(n, "lwa"),
            find(1, "ours"),
        );
        println!(
            "| {n} | {} | {} | {} | {} |",
            ratio(ours.map(|r| r.per_second), peer.map(|r| r.per_second)),
            ratio(ours.map(|r| r.cpu_us), peer.map(|r| r.cpu_us)),
            ratio(ours.map(|r| r.per_second), lwa.map(|r| r.per_second)),
            ratio(
                ours.map(|r| r.rss_kib as f64),
                ours_1.map(|r| r.rss_kib as f64)
            ),
        );
    }
}

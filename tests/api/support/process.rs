//! The compiled service binary, run as a child process with a clean environment.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// The service binary with only `vars` in its environment.
pub fn command(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rust-hybrid-api"));
    command.env_clear().envs(vars.iter().copied());
    command
}

/// Runs the binary to completion (it must exit within 30 s) and returns its status and stderr.
pub fn run_to_exit(vars: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut service = Service::start(vars);
    let status = service.wait_for_exit();
    (status, service.stderr_so_far())
}

/// A running service; killed when dropped.
pub struct Service {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Service {
    pub fn start(vars: &[(&str, &str)]) -> Self {
        let mut child = command(vars)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the service binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Service {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Starts HTTP mode on 127.0.0.1 and an ephemeral port; returns once it listens.
    pub fn http(vars: &[(&str, &str)]) -> (Self, SocketAddr) {
        let mut all = vec![("HOST", "127.0.0.1"), ("PORT", "0")];
        all.extend_from_slice(vars);
        let mut service = Service::start(&all);
        let line = service.wait_for_line(|l| l.contains("starting mode=http"));
        let addr = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no listen address in {line:?}"));
        (service, addr)
    }

    /// The process's peak resident set (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line matching `predicate` and returns it.
    pub fn wait_for_line(&mut self, predicate: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|l| predicate(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if predicate(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no matching log line within {WAIT:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every stderr line read so far, plus any already waiting.
    pub fn stderr_so_far(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (at most 30 s) for the process to exit, then drains stderr until it closes.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not exit within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        status
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

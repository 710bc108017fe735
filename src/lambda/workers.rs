//! Many invocations at once (Lambda Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY` > 1): that
//! many lambda-web loops, each its own `run_actix_on_lambda` and so its own lambda_runtime
//! client, spread over worker threads with an actix System each, the way `HttpServer` spreads
//! its workers.
//!
//! Each thread runs its own Runtime API proxy, and its loops poll that one: every hop between a
//! loop and its proxy then stays on one thread. (With one proxy for all, on the launcher's
//! thread, that thread was saturated at 32 loops while the workers ran at a quarter of a core,
//! and every hop woke another thread: `make bench`, BENCHMARKS.md.) lambda_runtime takes the
//! proxy's address from `AWS_LAMBDA_RUNTIME_API` when a loop starts, so loops start one at a
//! time, each setting the variable to its own thread's proxy and holding the turn until that
//! proxy sees it connect. Should a loop ever reach another thread's proxy, it is served there
//! all the same, only with a hop between threads.
//!
//! A supervisor per loop starts it again when it ends (an error, or a panic that escapes
//! lambda_runtime), with one ERROR line, while the others go on serving. When loops keep ending
//! ([`RESTART_LIMIT`] within [`RESTART_WINDOW`], all loops together), restarting is not helping:
//! [`Loops::failed`] resolves and the launcher exits 1.

use super::proxy::{self, Proxy};
use crate::app::app;
use crate::config::AWS_LAMBDA_RUNTIME_API;
use crate::context::AppContext;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// This many loops ending within [`RESTART_WINDOW`] ends the process.
pub const RESTART_LIMIT: usize = 5;
/// See [`RESTART_LIMIT`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(1);
/// How long a starting loop holds the turn waiting to connect to its proxy.
const CONNECT_WAIT: Duration = Duration::from_secs(1);

/// The turn to set `AWS_LAMBDA_RUNTIME_API` and start a loop, shared by all threads.
type Turn = Arc<tokio::sync::Mutex<()>>;

/// The running loops. Dropped, they stop being supervised: the process is ending, and the
/// proxy going away with it must not read as loops failing.
pub struct Loops {
    failed: mpsc::UnboundedReceiver<String>,
    ending: Arc<AtomicBool>,
    proxies: Vec<Proxy>,
}

impl Drop for Loops {
    fn drop(&mut self) {
        self.ending.store(true, Ordering::SeqCst);
    }
}

impl Loops {
    /// Starts `loops` lambda-web loops on `ctx`'s App over as many threads as there are cores
    /// (never more threads than loops), each thread with a proxy to `runtime_api` that sends
    /// what the Runtime API cannot be worked with on to `fatal`.
    pub fn start(
        ctx: AppContext,
        runtime_api: &str,
        loops: u16,
        fatal: &mpsc::UnboundedSender<String>,
    ) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = cores.min(usize::from(loops));
        let (failed_tx, failed) = mpsc::unbounded_channel();
        let restarts = Arc::new(Restarts::default());
        let ending = Arc::new(AtomicBool::new(false));
        let turn = Turn::default();
        let options = proxy::Options {
            concurrent: true,
            stream: ctx.mode.streams(),
        };
        let (proxy_tx, proxy_rx) = std::sync::mpsc::channel();
        for thread in 0..threads {
            let ids: Vec<usize> = (0..usize::from(loops))
                .filter(|id| id % threads == thread)
                .collect();
            let (ctx, restarts, failed) = (ctx.clone(), Arc::clone(&restarts), failed_tx.clone());
            let (ending, turn, fatal) = (Arc::clone(&ending), Arc::clone(&turn), fatal.clone());
            let (runtime_api, proxy_tx) = (runtime_api.to_owned(), proxy_tx.clone());
            std::thread::Builder::new()
                .name(format!("lambda-worker-{thread}"))
                .spawn(move || {
                    actix_rt::System::new().block_on(async move {
                        let proxy = match Proxy::start(&runtime_api, options, fatal) {
                            Ok(proxy) => proxy,
                            Err(err) => return drop(proxy_tx.send(Err(err))),
                        };
                        let _ = proxy_tx.send(Ok(proxy.clone()));
                        for id in ids {
                            let (ctx, restarts, failed) =
                                (ctx.clone(), Arc::clone(&restarts), failed.clone());
                            let (ending, turn, proxy) =
                                (Arc::clone(&ending), Arc::clone(&turn), proxy.clone());
                            actix_rt::spawn(async move {
                                let run = || run_loop(ctx.clone(), proxy.clone(), turn.clone());
                                let supervised = supervise(id, run, &restarts, &ending);
                                let _ = failed.send(supervised.await);
                            });
                        }
                        std::future::pending::<()>().await
                    })
                })?;
        }
        let proxies = (0..threads)
            .map(|_| {
                proxy_rx
                    .recv()
                    .map_err(|_| std::io::Error::other("a worker thread ended while starting"))?
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Loops {
            failed,
            ending,
            proxies,
        })
    }

    /// The proxies, one per worker thread.
    pub fn proxies(&self) -> &[Proxy] {
        &self.proxies
    }

    /// Resolves with the reason once loops keep ending; never otherwise.
    pub async fn failed(&mut self) -> String {
        match self.failed.recv().await {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }
}

/// One lambda-web loop, pointed at `proxy` (see the module's header for the turn).
async fn run_loop(ctx: AppContext, proxy: Proxy, turn: Turn) -> Result<(), String> {
    let lambda_web = lambda_web::run_actix_on_lambda(move || app(ctx.clone()));
    tokio::pin!(lambda_web);
    {
        let _turn = turn.lock().await;
        std::env::set_var(AWS_LAMBDA_RUNTIME_API, proxy.addr.to_string());
        tokio::select! {
            result = &mut lambda_web => return result.map_err(|err| err.to_string()),
            () = proxy.connected() => {}
            () = tokio::time::sleep(CONNECT_WAIT) => {}
        }
    }
    lambda_web.await.map_err(|err| err.to_string())
}

/// Runs loop `id` (a fresh `run()` each time) until loops have ended too often; returns why.
/// Once `ending` is set, a loop that ends is left ended, silently.
async fn supervise<F, Fut>(id: usize, run: F, restarts: &Restarts, ending: &AtomicBool) -> String
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>> + 'static,
{
    loop {
        // A task of its own, so that a panic ends the task, not the supervisor.
        let why = match actix_rt::spawn(run()).await {
            Ok(Ok(())) => "it returned".to_owned(),
            Ok(Err(err)) => err,
            Err(join) if join.is_panic() => format!("panic: {}", panic_message(join.into_panic())),
            Err(join) => join.to_string(),
        };
        if ending.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        if let Err(reason) = restarts.record(&why) {
            return reason;
        }
        log::error!("Lambda loop {id} stopped ({why}); starting it again");
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// When loops ended lately, across all threads.
#[derive(Default)]
struct Restarts(Mutex<VecDeque<Instant>>);

impl Restarts {
    /// Notes one more loop ending, and refuses once [`RESTART_LIMIT`] ended within
    /// [`RESTART_WINDOW`].
    fn record(&self, why: &str) -> Result<(), String> {
        let now = Instant::now();
        let mut ended = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ended.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
        ended.push_back(now);
        if ended.len() >= RESTART_LIMIT {
            Err(format!(
                "{} Lambda loops stopped within {RESTART_WINDOW:?}, the last one because of: {why}",
                ended.len()
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::future::{ready, Ready};
    use std::rc::Rc;

    /// A loop that ends at once with `error`, and how many times it was started.
    fn failing_loop(
        error: &'static str,
    ) -> (Rc<Cell<usize>>, impl Fn() -> Ready<Result<(), String>>) {
        let runs = Rc::new(Cell::new(0));
        let counted = Rc::clone(&runs);
        let run = move || {
            counted.set(counted.get() + 1);
            ready(Err(error.to_owned()))
        };
        (runs, run)
    }

    #[test]
    fn a_loop_that_ends_is_started_again_until_loops_keep_ending() {
        actix_rt::System::new().block_on(async {
            let (runs, run) = failing_loop("connection reset");
            let ending = AtomicBool::new(false);
            let reason = supervise(3, run, &Restarts::default(), &ending).await;
            assert_eq!(runs.get(), RESTART_LIMIT);
            assert!(
                reason.contains("5 Lambda loops stopped within 1s"),
                "{reason}"
            );
            assert!(reason.contains("connection reset"), "{reason}");
        });
    }

    #[test]
    fn a_panicking_loop_is_restarted_and_a_loop_that_recovers_keeps_running() {
        actix_rt::System::new().block_on(async {
            let runs = Rc::new(Cell::new(0));
            let counted = Rc::clone(&runs);
            let run = move || {
                counted.set(counted.get() + 1);
                let attempt = counted.get();
                async move {
                    if attempt <= 2 {
                        panic!("lambda-web gave up");
                    }
                    std::future::pending::<Result<(), String>>().await
                }
            };
            let (restarts, ending) = (Restarts::default(), AtomicBool::new(false));
            let supervised = supervise(0, run, &restarts, &ending);
            // A panic's message (and backtrace, with RUST_BACKTRACE set) is written before the
            // restart, which takes long on a loaded machine: wait for the third run, not a time.
            let third_run = async {
                while runs.get() < 3 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            tokio::select! {
                reason = supervised => panic!("the supervisor gave up: {reason}"),
                () = third_run => {}
                () = tokio::time::sleep(Duration::from_secs(10)) => panic!("only {} runs within 10 s", runs.get()),
            }
            assert_eq!(runs.get(), 3, "two panics, then a loop that keeps serving");
        });
    }

    #[test]
    fn once_the_process_is_ending_a_loop_that_ends_is_neither_restarted_nor_reported() {
        actix_rt::System::new().block_on(async {
            let (runs, run) = failing_loop("connection refused");
            let (restarts, ending) = (Restarts::default(), AtomicBool::new(true));
            let supervised = supervise(0, run, &restarts, &ending);
            let outcome = tokio::time::timeout(Duration::from_millis(100), supervised).await;
            assert!(outcome.is_err(), "reported: {outcome:?}");
            assert_eq!(runs.get(), 1);
        });
    }

    #[test]
    fn loops_ending_more_than_a_window_apart_never_add_up_to_the_limit() {
        let restarts = Restarts::default();
        for _ in 0..RESTART_LIMIT - 1 {
            restarts.record("x").unwrap();
        }
        restarts
            .0
            .lock()
            .unwrap()
            .iter_mut()
            .for_each(|at| *at -= RESTART_WINDOW);
        assert!(restarts.record("x").is_ok());
    }
}

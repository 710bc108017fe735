//! Everything that only Lambda mode needs. The launcher calls [`serve`]; nothing else here is
//! used by HTTP mode.
//!
//! lambda-web 0.2.1 (the fixed adapter) parses only some event shapes, routes REST APIs on the
//! path with the stage, base64-encodes every body and lets lambda_runtime 0.7 panic on Runtime
//! API faults. Its only entry point is `run_actix_on_lambda`, so the fixes sit around it: a
//! loopback Runtime API proxy ([`proxy`]) that lambda_runtime is pointed at, which reshapes each
//! event into the payload 2.0 form lambda-web handles well ([`event`]) and each answer into the
//! shape of the event's source ([`response`]), or streams it to the sources that can take a
//! stream. On Lambda Managed Instances, several loops poll the one proxy at once ([`workers`]).

pub mod event;
pub mod proxy;
pub mod response;
pub mod source;
pub mod workers;

use crate::app::app;
use crate::context::AppContext;
use crate::limits::LAMBDA_DRAIN_TIMEOUT;
use proxy::Proxy;
use std::future::Future;
use tokio::sync::mpsc;
use workers::Loops;

/// Runs lambda-web on `ctx`'s App behind the Runtime API proxy, `concurrency` invocations at a
/// time, until the Runtime API fails or `shutdown` resolves. On shutdown no new event is asked
/// for, and the invocations in flight get [`LAMBDA_DRAIN_TIMEOUT`] to be answered.
pub async fn serve(
    ctx: AppContext,
    runtime_api: &str,
    concurrency: u16,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let (fatal_tx, mut fatal) = mpsc::unbounded_channel();
    // The loops run as tasks (or threads) of their own, so that they go on answering while this
    // function drains after `shutdown`.
    let (mut loops, proxies) = if concurrency == 1 {
        let options = proxy::Options {
            concurrent: false,
            stream: ctx.mode.streams(),
        };
        let proxy = Proxy::start(runtime_api, options, fatal_tx)
            .map_err(|e| format!("cannot start the Runtime API proxy: {e}"))?;
        // lambda_runtime reads the Runtime API address from the environment when it starts,
        // below; the process reads it nowhere else after the launcher.
        std::env::set_var(
            crate::config::AWS_LAMBDA_RUNTIME_API,
            proxy.addr.to_string(),
        );
        // Let the proxy send its first GET /next before lambda-web builds the App, so that the
        // two overlap: the runtime is single-threaded, and spawned tasks run only when this one
        // yields.
        proxy.let_first_poll_start().await;
        let lambda_web = actix_rt::spawn(async move {
            lambda_web::run_actix_on_lambda(move || app(ctx.clone()))
                .await
                .map_err(|err| err.to_string())
        });
        (Running::One(lambda_web), vec![proxy])
    } else {
        let loops = Loops::start(ctx, runtime_api, concurrency, &fatal_tx)
            .map_err(|e| format!("cannot start the Lambda worker threads: {e}"))?;
        let proxies = loops.proxies().to_vec();
        (Running::Many(loops), proxies)
    };
    tokio::select! {
        result = loops.ended() => result,
        Some(reason) = fatal.recv() => Err(reason),
        () = shutdown => {
            let unanswered = Proxy::drain(&proxies, LAMBDA_DRAIN_TIMEOUT).await;
            if unanswered > 0 {
                log::warn!(
                    "{unanswered} invocations were still unanswered after {LAMBDA_DRAIN_TIMEOUT:?}; stopping anyway"
                );
            }
            Ok(())
        }
    }
}

/// The lambda-web loops: one on this thread, as on classic Lambda, or many on worker threads.
enum Running {
    One(tokio::task::JoinHandle<Result<(), String>>),
    Many(Loops),
}

impl Running {
    /// Resolves when the one loop ends, or when the many keep ending.
    async fn ended(&mut self) -> Result<(), String> {
        match self {
            Running::One(lambda_web) => lambda_web.await.unwrap_or_else(|err| Err(err.to_string())),
            Running::Many(loops) => Err(loops.failed().await),
        }
    }
}

//! Everything that only Lambda mode needs. The launcher calls [`serve`]; nothing else here is
//! used by HTTP mode.
//!
//! lambda-web 0.2.1 (the fixed adapter) parses only some event shapes, routes REST APIs on the
//! path with the stage, base64-encodes every body and lets lambda_runtime 0.7 panic on Runtime
//! API faults. Its only entry point is `run_actix_on_lambda`, so the fixes sit around it: a
//! loopback Runtime API proxy ([`proxy`]) that lambda_runtime is pointed at, which reshapes each
//! event into the payload 2.0 form lambda-web handles well ([`event`]) and each answer into the
//! shape of the event's source ([`response`]).

pub mod event;
pub mod proxy;
pub mod response;
pub mod source;

use crate::app::app;
use crate::context::AppContext;
use proxy::Proxy;

/// Runs lambda-web on `ctx`'s App behind the Runtime API proxy until the Runtime API fails.
pub async fn serve(ctx: AppContext, runtime_api: &str) -> Result<(), String> {
    let mut proxy = Proxy::start(runtime_api)
        .map_err(|e| format!("cannot start the Runtime API proxy: {e}"))?;
    // lambda_runtime reads the Runtime API address from the environment when it starts, below;
    // the process reads it nowhere else after the launcher.
    std::env::set_var(
        crate::config::AWS_LAMBDA_RUNTIME_API,
        proxy.addr.to_string(),
    );
    // Let the proxy send its first GET /next before lambda-web builds the App, so that the two
    // overlap: the runtime is single-threaded, and spawned tasks run only when this one yields.
    proxy.let_first_poll_start().await;
    tokio::select! {
        result = lambda_web::run_actix_on_lambda(move || app(ctx.clone())) => {
            result.map_err(|err| err.to_string())
        }
        reason = proxy.failed() => Err(reason),
    }
}

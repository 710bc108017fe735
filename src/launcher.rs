//! Runs the mode the settings chose: an actix `HttpServer`, or lambda-web behind the Runtime API
//! proxy (`crate::lambda`). It also owns the process's signals and the exit code.

use crate::app::app;
use crate::config::{ConfigError, Mode, Settings};
use crate::context::AppContext;
use crate::limits::{CLIENT_REQUEST_TIMEOUT, KEEP_ALIVE, LAMBDA_DRAIN_TIMEOUT};
use crate::{lambda, logging};
use actix_web::dev::Server;
use actix_web::HttpServer;
use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Reads the environment, sets up logging and serves until shut down.
pub fn run() -> Result<(), LaunchError> {
    let settings = Settings::from_env()?;
    let lambda = settings.mode.is_lambda();
    logging::init(
        &settings.log_filter.directives(lambda),
        settings.log_format,
        !lambda,
    );
    install_panic_hook();
    let system = actix_rt::System::new();
    let result = match &settings.mode {
        Mode::Http => system.block_on(serve_http(&settings)),
        Mode::Lambda {
            runtime_api,
            concurrency,
            ..
        } => system.block_on(serve_lambda(&settings, runtime_api, *concurrency)),
    };
    logging::flush();
    result
}

/// Binds `HOST:PORT` and returns the server (not yet polled) with the addresses it listens on,
/// so callers that bind port 0 learn the real port.
pub fn http_server(settings: &Settings) -> Result<(Server, Vec<SocketAddr>), LaunchError> {
    let ctx = AppContext::new(settings);
    let bind_error = |source| LaunchError::Bind {
        address: format!("{}:{}", settings.host, settings.port),
        source,
    };
    let server = HttpServer::new(move || app(ctx.clone()))
        // The launcher handles signals: actix stops at once on SIGINT and SIGQUIT.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .bind((settings.host.to_string(), settings.port))
        .map_err(bind_error)?;
    let addresses = server.addrs();
    Ok((server.run(), addresses))
}

async fn serve_http(settings: &Settings) -> Result<(), LaunchError> {
    let mut signals = ShutdownSignals::install().map_err(LaunchError::Server)?;
    let (server, addresses) = http_server(settings)?;
    let handle = server.handle();
    let timeout = settings.shutdown_timeout.as_secs();
    // A first signal starts the graceful stop; a second one ends this function at once, and the
    // process exits with the requests still in flight cut (actix-server would only take a
    // forced stop after the graceful one has finished).
    let interrupted = async move {
        let signal = signals.recv().await;
        let _stopping = handle.stop(true);
        log::info!("{signal} received: stopping; in-flight requests have {timeout} s to finish");
        let second = signals.recv().await;
        log::warn!("{second} received while stopping: cutting in-flight requests now");
    };
    let listen = addresses
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(",");
    log::info!(
        "starting mode=http listen={listen} root={} version={}",
        settings.root_path,
        env!("CARGO_PKG_VERSION")
    );
    tokio::select! {
        result = server => result.map_err(LaunchError::Server)?,
        () = interrupted => {}
    }
    log::info!("stopped");
    Ok(())
}

async fn serve_lambda(
    settings: &Settings,
    runtime_api: &str,
    concurrency: u16,
) -> Result<(), LaunchError> {
    let ctx = AppContext::new(settings);
    log::info!(
        "starting mode=lambda runtime_api={runtime_api} concurrency={concurrency} invoke_mode={} root={} version={}",
        if settings.mode.streams() { "response_stream" } else { "buffered" },
        settings.root_path,
        env!("CARGO_PKG_VERSION")
    );
    let mut signals = ShutdownSignals::install().map_err(LaunchError::Server)?;
    let shutdown = async move {
        let signal = signals.recv().await;
        log::info!(
            "{signal} received: stopping; invocations in flight have {LAMBDA_DRAIN_TIMEOUT:?} to be answered"
        );
    };
    lambda::serve(ctx, runtime_api, concurrency, shutdown)
        .await
        .map_err(LaunchError::Lambda)?;
    log::info!("stopped");
    Ok(())
}

/// The signals that stop the service, all the same way: stop taking requests, let in-flight
/// ones finish within `SHUTDOWN_TIMEOUT_SECS`, write out the log, exit 0. SIGTERM is what
/// Docker, Kubernetes and Lambda send; SIGINT is Ctrl-C; SIGHUP a closed terminal; SIGQUIT what
/// some supervisors (and nginx's convention) use for a graceful stop.
struct ShutdownSignals {
    term: Signal,
    int: Signal,
    hup: Signal,
    quit: Signal,
}

impl ShutdownSignals {
    /// Takes over the four signals; must run inside the runtime.
    fn install() -> std::io::Result<Self> {
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.quit.recv() => "SIGQUIT",
        }
    }
}

/// lambda_runtime catches a panic in the handler (lambda-web panics on a URI or header it
/// cannot build) and reports it as an invocation error. The default hook would also print a
/// multi-line message; this one logs a single line instead.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        log::error!("panic at {location}: {payload:?}");
    }));
}

/// Why the service could not start or stopped with an error.
#[derive(Debug)]
pub enum LaunchError {
    /// A setting is invalid or missing.
    Config(ConfigError),
    /// The HTTP listener could not be bound.
    Bind {
        /// The `HOST:PORT` that was asked for.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The HTTP server failed while running.
    Server(std::io::Error),
    /// The Lambda runtime loop failed.
    Lambda(String),
}

impl LaunchError {
    /// 2 for configuration errors, 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LaunchError::Config(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Config(err) => err.fmt(f),
            LaunchError::Bind { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            LaunchError::Server(err) => write!(f, "HTTP server failed: {err}"),
            LaunchError::Lambda(err) => write!(f, "Lambda runtime stopped: {err}"),
        }
    }
}

impl std::error::Error for LaunchError {}

impl From<ConfigError> for LaunchError {
    fn from(err: ConfigError) -> Self {
        LaunchError::Config(err)
    }
}

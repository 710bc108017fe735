//! The only code that knows about modes. Lambda mode when `AWS_LAMBDA_RUNTIME_API` (what
//! lambda-web checks) or `AWS_LAMBDA_FUNCTION_NAME` (what the original Go service checked) is
//! set; HTTP mode otherwise.
//!
//! lambda_runtime 0.7 panics when the Lambda environment is incomplete, so this module checks it
//! first and turns a gap into a [`ConfigError`] naming the variable.

use crate::app::{app, AppContext, Mode};
use crate::config::{env_lookup, ConfigError, Settings};
use crate::{lambda, logging};
use actix_web::dev::Server;
use actix_web::http::Uri;
use actix_web::HttpServer;
use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Host and port of the Lambda Runtime API.
pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// The function's name; set by Lambda.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The function's memory in MB; set by Lambda, required by lambda_runtime.
pub const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// The function's version; set by Lambda, required by lambda_runtime.
pub const AWS_LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";

/// How long a client may take to send a request's head (request line and headers). A slower
/// client gets actix-http's empty-bodied 408 and is disconnected, so it cannot hold a worker's
/// connection slot by trickling bytes. This is actix's default, stated because it is documented.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle keep-alive connection stays open between requests.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

const SET_BY_LAMBDA: &str =
    "Lambda sets it; when emulating Lambda, set it too (or unset AWS_LAMBDA_* for HTTP mode)";

/// The mode chosen from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Serve HTTP on `HOST:PORT`.
    Http,
    /// Poll the Runtime API at `runtime_api` (`host:port`).
    Lambda {
        /// Where the Runtime API listens.
        runtime_api: String,
    },
}

impl Launch {
    /// Decides the mode from `lookup`, and checks that a Lambda environment is complete.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let runtime_api = get(AWS_LAMBDA_RUNTIME_API);
        if runtime_api.is_none() && get(AWS_LAMBDA_FUNCTION_NAME).is_none() {
            return Ok(Launch::Http);
        }
        let runtime_api = runtime_api.ok_or_else(|| {
            ConfigError::missing(
                AWS_LAMBDA_RUNTIME_API,
                "AWS_LAMBDA_FUNCTION_NAME is set, so this is Lambda mode, which needs the \
                 Runtime API address (host:port)",
            )
        })?;
        check_runtime_api(&runtime_api)?;
        for name in [AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION] {
            get(name).ok_or_else(|| ConfigError::missing(name, SET_BY_LAMBDA))?;
        }
        let memory = get(AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
            .ok_or_else(|| ConfigError::missing(AWS_LAMBDA_FUNCTION_MEMORY_SIZE, SET_BY_LAMBDA))?;
        if memory.parse::<i32>().map_or(true, |mb| mb <= 0) {
            return Err(ConfigError::new(
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
                &memory,
                "expected the function's memory in MB, such as 128",
            ));
        }
        Ok(Launch::Lambda { runtime_api })
    }
}

/// lambda_runtime parses the value as a URI and panics without an authority. Lambda sets
/// `host:port`; emulators may add a scheme and base path (`cargo lambda watch` sets
/// `http://127.0.0.1:9000/.rt/_`). Its HTTP client speaks plain `http` only.
fn check_runtime_api(value: &str) -> Result<(), ConfigError> {
    let valid = value.parse::<Uri>().is_ok_and(|uri| {
        uri.authority()
            .is_some_and(|a| a.port_u16().is_some() && !a.host().is_empty())
            && uri.scheme_str().is_none_or(|scheme| scheme == "http")
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            AWS_LAMBDA_RUNTIME_API,
            value,
            "expected host:port (or http://host:port/path), such as 127.0.0.1:9001",
        ))
    }
}

/// Reads the environment, sets up logging and serves until shut down.
pub fn run() -> Result<(), LaunchError> {
    let settings = Settings::from_env()?;
    let launch = Launch::from_lookup(env_lookup)?;
    let http = launch == Launch::Http;
    logging::init(
        &settings.log_filter.directives(!http),
        settings.log_format,
        http,
    );
    install_panic_hook();
    let system = actix_rt::System::new();
    let result = match launch {
        Launch::Http => system.block_on(serve_http(&settings)),
        Launch::Lambda { runtime_api } => system.block_on(serve_lambda(&settings, &runtime_api)),
    };
    logging::flush();
    result
}

/// Binds `HOST:PORT` and returns the server (not yet polled) with the addresses it listens on,
/// so callers that bind port 0 learn the real port.
pub fn http_server(settings: &Settings) -> Result<(Server, Vec<SocketAddr>), LaunchError> {
    let ctx = AppContext::new(Mode::Http, settings);
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

async fn serve_lambda(settings: &Settings, runtime_api: &str) -> Result<(), LaunchError> {
    let ctx = AppContext::new(Mode::Lambda, settings);
    log::info!(
        "starting mode=lambda runtime_api={runtime_api} root={} version={}",
        settings.root_path,
        env!("CARGO_PKG_VERSION")
    );
    let mut signals = ShutdownSignals::install().map_err(LaunchError::Server)?;
    tokio::select! {
        result = lambda::serve(ctx, runtime_api) => result.map_err(LaunchError::Lambda),
        signal = signals.recv() => {
            log::info!("{signal} received: stopping");
            Ok(())
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(vars: &[(&str, &str)]) -> Result<Launch, ConfigError> {
        Launch::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    const COMPLETE: [(&str, &str); 4] = [
        (AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001"),
        (AWS_LAMBDA_FUNCTION_NAME, "api"),
        (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        (AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
    ];

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        COMPLETE
            .iter()
            .copied()
            .filter(|(k, _)| *k != name)
            .collect()
    }

    #[test]
    fn no_lambda_variables_means_http_mode() {
        assert_eq!(launch(&[("PORT", "1")]), Ok(Launch::Http));
    }

    #[test]
    fn a_complete_lambda_environment_means_lambda_mode() {
        assert_eq!(
            launch(&COMPLETE),
            Ok(Launch::Lambda {
                runtime_api: "127.0.0.1:9001".into()
            })
        );
    }

    #[test]
    fn either_lambda_variable_alone_selects_lambda_mode_and_reports_what_is_missing() {
        let err = launch(&[(AWS_LAMBDA_FUNCTION_NAME, "api")]).unwrap_err();
        assert_eq!(err.variable(), AWS_LAMBDA_RUNTIME_API);
        let err = launch(&[(AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001")]).unwrap_err();
        assert_eq!(err.variable(), AWS_LAMBDA_FUNCTION_NAME);
    }

    #[test]
    fn each_variable_lambda_runtime_needs_is_checked() {
        for name in [AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_VERSION] {
            assert_eq!(launch(&without(name)).unwrap_err().variable(), name);
        }
    }

    #[test]
    fn emulator_runtime_api_urls_with_a_base_path_are_accepted() {
        let mut vars = without(AWS_LAMBDA_RUNTIME_API);
        vars.push((AWS_LAMBDA_RUNTIME_API, "http://127.0.0.1:9000/.rt/_"));
        assert!(matches!(launch(&vars), Ok(Launch::Lambda { .. })));
    }

    #[test]
    fn a_malformed_runtime_api_or_memory_size_is_rejected() {
        let mut vars = without(AWS_LAMBDA_RUNTIME_API);
        for bad in [
            "localhost",
            ":9001",
            "host:port",
            "https://host:9001",
            "a b:1",
            "127.0.0.1:9001?",
        ] {
            vars.push((AWS_LAMBDA_RUNTIME_API, bad));
            assert_eq!(
                launch(&vars).unwrap_err().variable(),
                AWS_LAMBDA_RUNTIME_API,
                "{bad}"
            );
            vars.pop();
        }
        let mut vars = without(AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
        vars.push((AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "lots"));
        assert_eq!(
            launch(&vars).unwrap_err().to_string(),
            r#"invalid AWS_LAMBDA_FUNCTION_MEMORY_SIZE="lots": expected the function's memory in MB, such as 128"#
        );
    }
}

//! Settings read from the environment once at start-up, validated before anything runs,
//! including the mode: Lambda when `AWS_LAMBDA_RUNTIME_API` (what lambda-web checks) or
//! `AWS_LAMBDA_FUNCTION_NAME` (what the original Go service checked) is set, HTTP otherwise.
//!
//! Every variable name is a `const` here; [`Settings::from_lookup`] takes the lookup as a
//! parameter so tests never touch the process environment.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// HTTP-mode port.
pub const PORT: &str = "PORT";
/// HTTP-mode bind address.
pub const HOST: &str = "HOST";
/// Base path every route is mounted under.
pub const ROOT_PATH: &str = "ROOT_PATH";
/// Request body limit in bytes.
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_TIMEOUT_SECS: &str = "SHUTDOWN_TIMEOUT_SECS";
/// How long a request body may take to arrive.
pub const BODY_TIMEOUT_SECS: &str = "BODY_TIMEOUT_SECS";
/// Log filter, in env_logger's syntax.
pub const RUST_LOG: &str = "RUST_LOG";
/// Log format, `text` or `json`, in either mode.
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// Log format Lambda sets from the function's logging configuration: `Text` or `JSON`.
pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Log level Lambda sets with the JSON format: `TRACE` … `FATAL`; used when `RUST_LOG` is unset.
pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// Host and port of the Lambda Runtime API; set by Lambda.
pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// The function's name; set by Lambda.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The function's memory in MB; set by Lambda, required by lambda_runtime.
pub const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// The function's version; set by Lambda, required by lambda_runtime.
pub const AWS_LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
/// How many invocations one execution environment is sent at once; set by Lambda Managed
/// Instances from the function's `PerExecutionEnvironmentMaxConcurrency`, unset (one) elsewhere.
pub const AWS_LAMBDA_MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
/// How Lambda mode answers the sources that can stream (Function URLs, REST APIs): `buffered`
/// or `response_stream`, as the Function URL's `InvokeMode` is set. Read in HTTP mode too, so
/// a typo fails there as well, but only Lambda mode uses it.
pub const LAMBDA_INVOKE_MODE: &str = "LAMBDA_INVOKE_MODE";

const SET_BY_LAMBDA: &str =
    "Lambda sets it; when emulating Lambda, set it too (or unset AWS_LAMBDA_* for HTTP mode)";

const DEFAULT_PORT: u16 = 8080;
const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;
const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// The largest `AWS_LAMBDA_MAX_CONCURRENCY`: Lambda's own maximum for
/// `PerExecutionEnvironmentMaxConcurrency`.
pub const MAX_LAMBDA_CONCURRENCY: u16 = 1600;
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The validated configuration.
///
/// The Lambda variables (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION`) decide [`Settings::mode`];
/// lambda_runtime 0.7 panics when one is missing, so an incomplete set is an error here.
///
/// | variable                | meaning                              | default   |
/// |-------------------------|--------------------------------------|-----------|
/// | `PORT`                  | HTTP-mode port (0 picks a free one)  | `8080`    |
/// | `HOST`                  | HTTP-mode bind address               | `0.0.0.0` |
/// | `ROOT_PATH`             | base path for all routes             | `/`       |
/// | `MAX_BODY_BYTES`        | request body limit; the default is the mode's | `6291456` (HTTP), `3143680` (Lambda), `6287360` (Lambda, streaming) |
/// | `SHUTDOWN_TIMEOUT_SECS` | grace period for in-flight requests  | `10`      |
/// | `BODY_TIMEOUT_SECS`     | time allowed to receive a body       | `30`      |
/// | `RUST_LOG`              | log filter                           | `info` (Lambda mode: `info,lambda_runtime=warn`) |
/// | `LOG_FORMAT`            | `text` or `json`                     | `text`    |
/// | `AWS_LAMBDA_LOG_FORMAT` | set by Lambda: `Text` or `JSON`      | unset (text) |
/// | `AWS_LAMBDA_LOG_LEVEL`  | set by Lambda: the level without `RUST_LOG` | unset (info) |
/// | `AWS_LAMBDA_MAX_CONCURRENCY` | set by Lambda Managed Instances: invocations at once, 1–1600 | `1` |
/// | `LAMBDA_INVOKE_MODE`    | `buffered` or `response_stream` (any case) | `buffered` |
///
/// An empty variable counts as unset. `LOG_FORMAT` wins over `AWS_LAMBDA_LOG_FORMAT`, and
/// `RUST_LOG` over `AWS_LAMBDA_LOG_LEVEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// HTTP or Lambda, from the `AWS_LAMBDA_*` variables.
    pub mode: Mode,
    /// `HOST`
    pub host: Host,
    /// `PORT`
    pub port: u16,
    /// `ROOT_PATH`, normalised.
    pub root_path: RootPath,
    /// `MAX_BODY_BYTES`; unset means the mode's default (see [`crate::context::AppContext`]).
    pub max_body_bytes: Option<usize>,
    /// `SHUTDOWN_TIMEOUT_SECS`
    pub shutdown_timeout: Duration,
    /// `BODY_TIMEOUT_SECS`
    pub body_timeout: Duration,
    /// `RUST_LOG`, or the level from `AWS_LAMBDA_LOG_LEVEL`.
    pub log_filter: LogFilter,
    /// `LOG_FORMAT`, or `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: LogFormat,
}

/// How the process receives requests, decided once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Serve HTTP on `HOST:PORT`.
    Http,
    /// Poll the Lambda Runtime API.
    Lambda {
        /// Where the Runtime API listens: `host:port`, or `http://host:port/base` as emulators
        /// set it.
        runtime_api: String,
        /// How many invocations to serve at once (`AWS_LAMBDA_MAX_CONCURRENCY`); 1 on classic
        /// Lambda.
        concurrency: u16,
        /// How answers to the sources that can stream leave (`LAMBDA_INVOKE_MODE`).
        invoke_mode: InvokeMode,
    },
}

/// How Lambda mode answers Function URLs and REST APIs, the sources that can stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvokeMode {
    /// One JSON envelope per answer (`InvokeMode: BUFFERED`).
    #[default]
    Buffered,
    /// Lambda's streaming protocol (`InvokeMode: RESPONSE_STREAM`).
    ResponseStream,
}

impl InvokeMode {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "buffered" => Ok(InvokeMode::Buffered),
            "response_stream" => Ok(InvokeMode::ResponseStream),
            _ => Err(ConfigError::new(
                LAMBDA_INVOKE_MODE,
                value,
                "expected buffered or response_stream (the Function URL's InvokeMode)",
            )),
        }
    }
}

impl Mode {
    /// The name the index reports: `http` or `lambda`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Lambda { .. } => "lambda",
        }
    }

    /// Whether this is Lambda mode.
    pub fn is_lambda(&self) -> bool {
        matches!(self, Mode::Lambda { .. })
    }

    /// Whether Lambda mode streams its answers to the sources that can take them.
    pub fn streams(&self) -> bool {
        matches!(
            self,
            Mode::Lambda {
                invoke_mode: InvokeMode::ResponseStream,
                ..
            }
        )
    }

    /// Decides the mode through `get`, and checks that a Lambda environment is complete.
    fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let invoke_mode =
            get(LAMBDA_INVOKE_MODE).map_or(Ok(InvokeMode::Buffered), |v| InvokeMode::parse(&v))?;
        let runtime_api = get(AWS_LAMBDA_RUNTIME_API);
        if runtime_api.is_none() && get(AWS_LAMBDA_FUNCTION_NAME).is_none() {
            return Ok(Mode::Http);
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
        let concurrency = get(AWS_LAMBDA_MAX_CONCURRENCY).map_or(Ok(1), |v| {
            parse_within(
                AWS_LAMBDA_MAX_CONCURRENCY,
                &v,
                1..=MAX_LAMBDA_CONCURRENCY,
                "expected a whole number of invocations from 1 to 1600",
            )
        })?;
        Ok(Mode::Lambda {
            runtime_api,
            concurrency,
            invoke_mode,
        })
    }
}

/// lambda_runtime parses the value as a URI and panics without an authority. Lambda sets
/// `host:port`; emulators may add a scheme and base path (`cargo lambda watch` sets
/// `http://127.0.0.1:9000/.rt/_`). Its HTTP client speaks plain `http` only.
fn check_runtime_api(value: &str) -> Result<(), ConfigError> {
    let valid = value.parse::<actix_web::http::Uri>().is_ok_and(|uri| {
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

/// Which log lines are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFilter {
    /// `RUST_LOG`, validated, used as it is.
    Explicit(String),
    /// One level for everything (`AWS_LAMBDA_LOG_LEVEL`, or `info`).
    Level(&'static str),
}

impl LogFilter {
    /// The env_logger filter. At the default `info` level Lambda mode also sets
    /// `lambda_runtime=warn`: its per-invocation INFO line says nothing the request line does
    /// not (which carries the Lambda request id), and costs a write per invocation.
    pub fn directives(&self, lambda: bool) -> String {
        match self {
            LogFilter::Explicit(filter) => filter.clone(),
            LogFilter::Level("info") if lambda => "info,lambda_runtime=warn".into(),
            LogFilter::Level(level) => (*level).into(),
        }
    }
}

/// How each log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// The original service's request lines, and `timestamp LEVEL target: message` for the rest.
    #[default]
    Text,
    /// One JSON object per line, as Lambda's JSON log format expects.
    Json,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    /// Settings from name–value pairs instead of the process environment, for tests, examples
    /// and the fuzzer. As in a shell, a later pair wins over an earlier one with the same name.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Reads settings through `lookup`, which returns a variable's value or `None` when unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Ok(Settings {
            mode: Mode::read(&get)?,
            host: get(HOST).map_or(Ok(Host::Ip(DEFAULT_HOST)), |v| Host::parse(&v))?,
            port: get(PORT).map_or(Ok(DEFAULT_PORT), |v| parse_port(&v))?,
            root_path: get(ROOT_PATH).map_or(Ok(RootPath::default()), |v| RootPath::parse(&v))?,
            max_body_bytes: get(MAX_BODY_BYTES)
                .map(|v| parse_body_limit(&v))
                .transpose()?,
            shutdown_timeout: get(SHUTDOWN_TIMEOUT_SECS)
                .map_or(Ok(DEFAULT_SHUTDOWN_TIMEOUT_SECS), |v| {
                    parse_shutdown_secs(&v)
                })
                .map(Duration::from_secs)?,
            body_timeout: get(BODY_TIMEOUT_SECS)
                .map_or(Ok(DEFAULT_BODY_TIMEOUT_SECS), |v| {
                    parse_body_timeout_secs(&v)
                })
                .map(Duration::from_secs)?,
            log_filter: match get(RUST_LOG) {
                Some(filter) => {
                    validate_log_filter(&filter).map(|()| LogFilter::Explicit(filter))?
                }
                None => LogFilter::Level(
                    get(AWS_LAMBDA_LOG_LEVEL).map_or(Ok("info"), |v| parse_lambda_level(&v))?,
                ),
            },
            log_format: match (get(LOG_FORMAT), get(AWS_LAMBDA_LOG_FORMAT)) {
                (Some(format), _) => parse_log_format(LOG_FORMAT, &format, "text or json")?,
                (None, Some(format)) => {
                    parse_log_format(AWS_LAMBDA_LOG_FORMAT, &format, "Text or JSON")?
                }
                (None, None) => LogFormat::Text,
            },
        })
    }
}

/// Looks a variable up in the process environment. A value that is not UTF-8 is kept, lossily,
/// so that validation rejects it with the variable's name instead of treating it as unset.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// Where HTTP mode listens: an IP literal, or `localhost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 address; `0.0.0.0` or `::` listen on every interface.
    Ip(IpAddr),
    /// Every address `localhost` resolves to.
    Localhost,
}

impl Host {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        if value.eq_ignore_ascii_case("localhost") {
            return Ok(Host::Localhost);
        }
        let unbracketed = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        unbracketed.parse().map(Host::Ip).map_err(|_| {
            ConfigError::new(
                HOST,
                value,
                "expected an IP address such as 0.0.0.0, 127.0.0.1 or ::1, or localhost",
            )
        })
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Localhost => f.write_str("localhost"),
        }
    }
}

/// The base path routes are mounted under, normalised: `api`, `/api` and `/api/` are all `/api`;
/// the root is stored as the empty prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootPath {
    prefix: String,
}

impl RootPath {
    /// Parses and normalises a `ROOT_PATH` value.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let trimmed = value.trim_matches('/');
        if trimmed.is_empty() {
            return Ok(RootPath::default());
        }
        let invalid = |reason: &str| ConfigError::new(ROOT_PATH, value, reason);
        if let Some(c) = trimmed.chars().find(|c| !is_path_char(*c)) {
            return Err(invalid(&format!(
                "{c:?} is not allowed; use letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ separated by /"
            )));
        }
        if trimmed.split('/').any(str::is_empty) {
            return Err(invalid("it has an empty segment (//)"));
        }
        Ok(RootPath {
            prefix: format!("/{trimmed}"),
        })
    }

    /// The full path of a route: `join("/health")` is `/api/health` under `/api`. `join("/")`
    /// is the root itself: `/` or `/api`.
    pub fn join(&self, route: &str) -> String {
        match (self.prefix.as_str(), route) {
            ("", route) => route.to_owned(),
            (prefix, "/") => prefix.to_owned(),
            (prefix, route) => format!("{prefix}{route}"),
        }
    }
}

impl fmt::Display for RootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.join("/"))
    }
}

/// RFC 3986 `pchar` without percent-escapes, so a route pattern can never need decoding.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c)
}

/// A whole number within `range`, or an error naming `variable` that says what was `expected`.
fn parse_within<T>(
    variable: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd,
{
    match value.parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ConfigError::new(variable, value, expected)),
    }
}

fn parse_port(value: &str) -> Result<u16, ConfigError> {
    parse_within(
        PORT,
        value,
        0..=u16::MAX,
        "expected a whole number from 0 to 65535",
    )
}

fn parse_body_limit(value: &str) -> Result<usize, ConfigError> {
    let expected = "expected a whole number of bytes, at least 1";
    parse_within(MAX_BODY_BYTES, value, 1..=usize::MAX, expected)
}

fn parse_shutdown_secs(value: &str) -> Result<u64, ConfigError> {
    let expected = "expected a whole number of seconds from 0 to 3600";
    parse_within(SHUTDOWN_TIMEOUT_SECS, value, 0..=3600, expected)
}

fn parse_body_timeout_secs(value: &str) -> Result<u64, ConfigError> {
    let expected = "expected a whole number of seconds from 1 to 3600";
    parse_within(BODY_TIMEOUT_SECS, value, 1..=3600, expected)
}

/// env_logger reads a bare word that is not a level as a target name, so `RUST_LOG=inof` would
/// silently turn logging off. We accept bare words only when they are levels; a target filter
/// is written `target=level`.
fn parse_log_format(
    variable: &'static str,
    value: &str,
    expected: &str,
) -> Result<LogFormat, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ConfigError::new(
            variable,
            value,
            &format!("expected {expected}"),
        )),
    }
}

/// Lambda's levels, as env_logger levels (it has no FATAL; ERROR is the closest).
fn parse_lambda_level(value: &str) -> Result<&'static str, ConfigError> {
    match value.to_ascii_uppercase().as_str() {
        "TRACE" => Ok("trace"),
        "DEBUG" => Ok("debug"),
        "INFO" => Ok("info"),
        "WARN" => Ok("warn"),
        "ERROR" | "FATAL" => Ok("error"),
        _ => Err(ConfigError::new(
            AWS_LAMBDA_LOG_LEVEL,
            value,
            "expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
        )),
    }
}

fn validate_log_filter(value: &str) -> Result<(), ConfigError> {
    let directives = value.split('/').next().unwrap_or_default();
    for directive in directives.split(',').map(str::trim) {
        let level = match directive.split_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level.trim(),
            Some(_) => {
                return Err(ConfigError::new(
                    RUST_LOG,
                    value,
                    "a directive has '=' but no target before it",
                ))
            }
            None if directive.is_empty() => continue,
            None => directive,
        };
        if !LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(ConfigError::new(
                RUST_LOG,
                value,
                &format!(
                    "{level:?} is not a log level (off, error, warn, info, debug, trace); \
                     filter a target with target=level"
                ),
            ));
        }
    }
    Ok(())
}

/// A configuration value that cannot be used. Its `Display` is the one line the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: &'static str,
    value: Option<String>,
    reason: String,
}

impl ConfigError {
    /// A variable that is set to an unusable value.
    pub fn new(variable: &'static str, value: &str, reason: &str) -> Self {
        ConfigError {
            variable,
            value: Some(value.to_owned()),
            reason: reason.to_owned(),
        }
    }

    /// A variable that must be set but is not.
    pub fn missing(variable: &'static str, reason: &str) -> Self {
        ConfigError {
            variable,
            value: None,
            reason: reason.to_owned(),
        }
    }

    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        self.variable
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            // Debug formatting quotes the value and escapes control characters, so the message
            // stays on one line whatever the variable holds.
            Some(value) => write!(f, "invalid {}={value:?}: {}", self.variable, self.reason),
            None => write!(f, "{} is not set: {}", self.variable, self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_pairs(vars)
    }

    fn error_for(vars: &[(&str, &str)]) -> ConfigError {
        settings(vars).expect_err("settings should be rejected")
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, Host::Ip("0.0.0.0".parse().unwrap()));
        assert_eq!(s.root_path.to_string(), "/");
        assert_eq!(s.max_body_bytes, None);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(s.body_timeout, Duration::from_secs(30));
        assert_eq!(s.log_filter, LogFilter::Level("info"));
        assert_eq!(s.log_format, LogFormat::Text);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[("PORT", ""), ("ROOT_PATH", ""), ("RUST_LOG", "")]).unwrap();
        assert_eq!(s, settings(&[]).unwrap());
    }

    #[test]
    fn root_path_spellings_normalise_to_one_prefix() {
        for spelling in ["api", "/api", "/api/", "//api//"] {
            let root = RootPath::parse(spelling).unwrap();
            assert_eq!(root.to_string(), "/api", "{spelling}");
            assert_eq!(root.join("/health"), "/api/health");
            assert_eq!(root.join("/"), "/api");
        }
        assert_eq!(RootPath::parse("/").unwrap().join("/"), "/");
        assert_eq!(
            RootPath::parse("/v1/api").unwrap().join("/echo"),
            "/v1/api/echo"
        );
    }

    #[test]
    fn root_path_rejects_characters_that_break_urls() {
        for bad in [
            "/my api", "/api?x", "/api#top", "/apí", "/a\nb", "/a%20b", "/{id}",
        ] {
            let err = error_for(&[("ROOT_PATH", bad)]);
            assert_eq!(err.variable(), "ROOT_PATH", "{bad}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn root_path_rejects_empty_segments() {
        let err = error_for(&[("ROOT_PATH", "/a//b")]);
        assert_eq!(
            err.to_string(),
            r#"invalid ROOT_PATH="/a//b": it has an empty segment (//)"#
        );
    }

    #[test]
    fn port_must_be_a_number_in_range() {
        for bad in ["http", "80a", "-1", "65536", "8080 "] {
            let err = error_for(&[("PORT", bad)]);
            assert!(err.to_string().starts_with("invalid PORT="), "{err}");
        }
        assert_eq!(settings(&[("PORT", "0")]).unwrap().port, 0);
        assert_eq!(settings(&[("PORT", "65535")]).unwrap().port, 65535);
    }

    #[test]
    fn port_error_names_the_variable_and_the_value() {
        let err = error_for(&[("PORT", "eighty")]);
        assert_eq!(
            err.to_string(),
            r#"invalid PORT="eighty": expected a whole number from 0 to 65535"#
        );
    }

    #[test]
    fn host_accepts_ip_literals_and_localhost() {
        assert_eq!(
            settings(&[("HOST", "::1")]).unwrap().host.to_string(),
            "::1"
        );
        assert_eq!(
            settings(&[("HOST", "[::1]")]).unwrap().host.to_string(),
            "::1"
        );
        assert_eq!(
            settings(&[("HOST", "LOCALHOST")]).unwrap().host,
            Host::Localhost
        );
        for bad in ["0.0.0.0.0", "example.com", "256.1.1.1", "127.0.0.1:80"] {
            assert_eq!(error_for(&[("HOST", bad)]).variable(), "HOST", "{bad}");
        }
    }

    #[test]
    fn body_limit_must_be_positive() {
        assert_eq!(
            settings(&[("MAX_BODY_BYTES", "1")]).unwrap().max_body_bytes,
            Some(1)
        );
        for bad in ["0", "-5", "6MB", "1e6"] {
            assert_eq!(
                error_for(&[("MAX_BODY_BYTES", bad)]).variable(),
                "MAX_BODY_BYTES"
            );
        }
    }

    #[test]
    fn shutdown_timeout_is_bounded() {
        let s = settings(&[("SHUTDOWN_TIMEOUT_SECS", "0")]).unwrap();
        assert_eq!(s.shutdown_timeout, Duration::ZERO);
        for bad in ["3601", "ten", "1.5"] {
            let err = error_for(&[("SHUTDOWN_TIMEOUT_SECS", bad)]);
            assert_eq!(err.variable(), "SHUTDOWN_TIMEOUT_SECS");
        }
    }

    #[test]
    fn body_timeout_is_at_least_a_second_and_bounded() {
        let s = settings(&[("BODY_TIMEOUT_SECS", "1")]).unwrap();
        assert_eq!(s.body_timeout, Duration::from_secs(1));
        for bad in ["0", "3601", "30s"] {
            let err = error_for(&[("BODY_TIMEOUT_SECS", bad)]);
            assert_eq!(err.variable(), "BODY_TIMEOUT_SECS", "{bad}");
        }
    }

    #[test]
    fn log_filter_accepts_levels_and_target_directives() {
        for good in [
            "off",
            "DEBUG",
            "info,actix_server=warn",
            "warn,rust_hybrid_api=trace/REQ",
        ] {
            assert_eq!(
                settings(&[("RUST_LOG", good)]).unwrap().log_filter,
                LogFilter::Explicit(good.into())
            );
        }
    }

    #[test]
    fn lambdas_log_level_applies_only_without_rust_log() {
        let level = |vars: &[(&str, &str)]| settings(vars).unwrap().log_filter;
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]),
            LogFilter::Level("debug")
        );
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]),
            LogFilter::Level("error")
        );
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn")]),
            LogFilter::Explicit("warn".into())
        );
        assert_eq!(
            error_for(&[("AWS_LAMBDA_LOG_LEVEL", "VERBOSE")]).to_string(),
            r#"invalid AWS_LAMBDA_LOG_LEVEL="VERBOSE": expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL"#
        );
    }

    #[test]
    fn lambda_mode_silences_lambda_runtimes_invocation_line_only_at_the_default_level() {
        assert_eq!(
            LogFilter::Level("info").directives(true),
            "info,lambda_runtime=warn"
        );
        assert_eq!(LogFilter::Level("info").directives(false), "info");
        assert_eq!(LogFilter::Level("debug").directives(true), "debug");
        assert_eq!(LogFilter::Explicit("info".into()).directives(true), "info");
    }

    #[test]
    fn log_format_comes_from_log_format_then_lambdas_setting() {
        let format = |vars: &[(&str, &str)]| settings(vars).unwrap().log_format;
        assert_eq!(format(&[("LOG_FORMAT", "json")]), LogFormat::Json);
        assert_eq!(
            format(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]),
            LogFormat::Json
        );
        assert_eq!(
            format(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]),
            LogFormat::Text
        );
        assert_eq!(
            format(&[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("LOG_FORMAT", "text")]),
            LogFormat::Text
        );
        assert_eq!(
            error_for(&[("LOG_FORMAT", "jsno")]).to_string(),
            r#"invalid LOG_FORMAT="jsno": expected text or json"#
        );
    }

    #[test]
    fn log_filter_rejects_a_misspelt_level() {
        let err = error_for(&[("RUST_LOG", "inof")]);
        assert!(err
            .to_string()
            .starts_with(r#"invalid RUST_LOG="inof": "inof" is not a log level"#));
        assert_eq!(
            error_for(&[("RUST_LOG", "actix=loud")]).variable(),
            "RUST_LOG"
        );
        assert_eq!(error_for(&[("RUST_LOG", "=info")]).variable(), "RUST_LOG");
    }

    #[test]
    fn missing_variable_message_reads_as_a_sentence() {
        let err = ConfigError::missing("AWS_LAMBDA_FUNCTION_VERSION", "Lambda sets it");
        assert_eq!(
            err.to_string(),
            "AWS_LAMBDA_FUNCTION_VERSION is not set: Lambda sets it"
        );
    }

    // The mode, from the Lambda variables.

    fn launch(vars: &[(&str, &str)]) -> Result<Mode, ConfigError> {
        settings(vars).map(|s| s.mode)
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
        assert_eq!(launch(&[("PORT", "1")]), Ok(Mode::Http));
    }

    #[test]
    fn a_complete_lambda_environment_means_lambda_mode() {
        assert_eq!(
            launch(&COMPLETE),
            Ok(Mode::Lambda {
                runtime_api: "127.0.0.1:9001".into(),
                concurrency: 1,
                invoke_mode: InvokeMode::Buffered,
            })
        );
    }

    #[test]
    fn invoke_mode_is_buffered_unless_set_to_response_stream_in_any_case() {
        let mode = |value: &str| {
            let mut vars = COMPLETE.to_vec();
            vars.push((LAMBDA_INVOKE_MODE, value));
            launch(&vars).map(|mode| mode.streams())
        };
        assert_eq!(mode(""), Ok(false));
        assert_eq!(mode("buffered"), Ok(false));
        assert_eq!(mode("BUFFERED"), Ok(false));
        assert_eq!(mode("response_stream"), Ok(true));
        assert_eq!(mode("RESPONSE_STREAM"), Ok(true));
        for bad in ["stream", "streaming", "response-stream", " buffered"] {
            assert_eq!(
                mode(bad).unwrap_err().to_string(),
                format!(
                    "invalid LAMBDA_INVOKE_MODE={bad:?}: expected buffered or response_stream \
                     (the Function URL's InvokeMode)"
                ),
            );
        }
        // Checked in HTTP mode too, where it does nothing: a typo still fails.
        let http = launch(&[(LAMBDA_INVOKE_MODE, "strem")]);
        assert_eq!(http.unwrap_err().variable(), LAMBDA_INVOKE_MODE);
        assert_eq!(
            launch(&[(LAMBDA_INVOKE_MODE, "response_stream")]),
            Ok(Mode::Http)
        );
    }

    #[test]
    fn max_concurrency_is_one_unless_lambda_sets_a_larger_whole_number() {
        let concurrency = |value: &str| {
            let mut vars = COMPLETE.to_vec();
            vars.push((AWS_LAMBDA_MAX_CONCURRENCY, value));
            launch(&vars).map(|mode| match mode {
                Mode::Lambda { concurrency, .. } => concurrency,
                Mode::Http => unreachable!("a complete Lambda environment"),
            })
        };
        assert_eq!(concurrency(""), Ok(1));
        assert_eq!(concurrency("1"), Ok(1));
        assert_eq!(concurrency("8"), Ok(8));
        assert_eq!(concurrency("1600"), Ok(1600));
        for bad in ["0", "-1", "8.5", "eight", " 8", "1601", "99999999999"] {
            assert_eq!(
                concurrency(bad).unwrap_err().to_string(),
                format!(
                    "invalid AWS_LAMBDA_MAX_CONCURRENCY={bad:?}: expected a whole number of \
                     invocations from 1 to 1600"
                ),
            );
        }
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
        assert!(matches!(launch(&vars), Ok(Mode::Lambda { .. })));
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

//! Helpers shared by the test modules: settings from a variable list, in-process calls through
//! the App factory, a real `HttpServer` on an ephemeral port, and the one [`Response`] type
//! every transport's answer is read into.

pub mod fake_runtime;
pub mod http;
pub mod process;
#[path = "../../../examples/support/wire.rs"]
pub mod wire;

use actix_web::dev::ServerHandle;
use actix_web::test::{self, TestRequest};
use rust_hybrid_api::app::app;
use rust_hybrid_api::config::{InvokeMode, Mode, Settings};
use rust_hybrid_api::context::AppContext;
use rust_hybrid_api::lambda::proxy::{Options, Proxy};
use rust_hybrid_api::launcher;
use std::net::SocketAddr;
use std::sync::mpsc;

pub fn settings(vars: &[(&str, &str)]) -> Settings {
    Settings::from_pairs(vars).expect("test settings are valid")
}

/// Lambda mode, as the in-process tests run it (no Runtime API is contacted).
pub fn lambda() -> Mode {
    Mode::Lambda {
        runtime_api: "127.0.0.1:9001".into(),
        concurrency: 1,
        invoke_mode: InvokeMode::Buffered,
    }
}

/// A response, however it was obtained: in-process through the App factory, over HTTP from a
/// real server, or decoded from a Lambda response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Lower-cased names, one entry per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts `status` and a JSON body (`Content-Type: application/json`), and returns it.
    pub fn assert_json(&self, status: u16) -> serde_json::Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()
    }

    /// Asserts the whole error contract: `status`, JSON content type, exactly `error` (this
    /// `code`) and `message` (a sentence). Returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        let body = self.assert_json(status);
        assert_eq!(body["error"], code, "{body}");
        let message = body["message"]
            .as_str()
            .expect("message is a string")
            .to_owned();
        assert!(
            message.ends_with('.'),
            "message should be a sentence: {message}"
        );
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(2),
            "only error and message: {body}"
        );
        message
    }

    /// The response a Lambda response envelope (any source's shape) stands for.
    /// A streamed answer: the prelude's status, headers and cookies, and the body as it came.
    pub fn from_stream(prelude: &serde_json::Value, body: Vec<u8>) -> Result<Self, String> {
        let mut response = Self::from_envelope(prelude)?;
        response.body = body;
        Ok(response)
    }

    pub fn from_envelope(envelope: &serde_json::Value) -> Result<Self, String> {
        let answer = rust_hybrid_api::lambda::response::Answer::from_envelope(envelope)?;
        let mut headers = answer.headers;
        headers.extend(
            answer
                .cookies
                .into_iter()
                .map(|c| ("set-cookie".to_owned(), c)),
        );
        Ok(Response {
            status: answer.status,
            headers,
            body: answer.body,
        })
    }
}

/// Calls the App factory in-process, in HTTP mode.
pub async fn call(vars: &[(&str, &str)], request: TestRequest) -> Response {
    call_in(Mode::Http, vars, request).await
}

pub async fn call_in(mode: Mode, vars: &[(&str, &str)], request: TestRequest) -> Response {
    let mut settings = settings(vars);
    settings.mode = mode;
    let service = test::init_service(app(AppContext::new(&settings))).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = test::read_body(response).await.to_vec();
    Response {
        status,
        headers,
        body,
    }
}

/// A real `HttpServer` from the launcher, on 127.0.0.1 and an ephemeral port, in its own thread.
pub struct TestApp {
    pub addr: SocketAddr,
    server: ServerHandle,
}

pub fn spawn_app(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("HOST", "127.0.0.1"), ("PORT", "0")];
    all.extend_from_slice(vars);
    let settings = settings(&all);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let (server, addrs) = launcher::http_server(&settings).expect("bind");
            tx.send((addrs[0], server.handle()))
                .expect("test is waiting");
            server.await
        })
    });
    let (addr, server) = rx.recv().expect("server started");
    TestApp { addr, server }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

/// The Runtime API proxy on a thread of its own, relaying to `runtime`, for a test that plays
/// lambda_runtime itself over raw HTTP.
pub fn spawn_proxy(runtime: &fake_runtime::FakeRuntime, options: Options) -> SocketAddr {
    let (addr_tx, addr) = mpsc::channel();
    let api = runtime.addr.to_string();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let (fatal, _unused) = tokio::sync::mpsc::unbounded_channel();
            let proxy = Proxy::start(&api, options, fatal).unwrap();
            addr_tx.send(proxy.addr).unwrap();
            std::future::pending::<()>().await
        })
    });
    addr.recv().unwrap()
}

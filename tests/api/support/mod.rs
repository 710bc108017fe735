//! Helpers shared by the test modules: settings from a variable list, in-process calls through
//! the App factory, and a real `HttpServer` on an ephemeral port.

pub mod envelope;
pub mod fake_runtime;
pub mod http;
pub mod process;

use actix_web::dev::ServerHandle;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use rust_hybrid_api::app::{app, AppContext, Mode};
use rust_hybrid_api::config::Settings;
use rust_hybrid_api::launcher;
use std::net::SocketAddr;
use std::sync::mpsc;

pub fn settings(vars: &[(&str, &str)]) -> Settings {
    Settings::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("test settings are valid")
}

/// A response from an in-process call.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the error contract: `status`, JSON content type, `error` code and a message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
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
}

/// Calls the App factory in-process, in HTTP mode.
pub async fn call(vars: &[(&str, &str)], request: TestRequest) -> Reply {
    call_in(Mode::Http, vars, request).await
}

pub async fn call_in(mode: Mode, vars: &[(&str, &str)], request: TestRequest) -> Reply {
    let service = test::init_service(app(AppContext::new(mode, &settings(vars)))).await;
    let response = test::call_service(&service, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = test::read_body(response).await.to_vec();
    Reply {
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

//! Lambda mode on events this project did not write: every HTTP-type event fixture published in
//! the `aws_lambda_events` and `lambda_http` crates (located with `cargo metadata` through the
//! bench peer `bench/lambda-http-peer`, never copied here) and what SAM CLI's
//! `sam local generate-event` prints. Each HTTP event goes through the compiled binary against
//! the fake Runtime API as it is, rewritten to `GET /health` and rewritten to `POST /echo`, all
//! in one process, so every event is also followed by another that must be served. The
//! fixtures of other event types (authorizers, WebSocket, VPC Lattice) must be refused with the
//! service's invocation error.
//!
//! It needs the network (or a cargo cache) and SAM CLI, so it is ignored by a plain
//! `cargo test`; `make test-lambda-corpus` (part of `make test`) runs it.

use crate::lambda::lambda_service;
use crate::support::fake_runtime::{FakeRuntime, Outcome};
use crate::support::Response;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the answer to one event must be.
#[derive(Debug)]
enum Expect {
    /// The service's own JSON answer, in the envelope shape of the event's source.
    Answered,
    /// `GET /health`: exactly `{"status":"ok"}`.
    Health,
    /// `POST /echo`: the body back, byte for byte.
    Echo(&'static str),
    /// The event marks its body base64 but it is not: the service's JSON 400.
    InvalidRequest,
    /// Not an HTTP event: an `UnsupportedEvent` invocation error.
    Refused,
}

const ECHO_BODY: &str = r#"{"corpus":true,"n":[1,2.5,-3e10],"s":"é \"q\""}"#;

fn fixture_dirs() -> Vec<PathBuf> {
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/lambda-http-peer/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&peer)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let dir_of = |name: &str, sub: &str| {
        let manifest = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the peer's dependency graph"))
            ["manifest_path"]
            .as_str()
            .unwrap()
            .to_owned();
        Path::new(&manifest).parent().unwrap().join(sub)
    };
    vec![
        dir_of("aws_lambda_events", "src/fixtures"),
        dir_of("lambda_http", "tests/data"),
    ]
}

/// `Some(true)` for an HTTP request fixture, `Some(false)` for another event type's request,
/// `None` for what is not a request event at all (responses, SVG).
fn is_http_request(file: &str) -> Option<bool> {
    if !file.ends_with(".json") || file.contains("response") {
        return None;
    }
    let other = ["custom-auth", "websocket"];
    if other.iter().any(|kind| file.contains(kind)) {
        return Some(false);
    }
    let http = [
        "example-apigw-",
        "example-alb-lambda-target-request",
        "alb_",
        "apigw_",
        "lambda_function_url",
        "example-vpc-lattice-",
        "vpc_lattice_",
    ];
    if http.iter().any(|prefix| file.starts_with(prefix)) {
        Some(true)
    } else {
        None
    }
}

fn sam_events() -> Vec<(String, String)> {
    [
        ["apigateway", "aws-proxy"],
        ["apigateway", "http-api-proxy"],
        ["alb", "request"],
    ]
    .iter()
    .map(|args| {
        let output = Command::new("sam")
            .args(["local", "generate-event"])
            .args(args)
            .env("SAM_CLI_TELEMETRY", "0")
            .output()
            .expect("SAM CLI is on PATH (make tools-sam puts it in target/tools/bin)");
        assert!(output.status.success(), "sam {args:?}");
        (
            format!("sam {}", args.join(" ")),
            String::from_utf8(output.stdout).unwrap(),
        )
    })
    .collect()
}

fn is_v2(event: &Value) -> bool {
    event["version"] == "2.0" && event["requestContext"]["http"].is_object()
}

/// VPC Lattice's event structure, 1 or 2, or `None` for another source.
fn lattice(event: &Value) -> Option<u8> {
    if event["requestContext"]["serviceArn"].is_string() {
        Some(2)
    } else if event["raw_path"].is_string() {
        Some(1)
    } else {
        None
    }
}

/// The event as a request for `method path`, in the places its source keeps them.
pub(crate) fn rewritten(event: &Value, method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = event.clone();
    if let Some(version) = lattice(&event) {
        let (path_key, base64_key) = if version == 1 {
            ("raw_path", "is_base64_encoded")
        } else {
            ("path", "isBase64Encoded")
        };
        event["method"] = json!(method);
        event[path_key] = json!(path);
        if let Some(body) = body {
            let headers = event["headers"]
                .as_object_mut()
                .expect("Lattice events have headers");
            headers.retain(|name, _| {
                !name.eq_ignore_ascii_case("content-type")
                    && !name.eq_ignore_ascii_case("content-length")
            });
            // V2 lists each header's values; V1 gives one string.
            let json_type = if version == 1 {
                json!("application/json")
            } else {
                json!(["application/json"])
            };
            headers.insert("content-type".into(), json_type);
            event["body"] = json!(body);
            event[base64_key] = json!(false);
        }
        return event;
    }
    if is_v2(&event) {
        // HTTP APIs keep a named stage in rawPath; keep the fixture's own convention.
        let stage = event["requestContext"]["stage"]
            .as_str()
            .unwrap_or("$default");
        let raw = event["rawPath"].as_str().unwrap_or("");
        let staged = stage != "$default" && raw.starts_with(&format!("/{stage}"));
        let raw_path = if staged {
            format!("/{stage}{path}")
        } else {
            path.to_owned()
        };
        event["rawPath"] = json!(raw_path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(raw_path);
    } else {
        event["httpMethod"] = json!(method);
        event["path"] = json!(path);
        if let Some(context) = event["requestContext"].as_object_mut() {
            if let Some(stage) = context
                .get("stage")
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                context.insert("path".into(), json!(format!("/{stage}{path}")));
            }
            context.insert("httpMethod".into(), json!(method));
        }
    }
    if let Some(body) = body {
        for key in ["headers", "multiValueHeaders"] {
            if let Some(headers) = event[key].as_object_mut() {
                headers.retain(|name, _| {
                    !name.eq_ignore_ascii_case("content-type")
                        && !name.eq_ignore_ascii_case("content-length")
                });
                let value = if key == "headers" {
                    json!("application/json")
                } else {
                    json!(["application/json"])
                };
                headers.insert("content-type".into(), value);
            }
        }
        if !event["headers"].is_object() && !event["multiValueHeaders"].is_object() {
            event["headers"] = json!({"content-type": "application/json"});
        }
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
    }
    event
}

fn marks_bad_base64(event: &Value) -> bool {
    (event["isBase64Encoded"] == true || event["is_base64_encoded"] == true)
        && event["body"]
            .as_str()
            .is_some_and(|body| base64::decode(body).is_err())
}

/// Checks that `envelope` has the response shape the source of `event` expects.
fn assert_shape(name: &str, event: &Value, envelope: &Value) {
    let alb = event["requestContext"]["elb"].is_object();
    if lattice(event).is_some() {
        assert!(envelope["headers"].is_object(), "{name}: {envelope}");
        assert!(
            envelope["statusDescription"].is_string(),
            "{name}: {envelope}"
        );
        assert!(
            envelope.get("multiValueHeaders").is_none(),
            "{name}: {envelope}"
        );
    } else if is_v2(event) {
        assert!(envelope["headers"].is_object(), "{name}: {envelope}");
        assert!(envelope["cookies"].is_array(), "{name}: {envelope}");
    } else if alb {
        assert!(
            envelope["statusDescription"].is_string(),
            "{name}: {envelope}"
        );
        let multi = event["multiValueHeaders"].is_object();
        let key = if multi {
            "multiValueHeaders"
        } else {
            "headers"
        };
        assert!(envelope[key].is_object(), "{name}: {envelope}");
    } else {
        assert!(
            envelope["multiValueHeaders"].is_object(),
            "{name}: {envelope}"
        );
    }
}

#[test]
#[ignore = "needs the fixture crates (cargo metadata) and SAM CLI: make test-lambda-corpus"]
fn every_published_http_event_is_answered_as_http_mode_would_answer_it() {
    let mut cases: Vec<(String, Value, Expect)> = Vec::new();
    let mut sources: Vec<(String, String)> = Vec::new();
    for dir in fixture_dirs() {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            match is_http_request(&name) {
                Some(true) => sources.push((name, std::fs::read_to_string(&file).unwrap())),
                Some(false) => {
                    let event: Value =
                        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                    cases.push((name, event, Expect::Refused));
                }
                None => {}
            }
        }
    }
    let published = sources.len();
    assert!(published >= 32, "only {published} HTTP fixtures found");
    let lattice_fixtures = sources
        .iter()
        .filter(|(name, _)| name.contains("lattice"))
        .count();
    assert_eq!(
        lattice_fixtures, 7,
        "the VPC Lattice fixtures of both crates"
    );
    sources.extend(sam_events());

    for (name, text) in &sources {
        let event: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bad_base64 = marks_bad_base64(&event);
        let (as_is, health) = if bad_base64 {
            (Expect::InvalidRequest, Expect::InvalidRequest)
        } else {
            (Expect::Answered, Expect::Health)
        };
        cases.push((format!("{name} as is"), event.clone(), as_is));
        let get = rewritten(&event, "GET", "/health", None);
        cases.push((format!("{name} as GET /health"), get, health));
        let post = rewritten(&event, "POST", "/echo", Some(ECHO_BODY));
        cases.push((
            format!("{name} as POST /echo"),
            post,
            Expect::Echo(ECHO_BODY),
        ));
    }

    let runtime = FakeRuntime::start(cases.iter().map(|(_, event, _)| event.to_string()));
    let mut service = lambda_service(&runtime, &[]);
    let mut failures = Vec::new();
    for (name, event, expect) in &cases {
        let outcome = runtime.next_outcome();
        if let Err(why) = check(event, expect, outcome) {
            failures.push(format!("{name}: {why}"));
        }
    }
    let stderr = service.stderr_so_far();
    assert!(!stderr.contains("panic"), "{stderr}");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "corpus: {} cases from {published} published fixtures and {} SAM events, all answered correctly",
        cases.len(),
        sources.len() - published
    );
}

fn check(event: &Value, expect: &Expect, outcome: Outcome) -> Result<(), String> {
    if let Expect::Refused = expect {
        return match outcome {
            Outcome::Error { body, .. } if body["errorType"] == "UnsupportedEvent" => Ok(()),
            other => Err(format!("expected an UnsupportedEvent error, got {other:?}")),
        };
    }
    let envelope = match outcome {
        Outcome::Response { body, .. } => body,
        other => return Err(format!("expected a response, got {other:?}")),
    };
    assert_shape("", event, &envelope);
    let answer = Response::from_envelope(&envelope)?;
    if answer.header("content-type") != Some("application/json") {
        return Err(format!("not the service's JSON: {envelope}"));
    }
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    let ok = match expect {
        Expect::Health => answer.status == 200 && body == r#"{"status":"ok"}"#,
        Expect::Echo(sent) => answer.status == 200 && body == *sent,
        Expect::InvalidRequest => answer.status == 400 && body.contains("invalid_request"),
        Expect::Answered => {
            answer.status < 400
                || serde_json::from_str::<Value>(&body).is_ok_and(|b| b["error"].is_string())
        }
        Expect::Refused => unreachable!(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {} {body}", answer.status))
    }
}

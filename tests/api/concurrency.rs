//! Lambda Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once in one process,
//! through the compiled binary against the fake Runtime API (which serves concurrent polls), and
//! the Runtime API proxy on its own where what lambda_runtime receives matters.

use crate::lambda::{event, http_api_event, lambda_service};
use crate::support::fake_runtime::{FakeRuntime, Invocation, Outcome, TRACE_ID};
use crate::support::http;
use crate::support::process::run_to_exit;
use crate::support::{spawn_proxy, Response};
use rust_hybrid_api::config;
use rust_hybrid_api::lambda::proxy::{Options, INVOCATION_ID};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// How long the tests watch for a poll too many once the expected number is open.
const WATCH: Duration = Duration::from_millis(300);

fn concurrency(n: &str) -> (&'static str, &str) {
    (config::AWS_LAMBDA_MAX_CONCURRENCY, n)
}

#[test]
fn with_max_concurrency_8_exactly_8_polls_are_open_and_never_a_9th() {
    let runtime = FakeRuntime::start(Vec::<String>::new());
    let _service = lambda_service(&runtime, &[concurrency("8")]);
    runtime.wait_until("8 polls open", |r| r.polls_open() == 8);
    std::thread::sleep(WATCH);
    assert_eq!(runtime.polls_open(), 8);
    assert_eq!(runtime.most_polls_open(), 8);
}

#[test]
fn unset_or_1_never_opens_a_second_poll_even_while_serving() {
    for vars in [vec![], vec![concurrency("1")]] {
        let events: Vec<String> = (0..20).map(|_| event("http-api-health.json")).collect();
        let runtime = FakeRuntime::start(events);
        let _service = lambda_service(&runtime, &vars);
        for _ in 0..20 {
            assert_eq!(
                Response::from_envelope(&runtime.next_outcome().into_response())
                    .unwrap()
                    .status,
                200
            );
        }
        runtime.wait_until("the next poll", |r| r.polls_open() == 1);
        std::thread::sleep(WATCH);
        assert_eq!(runtime.most_polls_open(), 1, "{vars:?}");
    }
}

/// The four response shapes, by the event source that sent the request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    HttpApi,
    FunctionUrl,
    Rest,
    Alb,
}

const SHAPES: [Shape; 4] = [Shape::HttpApi, Shape::FunctionUrl, Shape::Rest, Shape::Alb];

/// Replaces every spelling of header `name` in both header maps of `event` with `value`.
fn set_header(event: &mut Value, name: &str, value: &str) {
    for (map, entry) in [
        ("headers", json!(value)),
        ("multiValueHeaders", json!([value])),
    ] {
        if let Some(headers) = event.get_mut(map).and_then(Value::as_object_mut) {
            headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
            headers.insert(name.to_owned(), entry);
        }
    }
}

/// A `POST /echo` of `body` from `shape`'s fixture.
fn echo_event(shape: Shape, body: &str) -> String {
    let mut event: Value = match shape {
        Shape::HttpApi => serde_json::from_str(&event("http-api-echo.json")).unwrap(),
        Shape::FunctionUrl => {
            let mut url: Value = serde_json::from_str(&event("function-url-echo.json")).unwrap();
            url["body"] = json!(base64::encode(body));
            url["isBase64Encoded"] = json!(true);
            url
        }
        Shape::Rest | Shape::Alb => {
            let name = if shape == Shape::Rest {
                "rest-api-prod-stage-health.json"
            } else {
                "alb-time.json"
            };
            let mut v1: Value = serde_json::from_str(&event(name)).unwrap();
            v1["httpMethod"] = json!("POST");
            v1["path"] = json!("/echo");
            v1
        }
    };
    if shape != Shape::FunctionUrl {
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
    }
    set_header(&mut event, "content-type", "application/json");
    event.to_string()
}

fn assert_shape(envelope: &Value, shape: Shape) {
    let single = envelope.get("headers").is_some_and(Value::is_object);
    let multi = envelope
        .get("multiValueHeaders")
        .is_some_and(Value::is_object);
    match shape {
        Shape::HttpApi | Shape::FunctionUrl => assert!(single && !multi, "{envelope}"),
        Shape::Rest => assert!(multi && envelope.get("statusDescription").is_none()),
        Shape::Alb => assert!(multi && envelope["statusDescription"] == "200 OK"),
    }
}

fn trace_id(n: usize) -> String {
    format!("Root=1-6744f0d4-{n:024x};Parent=53995c3f42cd8ad8;Sampled=1")
}

#[test]
fn two_thousand_concurrent_invocations_each_get_their_own_answer_id_and_trace_id() {
    const EVENTS: usize = 2000;
    let sent: Vec<(Shape, String)> = (1..=EVENTS)
        .map(|n| {
            let shape = SHAPES[n % SHAPES.len()];
            (
                shape,
                format!(r#"{{"n":{n},"text":"événement {n}","big":{n}{:030}}}"#, 0),
            )
        })
        .collect();
    let invocations = sent
        .iter()
        .enumerate()
        .map(|(i, (shape, body))| Invocation {
            trace_id: Some(trace_id(i + 1)),
            ..Invocation::from(echo_event(*shape, body))
        });
    let runtime = FakeRuntime::start(invocations);
    let mut service = lambda_service(&runtime, &[concurrency("8"), ("LOG_FORMAT", "json")]);

    let mut answered: HashMap<String, Value> = HashMap::new();
    for _ in 0..EVENTS {
        let outcome = runtime.next_outcome();
        let id = outcome.request_id().to_owned();
        assert!(
            answered
                .insert(id.clone(), outcome.into_response())
                .is_none(),
            "{id} answered twice"
        );
    }
    for (i, (shape, body)) in sent.iter().enumerate() {
        let id = format!("req-{}", i + 1);
        let envelope = &answered[&id];
        assert_shape(envelope, *shape);
        let answer = Response::from_envelope(envelope).unwrap();
        assert_eq!(answer.status, 200, "{id}: {envelope}");
        assert_eq!(String::from_utf8_lossy(&answer.body), *body, "{id}");
        assert_eq!(answer.header("x-request-id"), Some(id.as_str()));
    }
    assert_eq!(runtime.most_polls_open(), 8, "the function held 8 polls");

    service.wait_for_line(|l| l.contains(&format!("\"requestId\":\"req-{EVENTS}\"")));
    let mut lines = 0;
    for line in service.stderr_so_far().lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if line["target"] != "request" {
            continue;
        }
        lines += 1;
        let id = line["requestId"].as_str().unwrap();
        let n: usize = id.strip_prefix("req-").unwrap().parse().unwrap();
        assert_eq!(line["request_id"], id, "{line}");
        assert_eq!(line["xrayTraceId"], trace_id(n), "{line}");
        assert_eq!(line["path"], "/echo");
        assert_eq!(line["status"], 200);
    }
    assert_eq!(lines, EVENTS);
}

#[test]
fn text_request_lines_of_concurrent_invocations_are_whole_lines_each_with_its_own_id() {
    const EVENTS: usize = 500;
    let events = (1..=EVENTS).map(|n| echo_event(SHAPES[n % 4], &format!("{{\"n\":{n}}}")));
    let runtime = FakeRuntime::start(events);
    let mut service = lambda_service(&runtime, &[concurrency("8")]);
    for _ in 0..EVENTS {
        runtime.next_outcome();
    }
    service.wait_for_line(|l| l.ends_with(&format!(" | req-{EVENTS}")));
    let stderr = service.stderr_so_far();
    let mut ids: Vec<usize> = stderr
        .lines()
        .filter(|l| l.starts_with("[REQ]"))
        .map(|line| {
            let fields: Vec<&str> = line.split(" | ").collect();
            assert_eq!(fields.len(), 5, "{line}");
            assert_eq!(fields[..3], ["[REQ] 200", "POST   ", "/echo"], "{line}");
            assert!(fields[3].ends_with('s'), "{line}");
            fields[4].strip_prefix("req-").unwrap().parse().unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=EVENTS).collect::<Vec<_>>());
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("[REQ]") || l.contains(" INFO ")),
        "{stderr}"
    );
}

/// The proxy on a thread of its own, relaying to `runtime` for `concurrency` loops.
fn proxy(runtime: &FakeRuntime, concurrency: u16) -> SocketAddr {
    let options = Options {
        concurrent: concurrency > 1,
        stream: false,
    };
    spawn_proxy(runtime, options)
}

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

#[test]
fn with_more_than_one_loop_the_trace_id_reaches_the_request_never_lambda_runtime() {
    for (loops, to_lambda_runtime) in [(8, None), (1, Some(TRACE_ID))] {
        let runtime = FakeRuntime::start([event("http-api-health.json")]);
        let next = http::get(proxy(&runtime, loops), NEXT);
        assert_eq!(next.status, 200);
        assert_eq!(next.header("lambda-runtime-trace-id"), to_lambda_runtime);
        let reshaped: Value = serde_json::from_slice(&next.body).unwrap();
        let context: Value = serde_json::from_str(
            reshaped["headers"]["x-amzn-lambda-context"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(context["xray_trace_id"], TRACE_ID, "{loops} loops");
        if loops > 1 {
            assert_eq!(reshaped["headers"]["x-amzn-trace-id"], TRACE_ID);
        }
    }
}

#[test]
fn the_tenant_reaches_the_request_as_x_amz_tenant_id_and_in_the_lambda_context() {
    for loops in [1, 8] {
        let runtime = FakeRuntime::start([Invocation {
            headers: vec![("Lambda-Runtime-Aws-Tenant-Id", "tenant-42".to_owned())],
            ..Invocation::from(http_api_event(
                "GET",
                "/health",
                &[("X-Amz-Tenant-Id", "forged")],
                None,
            ))
        }]);
        let next = http::get(proxy(&runtime, loops), NEXT);
        let reshaped: Value = serde_json::from_slice(&next.body).unwrap();
        assert_eq!(
            reshaped["headers"]["x-amz-tenant-id"], "tenant-42",
            "{loops} loops"
        );
        let context: Value = serde_json::from_str(
            reshaped["headers"]["x-amzn-lambda-context"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(context["tenant_id"], "tenant-42");
        assert!(!next.body.windows(6).any(|w| w == b"forged"));
    }
}

fn with_invocation_id(event: String, id: &str) -> Invocation {
    Invocation {
        headers: vec![("Lambda-Runtime-Invocation-Id", id.to_owned())],
        ..Invocation::from(event)
    }
}

#[test]
fn the_invocation_id_goes_back_on_every_response_and_error_and_a_410_is_one_warning() {
    for loops in ["1", "8"] {
        let mut invalid: Value = serde_json::from_str(&event("http-api-health.json")).unwrap();
        invalid["requestContext"]["http"]["method"] = json!("G ET");
        let runtime = FakeRuntime::start([
            with_invocation_id(event("http-api-health.json"), "inv-1"),
            with_invocation_id(event("unsupported/sqs.json"), "inv-2"),
            with_invocation_id(invalid.to_string(), "inv-3"),
            Invocation {
                response_status: Some(410),
                ..with_invocation_id(event("http-api-health.json"), "inv-4")
            },
            event("http-api-health.json").into(),
        ]);
        let mut service = lambda_service(&runtime, &[concurrency(loops)]);
        let mut outcomes: Vec<Outcome> = (0..5).map(|_| runtime.next_outcome()).collect();
        outcomes.sort_by_key(|o| o.request_id().to_owned());
        let ids: Vec<Option<&str>> = outcomes
            .iter()
            .map(|outcome| match outcome {
                Outcome::Refused { status, .. } => {
                    assert_eq!(*status, 410);
                    Some("refused")
                }
                answered => answered.invocation_id(),
            })
            .collect();
        assert_eq!(
            ids,
            [
                Some("inv-1"),
                Some("inv-2"),
                Some("inv-3"),
                Some("refused"),
                None
            ],
            "{loops} loops: {outcomes:?}"
        );
        assert!(matches!(outcomes[1], Outcome::Error { .. }));
        let gone = service.wait_for_line(|l| l.contains("410 Gone"));
        assert!(gone.contains("WARN") && gone.contains("req-4"), "{gone}");
        let stderr = service.stderr_so_far();
        assert_eq!(stderr.matches("410 Gone").count(), 1, "{stderr}");
        assert!(!stderr.contains("ERROR"), "{stderr}");
    }
}

#[test]
fn an_error_lambda_runtime_posts_carries_the_invocation_id_too() {
    let runtime = FakeRuntime::start([with_invocation_id(event("http-api-health.json"), "inv-9")]);
    let proxy = proxy(&runtime, 8);
    assert_eq!(http::get(proxy, NEXT).status, 200);
    let error = br#"{"errorType":"Panic","errorMessage":"lambda-web gave up"}"#;
    let posted = http::request(
        proxy,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/error",
        &[("content-type", "application/json")],
        error,
    );
    assert_eq!(posted.status, 202);
    match runtime.next_outcome() {
        Outcome::Error {
            request_id,
            invocation_id,
            body,
        } => {
            assert_eq!(request_id, "req-1");
            assert_eq!(invocation_id.as_deref(), Some("inv-9"));
            assert_eq!(body["errorType"], "Panic");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(INVOCATION_ID, "lambda-runtime-invocation-id");
}

#[test]
fn sigterm_with_8_invocations_in_flight_answers_all_8_and_exits_0() {
    let held = (0..8).map(|n| Invocation {
        response_delay: Some(Duration::from_millis(500)),
        ..Invocation::from(echo_event(SHAPES[n % 4], &format!("{{\"n\":{n}}}")))
    });
    let runtime = FakeRuntime::start(held);
    let mut service = lambda_service(&runtime, &[concurrency("8")]);
    runtime.wait_until("8 events handed out", |r| r.handed_out() == 8);
    service.signal("TERM");
    let mut answered: Vec<String> = (0..8)
        .map(|_| {
            let outcome = runtime.next_outcome();
            let id = outcome.request_id().to_owned();
            assert_eq!(
                Response::from_envelope(&outcome.into_response())
                    .unwrap()
                    .status,
                200
            );
            id
        })
        .collect();
    answered.sort();
    assert_eq!(
        answered,
        (1..=8).map(|n| format!("req-{n}")).collect::<Vec<_>>()
    );
    assert_eq!(service.wait_for_exit().code(), Some(0));
    let stderr = service.stderr_so_far();
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(!stderr.contains("unanswered"), "{stderr}");
    assert_eq!(
        stderr.matches("[REQ] 200 | POST    | /echo").count(),
        8,
        "{stderr}"
    );
}

#[test]
fn an_invalid_max_concurrency_exits_2_with_one_line_naming_it() {
    let lambda = [
        (config::AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9"),
        (config::AWS_LAMBDA_FUNCTION_NAME, "rust-hybrid-api"),
        (config::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        (config::AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
    ];
    for bad in ["0", "-4", "2.5", "eight", "1601"] {
        let mut vars = lambda.to_vec();
        vars.push(concurrency(bad));
        let (status, stderr) = run_to_exit(&vars);
        assert_eq!(status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "rust-hybrid-api: invalid AWS_LAMBDA_MAX_CONCURRENCY={bad:?}: expected a whole \
                 number of invocations from 1 to 1600"
            )
        );
    }
}

#[test]
fn a_forged_method_cannot_start_a_second_text_log_line() {
    let mut forged: Value =
        serde_json::from_str(&http_api_event("GET", "/health", &[], None)).unwrap();
    forged["requestContext"]["http"]["method"] =
        json!("GET\n[REQ] 200 | GET     | /admin | 1.0µs | forged");
    let runtime = FakeRuntime::start([forged.to_string(), event("http-api-health.json")]);
    let mut service = lambda_service(&runtime, &[]);
    let answer = Response::from_envelope(&runtime.next_outcome().into_response()).unwrap();
    answer.assert_error(400, "invalid_request");
    runtime.next_outcome();
    let line = service.wait_for_line(|l| l.starts_with("[REQ] 400"));
    assert!(
        line.starts_with("[REQ] 400 | GET\\n[REQ] 200 | GET"),
        "{line}"
    );
    service.wait_for_line(|l| l.starts_with("[REQ] 200 | GET     | /health"));
    let stderr = service.stderr_so_far();
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("[REQ] 200 | GET     | /admin")),
        "{stderr}"
    );
}

#[test]
fn an_event_body_that_is_not_a_string_is_an_invalid_request_not_an_empty_body() {
    let runtime = FakeRuntime::start(["object", "number"].map(|kind| {
        let mut echo: Value = serde_json::from_str(&event("http-api-echo.json")).unwrap();
        echo["body"] = if kind == "object" {
            json!({"a": 1})
        } else {
            json!(42)
        };
        echo.to_string()
    }));
    let _service = lambda_service(&runtime, &[]);
    for kind in ["a JSON object", "a JSON number"] {
        let answer = Response::from_envelope(&runtime.next_outcome().into_response()).unwrap();
        let message = answer.assert_error(400, "invalid_request");
        assert!(
            message.contains(&format!("is {kind}, not a string")),
            "{message}"
        );
    }
}

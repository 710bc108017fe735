//! Reads a Lambda invocation result on stdin and prints it as the API Gateway client would see
//! it: status, headers, then the body (base64-decoded when the envelope says so). An invocation
//! error (`errorType`/`errorMessage`) is printed as such and exits 1.
//!
//! Used by `make lambda-invoke`: `curl … | target/debug/examples/decode_envelope`.

use rust_hybrid_api::lambda::response::Answer;
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(err) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("decode_envelope: cannot read stdin: {err}");
        return ExitCode::FAILURE;
    }
    let Ok(result) = serde_json::from_str::<serde_json::Value>(&input) else {
        eprintln!("decode_envelope: the emulator did not answer with JSON: {input}");
        return ExitCode::FAILURE;
    };
    if let Some(message) = result.get("errorMessage") {
        let kind = result["errorType"].as_str().unwrap_or("unknown");
        println!(
            "invocation error: {kind}: {}",
            message.as_str().unwrap_or_default()
        );
        return ExitCode::FAILURE;
    }
    match Answer::from_envelope(&result) {
        Ok(answer) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "status: {}", answer.status);
            for (name, value) in &answer.headers {
                let _ = writeln!(out, "{name}: {value}");
            }
            for cookie in &answer.cookies {
                let _ = writeln!(out, "set-cookie: {cookie}");
            }
            let _ = writeln!(out);
            let _ = out.write_all(&answer.body);
            let _ = writeln!(out);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("decode_envelope: not a Lambda HTTP response: {err}\n{input}");
            ExitCode::FAILURE
        }
    }
}

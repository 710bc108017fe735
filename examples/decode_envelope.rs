//! Reads a Lambda invocation result on stdin and prints it as the API Gateway client would see
//! it: status, headers, then the decoded body (base64, then Brotli if `content-encoding: br`).
//! An invocation error (`errorType`/`errorMessage`) is printed as such and exits 1.
//!
//! Used by `make lambda-invoke`: `curl … | cargo run -q --example decode_envelope`.

#[path = "../tests/api/support/envelope.rs"]
#[allow(dead_code)]
mod envelope;

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
    match envelope::Decoded::from_envelope(&result) {
        Ok(decoded) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "status: {}", decoded.status);
            for (name, value) in &decoded.headers {
                let _ = writeln!(out, "{name}: {value}");
            }
            let _ = writeln!(out);
            let _ = out.write_all(&decoded.body);
            let _ = writeln!(out);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("decode_envelope: not a Lambda HTTP response: {err}\n{input}");
            ExitCode::FAILURE
        }
    }
}

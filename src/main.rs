//! Entry point: runs the service and turns a failure into one line on stderr and an exit code
//! (2 for configuration, 1 for anything else).

use std::process::ExitCode;

fn main() -> ExitCode {
    match rust_hybrid_api::launcher::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err}", env!("CARGO_PKG_NAME"));
            err.exit_code()
        }
    }
}

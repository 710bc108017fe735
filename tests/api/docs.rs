//! What the README's configuration table and docs/lambda.md's "Detection" say about the
//! variables, against what `Settings` does with them: which ones select Lambda mode, which ones
//! Lambda mode needs, and every default. `make lint-docs` (tests/docs/check.py) holds every other
//! statement of a default to the README's table, so together a default or a rule that changes
//! in src/config.rs fails `make test` until the pages say it too.

use rust_hybrid_api::config::{self, Mode, Settings};
use rust_hybrid_api::context::AppContext;
use std::collections::BTreeSet;

fn page(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `code spans` of `text`, in order.
fn spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The variable names among `text`'s code spans.
fn names(text: &str) -> BTreeSet<String> {
    spans(text)
        .into_iter()
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect()
}

/// One row of the README's configuration table.
struct Row {
    variables: BTreeSet<String>,
    meaning: String,
    default: String,
}

fn configuration_table() -> Vec<Row> {
    let readme = page("README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has a Configuration section");
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 3, "variable | meaning | default: {line}");
            Row {
                variables: names(cells[0]),
                meaning: cells[1].to_owned(),
                default: cells[2].trim().to_owned(),
            }
        })
        .collect()
}

/// A valid value for each variable, so that setting one alone shows what it does.
fn sample(variable: &str) -> &'static str {
    match variable {
        config::PORT => "8081",
        config::HOST => "127.0.0.1",
        config::ROOT_PATH => "/api",
        config::MAX_BODY_BYTES | config::SHUTDOWN_TIMEOUT_SECS | config::BODY_TIMEOUT_SECS => "5",
        config::RUST_LOG => "debug",
        config::LOG_FORMAT => "json",
        config::AWS_LAMBDA_LOG_FORMAT => "JSON",
        config::AWS_LAMBDA_LOG_LEVEL => "DEBUG",
        config::AWS_LAMBDA_RUNTIME_API => "127.0.0.1:9001",
        config::AWS_LAMBDA_FUNCTION_NAME => "rust-hybrid-api",
        config::AWS_LAMBDA_FUNCTION_MEMORY_SIZE => "128",
        config::AWS_LAMBDA_FUNCTION_VERSION => "$LATEST",
        config::AWS_LAMBDA_MAX_CONCURRENCY => "2",
        config::LAMBDA_INVOKE_MODE => "response_stream",
        other => panic!("{other} is in the README's table: give it a sample value here"),
    }
}

fn all_variables() -> BTreeSet<String> {
    configuration_table()
        .into_iter()
        .flat_map(|row| row.variables)
        .collect()
}

/// The variables that, set alone, make the settings anything but HTTP mode.
fn selecting_lambda_mode() -> BTreeSet<String> {
    all_variables()
        .into_iter()
        .filter(
            |v| !matches!(Settings::from_pairs(&[(v, sample(v))]), Ok(s) if s.mode == Mode::Http),
        )
        .collect()
}

/// The variables that, left out of a complete Lambda environment, stop the program naming them.
fn needed_by_lambda_mode() -> BTreeSet<String> {
    let all = all_variables();
    let every: Vec<(&str, &str)> = all.iter().map(|v| (v.as_str(), sample(v))).collect();
    assert!(Settings::from_pairs(&every).unwrap().mode.is_lambda());
    all.iter()
        .filter(|v| {
            let without: Vec<_> = every.iter().copied().filter(|(n, _)| n != v).collect();
            Settings::from_pairs(&without).is_err_and(|e| e.to_string().contains(v.as_str()))
        })
        .cloned()
        .collect()
}

/// The code spans of the first bullets after the line of `section` that contains `intro`.
fn listed_after(section: &str, intro: &str) -> BTreeSet<String> {
    section
        .lines()
        .skip_while(|line| !line.contains(intro))
        .skip(1)
        .take_while(|line| line.starts_with("- "))
        .filter_map(|line| spans(line).into_iter().next())
        .collect()
}

fn detection_section() -> String {
    let lambda = page("docs/lambda.md");
    lambda
        .split("\n## Detection\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/lambda.md has a Detection section")
        .to_owned()
}

#[test]
fn the_readme_names_exactly_the_variables_that_select_lambda_mode() {
    let table = configuration_table();

    let stated: BTreeSet<String> = table
        .iter()
        .filter(|row| row.meaning.contains("selects Lambda mode"))
        .flat_map(|row| row.variables.clone())
        .collect();

    assert_eq!(stated, selecting_lambda_mode());
}

#[test]
fn the_readme_names_exactly_the_variables_lambda_mode_needs() {
    let table = configuration_table();

    let stated: BTreeSet<String> = table
        .iter()
        .filter_map(|row| row.meaning.split("Lambda mode needs").nth(1))
        .flat_map(|rest| names(rest.split(';').next().unwrap_or_default()))
        .collect();

    assert_eq!(stated, needed_by_lambda_mode());
}

#[test]
fn the_detection_section_lists_what_selects_lambda_mode_and_what_it_needs() {
    let section = detection_section();

    let selecting = listed_after(&section, "when either of these is set");
    let needed = listed_after(&section, "variables Lambda mode then needs");

    assert_eq!(selecting, selecting_lambda_mode());
    assert_eq!(needed, needed_by_lambda_mode());
}

#[test]
fn every_default_in_the_readme_is_the_default_the_code_uses() {
    let http = Settings::from_pairs(&[]).unwrap();
    let lambda_env = [
        (config::AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001"),
        (config::AWS_LAMBDA_FUNCTION_NAME, "f"),
        (config::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        (config::AWS_LAMBDA_FUNCTION_VERSION, "1"),
    ];
    let lambda = Settings::from_pairs(&lambda_env).unwrap();
    let mut streaming_env = lambda_env.to_vec();
    streaming_env.push((config::LAMBDA_INVOKE_MODE, "response_stream"));
    let streaming = Settings::from_pairs(&streaming_env).unwrap();
    let Mode::Lambda {
        concurrency,
        invoke_mode,
        ..
    } = lambda.mode
    else {
        panic!("the Lambda environment is Lambda mode")
    };
    let body_limit = |s: &Settings| AppContext::new(s).max_body_bytes.to_string();
    // What the code does when a variable is unset, as the README's default column writes it:
    // its code spans in order, or none for a variable only Lambda sets ("unset").
    let expected = |variable: &str| -> Vec<String> {
        match variable {
            config::PORT => vec![http.port.to_string()],
            config::HOST => vec![http.host.to_string()],
            config::ROOT_PATH => vec![http.root_path.to_string()],
            config::MAX_BODY_BYTES => {
                vec![
                    body_limit(&http),
                    body_limit(&lambda),
                    body_limit(&streaming),
                ]
            }
            config::SHUTDOWN_TIMEOUT_SECS => vec![http.shutdown_timeout.as_secs().to_string()],
            config::BODY_TIMEOUT_SECS => vec![http.body_timeout.as_secs().to_string()],
            config::RUST_LOG => vec![
                http.log_filter.directives(false),
                lambda.log_filter.directives(true),
            ],
            config::LOG_FORMAT => vec![format!("{:?}", http.log_format).to_lowercase()],
            config::AWS_LAMBDA_MAX_CONCURRENCY => vec![concurrency.to_string()],
            config::LAMBDA_INVOKE_MODE => vec![format!("{invoke_mode:?}").to_lowercase()],
            _ => Vec::new(),
        }
    };

    for row in configuration_table() {
        for variable in &row.variables {
            let want = expected(variable);
            if want.is_empty() {
                assert!(
                    row.default.starts_with("unset"),
                    "{variable}: {}",
                    row.default
                );
            } else {
                assert_eq!(spans(&row.default), want, "{variable}: {}", row.default);
            }
        }
    }
}

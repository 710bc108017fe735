//! Turns openapi.yaml into the JSON document the binary serves at `GET {root}/openapi.json`
//! (src/routes/openapi.rs embeds it), so the contract is compiled into the service and cannot
//! drift from it. The build fails when the YAML is invalid or its `info.version` is not the
//! crate's version.

use serde_json::{Map, Number, Value};
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

const SOURCE: &str = "openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let text =
        std::fs::read_to_string(SOURCE).unwrap_or_else(|e| fail(&format!("cannot read it: {e}")));
    let documents = YamlLoader::load_from_str(&text).unwrap_or_else(|e| fail(&e.to_string()));
    let [document] = &documents[..] else {
        fail("expected exactly one YAML document");
    };
    let json = to_json(document);
    let version = json["info"]["version"].as_str().unwrap_or_default();
    let crate_version = env!("CARGO_PKG_VERSION");
    if version != crate_version {
        fail(&format!(
            "info.version is {version:?} but Cargo.toml says {crate_version:?}"
        ));
    }
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    std::fs::write(&out, json.to_string())
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));
}

fn fail(reason: &str) -> ! {
    panic!("{SOURCE}: {reason}");
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(
                || fail(&format!("{text} is not a finite number")),
                Value::Number,
            ),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(hash) => Value::Object(
            hash.iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => fail(&format!("unsupported YAML node {yaml:?}")),
    }
}

fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => fail(&format!("unsupported mapping key {other:?}")),
    }
}

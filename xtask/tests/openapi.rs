//! The OpenAPI documents as `cargo xtask synth` writes them: valid OpenAPI 3.1 by the
//! reference validator (openapi-spec-validator, pinned, installed into the tool folder on
//! first use), a validator that fails on a broken document, and `synth --check` comparing the
//! documents with their snapshots.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use infra_model::Env;
use infra_model::system::openapi;
use serde_json::Value;
use xtask::{synth, tools};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-openapi-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// openapi-spec-validator on some files.
fn validate(files: &[PathBuf]) -> Output {
    let exe = tools::ensure(tools::OPENAPI_SPEC_VALIDATOR).unwrap();
    Command::new(exe)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .args(files)
        .output()
        .expect("openapi-spec-validator runs")
}

/// The documents of every environment, written as `cargo xtask synth` writes them.
fn written(dir: &Path) -> Vec<PathBuf> {
    let stacks = synth::synth(&Env::ALL).unwrap();
    let files = synth::write_openapi(&stacks, dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "orders-dev.openapi.json",
            "orders-staging.openapi.json",
            "orders-prod.openapi.json"
        ]
    );
    files
}

#[test]
fn the_emitted_documents_are_valid_openapi_3_1() {
    let dir = scratch("valid");
    let files = written(&dir);
    let out = validate(&files);
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(
        out.status.success(),
        "openapi-spec-validator refused a document:\n{report}"
    );
    for f in &files {
        assert!(report.contains(&format!("{}: OK", f.display())), "{report}");
    }
}

#[test]
fn the_validator_fails_on_a_broken_document() {
    let dir = scratch("broken");
    let dev: Value = serde_json::from_str(&fs::read_to_string(&written(&dir)[0]).unwrap()).unwrap();
    // A path parameter that is not required, and an API key sent in the body: both break the
    // OpenAPI 3.1 schema.
    let mut optional_path = dev.clone();
    optional_path["paths"]["/orders/{orderId}"]["get"]["parameters"][0]["required"] = Value::Bool(false);
    let mut key_in_body = dev;
    key_in_body["components"]["securitySchemes"][openapi::API_KEY_SCHEME]["in"] = "body".into();
    for (name, doc, needle) in [
        ("optional-path", optional_path, "required"),
        ("key-in-body", key_in_body, "body"),
    ] {
        let path = dir.join(format!("{name}.openapi.json"));
        fs::write(&path, openapi::to_json(&doc)).unwrap();
        let out = validate(std::slice::from_ref(&path));
        let report = text(&out.stdout) + &text(&out.stderr);
        assert!(!out.status.success(), "{name} passed: {report}");
        assert!(
            report.contains("Validation Error") && report.contains(needle),
            "{name}: {report}"
        );
    }
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn synth_writes_each_document_beside_its_template() {
    let dir = scratch("synth");
    let out = xtask(&["synth", "--env", "staging", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("11 operations"), "{summary}");
    assert!(summary.contains("orders-staging.openapi.json"), "{summary}");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["orders-staging.openapi.json", "orders-staging.template.yaml"]
    );
    let written = fs::read_to_string(dir.join("orders-staging.openapi.json")).unwrap();
    assert_eq!(
        written,
        openapi::to_json(&openapi::document(Env::Staging).unwrap())
    );
}

#[test]
fn check_fails_with_a_diff_when_a_document_differs_from_its_snapshot() {
    let dir = scratch("stale");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots");
    for env in ["dev", "staging", "prod"] {
        for name in [format!("orders-{env}.snap"), format!("orders-{env}.openapi.snap")] {
            fs::copy(committed.join(&name), dir.join(&name)).unwrap();
        }
    }
    let out = xtask(&["synth", "--check", "--snapshots", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("templates and OpenAPI documents"));

    // The committed dev document says what an older model said: one summary differs.
    let dev = dir.join("orders-dev.openapi.snap");
    let snap = fs::read_to_string(&dev).unwrap();
    let now = snap
        .lines()
        .find(|l| l.contains("\"summary\": \"Read a product\""))
        .unwrap();
    let old = now.replace("Read a product", "Get a product");
    fs::write(&dev, snap.replacen(now, &old, 1)).unwrap();
    fs::remove_file(dir.join("orders-prod.openapi.snap")).unwrap();
    let out = xtask(&["synth", "--check", "--snapshots", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("-{old}\n+{now}\n")), "{err}");
    assert!(err.contains("orders-dev.openapi.snap (committed)"), "{err}");
    assert!(err.contains("orders-prod.openapi.snap: missing"), "{err}");
    assert!(err.contains("2 OpenAPI document(s) differ"), "{err}");
    assert!(!err.contains("template(s) differ"), "{err}");
    assert!(
        err.contains("INSTA_UPDATE=always cargo test -p infra-model --test openapi\n"),
        "{err}"
    );
}

#[test]
fn the_dev_document_names_the_port_cargo_xtask_dev_serves_on() {
    let dev = openapi::document(Env::Dev).unwrap();
    let local = format!("http://127.0.0.1:{}", xtask::cli::DEFAULT_PORT);
    assert_eq!(openapi::LOCAL_PORT, xtask::cli::DEFAULT_PORT);
    assert!(
        dev["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["url"] == local.as_str())
    );
}

//! `cargo xtask build`, proved on the real artifacts: every function is built for arm64 (once;
//! later runs find it up to date), every binary is an aarch64 ELF that `provided.al2023` can
//! load, every zip is deterministic, and the API function and two event-driven functions answer
//! real events under `qemu-aarch64`, through the project's own Runtime API emulator, with no AWS
//! endpoint: a health check answers 200, an unreadable queue message becomes a batch item
//! failure, and a failing workflow task and an event of the wrong shape become proper Lambda
//! error responses.
//!
//! qemu: `apt-get install -y --no-install-recommends qemu-user libc6-arm64-cross` (`.ci/run`
//! does it). Without it, the qemu tests fail when `CI` is set and are skipped, saying so,
//! otherwise (the README's promise is that the suite needs only rustup and Python).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use infra_model::system::FUNCTIONS;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xtask_ops::build::{
    Arch, BuildOptions, BuiltFunction, build_functions, closed_endpoint, offline_env, qemu_missing,
    run_command,
};
use xtask_ops::elf::{self, GlibcVersion, Machine};
use xtask_ops::runtime_api::{FunctionConfig, LocalFunction, Outcome, stderr_log_sink};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/build");

/// The arm64 build of every function, made once for all the tests of this file.
fn arm64() -> &'static [BuiltFunction] {
    static BUILT: OnceLock<Vec<BuiltFunction>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let options = BuildOptions {
            arch: Arch::Arm64,
            functions: Vec::new(),
            quiet: true,
        };
        let built = build_functions(&options).unwrap_or_else(|e| panic!("cargo xtask build failed: {e:#}"));
        eprint!("{}", xtask_ops::build::report(&built));
        built
    })
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_function_has_an_arm64_artifact_that_al2023_can_load() {
    let built = arm64();
    let names: Vec<&str> = built.iter().map(|b| b.artifact.function.as_str()).collect();
    let expected: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    assert_eq!(names, expected);
    for b in built {
        let f = &b.artifact.function;
        assert_eq!(b.bootstrap, b.artifact.zip.with_file_name("bootstrap"));
        assert!(
            b.bootstrap.ends_with(format!("lambda/{f}/bootstrap")),
            "{}",
            b.bootstrap.display()
        );
        // Read again from disk, independently of what the build reported.
        let info = elf::read(&std::fs::read(&b.bootstrap).unwrap()).unwrap();
        assert_eq!(info.machine, Machine::Aarch64, "{f}");
        elf::check_lambda(&info, Machine::Aarch64, elf::AL2023_GLIBC).unwrap();
        let newest = info.max_glibc();
        assert!(
            info.is_static() || newest.is_some_and(|v| v <= GlibcVersion(2, 17, 0)),
            "{f} needs glibc {newest:?}: it should be linked against 2.17"
        );
        if !info.is_static() {
            assert_eq!(
                info.interpreter.as_deref(),
                Some("/lib/ld-linux-aarch64.so.1"),
                "{f}"
            );
        }
        // A stricter runtime would refuse it: the check does look at the versions.
        if let Some(v) = newest {
            let older = GlibcVersion(v.0, v.1.saturating_sub(1), 0);
            assert!(elf::check_lambda(&info, Machine::Aarch64, older).is_err(), "{f}");
        }
        assert!(elf::check_lambda(&info, Machine::X86_64, elf::AL2023_GLIBC).is_err());
        // Lambda's limit for a zip uploaded directly is 50 MB.
        assert!(b.zip_bytes < 50_000_000, "{f}: {} bytes", b.zip_bytes);
    }
}

#[test]
fn every_zip_is_one_executable_bootstrap_with_fixed_metadata_and_its_own_hash() {
    for b in arm64() {
        let f = &b.artifact.function;
        let zip = std::fs::read(&b.artifact.zip).unwrap();
        let hash = hex::encode(Sha256::digest(&zip));
        assert_eq!(hash, b.artifact.sha256, "{f}: the reported SHA-256 is the zip's");
        assert_eq!(zip.len() as u64, b.zip_bytes);
        let entry = xtask_ops::zip::read_single_file(&zip).unwrap();
        assert_eq!(entry.name, "bootstrap");
        assert_eq!(entry.unix_mode, 0o100_755, "{f}: a regular file, rwxr-xr-x");
        assert_eq!(entry.dos_date_time, ((1 << 5) | 1, 0), "{f}: 1980-01-01 00:00");
        let binary = std::fs::read(&b.bootstrap).unwrap();
        assert!(
            entry.data == binary,
            "{f}: the zip holds the bootstrap next to it"
        );
        // Same binary, same bytes: zipping it again gives the identical file.
        let again = xtask_ops::zip::single_file("bootstrap", &binary, 0o755).unwrap();
        assert!(
            again == zip,
            "{f}: zipping the same binary twice gave different bytes"
        );
    }
}

#[test]
fn a_second_build_rebuilds_and_rezips_nothing() {
    let first = arm64();
    let second = build_functions(&BuildOptions {
        arch: Arch::Arm64,
        functions: Vec::new(),
        quiet: true,
    })
    .unwrap();
    for (a, b) in first.iter().zip(&second) {
        let f = &a.artifact.function;
        assert!(!b.compiled, "{f} was compiled again");
        assert!(!b.zipped, "{f} was zipped again");
        assert_eq!(a.artifact, b.artifact);
    }
    // One function alone, by name: the same artifact.
    let one = xtask_ops::build::build(&BuildOptions {
        arch: Arch::Arm64,
        functions: vec!["payment".into()],
        quiet: true,
    })
    .unwrap();
    let payment = first.iter().find(|b| b.artifact.function == "payment").unwrap();
    assert_eq!(one, vec![payment.artifact.clone()]);
}

/// The zip format is pinned: these bytes hash the same on every machine (a change of the
/// writer or of the compressor's version shows up here before it changes every artifact's hash).
#[test]
fn the_zip_of_a_known_file_has_a_known_hash_and_unzips_with_the_mode() {
    let script = b"#!/bin/sh\necho hello from a deterministic zip\n".repeat(20);
    let zip = xtask_ops::zip::single_file("bootstrap", &script, 0o755).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&zip)),
        std::fs::read_to_string(Path::new(FIXTURES).join("known.zip.sha256"))
            .unwrap()
            .trim()
    );
    // An independent reader (Python's zipfile) sees one regular 0755 file with the content.
    let dir = std::env::temp_dir().join(format!("xtask-zip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bootstrap.zip");
    std::fs::write(&path, &zip).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None\n\
             [i] = z.infolist()\n\
             print(i.filename, oct(i.external_attr >> 16), i.date_time, i.compress_type, len(z.read(i)))",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("bootstrap 0o100755 (1980, 1, 1, 0, 0, 0) 8 {}", script.len())
    );
}

// ---------------------------------------------------------------------------------------------
// Under qemu

/// `None` (printed) outside CI when `qemu-aarch64` or the aarch64 glibc is missing; in CI, a
/// failure that names the install command.
fn qemu_here() -> Option<()> {
    let Some(message) = qemu_missing() else {
        return Some(());
    };
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message}; .ci/run installs them");
    }
    eprintln!("SKIPPED: running the arm64 functions under qemu: {message}");
    None
}

/// Starts one arm64 function under qemu and waits for it to ask for work.
fn start_under_qemu(name: &str) -> LocalFunction {
    let built = arm64().iter().find(|b| b.artifact.function == name).unwrap();
    let command = run_command(Arch::Arm64, &built.bootstrap);
    assert_eq!(command[0], "qemu-aarch64");
    let mut config = FunctionConfig::new(name, command);
    config.env = offline_env(&closed_endpoint().unwrap());
    config.env.insert("RUST_LOG".into(), "info".into());
    config.timeout = Duration::from_secs(30);
    let function = LocalFunction::start(config, stderr_log_sink()).unwrap();
    let ready = function.ready(Duration::from_secs(10)).unwrap();
    eprintln!("{name} (arm64, qemu): process start to first /next in {ready:?}");
    function
}

fn response(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response(v) => v,
        Outcome::Error { .. } => panic!("expected a response, got {outcome:?}"),
    }
}

#[test]
fn the_api_function_answers_a_health_check_under_qemu() {
    let Some(()) = qemu_here() else { return };
    let health = start_under_qemu("health");

    let answer = health.invoke(fixture("apigw-get-health.json")).unwrap();
    let reply = response(&answer.outcome);
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["service"], "orders");
    assert_eq!(body["environment"], "dev");
    // lambda_http answers a REST API event with its headers in `multiValueHeaders`.
    let headers = format!("{} {}", reply["headers"], reply["multiValueHeaders"]).to_ascii_lowercase();
    assert!(headers.contains("application/json"), "{reply}");

    // A route it does not declare is an HTTP 404 with the API's error body, not a function
    // error (the function dispatches on the resource API Gateway matched).
    let mut unknown = fixture("apigw-get-health.json");
    unknown["path"] = json!("/nowhere");
    unknown["resource"] = json!("/nowhere");
    unknown["requestContext"]["resourcePath"] = json!("/nowhere");
    let answer = health.invoke(unknown).unwrap();
    let reply = response(&answer.outcome);
    assert_eq!(reply["statusCode"], 404, "{reply}");

    // An event that is not an API Gateway request: a Lambda error response, and the function
    // goes on serving.
    let answer = health.invoke(json!({"not": "an API Gateway event"})).unwrap();
    let Outcome::Error {
        error_type,
        error_message,
    } = &answer.outcome
    else {
        panic!("expected a function error, got {:?}", answer.outcome)
    };
    assert!(!error_type.is_empty() && !error_message.is_empty());
    let answer = health.invoke(fixture("apigw-get-health.json")).unwrap();
    assert_eq!(response(&answer.outcome)["statusCode"], 200);
}

#[test]
fn a_queue_function_fails_an_unreadable_message_alone_under_qemu() {
    let Some(()) = qemu_here() else { return };
    let start_workflow = start_under_qemu("start-workflow");
    let answer = start_workflow
        .invoke(fixture("sqs-unreadable-order-event.json"))
        .unwrap();
    assert_eq!(
        response(&answer.outcome),
        &json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]})
    );
}

#[test]
fn a_workflow_task_that_fails_answers_a_lambda_error_under_qemu() {
    let Some(()) = qemu_here() else { return };
    let payment = start_under_qemu("payment");

    // A real task input: reading the order fails (nothing listens at the AWS endpoint), and the
    // task answers the error type the workflow's Retry matches, not a crash: no answer from the
    // table is a store that may come back (`StoreUnavailable`).
    let answer = payment.invoke(fixture("payment-task.json")).unwrap();
    match &answer.outcome {
        Outcome::Error {
            error_type,
            error_message,
        } => {
            assert_eq!(error_type, "StoreUnavailable", "{error_message}");
            assert!(!error_message.is_empty());
        }
        other => panic!("expected a task error, got {other:?}"),
    }

    // An input without an order id: the runtime's deserialization error, as a Lambda error.
    let answer = payment.invoke(json!({"retryCount": 1})).unwrap();
    let Outcome::Error { error_message, .. } = &answer.outcome else {
        panic!("expected a function error, got {:?}", answer.outcome)
    };
    assert!(error_message.contains("orderId"), "{error_message}");
    assert!(payment.failure().is_none(), "the function is still up");
}

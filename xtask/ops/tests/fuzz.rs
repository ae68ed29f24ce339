//! The schema-driven fuzzer: schemathesis (pinned, installed into the tool folder) runs from the
//! dev OpenAPI document against the local system of `cargo xtask dev`, started in this process
//! (fresh moto on a free port, the API on a free port, throttling off).
//!
//! What it enforces (schemathesis' checks, configured in `fixtures/fuzz/schemathesis.toml`):
//! no answer is a 5xx; every status is documented for its operation, with a JSON body that
//! conforms to the documented schema; a request that breaks its schema gets 400; a request its
//! schema accepts gets a 2xx or a documented business refusal (404, 409, 422), never a 400; a
//! key route refuses a request without the key. It is bounded: [`EXAMPLES`] test cases per
//! operation and phase, a fixed [`SEED`], and the run is stopped after [`BUDGET`].
//!
//! On failure it prints each distinct failure (operation, check, request, response) from
//! schemathesis' event report (`fixtures/fuzz/summary.py`); the report and schemathesis' own
//! output stay in `target/fuzz/`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infra_model::Env;
use infra_model::system::api::{API_KEY_HEADER, ROUTES};
use infra_model::system::openapi::{self, Server};
use serde_json::Value;
use xtask_ops::build::HostBuild;
use xtask_ops::dev::{DevOptions, DevSystem};
use xtask_ops::tools;

/// Test cases per operation in each generating phase (schemathesis' `--max-examples`);
/// `ORDERS_FUZZ_EXAMPLES` overrides it for a longer hunt.
const EXAMPLES: u32 = 40;
/// The seed of every run: the same seed, the same test cases (`ORDERS_FUZZ_SEED` overrides it).
const SEED: u64 = 20_261_201;
/// How long schemathesis may run before it is stopped and the test fails.
const BUDGET: Duration = Duration::from_secs(150);
const API_KEY: &str = "fuzz-test-key-0123456789";
/// The checks that run (see `fixtures/fuzz/schemathesis.toml` for the statuses they accept).
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "ignored_auth",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")
}

/// A setting from the environment, or its default.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}... ({} characters)", &s[..i], s.chars().count()),
        None => s.to_owned(),
    }
}

/// What `summary.py` makes of the event report.
struct Summary {
    cases: u64,
    per_operation: Vec<(String, u64)>,
    failures: Vec<Value>,
    errors: Vec<Value>,
}

fn summarize(report: &Path) -> Summary {
    let python = tools::bin_dir().join("python3");
    let out = Command::new(python)
        .arg(fixtures().join("summary.py"))
        .arg(report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "summary.py failed on {}: {}",
        report.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Summary {
        cases: v["cases"].as_u64().unwrap_or(0),
        per_operation: v["per_operation"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect(),
        failures: v["failures"].as_array().cloned().unwrap_or_default(),
        errors: v["errors"].as_array().cloned().unwrap_or_default(),
    }
}

/// Each failure on a few lines: the operation and the check, the request, the answer.
fn render(s: &Summary) -> String {
    let mut out = String::new();
    for (i, f) in s.failures.iter().enumerate() {
        let req = &f["request"];
        let _ = writeln!(
            out,
            "{}. {} — {} ({}; seen {}×, {} phase)\n   {}\n   request:  {} {}{}{}\n   response: {} {}",
            i + 1,
            f["operation"].as_str().unwrap_or(""),
            f["check"].as_str().unwrap_or(""),
            f["title"].as_str().unwrap_or(""),
            f["count"],
            f["phase"].as_str().unwrap_or(""),
            f["message"].as_str().unwrap_or("").replace('\n', " / "),
            req["method"].as_str().unwrap_or(""),
            cut(req["uri"].as_str().unwrap_or(""), 300),
            req["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
                .map(|(k, v)| format!("  {k}: {}", v[0].as_str().unwrap_or("")))
                .collect::<String>(),
            match req["body"].as_str() {
                Some(b) if !b.is_empty() => format!("\n             {b}"),
                _ => String::new(),
            },
            f["response"]["status"],
            f["response"]["body"].as_str().unwrap_or(""),
        );
    }
    for e in &s.errors {
        let _ = writeln!(
            out,
            "error: {} ({} phase): {}",
            e["operation"].as_str().unwrap_or(""),
            e["phase"].as_str().unwrap_or(""),
            e["error"].as_str().unwrap_or("")
        );
    }
    out
}

/// Runs schemathesis to its end or until `budget`; returns whether it finished, and its output.
fn run_schemathesis(
    document: &Path,
    url: &str,
    out_dir: &Path,
    (examples, seed): (u32, u64),
    budget: Duration,
) -> (bool, String) {
    let exe = tools::ensure(tools::SCHEMATHESIS).unwrap();
    let log = out_dir.join("schemathesis.out");
    let log_file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(exe)
        .arg("--config-file")
        .arg(fixtures().join("schemathesis.toml"))
        .arg("run")
        .arg(document)
        .args(["--url", url])
        .args(["--header", &format!("{API_KEY_HEADER}: {API_KEY}")])
        .args(["--checks", &CHECKS.join(",")])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--continue-on-failure"])
        .args(["--output-sanitize", "false", "--no-color"])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(out_dir.join("events.ndjson"))
        .current_dir(out_dir)
        .stdout(Stdio::from(log_file.try_clone().unwrap()))
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let start = Instant::now();
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > budget {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (finished, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn schema_valid_requests_pass_and_invalid_ones_get_400() {
    let out_dir = xtask_ops::root().join("target").join("fuzz");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    // Installed before the clock starts: the first run installs it (minutes).
    tools::ensure(tools::SCHEMATHESIS).unwrap();

    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let started = Instant::now();
    let system = DevSystem::start(DevOptions {
        port: 0,
        moto_port: 0,
        api_key: Some(API_KEY.into()),
        throttle: false,
        log: Arc::new(move |source: &str, line: &str| {
            if let Ok(mut l) = sink.lock() {
                l.push(format!("[{source}] {line}"));
            }
        }),
        // The function binaries the suite built: no second build of the SDK stack.
        host_build: HostBuild::TestSuite,
        ..DevOptions::new()
    })
    .unwrap();
    let ready = started.elapsed();

    // The dev document, with the local system as its one server.
    let info = openapi::info(Env::Dev, vec![Server::local(&system.url)]);
    let document = openapi::generate(&info, ROUTES, &openapi::gateway_failures()).unwrap();
    let document_path = out_dir.join("orders-dev.openapi.json");
    std::fs::write(&document_path, openapi::to_json(&document)).unwrap();

    let examples = setting("ORDERS_FUZZ_EXAMPLES", EXAMPLES);
    let seed = setting("ORDERS_FUZZ_SEED", SEED);
    let budget = BUDGET.max(Duration::from_secs(u64::from(examples) * 4));
    let fuzz_start = Instant::now();
    let (finished, output) =
        run_schemathesis(&document_path, &system.url, &out_dir, (examples, seed), budget);
    let fuzz_time = fuzz_start.elapsed();
    drop(system);
    std::fs::write(out_dir.join("local-system.log"), lines.lock().unwrap().join("\n")).unwrap();

    assert!(
        finished,
        "schemathesis did not finish within {budget:?}; its output so far:\n{output}"
    );
    let report = out_dir.join("events.ndjson");
    assert!(report.exists(), "schemathesis wrote no report:\n{output}");
    let summary = summarize(&report);
    eprintln!(
        "fuzz: system ready in {:.1} s, schemathesis {:.1} s, {} test cases (seed {seed}, {examples} per operation and phase):",
        ready.as_secs_f64(),
        fuzz_time.as_secs_f64(),
        summary.cases,
    );
    for (operation, n) in &summary.per_operation {
        eprintln!("  {n:>5}  {operation}");
    }
    // Every operation was exercised: a run that tested nothing proves nothing.
    for r in ROUTES {
        let label = format!("{} {}", r.method, r.path);
        let n = summary
            .per_operation
            .iter()
            .find(|(op, _)| *op == label)
            .map_or(0, |(_, n)| *n);
        assert!(n > 0, "schemathesis sent nothing to {label}:\n{output}");
    }
    let rendered = render(&summary);
    std::fs::write(out_dir.join("failures.txt"), &rendered).unwrap();
    assert!(
        summary.failures.is_empty() && summary.errors.is_empty(),
        "the fuzzer found {} failure(s) and {} error(s) (all in target/fuzz/: failures.txt, \
         schemathesis.out, events.ndjson, local-system.log):\n{rendered}",
        summary.failures.len(),
        summary.errors.len()
    );
}

//! The Lambda Runtime API emulator, driven by real processes: a fake runtime in Python
//! (`tests/fixtures/fake_runtime.py`) that speaks the protocol as `lambda_runtime` does.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::{BTreeMap, HashSet};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use local_cloud::runtime_api::{FunctionConfig, InvokeError, InvokeOptions, LocalFunction, LogSink, Outcome};
use serde_json::{Value, json};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake_runtime.py");
const READY: Duration = Duration::from_secs(10);

/// Every line the sink received, as `(function, line)`.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<(String, String)>>>);

impl Logs {
    fn sink(&self) -> LogSink {
        let lines = Arc::clone(&self.0);
        Arc::new(move |function: &str, line: &str| {
            eprintln!("[{function}] {line}");
            lines.lock().unwrap().push((function.to_owned(), line.to_owned()));
        })
    }

    fn lines(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }

    /// How many lines start with `prefix`.
    fn count(&self, prefix: &str) -> usize {
        self.lines().iter().filter(|(_, l)| l.starts_with(prefix)).count()
    }

    /// Waits until a line containing `needle` arrives, and returns it with its function.
    fn wait_for(&self, needle: &str) -> (String, String) {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(hit) = self.lines().into_iter().find(|(_, l)| l.contains(needle)) {
                return hit;
            }
            assert!(
                Instant::now() < end,
                "no log line with {needle:?} in {:#?}",
                self.lines()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn config(name: &str, mode: Option<&str>) -> FunctionConfig {
    let mut config = FunctionConfig::new(name, ["python3", "-u", FIXTURE]);
    if let Some(mode) = mode {
        config.env.insert("FAKE_MODE".into(), mode.into());
    }
    config
}

fn start(config: FunctionConfig) -> (LocalFunction, Logs) {
    let logs = Logs::default();
    let function = LocalFunction::start(config, logs.sink()).unwrap();
    (function, logs)
}

fn response(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response(value) => value,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn error(outcome: &Outcome) -> (&str, &str) {
    match outcome {
        Outcome::Error {
            error_type,
            error_message,
        } => (error_type, error_message),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_until_gone(pid: u32) {
    let end = Instant::now() + Duration::from_secs(5);
    while process_exists(pid) {
        assert!(Instant::now() < end, "process {pid} is still there");
        thread::sleep(Duration::from_millis(10));
    }
}

fn pid_of(value: &Value) -> u64 {
    value["pid"].as_u64().unwrap()
}

#[test]
fn an_event_round_trips_with_the_runtime_headers_over_one_connection() {
    let mut config = config("echo-fn", None);
    config.timeout = Duration::from_secs(3);
    let (function, _logs) = start(config);
    let init = function.ready(READY).unwrap();
    assert!(init > Duration::ZERO && init < READY, "{init:?}");

    let before = now_ms();
    let first = function.invoke(json!({"action": "echo", "order": 42})).unwrap();
    let after = now_ms();
    let body = response(&first.outcome);
    assert_eq!(body["event"], json!({"action": "echo", "order": 42}));
    let headers = &body["headers"];
    assert_eq!(
        headers["lambda-runtime-aws-request-id"],
        first.request_id.as_str()
    );
    let deadline: u64 = headers["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline >= before + 3000 && deadline <= after + 3000,
        "deadline {deadline} is not about 3 s after {before}..{after}"
    );
    assert_eq!(
        headers["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:echo-fn"
    );
    assert!(
        headers["lambda-runtime-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("lambda-runtime-client-context").is_none());
    assert!(headers.get("lambda-runtime-cognito-identity").is_none());
    assert!(first.duration < Duration::from_secs(1), "{:?}", first.duration);

    let options = InvokeOptions {
        client_context: Some(json!({"client": {"app_title": "shop"}, "custom": {"k": "v"}})),
        cognito_identity: Some(json!({"identity_id": "id-1", "identity_pool_id": "pool-1"})),
    };
    let second = function.invoke_with(json!({"order": 43}), options).unwrap();
    let body2 = response(&second.outcome);
    assert_ne!(first.request_id, second.request_id);
    let context: Value = serde_json::from_str(
        body2["headers"]["lambda-runtime-client-context"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(context["custom"]["k"], "v");
    let identity: Value = serde_json::from_str(
        body2["headers"]["lambda-runtime-cognito-identity"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(identity["identity_pool_id"], "pool-1");
    // The runtime reused its connection (keep-alive): same client port both times.
    assert_eq!(body["local_port"], body2["local_port"]);
    assert_eq!(pid_of(body), pid_of(body2));
}

#[test]
fn a_function_error_is_the_outcome_and_the_sandbox_stays() {
    let (function, _logs) = start(config("fail-fn", None));
    let failed = function.invoke(json!({"action": "fail"})).unwrap();
    assert_eq!(
        error(&failed.outcome),
        ("OrderRejected", "quantity must be positive")
    );
    let pid = function.sandboxes()[0].pid;
    let ok = function.invoke(json!({"action": "echo"})).unwrap();
    assert_eq!(pid_of(response(&ok.outcome)), u64::from(pid));
}

#[test]
fn protocol_details_404_400_chunked_and_oversized_answers() {
    let (function, logs) = start(config("probe-fn", None));
    let probe = function.invoke(json!({"action": "probe"})).unwrap();
    let body = response(&probe.outcome);
    assert_eq!(body["chunked"], true, "the chunked answer was decoded");
    assert_eq!(body["missing"], 404);
    assert_eq!(body["unknown"], 400);
    assert_eq!(body["unknown_body"]["errorType"], "InvalidRequestID");
    logs.wait_for("probe first answer 202, second answer 400");
    logs.wait_for("GET /2018-06-01/runtime/nothing-here, which this emulator does not serve");

    let big = function.invoke(json!({"action": "big"})).unwrap();
    assert_eq!(error(&big.outcome).0, "Function.ResponseSizeTooLarge");
    logs.wait_for("big response status 413");
    // The same process and connection go on.
    let pid = function.sandboxes()[0].pid;
    let ok = function.invoke(json!({})).unwrap();
    assert_eq!(pid_of(response(&ok.outcome)), u64::from(pid));
}

#[test]
fn an_init_error_stops_the_function_with_its_reason() {
    let (function, logs) = start(config("init-fn", Some("init-error")));
    let waiting = function.invoke(json!({})).unwrap_err();
    let InvokeError::FunctionFailed {
        function: name,
        reason,
    } = &waiting
    else {
        panic!("{waiting:?}");
    };
    assert_eq!(name, "init-fn");
    assert!(
        reason.contains("Runtime.FakeInitError: config table missing"),
        "{reason}"
    );
    assert!(waiting.to_string().contains("fix it"), "{waiting}");

    let err = function.ready(READY).unwrap_err().to_string();
    assert!(err.contains("config table missing"), "{err}");
    assert!(function.failure().unwrap().contains("config table missing"));
    let started = Instant::now();
    assert!(matches!(
        function.invoke(json!({})),
        Err(InvokeError::FunctionFailed { .. })
    ));
    assert!(started.elapsed() < Duration::from_millis(100));

    logs.wait_for("init error status 202");
    let (_, line) = logs.wait_for("fake runtime starting pid=");
    let pid: u32 = line.rsplit('=').next().unwrap().parse().unwrap();
    wait_until_gone(pid);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(logs.count("fake runtime starting"), 1, "not restarted");
    assert!(function.sandboxes().is_empty());
}

#[test]
fn an_exit_before_the_first_next_is_an_init_failure_with_the_last_output() {
    let (function, _logs) = start(config("exit-fn", Some("init-exit")));
    let err = function.ready(READY).unwrap_err().to_string();
    assert!(err.contains("exit status: 3"), "{err}");
    assert!(err.contains("before asking for its first invocation"), "{err}");
    assert!(err.contains("missing ORDERS_TABLE, giving up"), "{err}");
    assert!(matches!(
        function.invoke(json!({})),
        Err(InvokeError::FunctionFailed { .. })
    ));
}

#[test]
fn a_crash_mid_invocation_is_an_exit_error_and_a_new_sandbox_takes_over() {
    let (function, logs) = start(config("crash-fn", None));
    function.ready(READY).unwrap();
    let old = function.sandboxes()[0].pid;

    let crashed = function.invoke(json!({"action": "crash"})).unwrap();
    let (error_type, message) = error(&crashed.outcome);
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(message.contains(&crashed.request_id), "{message}");
    assert!(message.contains("exit status: 7"), "{message}");
    logs.wait_for("about to crash");
    wait_until_gone(old);

    let ok = function.invoke(json!({"action": "echo"})).unwrap();
    let new = pid_of(response(&ok.outcome));
    assert_ne!(new, u64::from(old));
    assert!(function.failure().is_none());
}

#[test]
fn a_timeout_kills_the_sandbox_and_a_new_one_takes_over() {
    let mut config = config("slow-fn", None);
    config.timeout = Duration::from_millis(500);
    let (function, logs) = start(config);
    function.ready(READY).unwrap();
    let old = function.sandboxes()[0].pid;

    let started = Instant::now();
    let timed_out = function.invoke(json!({"action": "sleep", "ms": 20_000})).unwrap();
    let elapsed = started.elapsed();
    let (error_type, message) = error(&timed_out.outcome);
    assert_eq!(error_type, "Sandbox.Timedout");
    assert!(message.contains("Task timed out after 0.50 seconds"), "{message}");
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    wait_until_gone(old);
    logs.wait_for("timed out after");

    let ok = function.invoke(json!({"action": "echo"})).unwrap();
    assert_ne!(pid_of(response(&ok.outcome)), u64::from(old));
}

#[test]
fn sandboxes_run_in_parallel_one_invocation_each() {
    let mut config = config("busy-fn", None);
    config.concurrency = 3;
    let (function, _logs) = start(config);
    function.ready(READY).unwrap();
    assert_eq!(function.sandboxes().len(), 3);

    let started = Instant::now();
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| function.invoke(json!({"action": "sleep", "ms": 300}))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    // One sandbox would need 6 × 300 ms = 1.8 s; three need about 0.6 s.
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

    let mut by_pid: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for invocation in &results {
        let body = response(&invocation.outcome);
        assert!(invocation.duration >= Duration::from_millis(300));
        by_pid
            .entry(pid_of(body))
            .or_default()
            .push((body["start"].as_f64().unwrap(), body["end"].as_f64().unwrap()));
    }
    assert_eq!(by_pid.len(), 3, "every sandbox worked: {by_pid:?}");
    for spans in by_pid.values_mut() {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "one invocation at a time: {spans:?}");
        }
    }
    assert!(results.iter().any(|i| i.queued >= Duration::from_millis(200)));
    let ids: HashSet<_> = results.iter().map(|i| i.request_id.clone()).collect();
    assert_eq!(ids.len(), 6);
}

#[test]
fn the_sandbox_sees_the_lambda_environment_and_the_config_wins() {
    let mut config = config("env-fn", None);
    config.memory_mb = 512;
    config.env.insert("ORDERS_TABLE".into(), "orders-dev".into());
    config.env.insert("AWS_REGION".into(), "eu-west-1".into());
    config
        .env
        .insert("AWS_LAMBDA_FUNCTION_VERSION".into(), "7".into());
    let (function, _logs) = start(config);
    function.ready(READY).unwrap();
    let api = function.sandboxes()[0].runtime_api;

    let invocation = function.invoke(json!({"action": "env"})).unwrap();
    let body = response(&invocation.outcome);
    let env = &body["env"];
    let fixtures = Path::new(FIXTURE).parent().unwrap().to_str().unwrap();
    let api_text = api.to_string();
    let expect = [
        ("AWS_LAMBDA_RUNTIME_API", api_text.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "env-fn"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/env-fn"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", fixtures),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_rust"),
        ("ORDERS_TABLE", "orders-dev"),
        ("TZ", ":UTC"),
    ];
    for (name, value) in expect {
        assert_eq!(env[name], value, "{name}");
    }
    assert_eq!(body["cwd"], fixtures);
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
    assert!(stream.contains("/[$LATEST]"), "{stream}");
    assert!(api.ip().is_loopback());
    // The developer's environment does not leak in (PATH is kept to find the interpreter).
    assert!(env.get("HOME").is_none(), "HOME leaked: {env}");
    assert!(env.get("PATH").is_some());
}

#[test]
fn stdout_and_stderr_lines_reach_the_sink_with_the_function_name() {
    let (function, logs) = start(config("log-fn", None));
    let invocation = function.invoke(json!({"action": "log"})).unwrap();
    assert_eq!(response(&invocation.outcome)["logged"], true);
    assert_eq!(
        logs.wait_for("hello from stdout"),
        ("log-fn".into(), "hello from stdout".into())
    );
    assert_eq!(
        logs.wait_for("hello from stderr"),
        ("log-fn".into(), "hello from stderr".into())
    );
}

#[test]
fn a_sandbox_that_keeps_exiting_while_idle_is_restarted_with_backoff_and_never_given_up() {
    let (function, logs) = start(config("idle-fn", Some("idle-exit")));
    let started = Instant::now();
    let end = started + Duration::from_secs(20);
    // More exits in a row than the emulator once allowed (3) before it gave a function up.
    while logs.count("fake runtime starting") < 5 {
        assert!(Instant::now() < end, "not restarted: {:#?}", logs.lines());
        assert_eq!(function.failure(), None, "{:#?}", logs.lines());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(function.failure(), None);
    // Restarted after 0.5 s, 1 s, 2 s, 2 s (plus 0.3 s idle each): no hot loop.
    assert!(
        started.elapsed() >= Duration::from_millis(5500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        logs.lines()
            .iter()
            .any(|(_, l)| l.contains("while waiting for work; starting a new one in 2s")),
        "{:#?}",
        logs.lines()
    );
}

#[test]
fn a_failed_init_after_the_function_has_run_fails_one_invocation_and_a_new_sandbox_takes_over() {
    let flaky = std::env::temp_dir().join(format!("fake-flaky-{}", std::process::id()));
    let mut config = config("flaky-fn", Some("flaky-init"));
    config
        .env
        .insert("FAKE_FLAKY".into(), flaky.display().to_string());
    let (function, logs) = start(config);
    let first = function.invoke(json!({"n": 1})).unwrap();
    assert_eq!(response(&first.outcome)["event"]["n"], 1);

    // The next sandbox fails its init once (as one killed while it starts).
    std::fs::write(&flaky, "").unwrap();
    let crashed = function.invoke(json!({"action": "crash"})).unwrap();
    assert_eq!(error(&crashed.outcome).0, "Runtime.ExitError");
    let mut outcomes = Vec::new();
    let served = loop {
        let i = function.invoke(json!({"n": 2})).unwrap();
        match &i.outcome {
            Outcome::Response(_) => break i,
            other => outcomes.push(other.clone()),
        }
        assert!(outcomes.len() < 3, "{outcomes:#?} {:#?}", logs.lines());
    };
    assert_eq!(response(&served.outcome)["event"]["n"], 2);
    assert!(
        outcomes.iter().all(|o| error(o).0 == "Runtime.ExitError"),
        "{outcomes:#?}"
    );
    assert_eq!(function.failure(), None);
    assert!(!flaky.exists(), "the failed init ran: {:#?}", logs.lines());
    assert!(
        logs.lines()
            .iter()
            .any(|(_, l)| l.contains("during init; starting a new one")),
        "{:#?}",
        logs.lines()
    );
}

#[test]
fn shutdown_kills_every_process_and_closes_every_port() {
    let mut config = config("stop-fn", None);
    config.concurrency = 2;
    config.timeout = Duration::from_secs(30);
    let (function, _logs) = start(config);
    function.ready(READY).unwrap();
    let sandboxes = function.sandboxes();
    assert_eq!(sandboxes.len(), 2);

    thread::scope(|s| {
        let pending = s.spawn(|| function.invoke(json!({"action": "sleep", "ms": 20_000})));
        thread::sleep(Duration::from_millis(300));
        function.shutdown();
        assert_eq!(
            pending.join().unwrap().unwrap_err(),
            InvokeError::ShutDown {
                function: "stop-fn".into()
            }
        );
    });
    for sandbox in &sandboxes {
        assert!(!process_exists(sandbox.pid), "pid {} survived", sandbox.pid);
        let refused = TcpStream::connect(sandbox.runtime_api).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }
    assert!(matches!(
        function.invoke(json!({})),
        Err(InvokeError::ShutDown { .. })
    ));
    function.shutdown(); // twice is fine

    // Dropping does the same.
    let (dropped, _logs) = start(crate::config("drop-fn", None));
    dropped.ready(READY).unwrap();
    let sandbox = dropped.sandboxes()[0].clone();
    drop(dropped);
    assert!(!process_exists(sandbox.pid));
    assert!(TcpStream::connect(sandbox.runtime_api).is_err());
}

#[test]
fn start_errors_say_what_to_do() {
    let logs = Logs::default();
    let missing = FunctionConfig::new("missing-fn", ["target/lambda/missing-fn/bootstrap"]);
    let err = LocalFunction::start(missing, logs.sink())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist; run `cargo xtask build` first"),
        "{err}"
    );

    let no_program = FunctionConfig::new("qemu-fn", ["no-such-qemu-aarch64", FIXTURE]);
    let err = LocalFunction::start(no_program, logs.sink())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot start no-such-qemu-aarch64"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    assert!(err.contains("PATH"), "{err}");
}

#[test]
fn recycle_replaces_every_sandbox_and_lets_a_busy_one_finish_first() {
    let mut config = config("recycled-fn", None);
    config.concurrency = 2;
    let (function, _logs) = start(config);
    function.ready(READY).unwrap();
    let old: HashSet<u32> = function.sandboxes().iter().map(|s| s.pid).collect();
    assert_eq!(old.len(), 2);
    thread::scope(|s| {
        // One sandbox busy for 800 ms while the recycle is asked for.
        let busy = s.spawn(|| function.invoke(json!({"action": "sleep", "ms": 800})).unwrap());
        thread::sleep(Duration::from_millis(200));
        assert_eq!(function.recycle(), 2);
        // Queued meanwhile: served by a new sandbox, never by a retiring one.
        let queued = function.invoke(json!({"action": "echo"})).unwrap();
        let pid = u32::try_from(pid_of(response(&queued.outcome))).unwrap();
        assert!(!old.contains(&pid), "a recycled sandbox took new work");
        // The busy one finished its invocation, then went.
        let done = busy.join().unwrap();
        assert!(matches!(done.outcome, Outcome::Response(_)), "{:?}", done.outcome);
    });
    for pid in &old {
        wait_until_gone(*pid);
    }
    function.ready(READY).unwrap();
    let new: HashSet<u32> = function.sandboxes().iter().map(|s| s.pid).collect();
    assert_eq!(new.len(), 2);
    assert!(new.is_disjoint(&old), "{old:?} -> {new:?}");
    assert!(function.failure().is_none());
}

//! `cargo xtask dev` as a command: the log sink, the start, `--smoke`, `--watch`, and serving
//! until Ctrl-C; and the local API's small client (tests, `--smoke`, the benchmark).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{DevOptions, DevSystem, faults, http, watch};
use crate::deploy;
use crate::runtime_api::LogSink;

/// Waits for Ctrl-C or SIGTERM.
pub fn wait_for_signal() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })
    .context("cannot listen for Ctrl-C")
}

/// A client of the local API (tests, `--smoke`, the benchmark).
pub struct Client {
    addr: std::net::SocketAddr,
    pub api_key: String,
}

impl Client {
    pub fn new(url: &str, api_key: &str) -> Result<Client> {
        Ok(Client {
            addr: http::addr_of(url)?,
            api_key: api_key.to_owned(),
        })
    }

    /// A request with the API key (when `with_key`); retries 429s for up to 10 s.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        with_key: bool,
    ) -> Result<http::Response> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut headers = vec![("Content-Type", "application/json")];
        if with_key {
            headers.push(("x-api-key", self.api_key.as_str()));
        }
        let start = Instant::now();
        loop {
            let r = http::request(
                self.addr,
                method,
                path,
                &headers,
                body.as_bytes(),
                Duration::from_secs(60),
            )?;
            if r.status != 429 || start.elapsed() > Duration::from_secs(10) {
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Polls an order until its status is one of `statuses` (or the timeout).
    pub fn wait_for_status(&self, order_id: &str, statuses: &[&str], timeout: Duration) -> Result<Value> {
        let start = Instant::now();
        loop {
            let r = self.call("GET", &format!("/orders/{order_id}"), None, true)?;
            let v = r.json();
            if let Some(s) = v["status"].as_str()
                && statuses.contains(&s)
            {
                return Ok(v);
            }
            if start.elapsed() > timeout {
                bail!(
                    "order {order_id} did not reach {statuses:?} in {timeout:?}; last answer {} {v}",
                    r.status
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

/// An order body for `email` with `(sku, quantity, price)` lines (test-api's).
pub use crate::live::order_body;

/// `--smoke`: one order through, end to end.
pub fn smoke(system: &DevSystem) -> Result<()> {
    let c = Client::new(&system.url, &system.api_key)?;
    let sku = format!("smoke-{}", &crate::runtime_api::uuid_v4()[..8]);
    let r = c.call(
        "PUT",
        &format!("/inventory/{sku}"),
        Some(&json!({"stock": 5, "price": 10.0, "name": "Smoke test item"})),
        true,
    )?;
    if r.status >= 300 {
        bail!("PUT /inventory/{sku} answered {}: {}", r.status, r.text());
    }
    let r = c.call(
        "POST",
        "/orders",
        Some(&order_body("smoke@example.com", &[(&sku, 2, 10.0)])),
        true,
    )?;
    if r.status != 202 {
        bail!("POST /orders answered {}: {}", r.status, r.text());
    }
    let id = r.json()["orderId"]
        .as_str()
        .context("POST /orders gave no orderId")?
        .to_owned();
    let t = Instant::now();
    let order = c.wait_for_status(&id, &["SHIPPED", "FAILED", "REJECTED"], Duration::from_secs(60))?;
    if order["status"] != "SHIPPED" {
        bail!("the smoke order ended {}: {order}", order["status"]);
    }
    println!(
        "smoke: order {id} PENDING → SHIPPED in {} ms (tracking number {})",
        t.elapsed().as_millis(),
        order["trackingNumber"]
            .as_str()
            .or(order["shipping"]["trackingNumber"].as_str())
            .unwrap_or("?")
    );
    Ok(())
}

/// What `cargo xtask dev` does once the system is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serve until Ctrl-C.
    Serve,
    /// Serve, and reload the functions on saved changes (`--watch`).
    Watch,
    /// One order through, then stop (`--smoke`).
    Smoke,
}

/// `cargo xtask dev`.
pub fn cli(
    port: u16,
    api_key: Option<String>,
    moto_port: u16,
    throttle: bool,
    wait_scale: f64,
    mode: Mode,
    faults: faults::FaultSpec,
) -> Result<std::process::ExitCode> {
    // After Ctrl-C, the runtimes' complaints about their closing Runtime API are noise.
    let stopping = Arc::new(AtomicBool::new(false));
    let quiet = stopping.clone();
    // Every line also goes to the local log, for `cargo xtask logs --local`.
    let log_path = deploy::logs::local_log_path();
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log_file = std::sync::Mutex::new(
        std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?,
    );
    let log: LogSink = Arc::new(move |source: &str, line: &str| {
        if !quiet.load(Ordering::Relaxed) {
            eprintln!("[{source}] {line}");
        }
        let (level, message) = deploy::logs::parse_message(line);
        let entry = deploy::logs::Line {
            timestamp: deploy::logs::now_ms(),
            source: source.to_owned(),
            level,
            message,
            event_id: String::new(),
        };
        if let (Ok(mut f), Ok(text)) = (log_file.lock(), serde_json::to_string(&entry)) {
            use std::io::Write as _;
            let _ = writeln!(f, "{text}");
        }
    });
    let options = DevOptions {
        port,
        api_key,
        moto_port,
        throttle,
        wait_scale,
        log,
        faults,
        ..DevOptions::new()
    };
    eprintln!(
        "cargo xtask dev: the order system on this machine (moto, local Lambda processes, the REST API)"
    );
    let mut system = DevSystem::start(options)?;
    // Where `--local` finds this system (test-api, load, logs).
    let state = crate::live::LocalState {
        url: system.url.clone(),
        api_key: system.api_key.clone(),
        moto_endpoint: system.moto_endpoint.clone(),
        lambda_endpoint: system.lambda_endpoint.clone(),
        pid: std::process::id(),
        log_file: log_path,
        throttled: throttle,
    };
    state.write()?;
    println!(
        "\nReady in {:.1} s: {}  (API key: {})\n{}\n",
        system.ready_after.as_secs_f64(),
        system.url,
        system.api_key,
        system.example()
    );
    if mode == Mode::Smoke {
        let result = smoke(&system);
        stopping.store(true, Ordering::Relaxed);
        system.shutdown();
        state.remove_if_mine();
        result?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("Logs follow, one line per function line ([function] ...). Ctrl-C stops everything.");
    let watcher = (mode == Mode::Watch).then(|| {
        let functions = system.functions().to_vec();
        let stop = stopping.clone();
        std::thread::spawn(move || watch::run(&functions, &stop, &|s: &str| eprintln!("[dev] {s}")))
    });
    wait_for_signal()?;
    stopping.store(true, Ordering::Relaxed);
    if let Some(Ok(Err(e))) = watcher.map(std::thread::JoinHandle::join) {
        eprintln!("watch: {e:#}");
    }
    eprintln!(
        "\nstopping: the API, the event sources, the functions{}",
        if system.moto_started { " and moto" } else { "" }
    );
    system.shutdown();
    state.remove_if_mine();
    eprintln!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

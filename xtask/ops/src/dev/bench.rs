//! `cargo xtask bench --dev`: the local system's start-up and request figures.
//!
//! Starts the system as `cargo xtask dev` does (a fresh moto on a free port, throttling off:
//! the dev usage plan would cap the load at 10 requests/s), then runs a closed-loop load
//! generator: `CLIENTS` threads, each sending its next request when the last one answered, for
//! `DURATION`, first `POST /orders` (one stocked SKU; the orders then flow through reservation and
//! the workflow in the background, as they would), then `GET /orders/{id}` over the created ids.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::{Client, DevOptions, DevSystem, order_body};

const CLIENTS: usize = 8;
const DURATION: Duration = Duration::from_secs(10);

/// Latency figures of one request kind.
#[derive(Debug)]
pub struct Load {
    pub requests: usize,
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub per_second: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `f(client, n)` from `CLIENTS` threads for `DURATION`; `f` answers whether it succeeded.
fn load<F>(client: &Client, f: F) -> Load
where
    F: Fn(&Client, usize) -> bool + Sync,
{
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    let mut n = t;
                    while start.elapsed() < DURATION {
                        let t0 = Instant::now();
                        if f(client, n) {
                            lat.push(t0.elapsed());
                        } else {
                            errors += 1;
                        }
                        n += CLIENTS;
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let elapsed = start.elapsed();
    let mut all: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    all.sort();
    Load {
        requests: all.len(),
        errors: results.iter().map(|(_, e)| e).sum(),
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
    }
}

/// Starts the system, measures, prints the figures the README quotes, stops it.
pub fn run() -> Result<()> {
    let options = DevOptions {
        port: 0,
        moto_port: 0,
        throttle: false,
        log: std::sync::Arc::new(|_: &str, _: &str| {}),
        ..DevOptions::new()
    };
    println!(
        "local system (cargo xtask dev), {CLIENTS} closed-loop clients, {} s per route",
        DURATION.as_secs()
    );
    let system = DevSystem::start(options)?;
    println!(
        "command to ready (warm build, fresh moto): {:.1} s  ({:?} ms per phase)",
        system.ready_after.as_secs_f64(),
        system.timings_ms
    );
    let c = Client::new(&system.url, &system.api_key)?;
    let r = c.call(
        "PUT",
        "/inventory/bench-item",
        Some(&json!({"stock": 1_000_000, "price": 5.0, "name": "Benchmark item"})),
        true,
    )?;
    if r.status >= 300 {
        bail!("PUT /inventory/bench-item answered {}: {}", r.status, r.text());
    }
    // One request at a time on the idle system: the latency without queueing.
    let first = c.call(
        "POST",
        "/orders",
        Some(&order_body("idle@example.com", &[("bench-item", 1, 5.0)])),
        true,
    )?;
    let first_id = first.json()["orderId"].as_str().unwrap_or_default().to_owned();
    std::thread::sleep(Duration::from_secs(2));
    let mut idle = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = c.call("GET", &format!("/orders/{first_id}"), None, true)?;
        if r.status == 200 {
            idle.push(t.elapsed());
        }
    }
    idle.sort();
    println!(
        "GET /orders/{{id}}, one at a time, idle: p50 {:.1} ms, max {:.1} ms ({} requests)",
        percentile(&idle, 0.5).as_secs_f64() * 1000.0,
        idle.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        idle.len()
    );
    let ids = std::sync::Mutex::new(Vec::new());
    let post = load(&c, |c, n| {
        let body = order_body(&format!("bench{n}@example.com"), &[("bench-item", 1, 5.0)]);
        match c.call("POST", "/orders", Some(&body), true) {
            Ok(r) if r.status == 202 => {
                if let (Some(id), Ok(mut ids)) = (r.json()["orderId"].as_str().map(str::to_owned), ids.lock())
                {
                    ids.push(id);
                }
                true
            }
            _ => false,
        }
    });
    let ids = ids
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
    if ids.is_empty() {
        bail!("no order was created; see the figures above");
    }
    let get = load(&c, |c, n| {
        let id = &ids[n % ids.len()];
        c.call("GET", &format!("/orders/{id}"), None, true)
            .is_ok_and(|r| r.status == 200)
    });
    for (what, l) in [("POST /orders", &post), ("GET /orders/{id}", &get)] {
        println!(
            "{what:<18} {:>6} requests, {:>3} errors, p50 {:>6.1} ms, p99 {:>6.1} ms, {:>6.1} requests/s",
            l.requests,
            l.errors,
            l.p50.as_secs_f64() * 1000.0,
            l.p99.as_secs_f64() * 1000.0,
            l.per_second
        );
    }
    let executions = system.executions.lock().map(|e| e.len()).unwrap_or(0);
    println!("(meanwhile {executions} order workflows ran to their end)");
    Ok(())
}

//! `cargo xtask bench --dev`: the local system's start-up and request figures.
//!
//! Starts the system as `cargo xtask dev` does (a fresh moto on a free port, throttling off:
//! the dev usage plan would cap the load at 10 requests/s), then measures:
//! - one request at a time on the idle system (`GET /orders/{id}`, `POST /orders`), and the time
//!   from an order's `POST` to its `SHIPPED` (polled every 5 ms);
//! - a closed-loop load: `CLIENTS` tasks on one pooled keep-alive client (as a load tool holds
//!   its connections), each sending its next request when the last one answered, for
//!   `DURATION`, first `POST /orders` (one stocked SKU; the orders then flow through reservation,
//!   the workflow and the notifications in the background, as they would), then, once that
//!   backlog has drained, `GET /orders/{id}` over the created ids;
//! - the emulator alone under the same load: the GetItem a GET makes, sent straight to moto (the
//!   bound of the local API).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{DevOptions, DevSystem, order_body};
use crate::live::client::ApiClient;

const CLIENTS: usize = 8;
const DURATION: Duration = Duration::from_secs(10);
/// Orders sent one at a time on the idle system, for the POST and POST-to-SHIPPED figures.
const IDLE_ORDERS: usize = 10;

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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `f(n)` from `CLIENTS` tasks for `DURATION`; `f` answers whether it succeeded.
async fn load<F, Fut>(f: F) -> Load
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let f = &f;
    let results = futures_util::future::join_all((0..CLIENTS).map(|t| async move {
        let mut lat = Vec::new();
        let mut errors = 0;
        let mut n = t;
        while start.elapsed() < DURATION {
            let t0 = Instant::now();
            if f(n).await {
                lat.push(t0.elapsed());
            } else {
                errors += 1;
            }
            n += CLIENTS;
        }
        (lat, errors)
    }))
    .await;
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

fn order_id(reply: &Value) -> Option<String> {
    reply["orderId"].as_str().map(str::to_owned)
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
        "local system (cargo xtask dev), {CLIENTS} closed-loop clients (keep-alive), {} s per route",
        DURATION.as_secs()
    );
    let system = DevSystem::start(options)?;
    println!(
        "command to ready (warm build, fresh moto): {:.1} s  ({:?} ms per phase)",
        system.ready_after.as_secs_f64(),
        system.timings_ms
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the load generator's runtime")?;
    rt.block_on(measure(&system))?;
    let executions = system.executions.lock().map(|e| e.len()).unwrap_or(0);
    println!("(meanwhile {executions} order workflows ran to their end)");
    Ok(())
}

async fn measure(system: &DevSystem) -> Result<()> {
    let c = ApiClient::new(&system.url, &system.api_key)?;
    let r = c
        .call(
            "PUT",
            "/inventory/bench-item",
            Some(&json!({"stock": 1_000_000, "price": 5.0, "name": "Benchmark item"})),
        )
        .await?;
    if r.status >= 300 {
        bail!("PUT /inventory/bench-item answered {}: {}", r.status, r.text());
    }

    // One order at a time on the idle system: the POST's latency, and how long the order takes
    // through the stream, the queue and the workflow to SHIPPED.
    let (mut posts, mut shipped, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..IDLE_ORDERS {
        let body = order_body(&format!("idle{n}@example.com"), &[("bench-item", 1, 5.0)]);
        let t = Instant::now();
        let r = c.call("POST", "/orders", Some(&body)).await?;
        posts.push(t.elapsed());
        let id = order_id(&r.json())
            .with_context(|| format!("POST /orders answered {}: {}", r.status, r.text()))?;
        loop {
            let r = c.call("GET", &format!("/orders/{id}"), None).await?;
            match r.json()["status"].as_str() {
                Some("SHIPPED") => break,
                Some("FAILED" | "REJECTED" | "CANCELLED") => {
                    bail!("the idle order {id} ended {}: {}", r.json()["status"], r.text())
                }
                _ if t.elapsed() > Duration::from_secs(30) => {
                    bail!("the idle order {id} was not SHIPPED within 30 s: {}", r.text())
                }
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        shipped.push(t.elapsed());
        ids.push(id);
    }
    let mut gets = Vec::new();
    for n in 0..50 {
        let t = Instant::now();
        let r = c
            .call("GET", &format!("/orders/{}", ids[n % ids.len()]), None)
            .await?;
        if r.status == 200 {
            gets.push(t.elapsed());
        }
    }
    for v in [&mut posts, &mut shipped, &mut gets] {
        v.sort();
    }
    println!(
        "one at a time, idle: GET /orders/{{id}} p50 {:.1} ms, max {:.1} ms ({} requests); POST /orders p50 {:.1} ms, max {:.1} ms; POST to SHIPPED p50 {:.0} ms, max {:.0} ms ({} orders)",
        ms(percentile(&gets, 0.5)),
        ms(gets.last().copied().unwrap_or_default()),
        gets.len(),
        ms(percentile(&posts, 0.5)),
        ms(posts.last().copied().unwrap_or_default()),
        ms(percentile(&shipped, 0.5)),
        ms(shipped.last().copied().unwrap_or_default()),
        shipped.len(),
    );

    let created = Mutex::new(Vec::new());
    let post = load(|n| {
        let (c, created) = (&c, &created);
        async move {
            let body = order_body(&format!("bench{n}@example.com"), &[("bench-item", 1, 5.0)]);
            match c.call("POST", "/orders", Some(&body)).await {
                Ok(r) if r.status == 202 => {
                    if let (Some(id), Ok(mut ids)) = (order_id(&r.json()), created.lock()) {
                        ids.push(id);
                    }
                    true
                }
                _ => false,
            }
        }
    })
    .await;
    let created = created
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a load task panicked"))?;
    if created.is_empty() {
        bail!("no order was created under load ({post:?})");
    }
    // The GETs measure the API, not the API beside the POST phase's backlog: wait (up to two
    // minutes) until the pipeline has run nothing for a second (reservation, the workflows and
    // the notifications of every order created).
    let drained = Instant::now();
    let mut quiet_since = Instant::now();
    while drained.elapsed() < Duration::from_secs(120) && quiet_since.elapsed() < Duration::from_secs(1) {
        if system.pipeline_busy() > 0 {
            quiet_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "(the {} orders of the POST phase drained in {:.1} s)",
        created.len(),
        drained.elapsed().as_secs_f64()
    );
    let get = load(|n| {
        let (c, id) = (&c, &created[n % created.len()]);
        async move {
            c.call("GET", &format!("/orders/{id}"), None)
                .await
                .is_ok_and(|r| r.status == 200)
        }
    })
    .await;
    // The emulator alone, under the same load: the one call a GET makes (a consistent GetItem
    // of the order), sent straight to moto by the SDK the functions use. The local API cannot
    // be faster than this; the gap between the two is the project's own path.
    let aws = crate::deploy::aws::Aws::connect(&crate::deploy::aws::AwsSettings {
        endpoint_url: Some(system.moto_endpoint.clone()),
        ..Default::default()
    })
    .await?;
    let table = system
        .outputs
        .get("OrdersTableName")
        .context("the dev stack has no OrdersTableName output")?;
    let key = infra_model::contract::tables::orders::ORDER_ID.name;
    let direct = load(|n| {
        let (db, id) = (&aws.dynamodb, &created[n % created.len()]);
        async move {
            db.get_item()
                .table_name(table)
                .key(key, aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))
                .consistent_read(true)
                .send()
                .await
                .is_ok_and(|out| out.item().is_some())
        }
    })
    .await;
    for (what, l) in [
        ("POST /orders", &post),
        ("GET /orders/{id}", &get),
        ("moto GetItem", &direct),
    ] {
        println!(
            "{what:<18} {:>6} requests, {:>3} errors, p50 {:>6.1} ms, p99 {:>6.1} ms, {:>6.1} requests/s",
            l.requests,
            l.errors,
            ms(l.p50),
            ms(l.p99),
            l.per_second
        );
    }
    Ok(())
}

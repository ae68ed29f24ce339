//! `cargo xtask soak`: orders of every path at a steady rate for a while, faults injected (in
//! the soak's own local system), then the pipeline's invariants ([`super::invariants`])
//! checked and the figures printed: orders accepted, terminal by state and by path, the
//! violations (0), order-to-terminal p50/p99, the answers by status, the faults injected and
//! the processes' memory at the start and the end.
//!
//! The client behaves as a careful one should: every `POST /orders` carries an
//! `Idempotency-Key`, and a 429, 502, 503 or 504, a 409 "still in progress" or a lost answer is
//! retried with the same key (after `Retry-After` when given), so a retried order is still one
//! order. Every 5xx it met is kept for the invariant that allows only a 503 with `Retry-After`
//! while AWS fails (and a 502 while the API's sandboxes are killed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::future::join_all;
use infra_model::contract::api::{OrderStatus, OrderView};
use serde_json::{Value, json};
use xtask::faults::FaultSpec;

mod report;

pub use report::{Memory, SoakReport, memory_of_tree};

use super::invariants::{Observed, ServerError, is_terminal};
use super::{Api, ApiClient, order_body};
use crate::dev::faults::Injected;
use crate::runtime_api::{random_u64, uuid_v4};

/// How the soak runs.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub duration: Duration,
    /// Orders per second.
    pub rate: f64,
    pub faults: FaultSpec,
    /// How long, after the last order is placed, every order has to end.
    pub settle: Duration,
}

/// The paths of the order flow, by the e-mail tags of the mocks, with their weights; and
/// `overstock`, an order for more than the stock.
pub const PATHS: [(&str, &str, u64); 7] = [
    ("plain", "", 40),
    ("flaky", "+flaky", 10),
    ("shipflaky", "+shipflaky", 10),
    ("decline", "+decline", 10),
    ("down", "+down", 10),
    ("noship", "+noship", 10),
    ("overstock", "", 10),
];

/// How many order reads the settle loop keeps in flight.
const READS_IN_FLIGHT: usize = 16;

/// The paths that must never ship, whatever fails.
const NEVER_SHIP: [&str; 4] = ["decline", "down", "noship", "overstock"];

fn pick_path() -> usize {
    let total: u64 = PATHS.iter().map(|p| p.2).sum();
    let mut r = random_u64() % total;
    for (i, p) in PATHS.iter().enumerate() {
        if r < p.2 {
            return i;
        }
        r -= p.2;
    }
    0
}

/// One answer the client got.
#[derive(Clone, Debug)]
struct Answer {
    route: &'static str,
    status: Option<u16>,
    retry_after: bool,
    sent: Instant,
    answered: Instant,
}

/// What the soak's own local system tells about its faults.
pub struct FaultView<'a> {
    pub spec: &'a FaultSpec,
    pub injected: &'a Injected,
}

/// An order placed: its path, key and id.
#[derive(Clone, Debug)]
struct Placed {
    path: usize,
    email: String,
    order_id: Option<String>,
    retried: bool,
    final_status: Option<u16>,
}

struct Recorder(Mutex<Vec<Answer>>);

impl Recorder {
    async fn send(
        &self,
        client: &ApiClient,
        route: &'static str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Option<super::Reply> {
        let sent = Instant::now();
        let reply = client.send(method, path, body, true, extra).await.ok();
        if let Ok(mut v) = self.0.lock() {
            v.push(Answer {
                route,
                status: reply.as_ref().map(|r| r.status),
                retry_after: reply.as_ref().is_some_and(|r| r.header("retry-after").is_some()),
                sent,
                answered: Instant::now(),
            });
        }
        reply
    }
}

/// Whether a `POST /orders` answer is worth retrying with the same key, and after how long.
fn retry_after(reply: Option<&super::Reply>, attempt: u32) -> Option<Duration> {
    let backoff = Duration::from_millis(250 << attempt.min(4));
    match reply {
        None => Some(backoff),
        Some(r)
            if matches!(r.status, 429 | 502 | 503 | 504)
                || (r.status == 409 && r.text().contains("in progress")) =>
        {
            let told = r
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Some(told.unwrap_or(backoff).max(backoff.min(Duration::from_secs(1))))
        }
        Some(_) => None,
    }
}

async fn place(
    client: &ApiClient,
    rec: &Recorder,
    run: &str,
    n: usize,
    skus: &[String],
    over: &str,
) -> Placed {
    let path = pick_path();
    let (name, tag, _) = PATHS[path];
    let email = format!("soak-{run}-{n}{tag}@example.com");
    let (sku, quantity) = if name == "overstock" {
        (over.to_owned(), 5)
    } else {
        (
            skus[usize::try_from(random_u64() % skus.len() as u64).unwrap_or(0)].clone(),
            1 + u32::try_from(random_u64() % 3).unwrap_or(0),
        )
    };
    let body = order_body(&email, &[(&sku, quantity, 10.0)]);
    let key = uuid_v4();
    let mut placed = Placed {
        path,
        email,
        order_id: None,
        retried: false,
        final_status: None,
    };
    // Retries for up to 90 s: an in-progress claim of a killed attempt holds its key 60 s.
    let until = Instant::now() + Duration::from_secs(90);
    let mut attempt = 0;
    loop {
        let reply = rec
            .send(
                client,
                "POST /orders",
                "POST",
                "/orders",
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await;
        placed.final_status = reply.as_ref().map(|r| r.status);
        if let Some(r) = &reply
            && r.status == 202
        {
            placed.order_id = r.json()["orderId"].as_str().map(str::to_owned);
            return placed;
        }
        match retry_after(reply.as_ref(), attempt) {
            Some(wait) if Instant::now() + wait < until => {
                placed.retried = true;
                attempt += 1;
                tokio::time::sleep(wait).await;
            }
            _ => return placed,
        }
    }
}

/// Puts a SKU with its stock, retrying what is worth retrying (the faults may already be on).
async fn put_stock(client: &ApiClient, rec: &Recorder, sku: &str, stock: i64) -> Result<()> {
    let path = format!("/inventory/{sku}");
    let body = json!({"stock": stock, "price": 10.0, "name": sku});
    for attempt in 0..20 {
        let reply = rec
            .send(client, "PUT /inventory/{sku}", "PUT", &path, Some(&body), &[])
            .await;
        match (&reply, retry_after(reply.as_ref(), attempt)) {
            (Some(r), _) if r.status < 300 => return Ok(()),
            (_, Some(wait)) => tokio::time::sleep(wait).await,
            (Some(r), None) => anyhow::bail!("PUT {path} answered {}: {}", r.status, r.text()),
            (None, None) => break,
        }
    }
    anyhow::bail!("PUT {path} did not answer 2xx in 20 attempts")
}

/// Reads an order, retrying what is worth retrying; `None` when it does not exist.
async fn read_order(client: &ApiClient, rec: &Recorder, id: &str) -> Result<Option<OrderView>> {
    let path = format!("/orders/{id}");
    for attempt in 0..20 {
        let reply = rec
            .send(client, "GET /orders/{orderId}", "GET", &path, None, &[])
            .await;
        match &reply {
            Some(r) if r.status == 200 => {
                return serde_json::from_slice(&r.body).map(Some).with_context(|| {
                    format!("GET {path} answered an order that does not read: {}", r.text())
                });
            }
            Some(r) if r.status == 404 => return Ok(None),
            _ => {
                tokio::time::sleep(retry_after(reply.as_ref(), attempt).unwrap_or(Duration::from_millis(500)))
                    .await
            }
        }
    }
    anyhow::bail!("GET {path} did not answer 200 or 404 in 20 attempts")
}

async fn stock_of(client: &ApiClient, rec: &Recorder, sku: &str) -> Result<i64> {
    let path = format!("/inventory/{sku}");
    for attempt in 0..20 {
        let reply = rec
            .send(client, "GET /inventory/{sku}", "GET", &path, None, &[])
            .await;
        if let Some(r) = &reply
            && r.status == 200
        {
            return r.json()["stock"]
                .as_i64()
                .with_context(|| format!("GET {path}: no stock in {}", r.text()));
        }
        tokio::time::sleep(retry_after(reply.as_ref(), attempt).unwrap_or(Duration::from_millis(500))).await;
    }
    anyhow::bail!("GET {path} did not answer 200 in 20 attempts")
}

/// The orders of one customer (one idempotency key each), to find a duplicate.
async fn orders_of(client: &ApiClient, rec: &Recorder, email: &str) -> Option<usize> {
    let path = format!("/orders?customerEmail={}", crate::dev::http::form_encode(email));
    for attempt in 0..10 {
        let reply = rec
            .send(client, "GET /orders?customerEmail", "GET", &path, None, &[])
            .await;
        if let Some(r) = &reply
            && r.status == 200
        {
            return r.json()["orders"].as_array().map(Vec::len);
        }
        tokio::time::sleep(retry_after(reply.as_ref(), attempt).unwrap_or(Duration::from_millis(500))).await;
    }
    None
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Order-to-terminal, milliseconds: from `createdAt` to the terminal entry of its history.
fn to_terminal_ms(o: &OrderView) -> Option<f64> {
    let start = order_core::time::parse_timestamp(&o.created_at).ok()?;
    let end = o
        .status_history
        .iter()
        .find(|h| is_terminal(h.status))
        .and_then(|h| order_core::time::parse_timestamp(&h.at).ok())?;
    Some((end - start) as f64)
}

/// What the run observed, for the invariants and the report.
pub struct Run {
    pub observed: Observed,
    pub report: SoakReport,
    /// The SKUs and orders it made (to clean up on a deployed stack).
    pub skus: Vec<String>,
    pub order_ids: Vec<String>,
}

/// Places the orders, waits for them to end, reads everything back.
pub async fn run(api: &Api, options: &SoakOptions, faults: Option<&FaultView<'_>>) -> Result<Run> {
    let client = &api.client;
    let rec = Recorder(Mutex::new(Vec::new()));
    let run_id = uuid_v4()[..8].to_owned();
    let count = (options.rate * options.duration.as_secs_f64()).round().max(1.0) as usize;
    // Stock for about 80% of the plain orders' units, so the last ones meet an empty shelf.
    let skus: Vec<String> = (0..4).map(|i| format!("soak-{run_id}-{i}")).collect();
    let over = format!("soak-{run_id}-scarce");
    let per_sku = ((count as f64 * 0.7 * 2.0 * 0.8) / 4.0).ceil().max(5.0) as i64;
    let mut initial = BTreeMap::new();
    for (sku, stock) in skus.iter().map(|s| (s, per_sku)).chain([(&over, 1)]) {
        put_stock(client, &rec, sku, stock).await?;
        initial.insert(sku.clone(), stock);
    }
    let start = Instant::now();
    let placing = (0..count).map(|n| {
        let (rec, skus, over, run_id) = (&rec, &skus, &over, &run_id);
        async move {
            let due = start + Duration::from_secs_f64(n as f64 / options.rate);
            tokio::time::sleep_until(due.into()).await;
            place(client, rec, run_id, n, skus, over).await
        }
    });
    let placed: Vec<Placed> = join_all(placing).await;
    let placing_took = start.elapsed();
    // The faults stop with the orders: what follows checks that the system recovers and
    // settles (a poison message injected now would still be on its way at the check).
    if let Some(f) = faults {
        f.injected.disarm();
    }
    // Wait for every accepted order to end, reading only those not yet ended.
    let mut open: BTreeSet<String> = placed.iter().filter_map(|p| p.order_id.clone()).collect();
    let mut orders: BTreeMap<String, OrderView> = BTreeMap::new();
    let mut missing = Vec::new();
    let settle_end = Instant::now() + options.settle;
    loop {
        let ids: Vec<String> = open.iter().cloned().collect();
        // A bounded number in flight: a soak that read every open order at once would itself
        // be the load that holds the API up (1,200 connections at the end of a 10-minute run).
        let reads: Vec<Result<Option<OrderView>>> =
            futures_util::stream::iter(ids.iter().map(|id| read_order(client, &rec, id)))
                .buffered(READS_IN_FLIGHT)
                .collect()
                .await;
        for (id, read) in ids.iter().zip(reads) {
            match read? {
                Some(o) => {
                    if is_terminal(o.status) {
                        open.remove(id);
                    }
                    orders.insert(id.clone(), o);
                }
                None => {
                    open.remove(id);
                    missing.push(id.clone());
                }
            }
        }
        if open.is_empty() || Instant::now() >= settle_end {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut stock_now = BTreeMap::new();
    for sku in initial.keys() {
        stock_now.insert(sku.clone(), stock_of(client, &rec, sku).await?);
    }
    // One order per key: checked for every order whose POST was retried (where a second order
    // could come from), and a sample of the others.
    let mut duplicates = Vec::new();
    for p in placed
        .iter()
        .filter(|p| p.order_id.is_some() && (p.retried || random_u64().is_multiple_of(20)))
    {
        if let Some(n) = orders_of(client, &rec, &p.email).await
            && n > 1
        {
            duplicates.push((p.email.clone(), n));
        }
    }

    let answers = rec.0.lock().map(|a| a.clone()).unwrap_or_default();
    let server_errors: Vec<ServerError> = answers
        .iter()
        .filter(|a| a.status.is_some_and(|s| s >= 500))
        .map(|a| ServerError {
            route: a.route.to_owned(),
            status: a.status.unwrap_or(0),
            retry_after: a.retry_after,
            endpoint_failing: faults
                .is_some_and(|f| f.injected.endpoint_failing_during(f.spec, a.sent, a.answered)),
            api_kills: faults.is_some_and(|f| f.spec.kill_api.is_some()),
        })
        .collect();
    let mut report = SoakReport {
        target: api.name.clone(),
        duration_seconds: placing_took.as_secs_f64(),
        rate: options.rate,
        faults: faults.map_or_else(|| "none injected by the soak".to_owned(), |f| f.spec.to_string()),
        placed: placed.len(),
        accepted: placed.iter().filter(|p| p.order_id.is_some()).count(),
        retries: answers
            .iter()
            .filter(|a| a.route == "POST /orders")
            .count()
            .saturating_sub(placed.len()),
        ..SoakReport::default()
    };
    for a in &answers {
        let key = match a.status {
            Some(s) => format!("{} {s}", a.route),
            None => format!("{} (no answer)", a.route),
        };
        *report.answers.entry(key).or_default() += 1;
    }
    for p in placed.iter().filter(|p| p.order_id.is_none()) {
        let key = p
            .final_status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        *report.refused.entry(key).or_default() += 1;
    }
    let mut never_ship = Vec::new();
    for p in &placed {
        let Some(o) = p.order_id.as_ref().and_then(|id| orders.get(id)) else {
            continue;
        };
        let (path, ..) = PATHS[p.path];
        *report
            .by_path
            .entry(path.to_owned())
            .or_default()
            .entry(o.status.as_str().to_owned())
            .or_default() += 1;
        if NEVER_SHIP.contains(&path) && o.status == OrderStatus::Shipped {
            never_ship.push(format!(
                "order {} ({path}) SHIPPED, which its path never allows",
                o.order_id
            ));
        }
    }
    for o in orders.values() {
        *report.terminal.entry(o.status.as_str().to_owned()).or_default() += 1;
    }
    let mut times: Vec<f64> = orders.values().filter_map(to_terminal_ms).collect();
    times.sort_by(f64::total_cmp);
    for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
        report
            .order_to_terminal_ms
            .insert(name.to_owned(), percentile(&times, p));
    }
    let observed = Observed {
        initial_stock: initial,
        stock_now,
        orders: orders.values().cloned().collect(),
        missing,
        duplicates,
        server_errors,
        poison: None,
    };
    report.violations = never_ship;
    Ok(Run {
        observed,
        report,
        skus: skus.into_iter().chain([over]).collect(),
        order_ids: placed.iter().filter_map(|p| p.order_id.clone()).collect(),
    })
}

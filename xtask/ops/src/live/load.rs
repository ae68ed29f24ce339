//! `cargo xtask load`: an open-loop load test of a live API. Requests are sent at a fixed
//! arrival rate whatever the API's speed (a slow answer does not delay the next request), in a
//! mix of routes; each request's latency is measured from the moment it was due, so a stall
//! shows in the figures instead of hiding in fewer requests ("coordinated omission"). Latencies
//! go into one HdrHistogram per route (microseconds, 3 significant digits).
//!
//! The run places orders for a SKU of its own (so it never takes real stock) and deletes them,
//! and the SKU, afterwards when it has table access. It respects the environment's usage plan
//! (rate and daily quota) unless told not to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use infra_model::Env;
use serde::Serialize;
use serde_json::json;

use super::cleanup::{Cleanup, PlacedOrder, clean_up};
use super::order_body;
use super::{Api, ApiClient};

/// A route of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `POST /orders`
    Create,
    /// `GET /orders/{orderId}` of an order the run placed.
    Get,
    /// `GET /orders?customerEmail=` (the run's customer).
    List,
    /// `GET /inventory/{sku}`
    Stock,
    /// `GET /health`
    Health,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Create, Op::Get, Op::List, Op::Stock, Op::Health];

    /// Its name in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Get => "get",
            Op::List => "list",
            Op::Stock => "stock",
            Op::Health => "health",
        }
    }

    pub fn route(self) -> &'static str {
        match self {
            Op::Create => "POST /orders",
            Op::Get => "GET /orders/{orderId}",
            Op::List => "GET /orders?customerEmail",
            Op::Stock => "GET /inventory/{sku}",
            Op::Health => "GET /health",
        }
    }
}

/// `create=1,get=3,list=1`: the routes' weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix(pub Vec<(Op, u32)>);

impl Default for Mix {
    fn default() -> Self {
        Mix(vec![(Op::Create, 1), (Op::Get, 3), (Op::List, 1)])
    }
}

impl std::str::FromStr for Mix {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Mix> {
        let names = || Op::ALL.map(Op::name).join(", ");
        let mut out: Vec<(Op, u32)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let Some(op) = Op::ALL.into_iter().find(|o| o.name() == name.trim()) else {
                bail!("--mix {s:?}: unknown route {name:?}; the routes are {}", names());
            };
            let Ok(weight) = weight.trim().parse::<u32>() else {
                bail!("--mix {s:?}: the weight of {name} must be a whole number, as in create=1,get=3");
            };
            if out.iter().any(|(o, _)| *o == op) {
                bail!("--mix {s:?}: {name} is given twice");
            }
            if weight > 0 {
                out.push((op, weight));
            }
        }
        if out.is_empty() {
            bail!(
                "--mix {s:?}: give at least one route with a weight, as in create=1,get=3 (routes: {})",
                names()
            );
        }
        Ok(Mix(out))
    }
}

impl Mix {
    /// The `n`-th request's route: the weights spread evenly (smooth weighted round robin), so
    /// every second of the run has the same mix.
    pub fn schedule(&self, count: usize) -> Vec<Op> {
        let total: i64 = self.0.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut current: Vec<i64> = vec![0; self.0.len()];
        (0..count)
            .map(|_| {
                for (c, (_, w)) in current.iter_mut().zip(&self.0) {
                    *c += i64::from(*w);
                }
                let (i, _) = current
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                    .unwrap_or((0, &0));
                current[i] -= total;
                self.0[i].0
            })
            .collect()
    }
}

/// How to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Requests per second.
    pub rate: f64,
    pub duration: Duration,
    pub mix: Mix,
    /// Go above the usage plan's rate or daily quota.
    pub ignore_usage_plan: bool,
    /// Leave the run's SKU and orders.
    pub keep: bool,
}

/// One route's figures.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteFigures {
    pub route: &'static str,
    pub requests: u64,
    /// Answers by status code; `error` when none came (connection, timeout).
    pub statuses: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// `(upper bound in ms, count)`: the histogram, in buckets doubling from 1 ms.
    pub histogram: Vec<(f64, u64)>,
    /// The latency at each percentile (0 to 100 by steps), for the plot.
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    pub api: String,
    pub run_id: String,
    pub rate: f64,
    pub duration_s: f64,
    /// Requests sent, and answered with 2xx/3xx.
    pub sent: u64,
    pub succeeded: u64,
    /// Answers per second over the run.
    pub throughput: f64,
    /// The latest a request went out after its due time (the generator's own lag).
    pub max_send_lag_ms: f64,
    pub routes: Vec<RouteFigures>,
    pub all: RouteFigures,
    pub orders_placed: usize,
    pub cleanup: Cleanup,
}

/// What one request gave.
struct Sample {
    op: Op,
    status: Option<u16>,
    latency: Duration,
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn figures(route: &'static str, h: &Histogram<u64>, statuses: BTreeMap<String, u64>) -> RouteFigures {
    let mut histogram = Vec::new();
    let mut bound_us = 1000u64;
    let mut below = 0u64;
    while below < h.len() {
        let count = h.count_between(0, bound_us).saturating_sub(below);
        below += count;
        histogram.push((bound_us as f64 / 1000.0, count));
        bound_us *= 2;
    }
    let curve = (0..=100)
        .map(|p| {
            let q = 1.0 - 10f64.powf(-f64::from(p) / 25.0);
            (q * 100.0, ms(h, q))
        })
        .collect();
    RouteFigures {
        route,
        requests: h.len(),
        statuses,
        p50_ms: ms(h, 0.5),
        p90_ms: ms(h, 0.9),
        p99_ms: ms(h, 0.99),
        max_ms: h.max() as f64 / 1000.0,
        histogram,
        curve,
    }
}

fn new_histogram() -> Result<Histogram<u64>> {
    // 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).context("cannot make a latency histogram")
}

/// Refuses a rate or a total above the environment's usage plan (the API would answer 429, or
/// stop answering for the rest of the day), unless `ignore`.
pub fn check_usage_plan(env: Option<Env>, rate: f64, total: u64, ignore: bool) -> Result<()> {
    let Some(env) = env else { return Ok(()) };
    let plan = env.settings().usage_plan;
    let per_second = f64::from(plan.throttle.rate_per_second);
    if ignore {
        return Ok(());
    }
    if rate > per_second {
        bail!(
            "--rate {rate} is above {}'s usage plan ({per_second} requests/s, bursts of {}): the API would answer 429. \
             Lower --rate, or pass --ignore-usage-plan to measure the throttle (locally: `cargo xtask dev --no-throttle`)",
            env.name(),
            plan.throttle.burst
        );
    }
    if total > u64::from(plan.daily_quota) {
        bail!(
            "{total} requests are more than {}'s daily quota ({}): the key would be refused until tomorrow. \
             Shorten --duration or lower --rate, or pass --ignore-usage-plan",
            env.name(),
            plan.daily_quota
        );
    }
    Ok(())
}

/// Runs the load, then cleans up.
pub async fn run(api: &Api, options: &LoadOptions) -> Result<LoadReport> {
    if !(options.rate > 0.0 && options.rate.is_finite()) {
        bail!("--rate must be a positive number of requests per second");
    }
    let count = (options.rate * options.duration.as_secs_f64()).round() as usize;
    if count == 0 {
        bail!(
            "--rate {} for {:?} sends no request: raise one of them",
            options.rate,
            options.duration
        );
    }
    check_usage_plan(api.env, options.rate, count as u64 + 3, options.ignore_usage_plan)?;
    let run_id = format!("load-{}", &crate::runtime_api::uuid_v4()[..8]);
    let sku = format!("{run_id}-item");
    let email = format!("{run_id}@example.com");
    let client = api.client.clone();
    // Enough stock for every order the run can place.
    let r = client
        .call(
            "PUT",
            &format!("/inventory/{sku}"),
            Some(&json!({"stock": count + 1, "price": 1.0, "name": "load test item"})),
        )
        .await?;
    if r.status >= 300 {
        bail!("PUT /inventory/{sku} answered {}: {}", r.status, r.text());
    }
    let placed: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let first = place(&client, &email, &sku).await?;
    placed
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .push(first);

    let schedule = options.mix.schedule(count);
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Sample>();
    let start = tokio::time::Instant::now();
    let mut max_lag = Duration::ZERO;
    for (i, op) in schedule.into_iter().enumerate() {
        let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due).await;
        max_lag = max_lag.max(due.elapsed());
        let (client, tx, placed, sku, email) = (
            client.clone(),
            tx.clone(),
            placed.clone(),
            sku.clone(),
            email.clone(),
        );
        tokio::spawn(async move {
            let status = one(&client, op, &placed, &sku, &email).await;
            let _ = tx.send(Sample {
                op,
                status,
                latency: due.elapsed(),
            });
        });
    }
    drop(tx);
    let mut histograms: BTreeMap<Op, Histogram<u64>> = BTreeMap::new();
    let mut statuses: BTreeMap<Op, BTreeMap<String, u64>> = BTreeMap::new();
    let mut all = new_histogram()?;
    let mut all_statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut succeeded = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(s)) =
        tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), rx.recv()).await
    {
        let us = u64::try_from(s.latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let h = match histograms.entry(s.op) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(new_histogram()?),
        };
        h.saturating_record(us);
        all.saturating_record(us);
        let key = s.status.map_or_else(|| "error".to_owned(), |c| c.to_string());
        *statuses.entry(s.op).or_default().entry(key.clone()).or_default() += 1;
        *all_statuses.entry(key).or_default() += 1;
        if s.status.is_some_and(|c| c < 400) {
            succeeded += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let orders: Vec<PlacedOrder> = placed
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .map(|id| PlacedOrder {
            scenario: "load",
            order_id: id.clone(),
            status: None,
        })
        .collect();
    let cleanup = if options.keep {
        Cleanup {
            left: vec![format!(
                "SKU {sku} and {} order(s) of run {run_id} (--keep)",
                orders.len()
            )],
            ..Default::default()
        }
    } else {
        // The orders still in the pipeline get a moment to finish before they are deleted.
        tokio::time::sleep(Duration::from_secs(2)).await;
        clean_up(api.tables.as_ref(), std::slice::from_ref(&sku), &orders, &run_id).await
    };
    Ok(LoadReport {
        api: api.name.clone(),
        run_id,
        rate: options.rate,
        duration_s: options.duration.as_secs_f64(),
        sent: count as u64,
        succeeded,
        throughput: all.len() as f64 / elapsed,
        max_send_lag_ms: max_lag.as_secs_f64() * 1000.0,
        routes: histograms
            .iter()
            .map(|(op, h)| figures(op.route(), h, statuses.remove(op).unwrap_or_default()))
            .collect(),
        all: figures("all", &all, all_statuses),
        orders_placed: orders.len(),
        cleanup,
    })
}

async fn place(client: &ApiClient, email: &str, sku: &str) -> Result<String> {
    let r = client
        .send(
            "POST",
            "/orders",
            Some(&order_body(email, &[(sku, 1, 1.0)])),
            true,
            &[],
        )
        .await?;
    if r.status != 202 {
        bail!("POST /orders answered {}: {}", r.status, r.text());
    }
    r.json()["orderId"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("POST /orders gave no orderId: {}", r.text()))
}

/// One request of the mix; its status, `None` when no answer came. No retry: a 429 counts.
async fn one(client: &ApiClient, op: Op, placed: &Mutex<Vec<String>>, sku: &str, email: &str) -> Option<u16> {
    let path = match op {
        Op::Create => {
            let r = client
                .send(
                    "POST",
                    "/orders",
                    Some(&order_body(email, &[(sku, 1, 1.0)])),
                    true,
                    &[],
                )
                .await
                .ok()?;
            if let (202, Some(id)) = (r.status, r.json()["orderId"].as_str())
                && let Ok(mut p) = placed.lock()
            {
                p.push(id.to_owned());
            }
            return Some(r.status);
        }
        Op::Get => {
            let id = placed.lock().ok().and_then(|p| p.last().cloned())?;
            format!("/orders/{id}")
        }
        Op::List => format!(
            "/orders?customerEmail={}&limit=10",
            crate::dev::http::form_encode(email)
        ),
        Op::Stock => format!("/inventory/{sku}"),
        Op::Health => "/health".to_owned(),
    };
    client
        .send("GET", &path, None, op != Op::Health, &[])
        .await
        .ok()
        .map(|r| r.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_parsed_and_refused_with_the_routes_named() {
        assert_eq!(
            "create=1, get=3".parse::<Mix>().unwrap(),
            Mix(vec![(Op::Create, 1), (Op::Get, 3)])
        );
        assert_eq!("health".parse::<Mix>().unwrap(), Mix(vec![(Op::Health, 1)]));
        let e = "buy=1".parse::<Mix>().unwrap_err().to_string();
        assert!(
            e.contains("unknown route \"buy\"") && e.contains("create, get, list, stock, health"),
            "{e}"
        );
        assert!(
            "get=x"
                .parse::<Mix>()
                .unwrap_err()
                .to_string()
                .contains("whole number")
        );
        assert!(
            "get=1,get=2"
                .parse::<Mix>()
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            "get=0"
                .parse::<Mix>()
                .unwrap_err()
                .to_string()
                .contains("at least one route")
        );
    }

    #[test]
    fn the_schedule_spreads_the_weights_evenly() {
        let mix: Mix = "create=1,get=3".parse().unwrap();
        let s = mix.schedule(8);
        assert_eq!(s.iter().filter(|o| **o == Op::Create).count(), 2);
        // Never two creates in a row: one in every four requests.
        assert_eq!(
            s,
            [
                Op::Get,
                Op::Create,
                Op::Get,
                Op::Get,
                Op::Get,
                Op::Create,
                Op::Get,
                Op::Get
            ]
        );
    }

    #[test]
    fn the_usage_plan_caps_the_rate_and_the_total() {
        let dev = Env::Dev.settings().usage_plan;
        let rate = f64::from(dev.throttle.rate_per_second);
        assert!(check_usage_plan(Some(Env::Dev), rate, 100, false).is_ok());
        let e = check_usage_plan(Some(Env::Dev), rate + 1.0, 100, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("usage plan") && e.contains("--ignore-usage-plan"),
            "{e}"
        );
        let e = check_usage_plan(Some(Env::Dev), 1.0, u64::from(dev.daily_quota) + 1, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("daily quota"), "{e}");
        assert!(check_usage_plan(Some(Env::Dev), rate * 10.0, 1_000_000, true).is_ok());
        assert!(check_usage_plan(None, 10_000.0, 1_000_000, false).is_ok());
    }

    #[test]
    fn figures_come_from_the_histogram() {
        let mut h = new_histogram().unwrap();
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let f = figures("GET /health", &h, BTreeMap::from([("200".to_owned(), 100)]));
        assert_eq!(f.requests, 100);
        assert!((f.p50_ms - 50.0).abs() < 0.1, "{}", f.p50_ms);
        assert!((f.p99_ms - 99.0).abs() < 0.1, "{}", f.p99_ms);
        assert!((f.max_ms - 100.0).abs() < 0.1, "{}", f.max_ms);
        assert_eq!(f.histogram.iter().map(|(_, c)| c).sum::<u64>(), 100);
        assert_eq!(f.histogram[0], (1.0, 1));
        assert_eq!(f.histogram[1], (2.0, 1));
    }
}

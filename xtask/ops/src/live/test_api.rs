//! `cargo xtask test-api`: the end-to-end scenarios against a live API (deployed, or the local
//! system), as a table of checks with timings.
//!
//! A run touches nothing but its own data: its SKUs and customer e-mail carry a run id
//! (`test-api-<8 hex>`), so it never reserves real stock. With table access (`--env`, `--local`)
//! it deletes its SKUs and its finished orders afterwards; with `--url` it cannot, and says what
//! it left. Its requests count against the usage plan's daily quota (about 150 per run).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};

use super::cleanup::clean_up;
pub use super::cleanup::{Cleanup, PlacedOrder, TERMINAL};
pub use super::order_body;
use super::{Api, ApiClient};
use crate::dev::http::form_encode as encode;

/// How a run goes.
#[derive(Clone, Debug)]
pub struct TestApiOptions {
    /// How long an order may take to reach its final status.
    pub order_timeout: Duration,
    /// Between two reads of an order (each counts against the quota).
    pub poll: Duration,
    /// Orders in the race for the last units (`race_stock` of them win).
    pub racers: u32,
    pub race_stock: u32,
    /// Leave the run's SKUs and orders in the tables.
    pub keep: bool,
}

impl Default for TestApiOptions {
    fn default() -> Self {
        TestApiOptions {
            order_timeout: Duration::from_secs(120),
            poll: Duration::from_millis(500),
            racers: 8,
            race_stock: 3,
            keep: false,
        }
    }
}

/// One check of the table.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub millis: u64,
    /// What was seen (on success), or what went wrong.
    pub detail: String,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestApiReport {
    pub api: String,
    pub run_id: String,
    pub checks: Vec<Check>,
    pub orders: Vec<PlacedOrder>,
    pub cleanup: Cleanup,
    pub millis: u64,
}

impl TestApiReport {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }

    /// The table: one line per check.
    pub fn lines(&self) -> Vec<String> {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = vec![format!("test-api: {} (run {})", self.api, self.run_id)];
        for c in &self.checks {
            out.push(format!(
                "  {} {:<width$} {:>7} ms  {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.millis,
                c.detail
            ));
        }
        out.push(format!(
            "{} of {} checks passed in {:.1} s; cleaned up {} SKU(s) and {} order(s)",
            self.checks.len() - self.failed(),
            self.checks.len(),
            self.millis as f64 / 1000.0,
            self.cleanup.skus_deleted,
            self.cleanup.orders_deleted
        ));
        for l in &self.cleanup.left {
            out.push(format!("  left: {l}"));
        }
        out
    }
}

/// A run's context: the client, its ids, and the orders it placed.
struct Run<'a> {
    api: &'a ApiClient,
    id: String,
    options: &'a TestApiOptions,
    placed: std::sync::Mutex<Vec<PlacedOrder>>,
    skus: std::sync::Mutex<Vec<String>>,
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok { Ok(()) } else { bail!(what()) }
}

fn statuses(order: &Value) -> Vec<String> {
    order["statusHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str().map(str::to_owned))
        .collect()
}

impl Run<'_> {
    fn email(&self, tag: Option<&str>) -> String {
        match tag {
            Some(t) => format!("{}+{t}@example.com", self.id),
            None => format!("{}@example.com", self.id),
        }
    }

    /// A SKU of this run with `stock` units.
    async fn sku(&self, name: &str, stock: u32) -> Result<String> {
        let sku = format!("{}-{name}", self.id);
        self.skus
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(sku.clone());
        let r = self
            .api
            .call(
                "PUT",
                &format!("/inventory/{sku}"),
                Some(&json!({"stock": stock, "price": 10.0, "name": format!("test-api {name}")})),
            )
            .await?;
        ensure(r.status < 300, || {
            format!("PUT /inventory/{sku}: {} {}", r.status, r.text())
        })?;
        Ok(sku)
    }

    async fn stock(&self, sku: &str) -> Result<i64> {
        let r = self.api.call("GET", &format!("/inventory/{sku}"), None).await?;
        ensure(r.status == 200, || {
            format!("GET /inventory/{sku}: {} {}", r.status, r.text())
        })?;
        r.json()["stock"]
            .as_i64()
            .with_context(|| format!("GET /inventory/{sku} has no stock: {}", r.text()))
    }

    async fn place(&self, scenario: &'static str, email: &str, sku: &str, quantity: u32) -> Result<String> {
        let r = self
            .api
            .call(
                "POST",
                "/orders",
                Some(&order_body(email, &[(sku, quantity, 10.0)])),
            )
            .await?;
        ensure(r.status == 202, || {
            format!("POST /orders: {} {}", r.status, r.text())
        })?;
        let id = r.json()["orderId"]
            .as_str()
            .with_context(|| format!("POST /orders gave no orderId: {}", r.text()))?
            .to_owned();
        self.placed
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(PlacedOrder {
                scenario,
                order_id: id.clone(),
                status: None,
            });
        Ok(id)
    }

    /// Reads an order until its status is one of `wanted`.
    async fn wait(&self, id: &str, wanted: &[&str]) -> Result<Value> {
        let start = Instant::now();
        loop {
            let r = self.api.call("GET", &format!("/orders/{id}"), None).await?;
            let v = r.json();
            let status = v["status"].as_str().map(str::to_owned);
            if let Ok(mut placed) = self.placed.lock()
                && let Some(p) = placed.iter_mut().find(|p| p.order_id == id)
            {
                p.status.clone_from(&status);
            }
            if status.as_deref().is_some_and(|s| wanted.contains(&s)) {
                return Ok(v);
            }
            if start.elapsed() > self.options.order_timeout {
                bail!(
                    "order {id} did not reach {wanted:?} in {:?}; last answer {} {v}",
                    self.options.order_timeout,
                    r.status
                );
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }

    async fn health(&self) -> Result<String> {
        let r = self.api.send("GET", "/health", None, false, &[]).await?;
        ensure(r.status == 200, || {
            format!("GET /health without a key: {} {}", r.status, r.text())
        })?;
        Ok(format!(
            "GET /health 200 without a key ({} ms)",
            r.elapsed.as_millis()
        ))
    }

    async fn missing_key(&self) -> Result<String> {
        let body = order_body(&self.email(None), &[("x", 1, 1.0)]);
        for (label, client) in [
            ("no key", self.api.with_key("")),
            ("a wrong key", self.api.with_key("not-the-key-0123456789")),
        ] {
            let r = client.send("POST", "/orders", Some(&body), true, &[]).await?;
            ensure(r.status == 403, || {
                format!("POST /orders with {label}: {} {}", r.status, r.text())
            })?;
        }
        Ok("POST /orders without a key and with a wrong one: 403".into())
    }

    async fn validation(&self) -> Result<String> {
        let mut no_email = order_body(&self.email(None), &[("x", 1, 1.0)]);
        if let Some(o) = no_email.as_object_mut() {
            o.remove("customerEmail");
        }
        let cases: [(&str, &str, Option<Value>, &str); 5] = [
            ("POST", "/orders", Some(no_email), "customerEmail"),
            ("POST", "/orders", Some(json!("not an object")), ""),
            (
                "POST",
                "/orders",
                Some(order_body(&self.email(None), &[("x", 0, 1.0)])),
                "quantity",
            ),
            (
                "PUT",
                "/inventory/x",
                Some(json!({"stock": -1, "price": 1.0})),
                "stock",
            ),
            ("GET", "/orders?limit=0", None, ""),
        ];
        for (method, path, body, mentions) in &cases {
            let r = self.api.call(method, path, body.as_ref()).await?;
            ensure(r.status == 400, || {
                format!("{method} {path}: {} {} (wanted 400)", r.status, r.text())
            })?;
            let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
            ensure(message.contains(mentions), || {
                format!("{method} {path}: 400 {message:?} does not name {mentions:?}")
            })?;
        }
        Ok(format!("{} bad requests: 400 with the field named", cases.len()))
    }

    async fn unknown_order(&self) -> Result<String> {
        let id = crate::runtime_api::uuid_v4();
        let r = self.api.call("GET", &format!("/orders/{id}"), None).await?;
        ensure(r.status == 404, || {
            format!("GET /orders/{id}: {} {}", r.status, r.text())
        })?;
        ensure(r.json()["code"] == "NOT_FOUND", || {
            format!("GET /orders/{id}: {}", r.text())
        })?;
        Ok("GET /orders/<unknown id>: 404 NOT_FOUND".into())
    }

    async fn happy_path(&self) -> Result<String> {
        let sku = self.sku("happy", 5).await?;
        let id = self.place("happy path", &self.email(None), &sku, 2).await?;
        let start = Instant::now();
        let order = self.wait(&id, TERMINAL).await?;
        ensure(order["status"] == "SHIPPED", || {
            format!("order {id} ended {order}")
        })?;
        let history = statuses(&order);
        ensure(history == ["PENDING", "RESERVED", "PAID", "SHIPPED"], || {
            format!("order {id} went {history:?}")
        })?;
        let tracking = order["shipping"]["trackingNumber"]
            .as_str()
            .with_context(|| format!("order {id} has no tracking number: {order}"))?
            .to_owned();
        let left = self.stock(&sku).await?;
        ensure(left == 3, || {
            format!("{sku}: {left} in stock after 2 of 5 were shipped")
        })?;
        Ok(format!(
            "PENDING → SHIPPED in {:.1} s, tracking {tracking}, stock 5 → 3",
            start.elapsed().as_secs_f64()
        ))
    }

    async fn over_stock(&self) -> Result<String> {
        let sku = self.sku("short", 3).await?;
        let id = self.place("over stock", &self.email(None), &sku, 5).await?;
        let order = self.wait(&id, TERMINAL).await?;
        ensure(order["status"] == "REJECTED", || {
            format!("order {id} ended {order}")
        })?;
        let expected = format!("insufficient stock for {sku}: 5 requested, 3 available");
        ensure(order.to_string().contains(&expected), || {
            format!("order {id} does not say {expected:?}: {order}")
        })?;
        let left = self.stock(&sku).await?;
        ensure(left == 3, || {
            format!("{sku}: {left} in stock; a rejected order reserves nothing")
        })?;
        Ok(format!("REJECTED: {expected}"))
    }

    async fn declined(&self) -> Result<String> {
        let sku = self.sku("decline", 5).await?;
        let id = self
            .place("declined", &self.email(Some("decline")), &sku, 2)
            .await?;
        let order = self.wait(&id, TERMINAL).await?;
        ensure(order["status"] == "FAILED", || {
            format!("order {id} ended {order}")
        })?;
        ensure(!statuses(&order).contains(&"PAID".to_owned()), || {
            format!("order {id} was paid: {order}")
        })?;
        let left = self.stock(&sku).await?;
        ensure(left == 5, || {
            format!("{sku}: {left} in stock after the release; wanted 5")
        })?;
        Ok("payment declined (+decline): FAILED, stock released".into())
    }

    async fn race(&self) -> Result<String> {
        let (racers, units) = (self.options.racers, self.options.race_stock);
        let sku = self.sku("race", units).await?;
        let email = self.email(None);
        let ids: Vec<Result<String>> = {
            let places = (0..racers).map(|_| self.place("race", &email, &sku, 1));
            join_all(places).await
        };
        let ids: Vec<String> = ids.into_iter().collect::<Result<_>>()?;
        let ends = join_all(ids.iter().map(|id| self.wait(id, TERMINAL))).await;
        let mut won = 0;
        let mut lost = 0;
        for o in ends {
            match o?["status"].as_str() {
                Some("REJECTED") => lost += 1,
                _ => won += 1,
            }
        }
        let left = self.stock(&sku).await?;
        ensure(won == units && lost == racers - units && left == 0, || {
            format!(
                "{racers} orders for {units} units: {won} reserved, {lost} rejected, {left} left (oversold if more than {units} reserved)"
            )
        })?;
        Ok(format!(
            "{racers} concurrent orders for the last {units} units: {won} won, {lost} rejected, no oversell"
        ))
    }

    async fn idempotent_retry(&self) -> Result<String> {
        let sku = self.sku("retry", 5).await?;
        let key = format!("{}-retry", self.id);
        let body = order_body(&self.email(None), &[(&sku, 1, 10.0)]);
        let mut ids = Vec::new();
        for _ in 0..2 {
            let r = self
                .api
                .call_with("POST", "/orders", Some(&body), &[("Idempotency-Key", &key)])
                .await?;
            ensure(r.status == 202, || {
                format!("POST /orders with Idempotency-Key: {} {}", r.status, r.text())
            })?;
            ids.push(r.json()["orderId"].as_str().unwrap_or_default().to_owned());
        }
        self.placed
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(PlacedOrder {
                scenario: "idempotent retry",
                order_id: ids[0].clone(),
                status: None,
            });
        ensure(ids[0] == ids[1] && !ids[0].is_empty(), || {
            format!("the retried POST created another order: {ids:?}")
        })?;
        self.wait(&ids[0], TERMINAL).await?;
        Ok("a retried POST /orders (same Idempotency-Key) gives the same order".into())
    }

    /// After the others: the run's orders listed by customer, and by customer and status.
    async fn listing(&self) -> Result<String> {
        let email = self.email(None);
        let all = self
            .list(&format!("/orders?customerEmail={}", encode(&email)))
            .await?;
        let mine: Vec<String> = self
            .placed
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .iter()
            .filter(|p| p.scenario != "declined")
            .map(|p| p.order_id.clone())
            .collect();
        let missing: Vec<&String> = mine
            .iter()
            .filter(|id| !all.iter().any(|o| o["orderId"] == id.as_str()))
            .collect();
        ensure(missing.is_empty(), || {
            format!("GET /orders?customerEmail= misses {missing:?}")
        })?;
        let rejected = self
            .list(&format!(
                "/orders?customerEmail={}&status=REJECTED",
                encode(&email)
            ))
            .await?;
        ensure(
            !rejected.is_empty() && rejected.iter().all(|o| o["status"] == "REJECTED"),
            || format!("GET /orders?status=REJECTED gave {rejected:?}"),
        )?;
        Ok(format!(
            "by customer: {} orders; by customer and status REJECTED: {}",
            all.len(),
            rejected.len()
        ))
    }

    /// Every page of a listing.
    async fn list(&self, path: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let url = match &next {
                Some(t) => format!("{path}&nextToken={}", encode(t)),
                None => path.to_owned(),
            };
            let r = self.api.call("GET", &url, None).await?;
            ensure(r.status == 200, || {
                format!("GET {url}: {} {}", r.status, r.text())
            })?;
            let v = r.json();
            out.extend(v["orders"].as_array().cloned().unwrap_or_default());
            next = v["nextToken"].as_str().map(str::to_owned);
            if next.is_none() || out.len() > 1000 {
                return Ok(out);
            }
        }
    }
}

async fn timed<F: std::future::Future<Output = Result<String>>>(name: &'static str, f: F) -> Check {
    let start = Instant::now();
    let r = f.await;
    let millis = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match r {
        Ok(detail) => Check {
            name,
            passed: true,
            millis,
            detail,
        },
        Err(e) => Check {
            name,
            passed: false,
            millis,
            detail: format!("{e:#}"),
        },
    }
}

/// Runs every scenario (the independent ones at once), then cleans up.
pub async fn run(api: &Api, options: &TestApiOptions) -> Result<TestApiReport> {
    let start = Instant::now();
    let run = Run {
        api: &api.client,
        id: format!("test-api-{}", &crate::runtime_api::uuid_v4()[..8]),
        options,
        placed: std::sync::Mutex::new(Vec::new()),
        skus: std::sync::Mutex::new(Vec::new()),
    };
    // Reachable at all? Without it, every other check would fail the same way.
    let first = timed("health", run.health()).await;
    let mut checks = vec![first.clone()];
    if first.passed {
        let (a, b, c, d, e, f, g, h) = tokio::join!(
            timed("api key required", run.missing_key()),
            timed("validation 400s", run.validation()),
            timed("unknown order 404", run.unknown_order()),
            timed("happy path", run.happy_path()),
            timed("over stock rejected", run.over_stock()),
            timed("payment declined", run.declined()),
            timed("race for the last units", run.race()),
            timed("idempotent retry", run.idempotent_retry()),
        );
        checks.extend([a, b, c, d, e, f, g, h]);
        checks.push(timed("list by customer and status", run.listing()).await);
    }
    let placed = run.placed.into_inner().unwrap_or_default();
    let skus = run.skus.into_inner().unwrap_or_default();
    let cleanup = if options.keep {
        Cleanup {
            left: vec![format!(
                "{} SKU(s) and {} order(s) of run {} (--keep)",
                skus.len(),
                placed.len(),
                run.id
            )],
            ..Cleanup::default()
        }
    } else {
        clean_up(api.tables.as_ref(), &skus, &placed, &run.id).await
    };
    Ok(TestApiReport {
        api: api.name.clone(),
        run_id: run.id,
        checks,
        orders: placed,
        cleanup,
        millis: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode("test-api-1+decline@example.com"),
            "test-api-1%2Bdecline%40example.com"
        );
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn the_table_says_what_failed_and_what_was_left() {
        let report = TestApiReport {
            api: "http://127.0.0.1:3000".into(),
            run_id: "test-api-1".into(),
            checks: vec![
                Check {
                    name: "health",
                    passed: true,
                    millis: 3,
                    detail: "GET /health 200".into(),
                },
                Check {
                    name: "happy path",
                    passed: false,
                    millis: 1200,
                    detail: "order o-1 ended FAILED".into(),
                },
            ],
            orders: vec![],
            cleanup: Cleanup {
                skus_deleted: 1,
                orders_deleted: 0,
                left: vec!["order o-1 (happy path): not finished (PAID), so not deleted".into()],
            },
            millis: 1500,
        };
        assert_eq!(report.failed(), 1);
        let lines = report.lines();
        assert_eq!(lines[1], "  ok   health           3 ms  GET /health 200");
        assert_eq!(lines[2], "  FAIL happy path    1200 ms  order o-1 ended FAILED");
        assert!(
            lines[3].starts_with("1 of 2 checks passed in 1.5 s"),
            "{}",
            lines[3]
        );
        assert!(lines[4].contains("not finished (PAID)"));
    }
}

#![allow(clippy::unwrap_used)]
//! Faults while orders flow, against the local system of `cargo xtask dev`, with the invariants
//! the pipeline promises checked at the end (issue 15):
//!
//! - every accepted order reaches a terminal state (SHIPPED, REJECTED or FAILED) within a bound;
//! - stock is conserved per SKU: initial stock = stock now + units of the SHIPPED orders;
//! - no order is paid, shipped or failed twice (its status history has each status once).
//!
//! The fault: a pipeline function's sandbox (reserve-stock, start-workflow, payment, shipping,
//! compensation, notify-customer) killed with SIGKILL every 0.4 s, at any point of its life:
//! mid-invocation or idle, and every other time its replacement too, while it starts. Lambda then fails the invocation
//! (`Runtime.ExitError`) and the event source mapping or the workflow's Retry/Catch takes over.
//! The API's functions are left alone here: a 502 to a client is API Gateway's answer to a
//! crashed proxy function, and the client's retry is a test of its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use infra_model::decl::Trigger;
use infra_model::system::FUNCTIONS;
use serde_json::Value;
use xtask_ops::dev::{Client, DevOptions, DevSystem, order_body};
use xtask_ops::runtime_api::{random_u64, uuid_v4};

const TERMINAL: &[&str] = &["SHIPPED", "FAILED", "REJECTED"];
/// The bound on order-to-terminal under the fault (the workflow's retries at dev's wait scale
/// take seconds; a lost event would never end).
const BOUND: Duration = Duration::from_secs(120);
const KILL_EVERY: Duration = Duration::from_millis(400);
const SKUS: usize = 4;
const STOCK: i64 = 12;
const ORDERS: usize = 40;

/// SIGKILL, as a crashed or OOM-killed runtime meets it.
fn kill(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

fn rand(n: usize) -> usize {
    usize::try_from(random_u64() % n as u64).unwrap_or(0)
}

/// What the checker finds wrong with the final state; empty when every invariant holds.
fn violations(initial: &BTreeMap<String, i64>, now: &BTreeMap<String, i64>, orders: &[Value]) -> Vec<String> {
    let mut found = Vec::new();
    let mut shipped: BTreeMap<String, i64> = BTreeMap::new();
    for o in orders {
        let id = o["orderId"].as_str().unwrap_or("?");
        let status = o["status"].as_str().unwrap_or("?");
        if !TERMINAL.contains(&status) {
            found.push(format!("order {id} is {status}, not terminal"));
        }
        let history: Vec<&str> = o["statusHistory"]
            .as_array()
            .map(|h| h.iter().filter_map(|e| e["status"].as_str()).collect())
            .unwrap_or_default();
        for s in ["RESERVED", "PAID", "SHIPPED", "FAILED", "REJECTED"] {
            let n = history.iter().filter(|h| **h == s).count();
            if n > 1 {
                found.push(format!("order {id} was {s} {n} times: {history:?}"));
            }
        }
        if status == "SHIPPED" {
            for item in o["items"].as_array().into_iter().flatten() {
                *shipped
                    .entry(item["sku"].as_str().unwrap_or("?").to_owned())
                    .or_default() += item["quantity"].as_i64().unwrap_or(0);
            }
        }
    }
    for (sku, start) in initial {
        let left = now.get(sku).copied().unwrap_or(-1);
        let out = shipped.get(sku).copied().unwrap_or(0);
        if *start != left + out {
            found.push(format!(
                "stock of {sku} not conserved: {start} at the start, {left} left + {out} shipped"
            ));
        }
    }
    found
}

#[test]
fn the_checker_finds_each_broken_invariant() {
    let initial = BTreeMap::from([("a".to_owned(), 10)]);
    let order = |id: &str, status: &str, history: &[&str], qty: i64| {
        serde_json::json!({
            "orderId": id, "status": status,
            "statusHistory": history.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
            "items": [{"sku": "a", "quantity": qty}],
        })
    };
    let good = [
        order("o1", "SHIPPED", &["PENDING", "RESERVED", "PAID", "SHIPPED"], 3),
        order("o2", "REJECTED", &["PENDING", "REJECTED"], 20),
    ];
    assert_eq!(
        violations(&initial, &BTreeMap::from([("a".to_owned(), 7)]), &good),
        Vec::<String>::new()
    );
    // Oversold (stock not conserved), an order stuck, one paid twice.
    let bad = [
        order(
            "o1",
            "SHIPPED",
            &["PENDING", "RESERVED", "PAID", "PAID", "SHIPPED"],
            3,
        ),
        order("o3", "PAID", &["PENDING", "RESERVED", "PAID"], 2),
    ];
    let found = violations(&initial, &BTreeMap::from([("a".to_owned(), 5)]), &bad);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("PAID 2 times"), "{found:#?}");
    assert!(found[1].contains("o3 is PAID"), "{found:#?}");
    assert!(found[2].contains("5 left + 3 shipped"), "{found:#?}");
}

#[test]
fn orders_end_and_stock_is_conserved_while_pipeline_sandboxes_are_killed() {
    let options = DevOptions {
        port: 0,
        moto_port: 0,
        api_key: Some("faults-test-key-0123456789".into()),
        throttle: false,
        log: std::sync::Arc::new(|_: &str, _: &str| {}),
        ..DevOptions::new()
    };
    let system = DevSystem::start(options).unwrap();
    let c = Client::new(&system.url, &system.api_key).unwrap();
    let run = &uuid_v4()[..8];
    let skus: Vec<String> = (0..SKUS).map(|i| format!("fault-{run}-{i}")).collect();
    for sku in &skus {
        let r = c
            .call(
                "PUT",
                &format!("/inventory/{sku}"),
                Some(&serde_json::json!({"stock": STOCK, "price": 10.0, "name": sku})),
                true,
            )
            .unwrap();
        assert!(r.status < 300, "{}", r.text());
    }
    let initial: BTreeMap<String, i64> = skus.iter().map(|s| (s.clone(), STOCK)).collect();

    let stop = AtomicBool::new(false);
    let kills = AtomicUsize::new(0);
    let init_kills = AtomicUsize::new(0);
    let ids: Vec<String> = std::thread::scope(|s| {
        s.spawn(|| {
            // The pipeline's functions: those no route calls.
            let targets: Vec<_> = system
                .functions()
                .iter()
                .filter(|f| {
                    FUNCTIONS
                        .iter()
                        .any(|d| d.name == f.name() && !matches!(d.trigger, Trigger::Api))
                })
                .collect();
            assert_eq!(targets.len(), 6, "the pipeline's functions");
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(KILL_EVERY);
                let f = targets[rand(targets.len())];
                let sandboxes = f.sandboxes();
                if sandboxes.is_empty() {
                    continue;
                }
                let pid = sandboxes[rand(sandboxes.len())].pid;
                if kill(pid) {
                    kills.fetch_add(1, Ordering::SeqCst);
                }
                // Every other time, the sandbox that replaces it is killed too, while it starts
                // (before its first `/next`): an init that fails after the function has run.
                if rand(2) == 0 {
                    let until = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                        let starting = f
                            .sandboxes()
                            .into_iter()
                            .find(|b| b.pid != pid && b.ready_after.is_none());
                        if let Some(b) = starting {
                            if kill(b.pid) {
                                init_kills.fetch_add(1, Ordering::SeqCst);
                            }
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
        });
        let mut ids = Vec::new();
        for i in 0..ORDERS {
            let sku = &skus[rand(SKUS)];
            let quantity = 1 + u32::try_from(rand(3)).unwrap();
            let body = order_body(&format!("fault{i}@example.com"), &[(sku, quantity, 10.0)]);
            let r = c.call("POST", "/orders", Some(&body), true).unwrap();
            assert_eq!(r.status, 202, "POST /orders: {}", r.text());
            ids.push(r.json()["orderId"].as_str().unwrap().to_owned());
        }
        let start = Instant::now();
        for id in &ids {
            let left = BOUND.saturating_sub(start.elapsed());
            // A timeout is reported by the checker below, with the order's state.
            let _ = c.wait_for_status(id, TERMINAL, left);
        }
        stop.store(true, Ordering::SeqCst);
        ids
    });

    let orders: Vec<Value> = ids
        .iter()
        .map(|id| {
            c.call("GET", &format!("/orders/{id}"), None, true)
                .unwrap()
                .json()
        })
        .collect();
    let now: BTreeMap<String, i64> = skus
        .iter()
        .map(|sku| {
            let r = c.call("GET", &format!("/inventory/{sku}"), None, true).unwrap();
            (sku.clone(), r.json()["stock"].as_i64().unwrap())
        })
        .collect();
    let found = violations(&initial, &now, &orders);
    let by_status = orders.iter().fold(BTreeMap::<String, usize>::new(), |mut m, o| {
        *m.entry(o["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
        m
    });
    eprintln!(
        "{} orders, {} sandboxes killed ({} more while they started): {by_status:?}; {} violation(s)",
        orders.len(),
        kills.load(Ordering::SeqCst),
        init_kills.load(Ordering::SeqCst),
        found.len()
    );
    assert!(kills.load(Ordering::SeqCst) >= 5, "the fault was not injected");
    assert!(
        init_kills.load(Ordering::SeqCst) > 0,
        "no sandbox was killed while it started"
    );
    assert!(
        found.is_empty(),
        "invariants broken under the fault:\n{}",
        found.join("\n")
    );
}

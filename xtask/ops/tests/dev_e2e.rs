#![allow(clippy::unwrap_used)]
//! End to end against the local system of `cargo xtask dev`, through plain HTTP: moto, the dev
//! stack deployed into it, every function as Lambda processes, the stream and queue drivers,
//! the workflow executor, the topic listeners and the REST API, all started in this process
//! (and stopped at the end). Final orders are checked to have notified their customer once.
//!
//! One test starts the system once and runs the scenarios on it, independent ones in parallel
//! (each on its own SKUs), so the start-up (about 15 s with a cold moto) is paid once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infra_model::decl::Target;
use infra_model::system::resources::{CUSTOMER_NOTIFICATIONS, ORDER_EVENTS, ORDER_EVENTS_DLQ};
use serde_json::{Value, json};
use xtask_ops::dev::http::Aws;
use xtask_ops::dev::{Client, DevOptions, DevSystem, order_body};

const TERMINAL: &[&str] = &["SHIPPED", "FAILED", "REJECTED"];
const WAIT: Duration = Duration::from_secs(60);

fn put_stock(c: &Client, sku: &str, stock: u32, price: f64) {
    let r = c
        .call(
            "PUT",
            &format!("/inventory/{sku}"),
            Some(&json!({"stock": stock, "price": price, "name": format!("Item {sku}")})),
            true,
        )
        .unwrap();
    assert!(r.status < 300, "PUT /inventory/{sku}: {} {}", r.status, r.text());
}

fn stock(c: &Client, sku: &str) -> i64 {
    let r = c.call("GET", &format!("/inventory/{sku}"), None, true).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["stock"].as_i64().unwrap()
}

fn place(c: &Client, email: &str, sku: &str, quantity: u32) -> String {
    let r = c
        .call(
            "POST",
            "/orders",
            Some(&order_body(email, &[(sku, quantity, 10.0)])),
            true,
        )
        .unwrap();
    assert_eq!(r.status, 202, "POST /orders: {}", r.text());
    r.json()["orderId"].as_str().unwrap().to_owned()
}

fn statuses(order: &Value) -> Vec<String> {
    order["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_owned())
        .collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &xtask_ops::runtime_api::uuid_v4()[..8])
}

/// The customer notification of an order's status: waits for it, then checks that it came
/// once (a second one would have arrived within the grace period).
fn notified(system: &DevSystem, order_id: &str, status: &str) -> Value {
    let id = format!("{order_id}#{status}");
    let of_order = || -> Vec<Value> {
        system
            .published
            .lock()
            .unwrap()
            .iter()
            .filter(|(topic, n)| {
                *topic == CUSTOMER_NOTIFICATIONS.spec.id && n["notificationId"] == id.as_str()
            })
            .map(|(_, n)| n.clone())
            .collect()
    };
    let start = Instant::now();
    while of_order().is_empty() {
        assert!(start.elapsed() < WAIT, "no notification {id} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = of_order();
    assert_eq!(got.len(), 1, "{id} notified once: {got:?}");
    assert_eq!(got[0]["orderId"], order_id);
    assert_eq!(got[0]["status"], status);
    got[0].clone()
}

fn happy_path(c: &Client, system: &DevSystem) {
    let sku = unique("happy");
    put_stock(c, &sku, 5, 10.0);
    let id = place(c, "ann@example.com", &sku, 2);
    let order = c.wait_for_status(&id, TERMINAL, WAIT).unwrap();
    assert_eq!(order["status"], "SHIPPED", "{order}");
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAID", "SHIPPED"],
        "{order}"
    );
    assert!(
        order.to_string().contains("trackingNumber"),
        "no tracking number: {order}"
    );
    assert_eq!(stock(c, &sku), 3);
    let n = notified(system, &id, "SHIPPED");
    assert_eq!(n["trackingNumber"], order["shipping"]["trackingNumber"], "{n}");
    assert_eq!(n["customerEmail"], "ann@example.com");
}

fn rejected_for_stock(c: &Client, system: &DevSystem) {
    let sku = unique("short");
    put_stock(c, &sku, 3, 10.0);
    let id = place(c, "ann@example.com", &sku, 5);
    let order = c.wait_for_status(&id, TERMINAL, WAIT).unwrap();
    assert_eq!(order["status"], "REJECTED", "{order}");
    let expected = format!("insufficient stock for {sku}: 5 requested, 3 available");
    assert!(order.to_string().contains(&expected), "{order}");
    assert_eq!(stock(c, &sku), 3, "a rejected order reserves nothing");
    let n = notified(system, &id, "REJECTED");
    assert_eq!(n["reason"], expected.as_str(), "{n}");
}

fn declined_releases_once(c: &Client, system: &DevSystem) {
    let sku = unique("decline");
    put_stock(c, &sku, 5, 10.0);
    let id = place(c, "ann+decline@example.com", &sku, 2);
    let order = c.wait_for_status(&id, TERMINAL, WAIT).unwrap();
    assert_eq!(order["status"], "FAILED", "{order}");
    assert_eq!(stock(c, &sku), 5, "the stock is back");
    // Released exactly once: still 5 a moment later.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stock(c, &sku), 5);
    assert!(!statuses(&order).contains(&"PAID".to_owned()), "{order}");
    let n = notified(system, &id, "FAILED");
    assert!(
        n["reason"].as_str().is_some_and(|r| r.contains("declined")),
        "{n}"
    );
}

fn transient_failure_is_retried(c: &Client) {
    let sku = unique("flaky");
    put_stock(c, &sku, 5, 10.0);
    let id = place(c, "ann+flaky@example.com", &sku, 1);
    let order = c.wait_for_status(&id, TERMINAL, WAIT).unwrap();
    assert_eq!(order["status"], "SHIPPED", "{order}");
}

fn concurrent_orders(c: &Client) {
    let sku = unique("hot");
    put_stock(c, &sku, 10, 10.0);
    let min_seen = Arc::new(Mutex::new(10i64));
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let sku = sku.clone();
                s.spawn(move || place(c, &format!("buyer{i}@example.com"), &sku, 1))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut reserved = 0;
    let mut rejected = 0;
    for id in &ids {
        let o = c
            .wait_for_status(id, &["RESERVED", "PAID", "SHIPPED", "FAILED", "REJECTED"], WAIT)
            .unwrap();
        let now = stock(c, &sku);
        let mut m = min_seen.lock().unwrap();
        *m = (*m).min(now);
        if o["status"] == "REJECTED" {
            rejected += 1;
        } else {
            reserved += 1;
        }
    }
    assert_eq!((reserved, rejected), (10, 10));
    assert_eq!(stock(c, &sku), 0);
    assert!(*min_seen.lock().unwrap() >= 0, "stock went negative");
}

fn api_key_and_validation(c: &Client) {
    let r = c
        .call(
            "POST",
            "/orders",
            Some(&order_body("ann@example.com", &[("x", 1, 1.0)])),
            false,
        )
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["code"], "FORBIDDEN", "{}", r.text());
    assert!(r.json()["requestId"].is_string());
    let wrong = Client::new(&format!("http://{}", "127.0.0.1:1"), "nope");
    assert!(wrong.is_ok());
    let mut body = order_body("ann@example.com", &[("laptop", 1, 1.0)]);
    body.as_object_mut().unwrap().remove("customerEmail");
    let r = c.call("POST", "/orders", Some(&body), true).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["message"].as_str().unwrap().contains("customerEmail"),
        "{}",
        r.text()
    );
    let r = c
        .call("POST", "/orders", Some(&json!("not an object")), true)
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Public routes need no key; unknown routes answer in the API's format.
    assert_eq!(c.call("GET", "/health", None, false).unwrap().status, 200);
    let r = c.call("DELETE", "/orders", None, true).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "NOT_FOUND");
    // CORS preflight.
    let r = c.call("OPTIONS", "/orders", None, false).unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
}

fn poison_message_ends_in_the_dlq(system: &DevSystem) {
    let aws = Aws::new(&system.moto_endpoint).unwrap();
    let queue = &system.outputs[&Target::Queue(&ORDER_EVENTS.spec).output_id()];
    let dlq = &system.outputs[&Target::Queue(&ORDER_EVENTS_DLQ.spec).output_id()];
    let marker = unique("poison");
    aws.call(
        "sqs",
        "AmazonSQS.SendMessage",
        &json!({"QueueUrl": queue, "MessageBody": format!("not an order event {marker}")}),
    )
    .unwrap();
    let start = Instant::now();
    loop {
        let r = aws
            .call(
                "sqs",
                "AmazonSQS.ReceiveMessage",
                &json!({"QueueUrl": dlq, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1, "VisibilityTimeout": 0, "AttributeNames": ["All"]}),
            )
            .unwrap();
        let found = r["Messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["Body"].as_str().is_some_and(|b| b.contains(&marker)));
        if let Some(m) = found {
            // The queue's maxReceiveCount (3) receives, then moto's redrive on the next one.
            let count: u32 = m["Attributes"]["ApproximateReceiveCount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(count >= 3, "moved after {count} receives: {m}");
            eprintln!("poison message in the DLQ after {:?}", start.elapsed());
            return;
        }
        assert!(start.elapsed() < WAIT, "the poison message never reached the DLQ");
    }
}

#[test]
fn the_local_system_end_to_end() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let options = DevOptions {
        port: 0,
        moto_port: 0,
        api_key: Some("e2e-test-key-0123456789".into()),
        // Tests poll hard; the buckets are unit-tested (dev::api).
        throttle: false,
        log: Arc::new(move |source: &str, line: &str| {
            if let Ok(mut l) = sink.lock() {
                l.push(format!("[{source}] {line}"));
            }
        }),
        ..DevOptions::new()
    };
    let started = Instant::now();
    let system = DevSystem::start(options).unwrap();
    eprintln!(
        "local system ready in {:?}: {:?}",
        started.elapsed(),
        system.timings_ms
    );
    let c = Client::new(&system.url, &system.api_key).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        std::thread::scope(|s| {
            let c = &c;
            let system = &system;
            let tasks: Vec<(&str, std::thread::ScopedJoinHandle<'_, ()>)> = vec![
                ("happy path", s.spawn(move || happy_path(c, system))),
                ("rejected", s.spawn(move || rejected_for_stock(c, system))),
                ("declined", s.spawn(move || declined_releases_once(c, system))),
                ("flaky", s.spawn(move || transient_failure_is_retried(c))),
                ("concurrent", s.spawn(move || concurrent_orders(c))),
                (
                    "api key and validation",
                    s.spawn(move || api_key_and_validation(c)),
                ),
                ("dlq", s.spawn(move || poison_message_ends_in_the_dlq(system))),
            ];
            let mut failed = Vec::new();
            for (name, t) in tasks {
                if t.join().is_err() {
                    failed.push(name);
                }
            }
            assert!(failed.is_empty(), "failed scenarios: {failed:?}");
        });
        // The flaky payment was retried by the workflow (Retry on PaymentGatewayUnavailable).
        let execs = system.executions.lock().unwrap();
        assert!(!execs.is_empty());
    }));
    {
        // Every line of the run, for a failure's post-mortem (CI keeps target/).
        let l = lines.lock().unwrap();
        let path = xtask_ops::root().join("target").join("dev").join("e2e-last.log");
        let _ = std::fs::create_dir_all(path.parent().unwrap());
        let _ = std::fs::write(&path, l.join("\n"));
        eprintln!("all lines of the local system: {}", path.display());
    }
    if result.is_err() {
        let l = lines.lock().unwrap();
        eprintln!("--- the last lines of the local system ---");
        for line in l
            .iter()
            .filter(|l| l.starts_with("[dev]") || l.contains("WARN") || l.contains("ERROR"))
        {
            eprintln!("{line}");
        }
    }
    if result.is_err() && std::env::var_os("ORDERS_DEV_E2E_HOLD").is_some() {
        eprintln!(
            "holding the failed system for 300 s: moto {}",
            system.moto_endpoint
        );
        std::thread::sleep(Duration::from_secs(300));
    }
    let (api, moto) = (
        xtask_ops::dev::http::addr_of(&system.url).unwrap(),
        xtask_ops::dev::http::addr_of(&system.moto_endpoint).unwrap(),
    );
    drop(system);
    eprintln!("whole run: {:?}", started.elapsed());
    // Stopped cleanly: nothing listens on the API's or moto's port any more.
    for addr in [api, moto] {
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "{addr} still answers after shutdown"
        );
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

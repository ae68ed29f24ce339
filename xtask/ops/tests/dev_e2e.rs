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
use xtask_ops::build::HostBuild;
use xtask_ops::dev::http::Aws;
use xtask_ops::dev::{Client, DevOptions, DevSystem, order_body};
use xtask_ops::live::load::{self, LoadOptions};
use xtask_ops::live::test_api::{self, TestApiOptions};
use xtask_ops::live::{Api, ApiClient, local_tables};

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

fn transient_failure_is_retried(c: &Client) {
    let sku = unique("flaky");
    put_stock(c, &sku, 5, 10.0);
    let id = place(c, "ann+flaky@example.com", &sku, 1);
    let order = c.wait_for_status(&id, TERMINAL, WAIT).unwrap();
    assert_eq!(order["status"], "SHIPPED", "{order}");
}

/// What only the local API shows: the gateway's answers to routes it does not have, and CORS.
/// (The scenarios any deployment must pass are `cargo xtask test-api`'s, run below.)
fn unknown_routes_and_cors(c: &Client) {
    assert_eq!(c.call("GET", "/health", None, false).unwrap().status, 200);
    let r = c.call("DELETE", "/orders", None, true).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "NOT_FOUND");
    assert!(r.json()["requestId"].is_string());
    // CORS preflight.
    let r = c.call("OPTIONS", "/orders", None, false).unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));
}

/// `cargo xtask test-api`'s scenarios against the local system, then, for every order they
/// placed that finished, its customer notification: exactly once, with what the order says.
fn test_api_scenarios(system: &DevSystem) {
    let options = TestApiOptions {
        order_timeout: WAIT,
        poll: Duration::from_millis(100),
        racers: 20,
        race_stock: 10,
        keep: false,
    };
    // One runtime for the clients and the run (their connections live on it).
    let report = xtask_ops::deploy::block_on(async {
        let api = Api {
            client: ApiClient::new(&system.url, &system.api_key).unwrap(),
            name: format!("the local system at {}", system.url),
            tables: Some(local_tables(&system.moto_endpoint).await.unwrap()),
            env: Some(infra_model::Env::Dev),
        };
        test_api::run(&api, &options).await.unwrap()
    })
    .unwrap();
    for l in report.lines() {
        eprintln!("{l}");
    }
    assert_eq!(report.failed(), 0, "{:#?}", report.checks);
    assert!(report.checks.len() >= 10, "{:#?}", report.checks);
    assert!(report.cleanup.left.is_empty(), "{:?}", report.cleanup.left);
    for o in &report.orders {
        let status = o.status.as_deref().unwrap();
        if o.scenario == "race" {
            continue;
        }
        let n = notified(system, &o.order_id, status);
        assert!(
            n["customerEmail"].as_str().unwrap().starts_with(&report.run_id),
            "{n}"
        );
        match status {
            "SHIPPED" => assert!(n["trackingNumber"].is_string(), "{n}"),
            "REJECTED" => assert!(
                n["reason"].as_str().unwrap().contains("insufficient stock"),
                "{n}"
            ),
            "FAILED" => assert!(n["reason"].as_str().unwrap().contains("declined"), "{n}"),
            other => panic!("order {} ended {other}", o.order_id),
        }
    }
    // `cargo xtask load`, briefly, within the dev usage plan: every request answered, the
    // routes' figures from their histograms, and its orders and SKU deleted afterwards.
    let load = xtask_ops::deploy::block_on(async {
        let api = Api {
            client: ApiClient::new(&system.url, &system.api_key).unwrap(),
            name: "the local system".into(),
            tables: Some(local_tables(&system.moto_endpoint).await.unwrap()),
            env: Some(infra_model::Env::Dev),
        };
        let options = LoadOptions {
            rate: 10.0,
            duration: Duration::from_secs(3),
            mix: "create=1,get=2,list=1,stock=1".parse().unwrap(),
            ignore_usage_plan: false,
            keep: false,
        };
        load::run(&api, &options).await.unwrap()
    })
    .unwrap();
    for l in load.lines() {
        eprintln!("{l}");
    }
    assert_eq!((load.sent, load.succeeded), (30, 30), "{:#?}", load.all.statuses);
    assert_eq!(load.routes.len(), 4);
    assert!(
        load.all.p50_ms > 0.0 && load.all.p50_ms <= load.all.p99_ms && load.all.p99_ms <= load.all.max_ms
    );
    assert_eq!(
        load.cleanup.orders_deleted, load.orders_placed,
        "{:?}",
        load.cleanup.left
    );
    assert!(
        load.markdown().contains("| POST /orders | 6 |"),
        "{}",
        load.markdown()
    );
    // Cleaned up: the run's SKUs are gone.
    let c = Client::new(&system.url, &system.api_key).unwrap();
    let r = c
        .call("GET", &format!("/inventory/{}-happy", report.run_id), None, true)
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
}

/// `cargo xtask invoke`'s code through the local Lambda endpoint: the health function with its
/// trigger's real event fixture answers with its log tail; a failing one says so as Lambda does
/// (HTTP 200 with X-Amz-Function-Error); an unknown one is a ResourceNotFoundException.
fn invoke_through_the_local_lambda_endpoint(system: &DevSystem) {
    use xtask_ops::deploy::invoke::{default_event, function, invoke_with, with_endpoint};
    use xtask_ops::deploy::{Aws, AwsSettings, DeployTarget};
    xtask_ops::deploy::block_on(async {
        let target = DeployTarget::new(
            infra_model::Env::Dev,
            AwsSettings {
                endpoint_url: Some(system.moto_endpoint.clone()),
                ..AwsSettings::default()
            },
        );
        let mut aws = Aws::connect(&target.aws).await.unwrap();
        aws.lambda = with_endpoint(&aws.lambda, &system.lambda_endpoint);
        let health = function("health").unwrap();
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(default_event(health)).unwrap()).unwrap();
        let r = invoke_with(&aws, &target, health, &event).await.unwrap();
        assert_eq!(r.status_code, 200);
        assert!(r.function_error.is_none(), "{r:?}");
        assert!(r.response["statusCode"].is_number(), "{r:?}");
        assert!(
            r.log_tail.starts_with("START RequestId: ") && r.log_tail.contains("REPORT RequestId: "),
            "{r:?}"
        );
        // payment with an event that is not a task input: a function error, reported.
        let payment = function("payment").unwrap();
        let r = invoke_with(&aws, &target, payment, &json!({"not": "a task"}))
            .await
            .unwrap();
        assert_eq!(r.status_code, 200);
        assert_eq!(r.function_error.as_deref(), Some("Unhandled"), "{r:?}");
        assert!(r.response["errorMessage"].is_string(), "{r:?}");
        let e = aws
            .lambda
            .invoke()
            .function_name("no-such-function")
            .send()
            .await
            .unwrap_err();
        assert!(format!("{e:?}").contains("ResourceNotFoundException"), "{e:?}");
    })
    .unwrap();
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
        // The function binaries the suite built: no second build of the SDK stack.
        host_build: HostBuild::TestSuite,
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
                ("test-api", s.spawn(move || test_api_scenarios(system))),
                ("flaky", s.spawn(move || transient_failure_is_retried(c))),
                (
                    "unknown routes and cors",
                    s.spawn(move || unknown_routes_and_cors(c)),
                ),
                (
                    "local invoke",
                    s.spawn(move || invoke_through_the_local_lambda_endpoint(system)),
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

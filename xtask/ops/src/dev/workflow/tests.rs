use std::sync::Mutex;

use infra_model::contract::messages::errors;
use infra_model::system::functions::{COMPENSATION, PAYMENT, SHIPPING};
use infra_model::system::workflow;

use super::*;

/// A scripted set of functions: each call pops the next answer for its function (the last
/// one repeats), and every call is recorded.
struct Script {
    answers: BTreeMap<&'static str, Vec<Result<Value, StateError>>>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl Script {
    fn new(answers: &[(&'static str, Vec<Result<Value, StateError>>)]) -> Script {
        Script {
            answers: answers.iter().cloned().collect(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn call(&self, var: &str, payload: Value) -> Result<Value, StateError> {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.iter().filter(|(v, _)| v == var).count();
        calls.push((var.to_owned(), payload));
        let list = &self.answers[var];
        list[n.min(list.len() - 1)].clone()
    }

    fn calls_to(&self, var: &str) -> Vec<Value> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(v, _)| v == var)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

fn paid() -> Result<Value, StateError> {
    Ok(json!({"transactionId": "txn-1", "ignored": true}))
}
fn shipped() -> Result<Value, StateError> {
    Ok(json!({"carrier": "UPS", "trackingNumber": "1Z999", "estimatedDelivery": "2026-11-30", "x": 1}))
}
fn released() -> Result<Value, StateError> {
    Ok(json!({"released": true}))
}
fn fails(error: &str) -> Result<Value, StateError> {
    Err(StateError::new(
        error,
        json!({"errorType": error, "errorMessage": "scripted"}).to_string(),
    ))
}

/// Runs a scenario on the workflow's definition.
fn run(answers: &[(&'static str, Vec<Result<Value, StateError>>)], input: Value) -> (Execution, Script) {
    let definition = workflow::definition();
    let script = Script::new(answers);
    let invoke = |f: &'static Function, payload: Value, _timeout: Duration| script.call(f.name, payload);
    let exec = Executor {
        definition: &definition,
        wait_scale: 0.0,
        invoke: &invoke,
    }
    .run("order-1", input);
    (exec, script)
}

#[test]
fn an_order_is_paid_then_shipped() {
    let (e, script) = run(
        &[(PAYMENT.name, vec![paid()]), (SHIPPING.name, vec![shipped()])],
        json!({"orderId": "o-1", "extra": "dropped"}),
    );
    assert_eq!(
        e.path(),
        ["KeepOrderId", "TakePayment", "ArrangeShipping", "OrderShipped"]
    );
    assert_eq!(
        e.status,
        Status::Succeeded(json!({
            "orderId": "o-1",
            "payment": {"transactionId": "txn-1"},
            "shipping": {"carrier": "UPS", "trackingNumber": "1Z999", "estimatedDelivery": "2026-11-30"}
        }))
    );
    assert_eq!(
        script.calls_to(PAYMENT.name),
        [json!({"orderId": "o-1", "retryCount": 0})]
    );
    assert!(script.calls_to(COMPENSATION.name).is_empty());
}

#[test]
fn a_decline_is_not_retried_and_runs_compensation_with_the_failure() {
    let (e, script) = run(
        &[
            (PAYMENT.name, vec![fails(errors::PAYMENT_DECLINED)]),
            (COMPENSATION.name, vec![released()]),
        ],
        json!({"orderId": "o-2"}),
    );
    assert_eq!(
        e.path(),
        ["KeepOrderId", "TakePayment", "ReleaseStock", "OrderFailed"]
    );
    assert!(e.retries().is_empty());
    assert_eq!(script.calls_to(PAYMENT.name).len(), 1);
    let comp = script.calls_to(COMPENSATION.name);
    assert_eq!(comp.len(), 1);
    assert_eq!(comp[0]["orderId"], "o-2");
    assert_eq!(comp[0]["failure"]["Error"], errors::PAYMENT_DECLINED);
    assert!(comp[0]["failure"]["Cause"].as_str().unwrap().contains("scripted"));
    let Status::Failed(err) = &e.status else {
        panic!("{:?}", e.status)
    };
    assert_eq!(err.error, "OrderFailed");
}

#[test]
fn a_transient_failure_is_retried_with_backoff_and_the_retry_count() {
    let (e, script) = run(
        &[
            (
                PAYMENT.name,
                vec![
                    fails(errors::PAYMENT_UNAVAILABLE),
                    fails(errors::PAYMENT_UNAVAILABLE),
                    paid(),
                ],
            ),
            (SHIPPING.name, vec![shipped()]),
        ],
        json!({"orderId": "o-3"}),
    );
    assert_eq!(
        e.path(),
        ["KeepOrderId", "TakePayment", "ArrangeShipping", "OrderShipped"]
    );
    assert_eq!(
        e.retries(),
        [
            ("TakePayment", Duration::from_secs(2)),
            ("TakePayment", Duration::from_secs(4))
        ]
    );
    let counts: Vec<Value> = script
        .calls_to(PAYMENT.name)
        .iter()
        .map(|p| p["retryCount"].clone())
        .collect();
    assert_eq!(counts, [json!(0), json!(1), json!(2)]);
    assert!(matches!(e.status, Status::Succeeded(_)));
}

#[test]
fn retries_run_out_after_max_attempts_then_the_catch_compensates() {
    let (e, script) = run(
        &[
            (PAYMENT.name, vec![fails(errors::PAYMENT_UNAVAILABLE)]),
            (COMPENSATION.name, vec![released()]),
        ],
        json!({"orderId": "o-4"}),
    );
    // MaxAttempts 3: one call and three retries, 2 s × 2^n apart.
    assert_eq!(script.calls_to(PAYMENT.name).len(), 4);
    let delays: Vec<u64> = e.retries().iter().map(|(_, d)| d.as_secs()).collect();
    assert_eq!(delays, [2, 4, 8]);
    assert_eq!(
        e.path(),
        ["KeepOrderId", "TakePayment", "ReleaseStock", "OrderFailed"]
    );
}

#[test]
fn shipping_failures_compensate_and_a_failing_compensation_ends_in_compensation_failed() {
    let (e, script) = run(
        &[
            (PAYMENT.name, vec![paid()]),
            (SHIPPING.name, vec![fails(errors::SHIPPING_REJECTED)]),
            (COMPENSATION.name, vec![fails("States.Timeout")]),
        ],
        json!({"orderId": "o-5"}),
    );
    assert_eq!(
        script.calls_to(SHIPPING.name).len(),
        1,
        "a rejection is not retried"
    );
    assert_eq!(
        script.calls_to(COMPENSATION.name).len(),
        7,
        "one call and six retries"
    );
    assert_eq!(
        e.path(),
        [
            "KeepOrderId",
            "TakePayment",
            "ArrangeShipping",
            "ReleaseStock",
            "CompensationFailed"
        ]
    );
    let Status::Failed(err) = &e.status else { panic!() };
    assert_eq!(err.error, "CompensationFailed");
}

#[test]
fn a_missing_input_path_is_a_runtime_error_that_nothing_catches() {
    let (e, script) = run(&[(PAYMENT.name, vec![paid()])], json!({"notAnOrder": 1}));
    let Status::Failed(err) = &e.status else { panic!() };
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("$.orderId"), "{}", err.cause);
    assert!(script.calls_to(PAYMENT.name).is_empty());
}

#[test]
fn waits_are_scaled() {
    let d = workflow::definition();
    let invoke = |f: &'static Function, _: Value, _: Duration| {
        if f.name == PAYMENT.name {
            fails(errors::PAYMENT_UNAVAILABLE)
        } else {
            fails("States.Timeout")
        }
    };
    let start = Instant::now();
    let e = Executor {
        definition: &d,
        wait_scale: 0.01,
        invoke: &invoke,
    }
    .run("o", json!({"orderId": "o"}));
    // Payment 2+4+8 s and compensation 2+4+...+64 s (failing too) = 140 s, scaled to 1.4 s;
    // each wait is a random share of its backoff (full jitter), so at most that.
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1_400 + 1_000), "{took:?}");
    assert!(matches!(e.status, Status::Failed(_)));
}

#[test]
fn full_jitter_waits_a_random_share_of_the_backoff_and_none_waits_it_all() {
    let mut r = Retrier::new(["E"], Duration::from_secs(2), 3);
    r.jitter_strategy = Some("FULL");
    let waits: Vec<Duration> = (0..200).map(|_| jittered(&r, Duration::from_secs(2))).collect();
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
    let distinct: std::collections::BTreeSet<Duration> = waits.iter().copied().collect();
    assert!(distinct.len() > 100, "random, not fixed: {}", distinct.len());
    r.jitter_strategy = None;
    assert_eq!(jittered(&r, Duration::from_secs(2)), Duration::from_secs(2));
}

#[test]
fn paths_and_templates() {
    let data = json!({"a": {"b": [1, {"c": 2}]}});
    assert_eq!(read_path(&data, "$.a.b[1].c").unwrap(), json!(2));
    assert_eq!(read_path(&data, "$").unwrap(), data);
    assert!(read_path(&data, "$.x").is_err());
    let ctx = json!({"State": {"RetryCount": 3}});
    let t = json!({"n.$": "$$.State.RetryCount", "k": {"v.$": "$.a.b[0]"}, "s": "x"});
    assert_eq!(
        resolve_template(&t, &data, &ctx).unwrap(),
        json!({"n": 3, "k": {"v": 1}, "s": "x"})
    );
    assert_eq!(
        apply_result_path(&json!({"a": 1}), Some("$.r.s"), json!(2)).unwrap(),
        json!({"a": 1, "r": {"s": 2}})
    );
    assert!(apply_result_path(&json!(5), Some("$.r"), json!(2)).is_err());
}

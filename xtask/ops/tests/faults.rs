#![allow(clippy::unwrap_used)]
//! Faults while orders flow, against the local system of `cargo xtask dev` with its fault
//! injector (`--faults`), the pipeline's invariants checked at the end by the soak's checker
//! (`xtask_ops::live::invariants`, whose own tests show each invariant failing):
//!
//! - every accepted order reaches a terminal state (SHIPPED, REJECTED or FAILED) within the
//!   settle bound, and no order of a path that must not ship ships;
//! - stock is conserved per SKU (initial = now + shipped + held);
//! - no order is paid, shipped, failed or released twice, one order per idempotency key;
//! - every poison message ends in its dead-letter queue, nothing loops;
//! - no 5xx but a 503 with `Retry-After` while the AWS endpoint fails (and a 502 while the API's
//!   sandboxes are killed).
//!
//! One fault per test (and every fault at once in the short soak). The tests take turns: each
//! runs a whole local system, and the machine has two cores.

use std::sync::Mutex;
use std::time::Duration;

use xtask_ops::build::HostBuild;
use xtask_ops::dev::faults::FaultSpec;
use xtask_ops::dev::{DevOptions, DevSystem};
use xtask_ops::live::soak::{SoakOptions, SoakReport};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `orders` orders at `rate` per second through a fresh local system with `faults`, and
/// returns the soak's report (with its invariant violations).
fn soak(faults: &str, rate: f64, orders: u32, settle: Duration) -> SoakReport {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let spec: FaultSpec = faults.parse().unwrap();
    let system = DevSystem::start(DevOptions {
        port: 0,
        moto_port: 0,
        throttle: false,
        faults: spec.clone(),
        log: std::sync::Arc::new(|_: &str, _: &str| {}),
        progress: std::sync::Arc::new(|_: &str| {}),
        // The function binaries the suite built: no second build of the SDK stack.
        host_build: HostBuild::TestSuite,
        ..DevOptions::new()
    })
    .unwrap();
    let options = SoakOptions {
        duration: Duration::from_secs_f64(f64::from(orders) / rate),
        rate,
        faults: spec,
        settle,
    };
    let report = xtask_ops::live::soak_on(&system, &options).unwrap();
    for l in report.lines() {
        eprintln!("{l}");
    }
    report
}

fn assert_no_violations(report: &SoakReport) {
    assert!(
        report.accepted > 0,
        "no order was accepted: {:#?}",
        report.refused
    );
    assert!(
        report.violations.is_empty(),
        "invariants broken under {}:\n{}",
        report.faults,
        report.violations.join("\n")
    );
}

#[test]
fn orders_end_and_stock_is_conserved_while_pipeline_sandboxes_are_killed() {
    let r = soak("kill=400ms", 4.0, 40, Duration::from_secs(120));
    let c = r.fault_counts.clone().unwrap();
    assert!(c.kills >= 5, "the fault was not injected: {c:?}");
    assert!(c.init_kills > 0, "no sandbox was killed while it started: {c:?}");
    assert_no_violations(&r);
}

#[test]
fn an_aws_outage_gives_only_retryable_503s_and_loses_nothing() {
    let r = soak(
        "aws-errors=40%,aws-stall=5%:4s,outage=3s/3s",
        3.0,
        45,
        Duration::from_secs(120),
    );
    let c = r.fault_counts.clone().unwrap();
    assert!(
        c.aws_errors.values().sum::<u64>() >= 20 && c.aws_stalls > 0,
        "the fault was not injected: {c:?}"
    );
    // Every kind of error: throttling (`Throttling` is its name in the query protocol, SNS's),
    // a 500 and a 503.
    let has = |code: &str| c.aws_errors.contains_key(code);
    assert!(
        (has("ThrottlingException") || has("Throttling"))
            && has("InternalFailure")
            && has("ServiceUnavailable"),
        "every kind of error: {c:?}"
    );
    assert_no_violations(&r);
}

#[test]
fn a_frozen_task_runs_into_its_timeout_and_is_retried() {
    let r = soak("hang=4s", 2.0, 16, Duration::from_secs(150));
    let c = r.fault_counts.clone().unwrap();
    assert!(c.hangs >= 1, "no sandbox was frozen: {c:?}");
    assert_no_violations(&r);
}

#[test]
fn poison_ends_in_its_dead_letter_queues_and_duplicates_change_nothing() {
    let r = soak("poison=2s,duplicates=40%", 3.0, 36, Duration::from_secs(90));
    let c = r.fault_counts.clone().unwrap();
    assert!(
        c.poison_messages >= 3 && c.poison_records >= 3,
        "the poison was not sent: {c:?}"
    );
    assert_no_violations(&r);
}

#[test]
fn a_short_soak_with_every_fault_breaks_no_invariant() {
    let r = soak("all", 2.0, 80, Duration::from_secs(150));
    let c = r.fault_counts.clone().unwrap();
    assert!(
        c.kills > 0 && c.aws_requests > 0 && c.poison_messages > 0,
        "{c:?}"
    );
    assert_no_violations(&r);
}

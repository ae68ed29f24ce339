//! The order workflow: payment (retried on transient errors, never on a decline), then
//! shipping (retried); any failure runs compensation (release stock, mark FAILED), then fails.

use std::time::Duration;

use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::functions::{COMPENSATION, PAYMENT, SHIPPING};
use crate::aws::stepfunctions::{Catcher, Definition, Retrier, State, Task, Transition};
use crate::contract::messages::{CompensationInput, PaymentResult, ShippingResult, TaskInput, errors};

/// Where a task's failure is put for the compensation task.
pub const FAILURE_PATH: &str = "$.failure";

fn catch_all(next: &str) -> Vec<Catcher> {
    vec![Catcher {
        error_equals: vec!["States.ALL".into()],
        result_path: FAILURE_PATH.into(),
        next: next.into(),
    }]
}

/// What any task retries: the Lambda service's transient errors, a crashed or timed-out
/// function (`Lambda.Unknown`) and a store that did not answer. Safe because every task is
/// idempotent (payment answers a recorded charge, shipping a recorded shipment, compensation
/// releases once).
fn transient() -> Vec<String> {
    let mut e = vec![
        errors::STORE_UNAVAILABLE.to_string(),
        errors::LAMBDA_UNKNOWN.to_string(),
    ];
    e.extend(errors::LAMBDA_TRANSIENT.iter().map(|s| s.to_string()));
    e
}

/// A `ResultSelector` that keeps every field of what a Lambda task returns (`T`, from the
/// invocation's `Payload`): the fields come from the type, so the state and the task agree.
pub fn payload_selector<T: JsonSchema>() -> Value {
    let schema = schemars::schema_for!(T).to_value();
    let fields: Map<String, Value> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| (format!("{name}.$"), Value::String(format!("$.Payload.{name}"))))
        .collect();
    Value::Object(fields)
}

/// The definition.
pub fn definition() -> Definition {
    let payment_retry = {
        let mut e = vec![errors::PAYMENT_UNAVAILABLE.to_string()];
        e.extend(transient());
        Retrier::new(e, Duration::from_secs(2), 3)
    };
    let shipping_retry = {
        let mut e = vec![errors::SHIPPING_UNAVAILABLE.to_string()];
        e.extend(transient());
        Retrier::new(e, Duration::from_secs(2), 2)
    };
    Definition {
        comment: "Order workflow: take payment, arrange shipping; on failure release stock and mark the order FAILED"
            .into(),
        start_at: "KeepOrderId".into(),
        timeout_seconds: 900,
        states: vec![
            (
                "KeepOrderId".into(),
                State::Pass {
                    comment: "Keep only the order id from the input".into(),
                    parameters: Some(json!({"orderId.$": "$.orderId"})),
                    result_path: None,
                    then: Transition::Next("TakePayment".into()),
                },
            ),
            (
                "TakePayment".into(),
                State::Task(Task {
                    comment: "Charge the order; a decline is final, an unavailable gateway is retried".into(),
                    function: &PAYMENT,
                    payload: TaskInput::parameters(),
                    result_selector: Some(payload_selector::<PaymentResult>()),
                    result_path: Some("$.payment".into()),
                    timeout_seconds: 20,
                    retry: vec![payment_retry],
                    catch: catch_all("ReleaseStock"),
                    then: Transition::Next("ArrangeShipping".into()),
                }),
            ),
            (
                "ArrangeShipping".into(),
                State::Task(Task {
                    comment: "Choose a carrier, get a tracking number and a delivery estimate".into(),
                    function: &SHIPPING,
                    payload: TaskInput::parameters(),
                    result_selector: Some(payload_selector::<ShippingResult>()),
                    result_path: Some("$.shipping".into()),
                    timeout_seconds: 20,
                    retry: vec![shipping_retry],
                    catch: catch_all("ReleaseStock"),
                    then: Transition::Next("OrderShipped".into()),
                }),
            ),
            (
                "OrderShipped".into(),
                State::Succeed {
                    comment: "Paid and shipped".into(),
                },
            ),
            (
                "ReleaseStock".into(),
                State::Task(Task {
                    comment: "Compensation: release the reserved stock once and mark the order FAILED".into(),
                    function: &COMPENSATION,
                    payload: CompensationInput::parameters(FAILURE_PATH),
                    result_selector: None,
                    result_path: Some("$.compensation".into()),
                    timeout_seconds: 40,
                    retry: vec![Retrier::new(
                        {
                            let mut e = transient();
                            e.push("States.Timeout".into());
                            e
                        },
                        Duration::from_secs(2),
                        6,
                    )],
                    catch: vec![Catcher {
                        error_equals: vec!["States.ALL".into()],
                        result_path: "$.compensationFailure".into(),
                        next: "CompensationFailed".into(),
                    }],
                    then: Transition::Next("OrderFailed".into()),
                }),
            ),
            (
                "OrderFailed".into(),
                State::Fail {
                    comment: "The order failed after reservation; its stock was released".into(),
                    error: "OrderFailed".into(),
                    cause: "Payment or shipping failed; the reserved stock was released and the order marked FAILED"
                        .into(),
                },
            ),
            (
                "CompensationFailed".into(),
                State::Fail {
                    comment: "Compensation itself failed: the order needs manual intervention".into(),
                    error: "CompensationFailed".into(),
                    cause: "The stock of a failed order could not be released; see the execution history".into(),
                },
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_is_valid_and_references_only_existing_states() {
        let d = definition();
        assert_eq!(d.problems(), Vec::<String>::new());
        let asl = d.to_asl();
        let states = asl["States"].as_object().unwrap();
        let mut targets = vec![asl["StartAt"].as_str().unwrap().to_string()];
        for s in states.values() {
            for key in ["Next", "Default"] {
                if let Some(n) = s.get(key).and_then(|v| v.as_str()) {
                    targets.push(n.into());
                }
            }
            for c in s.get("Catch").and_then(|v| v.as_array()).into_iter().flatten() {
                targets.push(c["Next"].as_str().unwrap().into());
            }
        }
        for t in targets {
            assert!(states.contains_key(&t), "ASL refers to missing state {t}");
        }
    }

    #[test]
    fn selectors_keep_every_field_of_the_task_results() {
        assert_eq!(
            payload_selector::<ShippingResult>(),
            json!({
                "carrier.$": "$.Payload.carrier",
                "trackingNumber.$": "$.Payload.trackingNumber",
                "estimatedDelivery.$": "$.Payload.estimatedDelivery"
            })
        );
    }

    #[test]
    fn the_task_functions_are_the_workflow_task_functions() {
        let tasks: Vec<&str> = definition().task_functions().iter().map(|f| f.name).collect();
        let declared: Vec<&str> = super::super::FUNCTIONS
            .iter()
            .filter(|f| f.trigger == crate::decl::Trigger::WorkflowTask)
            .map(|f| f.name)
            .collect();
        assert_eq!(tasks, declared);
    }

    #[test]
    fn payment_is_retried_three_times_on_transient_errors_never_on_a_decline() {
        let d = definition();
        let State::Task(pay) = d.state("TakePayment").unwrap() else {
            panic!()
        };
        assert_eq!(pay.retry.len(), 1);
        assert_eq!(pay.retry[0].max_attempts, 3);
        assert!(
            pay.retry[0]
                .error_equals
                .contains(&errors::PAYMENT_UNAVAILABLE.to_string())
        );
        assert!(!pay.retry.iter().any(|r| {
            r.error_equals
                .iter()
                .any(|e| e == errors::PAYMENT_DECLINED || e == "States.ALL")
        }));
        let State::Task(ship) = d.state("ArrangeShipping").unwrap() else {
            panic!()
        };
        assert_eq!(ship.retry[0].max_attempts, 2);
        assert_eq!(pay.catch[0].next, "ReleaseStock");
        assert_eq!(ship.catch[0].next, "ReleaseStock");
        let State::Task(comp) = d.state("ReleaseStock").unwrap() else {
            panic!()
        };
        assert_eq!(comp.then, Transition::Next("OrderFailed".into()));
    }
}

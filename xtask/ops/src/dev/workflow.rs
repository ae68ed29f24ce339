//! The local Step Functions executor: runs the order workflow from its typed [`Definition`], the
//! same value `Definition::to_asl()` emits into the template.
//!
//! What it interprets, as Step Functions does:
//! - `Task` (`arn:aws:states:::lambda:invoke`): `Parameters.Payload` resolved against the state
//!   input and the context object (`$$.State.RetryCount`, `$$.Execution.Name`, ...); the result is
//!   `{"ExecutedVersion", "Payload", "StatusCode"}`, then `ResultSelector`, then `ResultPath`.
//!   A function error becomes the state error (`Error` = the function's `errorType`, `Cause` = the
//!   error as JSON, as the Lambda integration reports it).
//! - `Retry`: the first retrier whose `ErrorEquals` names the error (or `States.ALL`); each
//!   retrier counts its own attempts; the wait is `IntervalSeconds × BackoffRate^n` (capped by
//!   `MaxDelaySeconds`), **multiplied by the local scale factor** (`cargo xtask dev` uses 0.01:
//!   2 s becomes 20 ms); with `JitterStrategy: FULL` the wait is a random share of that. The
//!   history records the model's delay, before jitter and scale.
//! - A Task's `TimeoutSeconds` is the invoker's: past it the state fails with `States.Timeout`
//!   while the invocation goes on, as Lambda's does ([`super::sources`]).
//! - `Catch`: the first catcher that matches; `{"Error", "Cause"}` goes at its `ResultPath`.
//!   `States.Runtime` (a path that is not in the input) is neither retried nor caught.
//! - `Pass` with `Parameters` (`.$` keys) and `ResultPath`; `Choice` with the rules the model
//!   has; `Succeed`; `Fail` with its error and cause. The execution's `TimeoutSeconds`.
//!
//! It runs the same `Definition` value the template's ASL is emitted from (the workflow's
//! declaration), so the two cannot differ; nothing is read back from the template.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use infra_model::aws::stepfunctions::{Definition, Retrier, Rule, State, Task, Transition};
use infra_model::decl::Function;
use serde_json::{Map, Value, json};

/// An error a state raised: `Error` and `Cause`, as Step Functions names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    pub error: String,
    pub cause: String,
}

impl StateError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> StateError {
        StateError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    fn runtime(cause: impl Into<String>) -> StateError {
        StateError::new("States.Runtime", cause)
    }

    fn as_json(&self) -> Value {
        json!({"Error": self.error, "Cause": self.cause})
    }
}

/// How a Task invokes its function: `(function, payload, timeout)` → the function's response
/// payload, or its error.
pub type Invoker<'a> =
    dyn Fn(&'static Function, Value, Duration) -> Result<Value, StateError> + Send + Sync + 'a;

/// One step of an execution's history.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Entered {
        state: String,
        input: Value,
    },
    TaskFailed {
        state: String,
        error: String,
        attempt: u32,
    },
    /// A retry, after `delay` (the unscaled, model delay).
    Retry {
        state: String,
        retry_count: u32,
        delay: Duration,
    },
    Caught {
        state: String,
        error: String,
        next: String,
    },
    Exited {
        state: String,
        output: Value,
    },
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Succeeded(Value),
    Failed(StateError),
}

/// A finished execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub name: String,
    pub status: Status,
    pub history: Vec<Event>,
    pub elapsed: Duration,
}

impl Execution {
    /// The states entered, in order (retries enter once).
    pub fn path(&self) -> Vec<&str> {
        self.history
            .iter()
            .filter_map(|e| match e {
                Event::Entered { state, .. } => Some(state.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The retries, as `(state, delay)`.
    pub fn retries(&self) -> Vec<(&str, Duration)> {
        self.history
            .iter()
            .filter_map(|e| match e {
                Event::Retry { state, delay, .. } => Some((state.as_str(), *delay)),
                _ => None,
            })
            .collect()
    }
}

/// Runs executions of one definition.
pub struct Executor<'a> {
    pub definition: &'a Definition,
    /// Multiplies every retry wait (1.0 = as deployed; 0.0 = no waiting).
    pub wait_scale: f64,
    pub invoke: &'a Invoker<'a>,
}

impl Executor<'_> {
    /// Runs one execution to its end.
    pub fn run(&self, name: &str, input: Value) -> Execution {
        let start = Instant::now();
        let mut history = Vec::new();
        let status = self.run_inner(name, input, &mut history, start);
        Execution {
            name: name.to_owned(),
            status,
            history,
            elapsed: start.elapsed(),
        }
    }

    fn run_inner(&self, name: &str, input: Value, history: &mut Vec<Event>, start: Instant) -> Status {
        let d = self.definition;
        let execution_arn = format!(
            "arn:aws:states:us-east-1:{}:execution:local:{name}",
            crate::runtime_api::ACCOUNT_ID
        );
        let mut current = d.start_at.clone();
        let mut data = input.clone();
        let limit = Duration::from_secs(u64::from(d.timeout_seconds));
        loop {
            if d.timeout_seconds > 0 && start.elapsed() > limit {
                return Status::Failed(StateError::new(
                    "States.Timeout",
                    format!(
                        "the execution ran longer than TimeoutSeconds ({})",
                        d.timeout_seconds
                    ),
                ));
            }
            let Some(state) = d.state(&current) else {
                return Status::Failed(StateError::runtime(format!("no state named {current:?}")));
            };
            history.push(Event::Entered {
                state: current.clone(),
                input: data.clone(),
            });
            let context = |retry_count: u32| {
                json!({
                    "Execution": {"Id": execution_arn, "Name": name, "Input": input},
                    "State": {"Name": current, "RetryCount": retry_count},
                    "StateMachine": {"Name": "local"},
                })
            };
            let next = match state {
                State::Pass {
                    parameters,
                    result_path,
                    then,
                    ..
                } => {
                    let result = match parameters {
                        Some(p) => match resolve_template(p, &data, &context(0)) {
                            Ok(v) => v,
                            Err(e) => return Status::Failed(e),
                        },
                        None => data.clone(),
                    };
                    match apply_result_path(&data, result_path.as_deref(), result) {
                        Ok(v) => data = v,
                        Err(e) => return Status::Failed(e),
                    }
                    then.clone()
                }
                State::Succeed { .. } => {
                    history.push(Event::Exited {
                        state: current.clone(),
                        output: data.clone(),
                    });
                    return Status::Succeeded(data);
                }
                State::Fail { error, cause, .. } => {
                    return Status::Failed(StateError::new(error.clone(), cause.clone()));
                }
                State::Choice { rules, default, .. } => {
                    let mut chosen = default.clone();
                    for rule in rules {
                        match choose(rule, &data) {
                            Ok(Some(n)) => {
                                chosen = n;
                                break;
                            }
                            Ok(None) => {}
                            Err(e) => return Status::Failed(e),
                        }
                    }
                    Transition::Next(chosen)
                }
                State::Task(task) => match self.run_task(&current, task, &data, &context, history) {
                    Ok(output) => {
                        data = output;
                        task.then.clone()
                    }
                    Err(TaskEnd::Caught { next, output }) => {
                        data = output;
                        Transition::Next(next)
                    }
                    Err(TaskEnd::Failed(e)) => return Status::Failed(e),
                },
            };
            history.push(Event::Exited {
                state: current.clone(),
                output: data.clone(),
            });
            match next {
                Transition::Next(n) => current = n,
                Transition::End => return Status::Succeeded(data),
            }
        }
    }

    fn run_task(
        &self,
        name: &str,
        task: &Task,
        input: &Value,
        context: &dyn Fn(u32) -> Value,
        history: &mut Vec<Event>,
    ) -> Result<Value, TaskEnd> {
        let mut retry_count = 0u32;
        let mut attempts_per_retrier = vec![0u32; task.retry.len()];
        loop {
            let outcome = resolve_template(&task.payload, input, &context(retry_count))
                .map_err(TaskEnd::Failed)
                .and_then(|payload| {
                    (self.invoke)(
                        task.function,
                        payload,
                        Duration::from_secs(u64::from(task.timeout_seconds)),
                    )
                    .map_err(TaskEnd::Failed)
                });
            let error = match outcome {
                Ok(payload) => {
                    let result = json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200});
                    let selected = match &task.result_selector {
                        Some(sel) => {
                            resolve_template(sel, &result, &context(retry_count)).map_err(TaskEnd::Failed)?
                        }
                        None => result,
                    };
                    return apply_result_path(input, task.result_path.as_deref(), selected)
                        .map_err(TaskEnd::Failed);
                }
                Err(TaskEnd::Failed(e)) => e,
                Err(other) => return Err(other),
            };
            history.push(Event::TaskFailed {
                state: name.to_owned(),
                error: error.error.clone(),
                attempt: retry_count + 1,
            });
            if error.error == "States.Runtime" {
                return Err(TaskEnd::Failed(error));
            }
            if let Some(i) = task
                .retry
                .iter()
                .position(|r| matches(&r.error_equals, &error.error))
            {
                let r = &task.retry[i];
                if attempts_per_retrier[i] < r.max_attempts {
                    let delay = retry_delay(r, attempts_per_retrier[i]);
                    attempts_per_retrier[i] += 1;
                    retry_count += 1;
                    history.push(Event::Retry {
                        state: name.to_owned(),
                        retry_count,
                        delay,
                    });
                    std::thread::sleep(jittered(r, delay).mul_f64(self.wait_scale.max(0.0)));
                    continue;
                }
            }
            if let Some(c) = task.catch.iter().find(|c| matches(&c.error_equals, &error.error)) {
                history.push(Event::Caught {
                    state: name.to_owned(),
                    error: error.error.clone(),
                    next: c.next.clone(),
                });
                let output = apply_result_path(input, Some(&c.result_path), error.as_json())
                    .map_err(TaskEnd::Failed)?;
                return Err(TaskEnd::Caught {
                    next: c.next.clone(),
                    output,
                });
            }
            return Err(TaskEnd::Failed(error));
        }
    }
}

enum TaskEnd {
    Caught { next: String, output: Value },
    Failed(StateError),
}

/// Whether an `ErrorEquals` list matches an error (`States.ALL` matches all but `States.Runtime`).
fn matches(list: &[String], error: &str) -> bool {
    list.iter()
        .any(|e| e == error || (e == "States.ALL" && error != "States.Runtime"))
}

/// The wait itself: with `JitterStrategy: FULL`, a random share of `delay` (Step Functions
/// randomizes the interval between 0 and the backoff, AWS Step Functions Developer Guide,
/// "Retrying after an error"), so the retries of many executions spread apart.
fn jittered(r: &Retrier, delay: Duration) -> Duration {
    if r.jitter_strategy == Some("FULL") {
        delay.mul_f64(super::sources::unit_random())
    } else {
        delay
    }
}

/// The wait before retry number `n + 1` of a retrier (unscaled).
pub fn retry_delay(r: &Retrier, n: u32) -> Duration {
    let secs = f64::from(r.interval_seconds) * r.backoff_rate.powi(i32::try_from(n).unwrap_or(i32::MAX));
    let secs = match r.max_delay_seconds {
        Some(max) => secs.min(f64::from(max)),
        None => secs,
    };
    Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
}

fn choose(rule: &Rule, data: &Value) -> Result<Option<String>, StateError> {
    Ok(match rule {
        Rule::StringEquals {
            variable,
            value,
            next,
        } => (read_path(data, variable)?.as_str() == Some(value.as_str())).then(|| next.clone()),
        Rule::BooleanEquals {
            variable,
            value,
            next,
        } => (read_path(data, variable)?.as_bool() == Some(*value)).then(|| next.clone()),
        Rule::IsPresent {
            variable,
            value,
            next,
        } => (read_path(data, variable).is_ok() == *value).then(|| next.clone()),
    })
}

/// Reads a reference path (`$`, `$.a.b`, `$.a[0]`) from a value.
pub fn read_path(data: &Value, path: &str) -> Result<Value, StateError> {
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| StateError::runtime(format!("{path:?} is not a JSONPath (it must start with $)")))?;
    let mut v = data;
    for segment in split_path(rest) {
        let found = match segment {
            Segment::Key(k) => v.get(k),
            Segment::Index(i) => v.get(i),
        };
        v = found.ok_or_else(|| {
            StateError::runtime(format!("the JSONPath {path:?} could not be found in the input"))
        })?;
    }
    Ok(v.clone())
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(rest: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in rest.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, i)| (k, i));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        for idx in indexes.split('[').map(|s| s.trim_end_matches(']')) {
            if let Ok(i) = idx.parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

/// Resolves a `Parameters`-style template: keys ending in `.$` take the value at their path
/// (`$$.` paths read the context object), others are copied (objects recursively).
pub fn resolve_template(template: &Value, data: &Value, context: &Value) -> Result<Value, StateError> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(key) = k.strip_suffix(".$") {
                    let path = v.as_str().ok_or_else(|| {
                        StateError::runtime(format!("the value of {k:?} must be a JSONPath string"))
                    })?;
                    let value = match path.strip_prefix("$$") {
                        Some(rest) => read_path(context, &format!("${rest}"))?,
                        None => read_path(data, path)?,
                    };
                    out.insert(key.to_owned(), value);
                } else {
                    out.insert(k.clone(), resolve_template(v, data, context)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a.iter().map(|v| resolve_template(v, data, context)).collect(),
        other => Ok(other.clone()),
    }
}

/// `ResultPath`: `None` or `$` replaces the input with the result; `$.a.b` puts it there.
pub fn apply_result_path(input: &Value, path: Option<&str>, result: Value) -> Result<Value, StateError> {
    let path = path.unwrap_or("$");
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| StateError::runtime(format!("ResultPath {path:?} must start with $")))?;
    let keys: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
    if keys.is_empty() {
        return Ok(result);
    }
    let mut out = input.clone();
    let mut v = &mut out;
    for (i, k) in keys.iter().enumerate() {
        let Value::Object(map) = v else {
            return Err(StateError::runtime(format!(
                "ResultPath {path:?} cannot be applied: the input at {k:?} is not an object"
            )));
        };
        if i + 1 == keys.len() {
            map.insert((*k).to_owned(), result);
            return Ok(out);
        }
        v = map.entry((*k).to_owned()).or_insert_with(|| json!({}));
    }
    Ok(out)
}

/// The states of a definition by name (ASL has no order).
pub fn by_name(d: &Definition) -> BTreeMap<&str, &State> {
    d.states.iter().map(|(n, s)| (n.as_str(), s)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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
}

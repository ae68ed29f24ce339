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
mod tests;

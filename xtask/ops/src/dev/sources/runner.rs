//! Step Functions: the executions moto records, run by the local executor.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use infra_model::aws::stepfunctions::Definition;
use infra_model::contract::messages::errors;
use infra_model::decl::Function;
use serde_json::{Value, json};

use super::Activity;
use super::{Say, chance, invoke};
use crate::dev::http::Aws;
use crate::dev::workflow::{Executor, StateError, Status};
use crate::runtime_api::LocalFunction;

/// The errors the emulator reports for a function that did not answer for itself.
const UNHANDLED: [&str; 2] = ["Sandbox.Timedout", "Runtime.ExitError"];

/// A Task's invocation, bounded by its `TimeoutSeconds`: past it the state fails with
/// `States.Timeout` (AWS Step Functions Developer Guide, "Task": "If the task runs longer than
/// the specified seconds, this state fails with a States.Timeout error name") while the
/// invocation goes on in its own thread, as Lambda's does. A zero timeout waits for the answer.
pub fn invoke_within(f: &Arc<LocalFunction>, payload: Value, timeout: Duration) -> Result<Value, StateError> {
    let as_state_error = |(t, m): (String, String)| {
        // A crash or a timeout is the Lambda service's report, not the function's error:
        // Step Functions names it `Lambda.Unknown` (AWS Step Functions Developer Guide, "Handle
        // Lambda service exceptions": unhandled errors, out-of-memory errors and function
        // timeouts), with the service's own error in the cause.
        let name = if UNHANDLED.contains(&t.as_str()) {
            errors::LAMBDA_UNKNOWN.to_owned()
        } else {
            t.clone()
        };
        StateError::new(name, json!({"errorType": t, "errorMessage": m}).to_string())
    };
    if timeout.is_zero() {
        return invoke(f, payload).map_err(as_state_error);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let function = Arc::clone(f);
    let spawned = std::thread::Builder::new()
        .name("dev-task".into())
        .spawn(move || {
            let _ = tx.send(invoke(&function, payload));
        });
    if let Err(e) = spawned {
        return Err(StateError::new(
            "Lambda.SdkClientException",
            format!("cannot start the invocation thread: {e}"),
        ));
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result.map_err(as_state_error),
        Err(_) => Err(StateError::new(
            "States.Timeout",
            format!(
                "the task of {} did not answer within its TimeoutSeconds ({} s)",
                f.name(),
                timeout.as_secs()
            ),
        )),
    }
}

/// What the workflow runner did, for tests and the console: execution name → outcome.
pub type Executions = Arc<Mutex<Vec<(String, Status)>>>;

/// Runs moto's recorded executions of a workflow with the local executor.
#[derive(Clone)]
pub struct WorkflowRunner {
    pub aws: Aws,
    pub state_machine_arn: String,
    pub definition: Arc<Definition>,
    /// The task functions, by their declarations.
    pub tasks: Arc<Vec<(&'static Function, Arc<LocalFunction>)>>,
    pub wait_scale: f64,
    /// The share of task invocations made twice (the `duplicates` fault).
    pub duplicates: f64,
    pub say: Say,
    pub executions: Executions,
}

impl WorkflowRunner {
    /// Lists moto's RUNNING executions and runs each new one in its own thread; lists again
    /// when a function has started an execution (`starts`), or after
    /// [`IDLE_POLL`](super::IDLE_POLL).
    pub fn spawn(self, stop: Arc<AtomicBool>, starts: Activity) -> Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("dev-workflow".into())
            .spawn(move || {
                let mut started: BTreeSet<String> = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let seen = starts.count();
                    let list = self.aws.call(
                        "states",
                        "AWSStepFunctions.ListExecutions",
                        &json!({"stateMachineArn": self.state_machine_arn, "statusFilter": "RUNNING", "maxResults": 1000}),
                    );
                    let list = match list {
                        Ok(l) => l,
                        Err(e) => {
                            (self.say)(&format!("workflow runner: {e:#} (retrying in 1 s)"));
                            std::thread::sleep(Duration::from_secs(1));
                            continue;
                        }
                    };
                    for ex in list["executions"].as_array().into_iter().flatten() {
                        let Some(arn) = ex["executionArn"].as_str() else { continue };
                        if !started.insert(arn.to_owned()) {
                            continue;
                        }
                        let (runner, arn) = (self.clone(), arn.to_owned());
                        let spawned = std::thread::Builder::new()
                            .name("dev-execution".into())
                            .spawn(move || runner.run_execution(&arn));
                        if let Err(e) = spawned {
                            (self.say)(&format!("cannot start an execution thread: {e}"));
                        }
                    }
                    // The next execution is started by a function (start-workflow) through
                    // the local AWS endpoint, which bumps `starts` (or, started from outside,
                    // is seen within `IDLE_POLL`).
                    starts.wait_past(seen, super::IDLE_POLL);
                }
            })
            .context("cannot start the workflow runner thread")
    }

    fn run_execution(&self, arn: &str) {
        let WorkflowRunner {
            aws,
            definition,
            tasks,
            wait_scale,
            duplicates,
            say,
            executions,
            ..
        } = self;
        let (wait_scale, duplicates) = (*wait_scale, *duplicates);
        let d = match aws.call(
            "states",
            "AWSStepFunctions.DescribeExecution",
            &json!({"executionArn": arn}),
        ) {
            Ok(d) => d,
            Err(e) => return say(&format!("cannot read execution {arn}: {e:#}")),
        };
        let name = d["name"].as_str().unwrap_or(arn).to_owned();
        let input: Value = d["input"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(json!({}));
        let invoke_task =
            |function: &'static Function, payload: Value, timeout: Duration| -> Result<Value, StateError> {
                let f = tasks
                    .iter()
                    .find(|(declared, _)| declared.name == function.name)
                    .map(|(_, f)| f)
                    .ok_or_else(|| {
                        StateError::new("States.Runtime", format!("no local function {}", function.name))
                    })?;
                if chance(duplicates) {
                    // The task invoked twice (Lambda's own retry of a lost answer): the second
                    // answer is the one the state gets.
                    say(&format!("fault: {} task of {name} invoked twice", function.name));
                    let _ = invoke_within(f, payload.clone(), timeout);
                }
                invoke_within(f, payload, timeout)
            };
        let start = Instant::now();
        let exec = Executor {
            definition,
            wait_scale,
            invoke: &invoke_task,
        }
        .run(&name, input);
        let summary = match &exec.status {
            Status::Succeeded(_) => "SUCCEEDED".to_owned(),
            Status::Failed(e) => format!("FAILED {}", e.error),
        };
        say(&format!(
            "workflow {name}: {} → {summary} in {} ms",
            exec.path().join(" → "),
            start.elapsed().as_millis()
        ));
        // moto keeps a recorded execution RUNNING forever: stop it, with the local outcome.
        let _ = aws.call(
            "states",
            "AWSStepFunctions.StopExecution",
            &json!({"executionArn": arn, "error": "LocalExecution", "cause": format!("ran locally by cargo xtask dev: {summary}")}),
        );
        if let Ok(mut list) = executions.lock() {
            list.push((name, exec.status));
        }
    }
}

//! Step Functions: a typed Amazon States Language definition and `AWS::StepFunctions::StateMachine`.
//!
//! The same [`Definition`] is emitted as ASL for CloudFormation and interpreted by the local
//! executor of `cargo xtask dev`, so the two cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};
use crate::decl::Function;

/// The optimized Lambda integration, in the stack's partition (resolved by `Fn::Sub`).
pub const LAMBDA_INVOKE: &str = "arn:${AWS::Partition}:states:::lambda:invoke";

/// `Retry`: which errors, how often, how far apart.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// `FULL` jitter spreads retries of many executions apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<&'static str>,
}

impl Retrier {
    pub fn new(
        errors: impl IntoIterator<Item = impl Into<String>>,
        interval: Duration,
        max_attempts: u32,
    ) -> Retrier {
        Retrier {
            error_equals: errors.into_iter().map(Into::into).collect(),
            interval_seconds: u32::try_from(interval.as_secs()).unwrap_or(u32::MAX),
            max_attempts,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter_strategy: Some("FULL"),
        }
    }
}

/// `Catch`: on these errors, put the error at `result_path` and go to `next`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub result_path: String,
    pub next: String,
}

/// What follows a state.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    Next(String),
    End,
}

/// A Task state that invokes a Lambda function (`arn:aws:states:::lambda:invoke`).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub comment: String,
    /// The function it invokes: its ARN is the `DefinitionString` substitution
    /// [`Function::arn_var`] (`${PaymentFunctionArn}`).
    pub function: &'static Function,
    /// The function's payload, built from the state input (`"orderId.$": "$.orderId"`).
    pub payload: Value,
    /// Keeps only what the task returns (applied to the Lambda response's `Payload`).
    pub result_selector: Option<Value>,
    pub result_path: Option<String>,
    pub timeout_seconds: u32,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub then: Transition,
}

/// One rule of a Choice state (the comparisons the system needs; more can be added).
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    StringEquals {
        variable: String,
        value: String,
        next: String,
    },
    BooleanEquals {
        variable: String,
        value: bool,
        next: String,
    },
    IsPresent {
        variable: String,
        value: bool,
        next: String,
    },
}

impl Rule {
    fn next(&self) -> &str {
        match self {
            Rule::StringEquals { next, .. }
            | Rule::BooleanEquals { next, .. }
            | Rule::IsPresent { next, .. } => next,
        }
    }
}

/// The states the system uses.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Task(Task),
    Choice {
        comment: String,
        rules: Vec<Rule>,
        default: String,
    },
    Pass {
        comment: String,
        parameters: Option<Value>,
        result_path: Option<String>,
        then: Transition,
    },
    Succeed {
        comment: String,
    },
    Fail {
        comment: String,
        error: String,
        cause: String,
    },
}

impl State {
    fn targets(&self) -> Vec<&str> {
        fn then(t: &Transition) -> Vec<&str> {
            match t {
                Transition::Next(n) => vec![n.as_str()],
                Transition::End => vec![],
            }
        }
        match self {
            State::Task(t) => {
                let mut v = then(&t.then);
                v.extend(t.catch.iter().map(|c| c.next.as_str()));
                v
            }
            State::Choice { rules, default, .. } => {
                let mut v: Vec<&str> = rules.iter().map(Rule::next).collect();
                v.push(default);
                v
            }
            State::Pass { then: t, .. } => then(t),
            State::Succeed { .. } | State::Fail { .. } => vec![],
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            State::Task(Task { then, .. }) | State::Pass { then, .. } => *then == Transition::End,
            State::Succeed { .. } | State::Fail { .. } => true,
            State::Choice { .. } => false,
        }
    }
}

/// A state machine definition: states in the order they are written.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub comment: String,
    pub start_at: String,
    pub timeout_seconds: u32,
    pub states: Vec<(String, State)>,
}

impl Definition {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Every problem with the definition: names that refer to no state, duplicate or
    /// unreachable states, a definition with no way to end, an empty `ErrorEquals`,
    /// `States.ALL` not alone or not last.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for (name, _) in &self.states {
            if !names.insert(name.as_str()) {
                problems.push(format!("state {name:?} is defined twice"));
            }
            if name.is_empty() || name.len() > 80 {
                problems.push(format!("state name {name:?} must be 1 to 80 characters"));
            }
        }
        if !names.contains(self.start_at.as_str()) {
            problems.push(format!("StartAt {:?} is not a state", self.start_at));
        }
        for (name, state) in &self.states {
            for target in state.targets() {
                if !names.contains(target) {
                    problems.push(format!("state {name:?} goes to {target:?}, which is not a state"));
                }
            }
            if let State::Task(t) = state {
                let lists = t
                    .retry
                    .iter()
                    .map(|r| &r.error_equals)
                    .chain(t.catch.iter().map(|c| &c.error_equals));
                for errors in lists {
                    if errors.is_empty() {
                        problems.push(format!("state {name:?} has an empty ErrorEquals"));
                    }
                    if errors.iter().any(|e| e == "States.ALL") && errors.len() > 1 {
                        problems.push(format!(
                            "state {name:?}: States.ALL must appear alone in ErrorEquals"
                        ));
                    }
                }
                for (kind, alls) in [
                    (
                        "Retry",
                        t.retry.iter().map(|r| &r.error_equals).collect::<Vec<_>>(),
                    ),
                    (
                        "Catch",
                        t.catch.iter().map(|c| &c.error_equals).collect::<Vec<_>>(),
                    ),
                ] {
                    let n = alls.len();
                    if alls
                        .iter()
                        .take(n.saturating_sub(1))
                        .any(|e| e.iter().any(|x| x == "States.ALL"))
                    {
                        problems.push(format!(
                            "state {name:?}: a {kind} on States.ALL must be the last one"
                        ));
                    }
                }
            }
        }
        // Reachability from StartAt.
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.start_at.as_str()];
        while let Some(n) = stack.pop() {
            if seen.insert(n)
                && let Some(s) = self.state(n)
            {
                stack.extend(s.targets());
            }
        }
        for (name, _) in &self.states {
            if !seen.contains(name.as_str()) {
                problems.push(format!(
                    "state {name:?} cannot be reached from {:?}",
                    self.start_at
                ));
            }
        }
        if !self.states.iter().any(|(_, s)| s.is_terminal()) {
            problems.push("no state ends the execution".into());
        }
        problems
    }

    /// The functions its tasks invoke, each once, in the order the states are written.
    pub fn task_functions(&self) -> Vec<&'static Function> {
        let mut out: Vec<&'static Function> = Vec::new();
        for (_, s) in &self.states {
            if let State::Task(t) = s
                && !out.iter().any(|f| f.name == t.function.name)
            {
                out.push(t.function);
            }
        }
        out
    }

    /// The names of the `${...}` substitutions the ASL uses (the task functions' ARNs).
    pub fn substitutions(&self) -> BTreeSet<String> {
        self.task_functions().iter().map(|f| f.arn_var()).collect()
    }

    /// The definition as Amazon States Language, with `${Var}` where a function ARN goes.
    pub fn to_asl(&self) -> Value {
        let mut states = Map::new();
        for (name, state) in &self.states {
            states.insert(name.clone(), state_json(state));
        }
        // serde_json's map is sorted; ASL does not care about order, readers do not either
        // once StartAt is given.
        json!({
            "Comment": self.comment,
            "StartAt": self.start_at,
            "TimeoutSeconds": self.timeout_seconds,
            "States": states,
        })
    }
}

fn transition(obj: &mut Map<String, Value>, t: &Transition) {
    match t {
        Transition::Next(n) => {
            obj.insert("Next".into(), json!(n));
        }
        Transition::End => {
            obj.insert("End".into(), json!(true));
        }
    }
}

fn state_json(state: &State) -> Value {
    let mut o = Map::new();
    match state {
        State::Task(t) => {
            o.insert("Type".into(), json!("Task"));
            o.insert("Comment".into(), json!(t.comment));
            o.insert("Resource".into(), json!(LAMBDA_INVOKE));
            o.insert(
                "Parameters".into(),
                json!({"FunctionName": format!("${{{}}}", t.function.arn_var()), "Payload": t.payload}),
            );
            if let Some(sel) = &t.result_selector {
                o.insert("ResultSelector".into(), sel.clone());
            }
            if let Some(rp) = &t.result_path {
                o.insert("ResultPath".into(), json!(rp));
            }
            o.insert("TimeoutSeconds".into(), json!(t.timeout_seconds));
            if !t.retry.is_empty() {
                o.insert("Retry".into(), json!(t.retry));
            }
            if !t.catch.is_empty() {
                o.insert("Catch".into(), json!(t.catch));
            }
            transition(&mut o, &t.then);
        }
        State::Choice {
            comment,
            rules,
            default,
        } => {
            o.insert("Type".into(), json!("Choice"));
            o.insert("Comment".into(), json!(comment));
            let rules: Vec<Value> = rules
                .iter()
                .map(|r| match r {
                    Rule::StringEquals {
                        variable,
                        value,
                        next,
                    } => {
                        json!({"Variable": variable, "StringEquals": value, "Next": next})
                    }
                    Rule::BooleanEquals {
                        variable,
                        value,
                        next,
                    } => {
                        json!({"Variable": variable, "BooleanEquals": value, "Next": next})
                    }
                    Rule::IsPresent {
                        variable,
                        value,
                        next,
                    } => {
                        json!({"Variable": variable, "IsPresent": value, "Next": next})
                    }
                })
                .collect();
            o.insert("Choices".into(), Value::Array(rules));
            o.insert("Default".into(), json!(default));
        }
        State::Pass {
            comment,
            parameters,
            result_path,
            then,
        } => {
            o.insert("Type".into(), json!("Pass"));
            o.insert("Comment".into(), json!(comment));
            if let Some(p) = parameters {
                o.insert("Parameters".into(), p.clone());
            }
            if let Some(rp) = result_path {
                o.insert("ResultPath".into(), json!(rp));
            }
            transition(&mut o, then);
        }
        State::Succeed { comment } => {
            o.insert("Type".into(), json!("Succeed"));
            o.insert("Comment".into(), json!(comment));
        }
        State::Fail {
            comment,
            error,
            cause,
        } => {
            o.insert("Type".into(), json!("Fail"));
            o.insert("Comment".into(), json!(comment));
            o.insert("Error".into(), json!(error));
            o.insert("Cause".into(), json!(cause));
        }
    }
    Value::Object(o)
}

/// A standard state machine with logging and tracing on.
#[derive(Clone, Debug, PartialEq)]
pub struct StateMachine {
    pub name: Expr,
    pub definition: Definition,
    /// The value of each `${Var}` the definition uses (function ARNs).
    pub substitutions: BTreeMap<String, Expr>,
    pub role_arn: Expr,
    pub log_group_arn: Expr,
    pub tags: Vec<Tag>,
}

impl Resource for StateMachine {
    const TYPE: &'static str = "AWS::StepFunctions::StateMachine";
    fn properties(&self) -> Value {
        // The ASL goes in as indented JSON inside `Fn::Sub`: readable in the YAML template, and
        // the form every CloudFormation implementation accepts.
        let asl =
            serde_json::to_string_pretty(&crate::cfn::sorted(self.definition.to_asl())).unwrap_or_default();
        let mut p = json!({
            "StateMachineName": self.name,
            "StateMachineType": "STANDARD",
            "RoleArn": self.role_arn,
            "DefinitionString": Expr::sub_with(asl, self.substitutions.clone()),
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": true,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": self.log_group_arn}}],
            },
            "TracingConfiguration": {"Enabled": true},
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<StateMachine> {
    pub fn arn(&self) -> Expr {
        self.reference()
    }
    pub fn name(&self) -> Expr {
        self.att("Name")
    }
}

#[cfg(test)]
mod tests;

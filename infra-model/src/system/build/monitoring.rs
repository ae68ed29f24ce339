//! Alarms and the dashboard, derived from the declarations: every function gets an errors and
//! a throttles alarm, every dead-letter queue an alarm as soon as a message waits, every stream
//! consumer an iterator-age alarm, every workflow alarms on failed and timed-out executions,
//! and the API one on 5xx answers. All notify the alarm topic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::Api;
use super::{Built, Params};
use crate::aws::cloudwatch::{Alarm, Comparison, Dashboard, Statistic};
use crate::aws::sns::EmailSubscription;
use crate::cfn::{Cond, Expr, Options, Template};
use crate::contract::metrics::{Metric, Unit};
use crate::decl::{QueueKind, Trigger};
use crate::system::env::{Env, Settings};
use crate::system::resources::ALARMS;
use crate::system::{APP, FUNCTIONS, QUEUES, WORKFLOWS};

pub(super) fn add(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    params: &Params,
    built: &Built,
    api: &Api,
) {
    let (topic, _) = &built.topics[ALARMS.spec.id];
    let has_email = t.condition(
        "HasAlarmEmail",
        Cond::not(Cond::equals(params.alarm_email.reference(), "")),
    );
    t.add_with(
        "AlarmEmailSubscription",
        EmailSubscription {
            topic_arn: topic.arn(),
            address: params.alarm_email.reference(),
        },
        Options::new().condition(&has_email),
    );

    let alarm =
        |name: &str, description: String, namespace, metric, dimensions, statistic, threshold: u32| Alarm {
            name: Expr::sub(format!("${{AWS::StackName}}-{name}")),
            description,
            namespace,
            metric,
            dimensions,
            statistic,
            period: Duration::from_secs(300),
            evaluation_periods: 1,
            threshold: f64::from(threshold),
            comparison: Comparison::GreaterThanOrEqualToThreshold,
            actions: vec![topic.arn()],
        };
    let a = &settings.alarms;
    for spec in FUNCTIONS {
        let f = &built.functions[spec.name];
        t.add(
            &format!("{}FunctionErrorsAlarm", spec.id),
            alarm(
                &format!("{}-errors", spec.name),
                format!(
                    "{} or more errors of the {} function in 5 minutes",
                    a.function_errors_per_5_minutes, spec.name
                ),
                "AWS/Lambda",
                "Errors",
                vec![("FunctionName", f.name())],
                Statistic::Sum,
                a.function_errors_per_5_minutes,
            ),
        );
        t.add(
            &format!("{}FunctionThrottlesAlarm", spec.id),
            alarm(
                &format!("{}-throttles", spec.name),
                format!(
                    "The {} function was throttled (it hit its concurrency limit)",
                    spec.name
                ),
                "AWS/Lambda",
                "Throttles",
                vec![("FunctionName", f.name())],
                Statistic::Sum,
                1,
            ),
        );
        if let Trigger::Stream(s) = spec.trigger {
            t.add(
                &format!("{}IteratorAgeAlarm", spec.id),
                alarm(
                    &format!("{}-iterator-age", spec.name),
                    format!(
                        "Records of the {} stream wait more than {} s for the {} function (it is falling behind)",
                        s.table.id,
                        a.stream_iterator_age_ms / 1000,
                        spec.name
                    ),
                    "AWS/Lambda",
                    "IteratorAge",
                    vec![("FunctionName", f.name())],
                    Statistic::Maximum,
                    a.stream_iterator_age_ms,
                ),
            );
        }
    }
    for q in QUEUES.iter().filter(|q| q.kind == QueueKind::DeadLetters) {
        let mut al = alarm(
            &format!("{}-not-empty", q.name),
            format!(
                "A message is waiting in the {} queue: an event failed every retry; inspect and replay it",
                q.name
            ),
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            vec![("QueueName", built.queues[q.id].queue_name())],
            Statistic::Maximum,
            1,
        );
        al.period = Duration::from_secs(60);
        t.add(&format!("{}Alarm", q.id), al);
    }
    for w in WORKFLOWS {
        for (suffix, metric, what) in [
            ("FailedAlarm", "ExecutionsFailed", "failed"),
            ("TimedOutAlarm", "ExecutionsTimedOut", "timed-out"),
        ] {
            t.add(
                &format!("{}{suffix}", w.id),
                alarm(
                    &format!("{}-{what}", w.name),
                    format!(
                        "An {} execution {}",
                        w.name.replace('-', " "),
                        what.replace('-', " ")
                    ),
                    "AWS/States",
                    metric,
                    vec![("StateMachineArn", built.workflows[w.id].arn())],
                    Statistic::Sum,
                    1,
                ),
            );
        }
    }
    t.add(
        "Api5xxAlarm",
        alarm(
            "api-5xx",
            format!(
                "{} or more 5xx answers of the API in 5 minutes",
                a.api_5xx_per_5_minutes
            ),
            "AWS/ApiGateway",
            "5XXError",
            vec![
                ("ApiName", Expr::sub("${AWS::StackName}-api")),
                ("Stage", api.stage.name()),
            ],
            Statistic::Sum,
            a.api_5xx_per_5_minutes,
        ),
    );

    t.add(
        "Dashboard",
        Dashboard {
            name: Expr::sub("${AWS::StackName}"),
            body: dashboard_body(env, built, api),
        },
    );
}

fn dashboard_body(env: Env, built: &Built, api: &Api) -> Expr {
    let mut vars: BTreeMap<String, Expr> = BTreeMap::new();
    let mut var = |name: &str, value: Expr| {
        vars.insert(name.to_owned(), value);
        format!("${{{name}}}")
    };
    let api_name = var("ApiName", Expr::sub("${AWS::StackName}-api"));
    let stage = var("Stage", api.stage.name());
    let workflows: Vec<String> = WORKFLOWS
        .iter()
        .map(|w| var(&format!("{}Arn", w.id), built.workflows[w.id].arn()))
        .collect();
    let queues: Vec<String> = QUEUES
        .iter()
        .map(|q| var(&format!("{}Name", q.id), built.queues[q.id].queue_name()))
        .collect();
    let fn_names: Vec<(String, String)> = FUNCTIONS
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                var(&format!("{}Fn", s.id), built.functions[s.name].name()),
            )
        })
        .collect();

    let widget = |x: u32, y: u32, title: &str, metrics: Vec<Value>, stat: &str| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": "${AWS::Region}", "stat": stat, "period": 300, "metrics": metrics}
        })
    };
    let lambda = |metric: &str| -> Vec<Value> {
        fn_names
            .iter()
            .map(|(label, v)| json!(["AWS/Lambda", metric, "FunctionName", v, {"label": label}]))
            .collect()
    };
    let workflow_metrics: Vec<Value> = workflows
        .iter()
        .flat_map(|w| {
            ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed"]
                .map(|m| json!(["AWS/States", m, "StateMachineArn", w]))
        })
        .collect();
    let body = json!({"widgets": [
        widget(0, 0, "API requests and errors", vec![
            json!(["AWS/ApiGateway", "Count", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "4XXError", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "5XXError", "ApiName", api_name, "Stage", stage]),
        ], "Sum"),
        widget(12, 0, "API latency (p99)", vec![
            json!(["AWS/ApiGateway", "Latency", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "IntegrationLatency", "ApiName", api_name, "Stage", stage]),
        ], "p99"),
        widget(0, 6, "Function errors", lambda("Errors"), "Sum"),
        widget(12, 6, "Function duration (p99)", lambda("Duration"), "p99"),
        widget(0, 12, "Queues", queues
            .iter()
            .map(|q| json!(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]))
            .collect(), "Maximum"),
        widget(12, 12, "Order workflow", workflow_metrics, "Sum"),
        widget(0, 18, "Orders (business metrics)", Metric::ALL
            .iter()
            .filter(|m| m.unit() == Unit::Count)
            .map(|m| json!([APP, m.name(), "Environment", env.name()]))
            .collect(), "Sum"),
    ]});
    Expr::sub_with(crate::cfn::sorted(body).to_string(), vars)
}

//! The health view of `cargo xtask status`: the alarms in ALARM, the queues' depths (dead-letter
//! queues marked), the workflow's executions that failed in the last hour, the dashboard's
//! console URL. Every name comes from the model or the stack; what cannot be read is reported
//! as such, and never fails `status`.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::types::QueueAttributeName;
use infra_model::decl::{QueueKind, Target};
use infra_model::system::{QUEUES, WORKFLOWS};
use serde::Serialize;

use super::{Aws, StackInfo};

/// One queue's depth.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    pub name: String,
    pub dead_letters: bool,
    /// Visible plus in flight.
    pub depth: u64,
}

/// One alarm in ALARM.
#[derive(Clone, Debug, Serialize)]
pub struct Firing {
    pub name: String,
    pub reason: String,
}

/// What `status` adds about the running system.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub alarms_in_alarm: Vec<Firing>,
    pub queues: Vec<QueueDepth>,
    /// Executions FAILED, TIMED_OUT or ABORTED that started in the last hour.
    pub failed_executions_last_hour: Option<usize>,
    pub dashboard_url: Option<String>,
    /// What could not be read, and why.
    pub unavailable: Vec<String>,
}

impl Health {
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec!["Health:".to_owned()];
        if self.alarms_in_alarm.is_empty() {
            out.push("  alarms: none in ALARM".to_owned());
        } else {
            for a in &self.alarms_in_alarm {
                out.push(format!("  ALARM {}: {}", a.name, a.reason));
            }
        }
        for q in &self.queues {
            let mark = if q.dead_letters && q.depth > 0 {
                "  <- dead letters: cargo xtask dlq"
            } else {
                ""
            };
            out.push(format!("  queue {:<24} {:>6}{mark}", q.name, q.depth));
        }
        if let Some(n) = self.failed_executions_last_hour {
            out.push(format!("  workflow executions failed in the last hour: {n}"));
        }
        if let Some(u) = &self.dashboard_url {
            out.push(format!("  dashboard: {u}"));
        }
        for u in &self.unavailable {
            out.push(format!("  unavailable: {u}"));
        }
        out
    }
}

/// The console URL of a CloudWatch dashboard.
pub fn dashboard_url(region: &str, name: &str) -> String {
    let host = if region.starts_with("cn-") {
        "console.amazonaws.cn".to_owned()
    } else {
        format!("{region}.console.aws.amazon.com")
    };
    format!("https://{host}/cloudwatch/home?region={region}#dashboards:name={name}")
}

/// Reads the health of a deployed stack.
pub async fn health(aws: &Aws, stack: &StackInfo) -> Health {
    let mut h = Health::default();
    let resources = match aws.cfn.list_stack_resources().stack_name(&stack.id).send().await {
        Ok(r) => r.stack_resource_summaries().to_vec(),
        Err(e) => {
            h.unavailable.push(format!(
                "the stack's resources: {:#}",
                aws.explain("list the stack's resources", e)
            ));
            Vec::new()
        }
    };
    let physical = |ty: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|r| r.resource_type() == Some(ty))
            .filter_map(|r| r.physical_resource_id().map(str::to_owned))
            .collect()
    };
    let alarms = physical("AWS::CloudWatch::Alarm");
    for chunk in alarms.chunks(100) {
        match aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .state_value(StateValue::Alarm)
            .send()
            .await
        {
            Ok(out) => h
                .alarms_in_alarm
                .extend(out.metric_alarms().iter().map(|a| Firing {
                    name: a.alarm_name().unwrap_or_default().to_owned(),
                    reason: a.state_reason().unwrap_or_default().to_owned(),
                })),
            Err(e) => h
                .unavailable
                .push(format!("alarms: {:#}", aws.explain("read the alarms", e))),
        }
    }
    if let Some(name) = physical("AWS::CloudWatch::Dashboard").first() {
        h.dashboard_url = Some(dashboard_url(&aws.region, name));
    }
    for q in QUEUES {
        let Some(url) = stack.outputs.get(&Target::Queue(q).output_id()) else {
            continue;
        };
        match aws
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
        {
            Ok(out) => {
                let depth = out
                    .attributes()
                    .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
                    .unwrap_or(0);
                h.queues.push(QueueDepth {
                    name: q.name.to_owned(),
                    dead_letters: q.kind == QueueKind::DeadLetters,
                    depth,
                });
            }
            Err(e) => h.unavailable.push(format!(
                "queue {}: {:#}",
                q.name,
                aws.explain("read its depth", e)
            )),
        }
    }
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for w in WORKFLOWS {
        let Some(arn) = stack.outputs.get(&Target::Workflow(w).output_id()) else {
            continue;
        };
        let mut failed = 0;
        let mut readable = true;
        for status in [
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ] {
            match aws
                .sfn
                .list_executions()
                .state_machine_arn(arn)
                .status_filter(status)
                .max_results(1000)
                .send()
                .await
            {
                Ok(out) => {
                    failed += out
                        .executions()
                        .iter()
                        .filter(|e| SystemTime::try_from(*e.start_date()).is_ok_and(|t| t >= hour_ago))
                        .count();
                }
                Err(e) => {
                    readable = false;
                    h.unavailable
                        .push(format!("workflow executions: {:#}", aws.explain("list them", e)));
                    break;
                }
            }
        }
        if readable {
            h.failed_executions_last_hour = Some(failed);
        }
    }
    h
}

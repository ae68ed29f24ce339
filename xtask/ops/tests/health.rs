#![allow(clippy::unwrap_used)]
//! The health view of `cargo xtask status` against AWS-shaped replies: an alarm in ALARM
//! (CloudWatch answers DescribeAlarms in Smithy RPC v2 CBOR, which moto 5.2 does not speak),
//! queue depths, failed executions in the last hour, the dashboard's console URL, and what
//! could not be read (reported, never fatal). The moto path is in tests/deploy.rs.

mod aws_replies;

use aws_replies::{StackXml, aws, aws_json_error, cfn, http, json};
use aws_smithy_cbor::Encoder;
use aws_smithy_mocks::mock;
use infra_model::decl::Target;
use infra_model::system::resources::{ORDER_EVENTS, ORDER_EVENTS_DLQ, ORDER_WORKFLOW};
use xtask_ops::deploy::health::health;
use xtask_ops::deploy::read_stack;

const FIRING: &str = "orders-prod-order-events-dlq-not-empty";
const REASON: &str = "Threshold Crossed: 1 datapoint [1.0 (01/12/26 10:00:00)] was greater than or equal to the threshold (1.0).";

fn stack() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let mut s = StackXml::new("orders-prod", "UPDATE_COMPLETE");
    s.outputs = vec![
        (
            Box::leak(Target::Queue(&ORDER_EVENTS.spec).output_id().into_boxed_str()),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-prod-OrderEventsQueue-1".to_owned(),
        ),
        (
            Box::leak(Target::Queue(&ORDER_EVENTS_DLQ.spec).output_id().into_boxed_str()),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-prod-OrderEventsDeadLetterQueue-1"
                .to_owned(),
        ),
        (
            Box::leak(
                Target::Workflow(&ORDER_WORKFLOW.spec)
                    .output_id()
                    .into_boxed_str(),
            ),
            "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-prod-order-workflow".to_owned(),
        ),
    ];
    s.reply()
}

fn resources() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let member = |id: &str, physical: &str, ty: &str| {
        format!(
            "<member><LogicalResourceId>{id}</LogicalResourceId><PhysicalResourceId>{physical}</PhysicalResourceId>\
             <ResourceType>{ty}</ResourceType><LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
             <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
        )
    };
    cfn(
        "ListStackResources",
        &format!(
            "<StackResourceSummaries>{}{}{}</StackResourceSummaries>",
            member("OrderEventsDlqAlarm", FIRING, "AWS::CloudWatch::Alarm"),
            member("Api5xxAlarm", "orders-prod-api-5xx", "AWS::CloudWatch::Alarm"),
            member("Dashboard", "orders-prod", "AWS::CloudWatch::Dashboard"),
        ),
    )
}

/// DescribeAlarms' answer: `{"MetricAlarms": [{AlarmName, StateValue, StateReason}]}`, CBOR.
fn alarms_reply() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let mut e = Encoder::new(Vec::new());
    e.map(1).str("MetricAlarms").array(1);
    e.map(3)
        .str("AlarmName")
        .str(FIRING)
        .str("StateValue")
        .str("ALARM")
        .str("StateReason")
        .str(REASON);
    let mut r = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
        aws_smithy_types::body::SdkBody::from(e.into_writer()),
    );
    r.headers_mut().insert("content-type", "application/cbor");
    r.headers_mut().insert("smithy-protocol", "rpc-v2-cbor");
    r
}

#[tokio::test]
async fn names_the_firing_alarm_the_depths_the_failures_and_the_dashboard() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_http_response(stack),
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(resources),
        mock!(aws_sdk_cloudwatch::Client::describe_alarms)
            .match_requests(|r| r.alarm_names().len() == 2 && r.state_value().map(|s| s.as_str()) == Some("ALARM"))
            .then_http_response(alarms_reply),
        mock!(aws_sdk_sqs::Client::get_queue_attributes)
            .match_requests(|r| r.queue_url().is_some_and(|u| u.contains("DeadLetter")))
            .then_http_response(|| {
                json(serde_json::json!({"Attributes": {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0"}}))
            }),
        mock!(aws_sdk_sqs::Client::get_queue_attributes).then_http_response(|| {
            json(serde_json::json!({"Attributes": {"ApproximateNumberOfMessages": "5", "ApproximateNumberOfMessagesNotVisible": "1"}}))
        }),
        mock!(aws_sdk_sfn::Client::list_executions)
            .match_requests(|r| r.status_filter().map(|s| s.as_str()) == Some("FAILED"))
            .then_http_response(move || {
                json(serde_json::json!({"executions": [
                    {"executionArn": "arn:aws:states:eu-west-1:123456789012:execution:orders-prod-order-workflow:ord-1",
                     "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-prod-order-workflow",
                     "name": "ord-1", "status": "FAILED", "startDate": now - 600.0, "stopDate": now - 590.0},
                    {"executionArn": "arn:aws:states:eu-west-1:123456789012:execution:orders-prod-order-workflow:ord-0",
                     "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:orders-prod-order-workflow",
                     "name": "ord-0", "status": "FAILED", "startDate": now - 7200.0, "stopDate": now - 7190.0}
                ]}))
            }),
        mock!(aws_sdk_sfn::Client::list_executions).then_http_response(|| json(serde_json::json!({"executions": []}))),
    ]);
    let info = read_stack(&aws, "orders-prod").await.unwrap().unwrap();
    let h = health(&aws, &info).await;
    assert_eq!(h.unavailable, Vec::<String>::new());
    assert_eq!(h.alarms_in_alarm.len(), 1);
    assert_eq!(h.alarms_in_alarm[0].name, FIRING);
    assert_eq!(h.alarms_in_alarm[0].reason, REASON);
    let depths: Vec<(&str, u64, bool)> = h
        .queues
        .iter()
        .map(|q| (q.name.as_str(), q.depth, q.dead_letters))
        .collect();
    assert_eq!(
        depths,
        [("order-events", 6, false), ("order-events-dlq", 2, true)]
    );
    assert_eq!(
        h.failed_executions_last_hour,
        Some(1),
        "only the one in the last hour"
    );
    assert_eq!(
        h.dashboard_url.as_deref(),
        Some(
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=orders-prod"
        )
    );
    let text = h.lines().join("\n");
    assert!(text.contains(&format!("ALARM {FIRING}: {REASON}")), "{text}");
    assert!(text.contains("<- dead letters: cargo xtask dlq"), "{text}");
}

#[tokio::test]
async fn what_cannot_be_read_is_reported_not_fatal() {
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_http_response(stack),
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| cfn("ListStackResources", "<StackResourceSummaries></StackResourceSummaries>")),
        mock!(aws_sdk_sqs::Client::get_queue_attributes).then_http_response(|| {
            http(
                400,
                &[("content-type", "application/x-amz-json-1.0"), ("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender")],
                r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
            )
        }),
        mock!(aws_sdk_sfn::Client::list_executions)
            .then_http_response(|| aws_json_error("AccessDeniedException", "User is not authorized to perform: states:ListExecutions")),
    ]);
    let info = read_stack(&aws, "orders-prod").await.unwrap().unwrap();
    let h = health(&aws, &info).await;
    assert_eq!(h.failed_executions_last_hour, None);
    assert_eq!(h.unavailable.len(), 3, "{:#?}", h.unavailable);
    assert!(
        h.unavailable
            .iter()
            .any(|u| u.contains("queue order-events") && u.contains("does not exist")),
        "{:#?}",
        h.unavailable
    );
    assert!(
        h.unavailable.iter().any(|u| u.contains("states:ListExecutions")),
        "{:#?}",
        h.unavailable
    );
}

#![allow(clippy::unwrap_used)]
//! `cargo xtask logs` against AWS-shaped replies (the functions never run in moto, so its log
//! groups stay empty): the log groups from the stack's resources, CloudWatch Logs'
//! FilterLogEvents (JSON 1.1) per group, pages followed, lines merged in time order, and the
//! order id passed as a quoted filter term.

mod aws_replies;

use aws_replies::{StackXml, aws, aws_json_error, cfn, json};
use aws_smithy_mocks::mock;
use infra_model::Env;
use xtask_ops::deploy::logs::{log_groups, read};
use xtask_ops::deploy::{AwsSettings, DeployTarget};

fn target() -> DeployTarget {
    DeployTarget::new(Env::Prod, AwsSettings::default())
}

fn resources() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let member = |id: &str, physical: &str| {
        format!(
            "<member><LogicalResourceId>{id}</LogicalResourceId><PhysicalResourceId>{physical}</PhysicalResourceId>\
             <ResourceType>AWS::Logs::LogGroup</ResourceType><LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
             <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
        )
    };
    cfn(
        "ListStackResources",
        &format!(
            "<StackResourceSummaries>{}{}{}</StackResourceSummaries>",
            member("PaymentFunctionLogGroup", "/aws/lambda/orders-prod-payment"),
            member("ShippingFunctionLogGroup", "/aws/lambda/orders-prod-shipping"),
            member(
                "OrderWorkflowLogGroup",
                "/aws/vendedlogs/states/orders-prod-order-workflow"
            ),
        ),
    )
}

fn event(id: &str, stream: &str, ts: i64, message: &str) -> serde_json::Value {
    serde_json::json!({"logStreamName": stream, "timestamp": ts, "message": message, "ingestionTime": ts + 40, "eventId": id})
}

#[tokio::test]
async fn reads_the_stacks_groups_and_merges_their_lines_in_time_order() {
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .then_http_response(|| StackXml::new("orders-prod", "UPDATE_COMPLETE").reply()),
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(resources),
        // The payment group in two pages.
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/orders-prod-payment") && r.next_token().is_none())
            .then_http_response(|| {
                json(serde_json::json!({"events": [
                    event("p1", "2026/12/01/[$LATEST]abc", 1_764_583_200_100, r#"{"level":"INFO","fields":{"message":"charging"},"span":{"order_id":"ord-1","name":"order"}}"#)
                ], "searchedLogStreams": [], "nextToken": "page-2"}))
            }),
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/orders-prod-payment") && r.next_token() == Some("page-2"))
            .then_http_response(|| {
                json(serde_json::json!({"events": [
                    event("p2", "2026/12/01/[$LATEST]abc", 1_764_583_200_300, r#"{"level":"INFO","fields":{"message":"order paid"},"span":{"order_id":"ord-1","name":"order"}}"#)
                ], "searchedLogStreams": []}))
            }),
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.log_group_name() == Some("/aws/lambda/orders-prod-shipping"))
            .then_http_response(|| {
                json(serde_json::json!({"events": [
                    event("s1", "2026/12/01/[$LATEST]def", 1_764_583_200_200, r#"{"level":"ERROR","fields":{"message":"carrier unavailable"},"span":{"order_id":"ord-1","name":"order"}}"#)
                ], "searchedLogStreams": []}))
            }),
        // The workflow's group exists only after its first execution.
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .then_http_response(|| aws_json_error("ResourceNotFoundException", "The specified log group does not exist.")),
    ]);
    let groups = log_groups(&aws, &target(), &[]).await.unwrap();
    assert_eq!(groups["payment"], "/aws/lambda/orders-prod-payment");
    assert_eq!(
        groups["order-workflow"],
        "/aws/vendedlogs/states/orders-prod-order-workflow"
    );
    assert!(
        !groups.contains_key("health"),
        "a group the stack lacks is left out"
    );
    let lines = read(&aws, &groups, None, 0).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| (l.source.as_str(), l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("payment", "INFO", "charging (order_id=ord-1)"),
            ("shipping", "ERROR", "carrier unavailable (order_id=ord-1)"),
            ("payment", "INFO", "order paid (order_id=ord-1)"),
        ]
    );
}

#[tokio::test]
async fn an_order_is_followed_with_a_quoted_filter_term_and_an_unknown_function_is_refused() {
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .then_http_response(|| StackXml::new("orders-prod", "UPDATE_COMPLETE").reply()),
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(resources),
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|r| r.filter_pattern() == Some("\"ord-7\"") && r.start_time() == Some(1_000))
            .then_http_response(|| json(serde_json::json!({"events": [], "searchedLogStreams": []}))),
    ]);
    let groups = log_groups(&aws, &target(), &["payment".to_owned()])
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert!(
        read(&aws, &groups, Some("ord-7"), 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    let err = format!(
        "{:#}",
        log_groups(&aws, &target(), &["nope".to_owned()])
            .await
            .unwrap_err()
    );
    assert!(err.contains("no function named \"nope\""), "{err}");
}

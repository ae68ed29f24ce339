//! The queue consumer, called with real SQS events, against the emulator's Step Functions.

#![allow(clippy::unwrap_used)]

use order_aws::aws_sdk_sfn;
use order_aws::messaging::OrderWorkflow;
use start_workflow::{SqsEvent, handle};
use test_support::{create_state_machine, sdk, sqs_event};

fn event(body: &str) -> SqsEvent {
    serde_json::from_value(sqs_event(body)).unwrap()
}

#[tokio::test]
async fn each_reserved_order_starts_one_execution_named_after_it() {
    let sdk = sdk().await;
    let arn = create_state_machine(&sdk).await;
    let workflow = OrderWorkflow::new(aws_sdk_sfn::Client::new(&sdk), &arn);
    let body = r#"{"orderId":"7d0f3c2e-8a41-4b6e-9f3a-2c5d8e1b4a70","total":1059.97,"reservedAt":"2026-11-23T04:00:01.000Z"}"#;
    assert!(
        handle(&workflow, event(body))
            .await
            .batch_item_failures
            .is_empty()
    );
    // The same message again (SQS delivers at least once): no second execution, no failure.
    assert!(
        handle(&workflow, event(body))
            .await
            .batch_item_failures
            .is_empty()
    );
    let executions = aws_sdk_sfn::Client::new(&sdk)
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = executions
        .executions()
        .iter()
        .map(|e| e.name().to_owned())
        .collect();
    assert_eq!(names, ["7d0f3c2e-8a41-4b6e-9f3a-2c5d8e1b4a70"]);
}

#[tokio::test]
async fn an_unreadable_message_fails_alone_so_it_can_reach_the_dead_letter_queue() {
    let sdk = sdk().await;
    let arn = create_state_machine(&sdk).await;
    let workflow = OrderWorkflow::new(aws_sdk_sfn::Client::new(&sdk), &arn);
    let response = handle(&workflow, event("not json")).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["059f36b4-87a3-44ab-83d2-661975830a7d"]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json["batchItemFailures"][0]["itemIdentifier"],
        "059f36b4-87a3-44ab-83d2-661975830a7d"
    );
}

#[tokio::test]
async fn a_missing_state_machine_fails_the_message_for_a_retry() {
    let sdk = sdk().await;
    let workflow = OrderWorkflow::new(
        aws_sdk_sfn::Client::new(&sdk),
        "arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist",
    );
    let body = r#"{"orderId":"a","total":1,"reservedAt":"2026-11-23T04:00:01.000Z"}"#;
    assert_eq!(handle(&workflow, event(body)).await.batch_item_failures.len(), 1);
}

#![allow(clippy::unwrap_used)]
//! `cargo xtask dlq` against moto: the dead-letter queue of the order-events queue, its depth
//! and oldest age, messages shown without being consumed, and a redrive back to the source
//! (moto answers `StartMessageMoveTask` with HTTP 500, so locally the messages are moved one by
//! one; the AWS path is tested with AWS-shaped replies below).

mod aws_replies;

use aws_replies::{aws, json};
use aws_smithy_mocks::mock;
use infra_model::system::resources::{ORDER_EVENTS, ORDER_EVENTS_DLQ};
use xtask_ops::deploy::AwsSettings;
use xtask_ops::deploy::aws::Aws;
use xtask_ops::deploy::dlq::{DlqOptions, Resolved, Source, declared, dlq_with};
use xtask_ops::moto::MotoServer;

fn order_events_dlq(url: &str, source_url: &str) -> Resolved {
    let declared = declared()
        .into_iter()
        .find(|d| d.queue.id == ORDER_EVENTS_DLQ.spec.id)
        .unwrap();
    assert!(matches!(declared.source, Source::Queue { queue, .. } if queue.id == ORDER_EVENTS.spec.id));
    Resolved {
        declared,
        url: url.to_owned(),
        source_url: Some(source_url.to_owned()),
    }
}

async fn depth(aws: &Aws, url: &str) -> u64 {
    let a = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    a.attributes().unwrap().values().next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn shows_without_consuming_then_redrives_to_the_source_queue() {
    let moto = MotoServer::start().unwrap();
    let aws = Aws::connect(&AwsSettings {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint_url: Some(moto.endpoint.clone()),
    })
    .await
    .unwrap();
    let url = |o: aws_sdk_sqs::operation::create_queue::CreateQueueOutput| o.queue_url().unwrap().to_owned();
    let source = url(aws.sqs.create_queue().queue_name("events").send().await.unwrap());
    let dlq = url(aws
        .sqs
        .create_queue()
        .queue_name("events-dlq")
        .send()
        .await
        .unwrap());
    for id in ["ord-1", "ord-2", "ord-3"] {
        aws.sqs
            .send_message()
            .queue_url(&dlq)
            .message_body(format!(r#"{{"orderId":"{id}"}}"#))
            .send()
            .await
            .unwrap();
    }
    let queues = [order_events_dlq(&dlq, &source)];

    let shown = dlq_with(
        &aws,
        &queues,
        &DlqOptions {
            show: 2,
            ..DlqOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(shown[0].depth, 3);
    assert_eq!(shown[0].shown.len(), 2);
    assert!(
        shown[0]
            .shown
            .iter()
            .all(|m| m.order_id.as_deref().is_some_and(|o| o.starts_with("ord-")))
    );
    assert!(shown[0].oldest_age_seconds.is_some());
    assert!(shown[0].source.contains("order-events"), "{}", shown[0].source);
    assert_eq!(depth(&aws, &dlq).await, 3, "--show consumed nothing");

    let moved = dlq_with(
        &aws,
        &queues,
        &DlqOptions {
            redrive: true,
            ..DlqOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(moved[0].redriven, Some(3));
    assert_eq!(depth(&aws, &dlq).await, 0);
    assert_eq!(depth(&aws, &source).await, 3);
}

#[tokio::test]
async fn on_aws_a_redrive_is_a_message_move_task() {
    const DLQ: &str =
        "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-prod-OrderEventsDeadLetterQueue-1";
    const SRC: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-prod-OrderEventsQueue-1";
    let arn_of = |url: &str| {
        format!(
            "arn:aws:sqs:eu-west-1:123456789012:{}",
            url.rsplit('/').next().unwrap()
        )
    };
    let aws = aws(&[
        mock!(aws_sdk_sqs::Client::get_queue_attributes)
            .match_requests(|r| r.queue_url() == Some(DLQ) && r.attribute_names().iter().any(|a| a.as_str() == "QueueArn"))
            .then_http_response(move || json(serde_json::json!({"Attributes": {"QueueArn": arn_of(DLQ)}}))),
        mock!(aws_sdk_sqs::Client::get_queue_attributes)
            .match_requests(|r| r.queue_url() == Some(SRC))
            .then_http_response(move || json(serde_json::json!({"Attributes": {"QueueArn": arn_of(SRC)}}))),
        mock!(aws_sdk_sqs::Client::get_queue_attributes).then_http_response(|| {
            json(serde_json::json!({"Attributes": {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0"}}))
        }),
        mock!(aws_sdk_sqs::Client::receive_message).then_http_response(|| json(serde_json::json!({"Messages": []}))),
        mock!(aws_sdk_sqs::Client::start_message_move_task)
            .match_requests(|r| {
                r.source_arn() == Some("arn:aws:sqs:eu-west-1:123456789012:orders-prod-OrderEventsDeadLetterQueue-1")
                    && r.destination_arn() == Some("arn:aws:sqs:eu-west-1:123456789012:orders-prod-OrderEventsQueue-1")
            })
            .then_http_response(|| json(serde_json::json!({"TaskHandle": "eyJ0YXNrSWQiOiJkYzE2ZjQ5Yy1leGFtcGxlIn0="}))),
        mock!(aws_sdk_sqs::Client::list_message_move_tasks).then_http_response(|| {
            json(serde_json::json!({"Results": [{
                "TaskHandle": "eyJ0YXNrSWQiOiJkYzE2ZjQ5Yy1leGFtcGxlIn0=",
                "Status": "RUNNING",
                "SourceArn": "arn:aws:sqs:eu-west-1:123456789012:orders-prod-OrderEventsDeadLetterQueue-1",
                "DestinationArn": "arn:aws:sqs:eu-west-1:123456789012:orders-prod-OrderEventsQueue-1",
                "ApproximateNumberOfMessagesMoved": 0,
                "ApproximateNumberOfMessagesToMove": 2,
                "StartedTimestamp": 1764580364000u64
            }]}))
        }),
    ]);
    let queues = [order_events_dlq(DLQ, SRC)];
    let report = dlq_with(
        &aws,
        &queues,
        &DlqOptions {
            redrive: true,
            ..DlqOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report[0].depth, 2);
    assert_eq!(report[0].redriven, Some(2));
}

//! notify-customer with real DynamoDB stream MODIFY records against the emulator: a topic with a
//! queue subscribed to it shows what was published.

#![allow(clippy::unwrap_used)]

use infra_model::contract::api::{OrderStatus, ShippingInfo, StatusChange};
use infra_model::contract::messages::CustomerNotification;
use infra_model::contract::tables::orders::OrderRecord;
use infra_model::decl::{BoundValue, TopicArn};
use infra_model::system::functions::NOTIFY_CUSTOMER;
use infra_model::system::resources::IDEMPOTENCY;
use notify_customer::{Notifications, Notifier, StreamEvent};
use order_aws::idempotency::IdempotencyStore;
use order_aws::{aws_sdk_dynamodb, aws_sdk_sqs};
use serde_json::{Value, json};
use test_support::{create_queue, create_tables, fixture, receive_all, sdk, to_dynamodb_json, unique};

const NOW: u64 = 1_795_408_200;

struct Setup {
    notifier: Notifier,
    queue: String,
    sdk: order_aws::aws_config_type::SdkConfig,
}

async fn setup() -> Setup {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(unique("notifications"))
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    let queue = create_queue(&sdk).await;
    let queue_arn = aws_sdk_sqs::Client::new(&sdk)
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let notifier = Notifier {
        notifications: Notifications::new(sns, TopicArn::from_value(topic_arn)),
        idempotency: IdempotencyStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &tables[IDEMPOTENCY.spec.id],
            &NOTIFY_CUSTOMER,
        ),
    };
    Setup { notifier, queue, sdk }
}

fn order(status: OrderStatus, reason: Option<&str>) -> OrderRecord {
    let mut o: OrderRecord = serde_json::from_value(json!({
        "orderId": "6f1c1a5e-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
        "customerName": "Ann Example",
        "customerEmail": "ann@example.com",
        "items": [{"sku": "laptop", "productName": "Laptop", "quantity": 1, "unitPriceCents": 100, "lineTotalCents": 100}],
        "totalCents": 100,
        "status": "PENDING",
        "statusShard": "PENDING#3",
        "statusHistory": [{"status": "PENDING", "at": "2026-11-23T04:00:00.000Z"}],
        "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
        "paymentMethod": "CARD",
        "createdAt": "2026-11-23T04:00:00.000Z",
        "updatedAt": "2026-11-23T04:00:00.000Z"
    }))
    .unwrap();
    o.status = status;
    o.status_reason = reason.map(str::to_owned);
    o.status_history.push(StatusChange {
        status,
        at: "2026-11-23T04:00:05.000Z".into(),
        reason: o.status_reason.clone(),
    });
    o
}

fn image(o: &OrderRecord) -> Value {
    let plain = serde_json::to_value(o).unwrap();
    let map: serde_json::Map<String, Value> = plain
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), to_dynamodb_json(v)))
        .collect();
    Value::Object(map)
}

/// A stream MODIFY record of `old` → `new`, as Lambda delivers it.
fn modify(old: &OrderRecord, new: &OrderRecord, seq: &str) -> StreamEvent {
    let mut e = fixture("dynamodb-stream-insert.json");
    let r = &mut e["Records"][0];
    r["eventName"] = json!("MODIFY");
    r["dynamodb"]["Keys"]["orderId"]["S"] = json!(new.order_id);
    r["dynamodb"]["OldImage"] = image(old);
    r["dynamodb"]["NewImage"] = image(new);
    r["dynamodb"]["SequenceNumber"] = json!(seq);
    serde_json::from_value(e).unwrap()
}

async fn published(s: &Setup) -> Vec<CustomerNotification> {
    receive_all(&s.sdk, &s.queue)
        .await
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

#[tokio::test]
async fn a_rejection_is_published_once_with_its_reason() {
    let s = setup().await;
    let pending = order(OrderStatus::Pending, None);
    let rejected = order(
        OrderStatus::Rejected,
        Some("insufficient stock for laptop: 1 requested, 0 available"),
    );
    let r = s.notifier.handle(modify(&pending, &rejected, "100"), NOW).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    // The stream delivers the same record again (a retry): nothing is published twice.
    let r = s.notifier.handle(modify(&pending, &rejected, "100"), NOW).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    let got = published(&s).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let n = &got[0];
    assert_eq!(n.notification_id, format!("{}#REJECTED", rejected.order_id));
    assert_eq!(n.status, OrderStatus::Rejected);
    assert_eq!(n.reason.as_deref(), rejected.status_reason.as_deref());
    assert_eq!(n.customer_email, "ann@example.com");
    assert_eq!(n.at, "2026-11-23T04:00:05.000Z");
}

#[tokio::test]
async fn a_shipment_carries_its_tracking_number_and_other_changes_publish_nothing() {
    let s = setup().await;
    let paid = order(OrderStatus::Paid, None);
    let mut shipped = order(OrderStatus::Shipped, None);
    shipped.shipping = Some(ShippingInfo {
        carrier: "UPS Ground".into(),
        tracking_number: "1Z999AA10123456784".into(),
        estimated_delivery: "2026-11-30".into(),
        shipped_at: "2026-11-23T04:00:05.000Z".into(),
    });
    // Not final, and final but unchanged: no notification.
    let reserved = order(OrderStatus::Reserved, None);
    let pending = order(OrderStatus::Pending, None);
    assert!(
        s.notifier
            .handle(modify(&pending, &reserved, "1"), NOW)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        s.notifier
            .handle(modify(&shipped, &shipped, "2"), NOW)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        s.notifier
            .handle(modify(&paid, &shipped, "3"), NOW)
            .await
            .batch_item_failures
            .is_empty()
    );
    let got = published(&s).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].status, OrderStatus::Shipped);
    assert_eq!(got[0].tracking_number.as_deref(), Some("1Z999AA10123456784"));
}

#[tokio::test]
async fn a_topic_that_cannot_be_published_to_fails_the_record_and_keeps_no_claim() {
    let s = setup().await;
    let broken = Notifier {
        notifications: Notifications::new(
            aws_sdk_sns::Client::new(&s.sdk),
            TopicArn::from_value("arn:aws:sns:us-east-1:123456789012:no-such-topic".into()),
        ),
        idempotency: s.notifier.idempotency.clone(),
    };
    let failed = order(OrderStatus::Failed, Some("payment declined"));
    let r = broken
        .handle(modify(&order(OrderStatus::Reserved, None), &failed, "7"), NOW)
        .await;
    assert_eq!(r.batch_item_failures.len(), 1, "the stream retries it");
    assert_eq!(r.batch_item_failures[0].item_identifier.as_deref(), Some("7"));
    // The claim was given up: the retry (to a working topic) publishes.
    let r = s
        .notifier
        .handle(modify(&order(OrderStatus::Reserved, None), &failed, "7"), NOW)
        .await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    assert_eq!(published(&s).await.len(), 1);
}

//! Stock reservation, called with real DynamoDB stream events against the local emulator.

#![allow(clippy::unwrap_used)]

use infra_model::contract::api::OrderStatus;
use order_aws::aws_sdk_sqs;
use order_aws::messaging::OrderEvents;
use reserve_stock::{Reserver, StreamEvent};
use serde_json::Value;
use test_support::{Stores, create_queue, receive_all, stores, stream_insert_event};

fn now() -> String {
    "2026-11-23T04:00:01.000Z".into()
}

async fn reserver(s: &Stores) -> (Reserver, String) {
    let queue = create_queue(&s.sdk).await;
    let r = Reserver {
        orders: s.orders.clone(),
        events: OrderEvents::new(aws_sdk_sqs::Client::new(&s.sdk), &queue),
        environment: "test".into(),
    };
    (r, queue)
}

fn event(order: &order_aws::orders::OrderRecord) -> StreamEvent {
    serde_json::from_value(stream_insert_event(order)).unwrap()
}

#[tokio::test]
async fn a_stocked_order_is_reserved_and_queued() {
    let s = stores(&[("laptop", 5, 100_000), ("mouse", 10, 3000)]).await;
    let (r, queue) = reserver(&s).await;
    let order = s
        .pending_order("ann@example.com", &[("laptop", 2), ("mouse", 3)])
        .await;
    let response = r.handle(event(&order), &now).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(s.status(&order.order_id).await, OrderStatus::Reserved);
    assert_eq!((s.stock("laptop").await, s.stock("mouse").await), (3, 7));
    let messages = receive_all(&s.sdk, &queue).await;
    assert_eq!(messages.len(), 1);
    let m: Value = serde_json::from_str(&messages[0]).unwrap();
    assert_eq!(m["orderId"], order.order_id.as_str());
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_rejected_with_the_reason_and_nothing_changes() {
    let s = stores(&[("laptop", 1, 100_000), ("mouse", 10, 3000)]).await;
    let (r, queue) = reserver(&s).await;
    let order = s
        .pending_order("ann@example.com", &[("laptop", 3), ("mouse", 1)])
        .await;
    r.handle(event(&order), &now).await;
    let stored = s.orders.get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Rejected);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("insufficient stock for laptop: 3 requested, 1 available")
    );
    assert_eq!(
        (s.stock("laptop").await, s.stock("mouse").await),
        (1, 10),
        "nothing reserved"
    );
    assert!(receive_all(&s.sdk, &queue).await.is_empty());

    let unknown = s.pending_order("ann@example.com", &[("ghost", 1)]).await;
    r.handle(event(&unknown), &now).await;
    let stored = s.orders.get(&unknown.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status_reason.as_deref(), Some("unknown sku: ghost"));
}

#[tokio::test]
async fn a_duplicate_record_reserves_nothing_twice_but_queues_again() {
    let s = stores(&[("laptop", 5, 100_000)]).await;
    let (r, queue) = reserver(&s).await;
    let order = s.pending_order("ann@example.com", &[("laptop", 2)]).await;
    r.handle(event(&order), &now).await;
    r.handle(event(&order), &now).await;
    assert_eq!(s.stock("laptop").await, 3, "stock taken once");
    // The second delivery cannot know whether the first one's message got out: it sends again,
    // and the consumer starts the workflow once (execution name = order id).
    assert_eq!(receive_all(&s.sdk, &queue).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_orders_racing_for_ten_units_never_oversell() {
    let s = stores(&[("gadget", 10, 1000)]).await;
    let (r, _) = reserver(&s).await;
    let r = std::sync::Arc::new(r);
    let mut orders = Vec::new();
    for i in 0..20 {
        orders.push(
            s.pending_order(&format!("buyer{i}@example.com"), &[("gadget", 1)])
                .await,
        );
    }
    // All twenty deliveries at once, each on its own task and connection; a record reported
    // as failed is delivered again, as the stream does.
    let mut pending: Vec<usize> = (0..orders.len()).collect();
    for _round in 0..5 {
        let mut set = tokio::task::JoinSet::new();
        for &i in &pending {
            let (r, e) = (r.clone(), event(&orders[i]));
            set.spawn(async move { (i, r.handle(e, &now).await) });
        }
        pending.clear();
        while let Some(done) = set.join_next().await {
            let (i, response) = done.unwrap();
            if !response.batch_item_failures.is_empty() {
                pending.push(i);
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    assert!(
        pending.is_empty(),
        "records still failing after 5 deliveries: {pending:?}"
    );
    let mut reserved = 0;
    for o in &orders {
        match s.status(&o.order_id).await {
            OrderStatus::Reserved => reserved += 1,
            OrderStatus::Rejected => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 10, "exactly the stock is reserved");
    assert_eq!(s.stock("gadget").await, 0, "never negative, never left over");
}

#[tokio::test]
async fn records_that_are_not_new_orders_are_skipped_and_a_broken_image_is_reported() {
    let s = stores(&[("laptop", 5, 100_000)]).await;
    let (r, _) = reserver(&s).await;
    let order = s.pending_order("ann@example.com", &[("laptop", 1)]).await;
    let mut e = stream_insert_event(&order);
    e["Records"][0]["eventName"] = "MODIFY".into();
    let response = r.handle(serde_json::from_value(e).unwrap(), &now).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(s.status(&order.order_id).await, OrderStatus::Pending);

    let mut e = stream_insert_event(&order);
    e["Records"][0]["dynamodb"]["NewImage"] = serde_json::json!({"orderId": {"S": "x"}});
    let response = r.handle(serde_json::from_value(e).unwrap(), &now).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "the stream retries it, then the failure queue keeps it"
    );
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("4421584500000000017450439091")
    );
}

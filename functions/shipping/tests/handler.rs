//! The shipping task against the local emulator.

#![allow(clippy::unwrap_used)]

use infra_model::contract::api::OrderStatus;
use order_aws::lambda::TaskInput;
use order_core::reservation::StockChange;
use shipping::Shipping;
use test_support::{Stores, stores};

async fn paid(s: &Stores, email: &str) -> String {
    let o = s.pending_order(email, &[("laptop", 1)]).await;
    s.orders
        .reserve(
            &o,
            &[StockChange {
                sku: "laptop".into(),
                quantity: 1,
            }],
            "t",
        )
        .await
        .unwrap()
        .unwrap();
    s.orders
        .transition(&o.order_id, OrderStatus::Paid, None, "t", &[])
        .await
        .unwrap();
    o.order_id
}

fn input(order_id: &str, retry_count: u32) -> TaskInput {
    serde_json::from_value(serde_json::json!({"orderId": order_id, "retryCount": retry_count})).unwrap()
}

// 2026-11-20 is a Friday: 5 business days later is Friday 2026-11-27.
const FRIDAY_MS: i64 = 1_795_132_800_000;

#[tokio::test]
async fn a_paid_order_ships_with_a_tracking_number_and_a_delivery_estimate() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let id = paid(&s, "ann@example.com").await;
    let shipping = Shipping {
        orders: s.orders.clone(),
        environment: "test".into(),
    };
    let r = shipping
        .handle(input(&id, 0), "2026-11-20T10:00:00.000Z", FRIDAY_MS)
        .await
        .unwrap();
    assert_eq!(r.carrier, "UPS Ground");
    assert!(r.tracking_number.starts_with("1Z"), "{}", r.tracking_number);
    assert_eq!(r.estimated_delivery, "2026-11-27");
    let stored = s.orders.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Shipped);
    assert_eq!(stored.shipping.unwrap().tracking_number, r.tracking_number);
    // Idempotent.
    assert_eq!(
        shipping.handle(input(&id, 0), "later", FRIDAY_MS).await.unwrap(),
        r
    );
}

#[tokio::test]
async fn a_rejected_shipment_is_final_and_an_unavailable_carrier_is_retried() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let shipping = Shipping {
        orders: s.orders.clone(),
        environment: "test".into(),
    };
    let rejected = paid(&s, "ann+noship@example.com").await;
    assert_eq!(
        shipping
            .handle(input(&rejected, 0), "t", FRIDAY_MS)
            .await
            .unwrap_err()
            .error_type,
        "ShippingRejected"
    );
    let flaky = paid(&s, "bob+shipflaky@example.com").await;
    assert_eq!(
        shipping
            .handle(input(&flaky, 0), "t", FRIDAY_MS)
            .await
            .unwrap_err()
            .error_type,
        "ShippingUnavailable"
    );
    assert!(shipping.handle(input(&flaky, 2), "t", FRIDAY_MS).await.is_ok());
}

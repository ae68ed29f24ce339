//! Compensation against the local emulator: stock released exactly once.

#![allow(clippy::unwrap_used)]

use compensation::Compensation;
use infra_model::contract::api::OrderStatus;
use infra_model::contract::messages::CompensationInput;
use order_core::reservation::StockChange;
use test_support::{fixture, stores};

#[tokio::test]
async fn a_failed_order_gets_its_stock_back_once_and_is_marked_failed_with_the_reason() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let o = s.pending_order("ann+decline@example.com", &[("laptop", 2)]).await;
    s.orders
        .reserve(
            &o,
            &[StockChange {
                sku: "laptop".into(),
                quantity: 2,
            }],
            "t",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.stock("laptop").await, 3);

    let mut v = fixture("sfn-compensation-task.json");
    v["orderId"] = o.order_id.clone().into();
    let input: CompensationInput = serde_json::from_value(v).unwrap();
    let c = Compensation {
        orders: s.orders.clone(),
        environment: "test".into(),
    };
    let first = c.handle(input.clone(), "2026-11-23T04:03:00.000Z").await.unwrap();
    assert!(first.released);
    assert_eq!(s.stock("laptop").await, 5);
    let stored = s.orders.get(&o.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("payment declined: the card issuer declined the charge (test trigger +decline)")
    );

    let second = c.handle(input, "2026-11-23T04:04:00.000Z").await.unwrap();
    assert!(!second.released, "a duplicate releases nothing");
    assert_eq!(s.stock("laptop").await, 5, "stock released exactly once");
}

#[tokio::test]
async fn an_order_that_never_reserved_cannot_be_compensated() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let o = s.pending_order("ann@example.com", &[("laptop", 2)]).await;
    let input: CompensationInput = serde_json::from_value(serde_json::json!({
        "orderId": o.order_id, "failure": {"Error": "States.Timeout", "Cause": ""}
    }))
    .unwrap();
    let e = Compensation {
        orders: s.orders.clone(),
        environment: "test".into(),
    }
    .handle(input, "t")
    .await
    .unwrap_err();
    assert_eq!(e.error_type, "OrderStateConflict");
    assert_eq!(s.stock("laptop").await, 5);
}

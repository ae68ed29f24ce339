//! The payment task, called with the workflow's task input against the local emulator.

#![allow(clippy::unwrap_used)]

use infra_model::contract::api::OrderStatus;
use order_aws::lambda::TaskInput;
use order_core::payment::FailureRates;
use payment::Payments;
use test_support::{Stores, fixture, stores};

async fn reserved(s: &Stores, email: &str) -> String {
    let o = s.pending_order(email, &[("laptop", 1)]).await;
    s.orders
        .reserve(
            &o,
            &[order_core::reservation::StockChange {
                sku: "laptop".into(),
                quantity: 1,
            }],
            "t",
        )
        .await
        .unwrap()
        .unwrap();
    o.order_id
}

fn input(order_id: &str, retry: u32) -> TaskInput {
    let mut v = fixture("sfn-payment-task.json");
    v["orderId"] = order_id.into();
    v["retryCount"] = retry.into();
    serde_json::from_value(v).unwrap()
}

fn payments(s: &Stores) -> Payments {
    Payments {
        orders: s.orders.clone(),
        rates: FailureRates::NONE,
        environment: "test".into(),
    }
}

#[tokio::test]
async fn a_reserved_order_is_paid_once() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let id = reserved(&s, "ann@example.com").await;
    let p = payments(&s);
    let first = p
        .handle(input(&id, 0), "2026-11-23T04:01:00.000Z", 0.5)
        .await
        .unwrap();
    assert!(first.transaction_id.starts_with("txn_"));
    let stored = s.orders.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Paid);
    assert_eq!(stored.payment.unwrap().transaction_id, first.transaction_id);
    // A duplicate invocation answers the same transaction and charges nothing again.
    let again = p
        .handle(input(&id, 0), "2026-11-23T04:02:00.000Z", 0.5)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(s.orders.get(&id).await.unwrap().unwrap().status_history.len(), 3);
}

#[tokio::test]
async fn a_decline_is_final_and_a_flaky_gateway_is_retried() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let p = payments(&s);
    let declined = reserved(&s, "ann+decline@example.com").await;
    let e = p.handle(input(&declined, 0), "t", 0.5).await.unwrap_err();
    assert_eq!(e.error_type, "PaymentDeclined");
    assert_eq!(
        s.status(&declined).await,
        OrderStatus::Reserved,
        "the workflow compensates, not the task"
    );

    let flaky = reserved(&s, "bob+flaky@example.com").await;
    for retry in 0..2 {
        let e = p.handle(input(&flaky, retry), "t", 0.5).await.unwrap_err();
        assert_eq!(e.error_type, "PaymentGatewayUnavailable");
    }
    assert!(p.handle(input(&flaky, 2), "t", 0.5).await.is_ok());
    assert_eq!(s.status(&flaky).await, OrderStatus::Paid);
}

#[tokio::test]
async fn an_order_that_is_not_reserved_is_a_state_conflict() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let pending = s.pending_order("ann@example.com", &[("laptop", 1)]).await;
    let e = payments(&s)
        .handle(input(&pending.order_id, 0), "t", 0.5)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, "OrderStateConflict");
    let e = payments(&s)
        .handle(input("00000000-0000-4000-8000-000000000000", 0), "t", 0.5)
        .await
        .unwrap_err();
    assert_eq!(e.error_type, "OrderStateConflict");
}

#[tokio::test]
async fn simulated_failure_rates_apply() {
    let s = stores(&[("laptop", 5, 1000)]).await;
    let id = reserved(&s, "ann@example.com").await;
    let p = Payments {
        rates: FailureRates::new(0.5, 0.0).unwrap(),
        ..payments(&s)
    };
    assert_eq!(
        p.handle(input(&id, 0), "t", 0.1).await.unwrap_err().error_type,
        "PaymentDeclined"
    );
    assert!(p.handle(input(&id, 0), "t", 0.9).await.is_ok());
}

//! What the pipeline promises, checked on what a run observed (the soak, the fault tests):
//!
//! 1. every accepted order reaches a terminal state (SHIPPED, REJECTED or FAILED), and can be
//!    read back;
//! 2. stock is conserved per SKU: initial = now + units of the SHIPPED orders + units held by
//!    orders not yet terminal (RESERVED, PAID);
//! 3. nothing happens twice to an order: each status at most once in its history (no double
//!    charge, shipment or release), and one order per idempotency key;
//! 4. every poison message ends in its dead-letter queue, none is left to loop, and each poison
//!    record is discarded to the failure queue once (and no good record with it);
//! 5. no API call answers 5xx, except a 503 with `Retry-After` while the AWS endpoint is
//!    failing, and a 502 while the API's own sandboxes are being killed (API Gateway's answer to
//!    a crashed proxy function, which the client retries with the same key).

use std::collections::BTreeMap;

use infra_model::contract::api::{OrderStatus, OrderView};
use serde::Serialize;

/// A 5xx the client got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerError {
    /// `POST /orders`, ...
    pub route: String,
    pub status: u16,
    pub retry_after: bool,
    /// Whether the AWS endpoint was failing during the request.
    pub endpoint_failing: bool,
    /// Whether the API's sandboxes were being killed.
    pub api_kills: bool,
}

/// The poison injected, and where it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoisonCheck {
    /// The poison messages' ids, and the receive counts of those found in the dead-letter queue.
    pub messages_sent: Vec<String>,
    pub in_dead_letter_queue: BTreeMap<String, u64>,
    /// Poison messages still in the source queue.
    pub left_in_queue: usize,
    /// The queue's `maxReceiveCount`.
    pub max_receive_count: u64,
    pub records_sent: usize,
    /// Records the stream mapping discarded to its failure queue.
    pub records_discarded: usize,
}

/// What a run saw at its end.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub initial_stock: BTreeMap<String, i64>,
    pub stock_now: BTreeMap<String, i64>,
    /// The accepted orders, read back at the end.
    pub orders: Vec<OrderView>,
    /// Accepted orders that could not be read back (404).
    pub missing: Vec<String>,
    /// Idempotency keys (the order's customer e-mail, one per key) with more than one order.
    pub duplicates: Vec<(String, usize)>,
    pub server_errors: Vec<ServerError>,
    pub poison: Option<PoisonCheck>,
}

pub fn is_terminal(s: OrderStatus) -> bool {
    matches!(
        s,
        OrderStatus::Shipped | OrderStatus::Rejected | OrderStatus::Failed
    )
}

/// Every broken invariant, one line each; empty when all hold.
pub fn violations(o: &Observed) -> Vec<String> {
    let mut found = Vec::new();
    let mut out: BTreeMap<&str, i64> = BTreeMap::new();
    for order in &o.orders {
        let id = &order.order_id;
        if !is_terminal(order.status) {
            found.push(format!("order {id} is {}, not terminal", order.status.as_str()));
        }
        for s in [
            OrderStatus::Reserved,
            OrderStatus::Paid,
            OrderStatus::Shipped,
            OrderStatus::Failed,
            OrderStatus::Rejected,
        ] {
            let n = order.status_history.iter().filter(|h| h.status == s).count();
            if n > 1 {
                let history: Vec<&str> = order.status_history.iter().map(|h| h.status.as_str()).collect();
                found.push(format!("order {id} was {} {n} times: {history:?}", s.as_str()));
            }
        }
        // Units out of stock: shipped, or held by an order still on its way.
        if matches!(
            order.status,
            OrderStatus::Shipped | OrderStatus::Reserved | OrderStatus::Paid
        ) {
            for line in &order.items {
                *out.entry(line.sku.as_str()).or_default() += i64::from(line.quantity);
            }
        }
    }
    for (sku, start) in &o.initial_stock {
        let left = o.stock_now.get(sku).copied().unwrap_or(-1);
        let gone = out.get(sku.as_str()).copied().unwrap_or(0);
        if *start != left + gone {
            found.push(format!(
                "stock of {sku} not conserved: {start} at the start, {left} left + {gone} shipped or held"
            ));
        }
    }
    for id in &o.missing {
        found.push(format!("order {id} was accepted (202) but cannot be read back"));
    }
    for (key, n) in &o.duplicates {
        found.push(format!("{n} orders for one idempotency key ({key})"));
    }
    for e in &o.server_errors {
        let excused =
            (e.status == 503 && e.retry_after && e.endpoint_failing) || (e.status == 502 && e.api_kills);
        if !excused {
            let why = if e.status == 503 && !e.retry_after {
                "a 503 without Retry-After".to_owned()
            } else if e.status == 503 {
                "a 503 while the AWS endpoint was not failing".to_owned()
            } else {
                format!("a {}", e.status)
            };
            found.push(format!("{} answered {why}", e.route));
        }
    }
    if let Some(p) = &o.poison {
        for id in &p.messages_sent {
            match p.in_dead_letter_queue.get(id) {
                None => found.push(format!("poison message {id} is not in the dead-letter queue")),
                Some(&n) if p.max_receive_count > 0 && n < p.max_receive_count => found.push(format!(
                    "poison message {id} reached the dead-letter queue after {n} receive(s), before maxReceiveCount {}",
                    p.max_receive_count
                )),
                Some(_) => {}
            }
        }
        if p.left_in_queue > 0 {
            found.push(format!(
                "{} poison message(s) still in the source queue: they loop",
                p.left_in_queue
            ));
        }
        if p.records_discarded != p.records_sent {
            found.push(format!(
                "{} poison record(s) written, {} record batch(es) discarded to the failure queue",
                p.records_sent, p.records_discarded
            ));
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(id: &str, status: &str, history: &[&str], sku: &str, qty: u32) -> OrderView {
        serde_json::from_value(json!({
            "orderId": id, "customerName": "A", "customerEmail": format!("{id}@example.com"),
            "items": [{"sku": sku, "productName": sku, "quantity": qty, "unitPrice": 1.0, "lineTotal": 1.0}],
            "total": 1.0, "status": status,
            "statusHistory": history.iter().map(|s| json!({"status": s, "at": "2026-12-02T10:00:00.000Z"})).collect::<Vec<_>>(),
            "shippingAddress": {"street": "1 Main St", "city": "X", "postalCode": "1", "country": "US"},
            "paymentMethod": "CARD",
            "createdAt": "2026-12-02T10:00:00.000Z", "updatedAt": "2026-12-02T10:00:00.000Z",
        }))
        .unwrap()
    }

    fn stock(n: i64) -> BTreeMap<String, i64> {
        BTreeMap::from([("a".to_owned(), n)])
    }

    #[test]
    fn a_good_run_breaks_nothing() {
        let o = Observed {
            initial_stock: stock(10),
            stock_now: stock(5),
            orders: vec![
                order(
                    "o1",
                    "SHIPPED",
                    &["PENDING", "RESERVED", "PAID", "SHIPPED"],
                    "a",
                    3,
                ),
                order("o2", "REJECTED", &["PENDING", "REJECTED"], "a", 20),
                order("o3", "FAILED", &["PENDING", "RESERVED", "FAILED"], "a", 4),
                order("o4", "PAID", &["PENDING", "RESERVED", "PAID"], "a", 2),
            ],
            server_errors: vec![
                ServerError {
                    route: "GET /orders/{orderId}".into(),
                    status: 503,
                    retry_after: true,
                    endpoint_failing: true,
                    api_kills: false,
                },
                ServerError {
                    route: "POST /orders".into(),
                    status: 502,
                    retry_after: false,
                    endpoint_failing: false,
                    api_kills: true,
                },
            ],
            poison: Some(PoisonCheck {
                messages_sent: vec!["m1".into()],
                in_dead_letter_queue: BTreeMap::from([("m1".to_owned(), 3)]),
                max_receive_count: 3,
                records_sent: 2,
                records_discarded: 2,
                ..PoisonCheck::default()
            }),
            ..Observed::default()
        };
        // o4 is not terminal (the one violation); its 2 units are held, so stock balances.
        assert_eq!(violations(&o), vec!["order o4 is PAID, not terminal".to_owned()]);
    }

    #[test]
    fn each_broken_invariant_is_found() {
        let o = Observed {
            initial_stock: stock(10),
            stock_now: stock(5),
            orders: vec![order(
                "o1",
                "SHIPPED",
                &["PENDING", "RESERVED", "PAID", "PAID", "SHIPPED"],
                "a",
                3,
            )],
            missing: vec!["o9".into()],
            duplicates: vec![("k@example.com".into(), 2)],
            server_errors: vec![
                ServerError {
                    route: "POST /orders".into(),
                    status: 500,
                    retry_after: false,
                    endpoint_failing: true,
                    api_kills: false,
                },
                ServerError {
                    route: "GET /orders".into(),
                    status: 503,
                    retry_after: false,
                    endpoint_failing: true,
                    api_kills: false,
                },
                ServerError {
                    route: "GET /orders".into(),
                    status: 503,
                    retry_after: true,
                    endpoint_failing: false,
                    api_kills: false,
                },
            ],
            poison: Some(PoisonCheck {
                messages_sent: vec!["m1".into(), "m2".into()],
                in_dead_letter_queue: BTreeMap::from([("m1".to_owned(), 1)]),
                left_in_queue: 1,
                max_receive_count: 3,
                records_sent: 1,
                records_discarded: 2,
            }),
        };
        let found = violations(&o);
        for needle in [
            "o1 was PAID 2 times",
            "stock of a not conserved: 10 at the start, 5 left + 3 shipped or held",
            "o9 was accepted (202) but cannot be read back",
            "2 orders for one idempotency key",
            "POST /orders answered a 500",
            "GET /orders answered a 503 without Retry-After",
            "GET /orders answered a 503 while the AWS endpoint was not failing",
            "m1 reached the dead-letter queue after 1 receive(s)",
            "m2 is not in the dead-letter queue",
            "1 poison message(s) still in the source queue",
            "1 poison record(s) written, 2 record batch(es) discarded",
        ] {
            assert!(
                found.iter().any(|f| f.contains(needle)),
                "{needle:?} not in {found:#?}"
            );
        }
        assert_eq!(found.len(), 11, "{found:#?}");
    }
}

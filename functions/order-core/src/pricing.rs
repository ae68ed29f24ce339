//! Pricing: an order's lines and total are computed on the server from the stored inventory,
//! never from the client's prices. A client price that differs from the stored one is not an
//! error; it is reported in [`PricedOrder::price_differences`] for the caller to log.

use std::collections::HashMap;
use std::fmt;

use infra_model::contract::api::{CreateOrderRequest, InventoryItem, OrderLine};
use infra_model::contract::money::{MAX_MONEY_CENTS, Money};

use crate::problem::ApiProblem;

/// An order's priced lines, in the order of the request's items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub price_differences: Vec<PriceDifference>,
}

/// A client price that is not the stored one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceDifference {
    /// The index in the request's `items`.
    pub item: usize,
    pub sku: String,
    pub client_price: Money,
    pub stored_price: Money,
}

impl fmt::Display for PriceDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "items[{}] ({}): client price {}, stored price {}",
            self.item, self.sku, self.client_price, self.stored_price
        )
    }
}

/// Prices a validated order (see [`crate::requests::parse_create_order`]) with the inventory
/// entries of its SKUs (a batch read of them; entries of other SKUs are ignored). Each line
/// takes the stored price and the stored product name; the total is the sum of
/// `unit price × quantity`, in cents, with checked arithmetic.
///
/// Problems (400 `VALIDATION_FAILED`): a SKU not in the inventory (`Invalid field
/// items[1].sku: no product has the SKU xyz`), a total above the largest amount of money
/// (`Invalid field items: the order total must be at most 10000000.00`).
pub fn price_order(
    order: &CreateOrderRequest,
    inventory: &[InventoryItem],
) -> Result<PricedOrder, ApiProblem> {
    let mut stored: HashMap<&str, &InventoryItem> = HashMap::with_capacity(inventory.len());
    for entry in inventory {
        stored.entry(entry.sku.as_str()).or_insert(entry);
    }
    let too_large = || {
        ApiProblem::business_rule(
            "items",
            format!(
                "the order total must be at most {}",
                Money::from_cents(MAX_MONEY_CENTS)
            ),
        )
    };
    let mut lines = Vec::with_capacity(order.items.len());
    let mut differences = Vec::new();
    let mut total = Money::ZERO;
    for (i, item) in order.items.iter().enumerate() {
        let Some(entry) = stored.get(item.sku.as_str()) else {
            return Err(ApiProblem::business_rule(
                &format!("items[{i}].sku"),
                format!("no product has the SKU {}", item.sku),
            ));
        };
        let line_total = entry
            .price
            .checked_mul(u64::from(item.quantity))
            .ok_or_else(too_large)?;
        total = total.checked_add(line_total).ok_or_else(too_large)?;
        if item.price != entry.price {
            differences.push(PriceDifference {
                item: i,
                sku: item.sku.clone(),
                client_price: item.price,
                stored_price: entry.price,
            });
        }
        lines.push(OrderLine {
            sku: item.sku.clone(),
            product_name: entry.name.clone(),
            quantity: item.quantity,
            unit_price: entry.price,
            line_total,
        });
    }
    if total.cents() > MAX_MONEY_CENTS {
        return Err(too_large());
    }
    Ok(PricedOrder {
        lines,
        total,
        price_differences: differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::parse_create_order;
    use serde_json::json;

    fn order(items: serde_json::Value) -> CreateOrderRequest {
        let body = json!({
            "customerName": "Ada",
            "customerEmail": "ada@example.com",
            "items": items,
            "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
            "paymentMethod": "CARD"
        });
        parse_create_order(body.to_string().as_bytes(), None).unwrap()
    }

    fn stock(sku: &str, cents: u64, name: &str) -> InventoryItem {
        InventoryItem {
            sku: sku.into(),
            stock: 10,
            price: Money::from_cents(cents),
            name: name.into(),
            description: String::new(),
            updated_at: "2026-11-23T04:05:06.789Z".into(),
        }
    }

    #[test]
    fn lines_and_total_come_from_the_store() {
        let o = order(json!([
            {"sku": "laptop", "productName": "My laptop", "quantity": 1, "price": 999.99},
            {"sku": "mouse", "productName": "Mouse", "quantity": 3, "price": 19.99}
        ]));
        let inventory = [
            stock("mouse", 2_999, "Wireless Mouse"),
            stock("laptop", 99_999, "Laptop 15"),
            stock("unrelated", 1, "x"),
        ];
        let priced = price_order(&o, &inventory).unwrap();
        assert_eq!(
            priced.lines,
            vec![
                OrderLine {
                    sku: "laptop".into(),
                    product_name: "Laptop 15".into(),
                    quantity: 1,
                    unit_price: Money::from_cents(99_999),
                    line_total: Money::from_cents(99_999),
                },
                OrderLine {
                    sku: "mouse".into(),
                    product_name: "Wireless Mouse".into(),
                    quantity: 3,
                    unit_price: Money::from_cents(2_999),
                    line_total: Money::from_cents(8_997),
                },
            ]
        );
        assert_eq!(priced.total, Money::from_cents(108_996));
        assert_eq!(
            priced.price_differences,
            vec![PriceDifference {
                item: 1,
                sku: "mouse".into(),
                client_price: Money::from_cents(1_999),
                stored_price: Money::from_cents(2_999),
            }]
        );
        assert_eq!(
            priced.price_differences[0].to_string(),
            "items[1] (mouse): client price 19.99, stored price 29.99"
        );
    }

    #[test]
    fn exact_cents_where_floats_would_drift() {
        // 0.1 × 3 in binary floating point is 0.30000000000000004.
        let o = order(json!([{"sku": "a", "productName": "A", "quantity": 3, "price": 0.1}]));
        let priced = price_order(&o, &[stock("a", 10, "A")]).unwrap();
        assert_eq!(priced.total.to_string(), "0.30");
        assert!(priced.price_differences.is_empty());
    }

    #[test]
    fn unknown_skus_are_named_by_index() {
        let o = order(json!([
            {"sku": "laptop", "productName": "L", "quantity": 1, "price": 1},
            {"sku": "xyz", "productName": "X", "quantity": 1, "price": 1}
        ]));
        let err = price_order(&o, &[stock("laptop", 100, "L")]).unwrap_err();
        assert_eq!(err.status, 422);
        assert_eq!(
            err.message,
            "Refused field items[1].sku: no product has the SKU xyz"
        );
        assert_eq!(
            price_order(&o, &[]).unwrap_err().message,
            "Refused field items[0].sku: no product has the SKU laptop"
        );
    }

    #[test]
    fn totals_above_the_money_limit_are_refused() {
        let o = order(json!([{"sku": "gold", "productName": "G", "quantity": 1000, "price": 10000}]));
        // 1000 × 10,000.00 = 10,000,000.00: exactly the limit.
        assert_eq!(
            price_order(&o, &[stock("gold", 1_000_000, "G")]).unwrap().total,
            Money::from_cents(MAX_MONEY_CENTS)
        );
        let err = price_order(&o, &[stock("gold", 1_000_001, "G")]).unwrap_err();
        assert_eq!(
            err.message,
            "Refused field items: the order total must be at most 10000000.00"
        );
        // A stored price that would overflow u64 when multiplied is refused, not wrapped.
        let err = price_order(&o, &[stock("gold", u64::MAX / 10, "G")]).unwrap_err();
        assert_eq!(
            err.message,
            "Refused field items: the order total must be at most 10000000.00"
        );
    }

    #[test]
    fn the_first_inventory_entry_of_a_sku_wins() {
        let o = order(json!([{"sku": "a", "productName": "A", "quantity": 1, "price": 1}]));
        let priced = price_order(&o, &[stock("a", 100, "first"), stock("a", 200, "second")]).unwrap();
        assert_eq!(priced.lines[0].product_name, "first");
    }
}

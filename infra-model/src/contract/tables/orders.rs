//! Orders, one item per order.

use serde::{Deserialize, Serialize};

use crate::aws::dynamodb::Key;
use crate::contract::api::{
    OrderLine, OrderStatus, OrderView, PaymentInfo, PaymentMethod, ShippingAddress, ShippingInfo,
    StatusChange,
};
use crate::contract::money::Money;

pub const ORDER_ID: Key = Key::string("orderId");
/// RFC 3339 UTC with milliseconds, so that text order is time order.
pub const CREATED_AT: Key = Key::string("createdAt");
/// Orders by status, newest first. The partition key is the status with a shard suffix
/// (`RESERVED#3`): a single partition per status would take every write of a busy status
/// (all new orders are PENDING) and hit DynamoDB's per-partition limit of 1,000 writes/s.
/// Writes are spread over [`STATUS_SHARDS`] partitions by a hash of the order id; a query
/// reads every shard and merges by creation time.
pub const BY_STATUS: &str = "byStatus";
pub const STATUS_SHARD: Key = Key::string("statusShard");
pub const STATUS_SHARDS: u32 = 8;
/// Orders by customer e-mail (normalized to lower case), newest first.
pub const BY_CUSTOMER: &str = "byCustomer";
pub const CUSTOMER_EMAIL: Key = Key::string("customerEmail");

pub const STATUS: &str = "status";
pub const CUSTOMER_NAME: &str = "customerName";
pub const ITEMS: &str = "items";
pub const TOTAL_CENTS: &str = "totalCents";
pub const SHIPPING_ADDRESS: &str = "shippingAddress";
pub const PAYMENT_METHOD: &str = "paymentMethod";
pub const STATUS_HISTORY: &str = "statusHistory";
pub const STATUS_REASON: &str = "statusReason";
pub const PAYMENT: &str = "payment";
pub const SHIPPING: &str = "shipping";
pub const UPDATED_AT: &str = "updatedAt";
/// Set once when stock is released, so that compensation releases it exactly once.
pub const STOCK_RELEASED: &str = "stockReleased";

/// The shard of an order id: a stable FNV-1a hash, the same in every process.
pub fn shard_of(order_id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in order_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % STATUS_SHARDS
}

/// The `statusShard` value of an order in a status.
pub fn status_shard(status: &str, order_id: &str) -> String {
    format!("{status}#{}", shard_of(order_id))
}

/// One line of a stored order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineRecord {
    pub sku: String,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price_cents: u64,
    pub line_total_cents: u64,
}

/// The payment, once taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    pub transaction_id: String,
    pub method: PaymentMethod,
    pub amount_cents: u64,
    pub paid_at: String,
}

/// An order as stored: the items of the orders table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    pub order_id: String,
    pub customer_name: String,
    pub customer_email: String,
    pub items: Vec<LineRecord>,
    pub total_cents: u64,
    pub status: OrderStatus,
    pub status_shard: String,
    pub status_history: Vec<StatusChange>,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub shipping_address: ShippingAddress,
    pub payment_method: PaymentMethod,
    #[serde(default)]
    pub payment: Option<PaymentRecord>,
    #[serde(default)]
    pub shipping: Option<ShippingInfo>,
    #[serde(default)]
    pub stock_released: Option<bool>,
    pub created_at: String,
    pub updated_at: String,
}

impl OrderRecord {
    /// A new PENDING order.
    #[allow(clippy::too_many_arguments)]
    pub fn new_pending(
        order_id: String,
        customer_name: String,
        customer_email: String,
        lines: &[OrderLine],
        total: Money,
        shipping_address: ShippingAddress,
        payment_method: PaymentMethod,
        now: String,
    ) -> OrderRecord {
        OrderRecord {
            status_shard: status_shard(OrderStatus::Pending.as_str(), &order_id),
            order_id,
            customer_name,
            customer_email,
            items: lines
                .iter()
                .map(|l| LineRecord {
                    sku: l.sku.clone(),
                    product_name: l.product_name.clone(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price.cents(),
                    line_total_cents: l.line_total.cents(),
                })
                .collect(),
            total_cents: total.cents(),
            status: OrderStatus::Pending,
            status_history: vec![StatusChange {
                status: OrderStatus::Pending,
                at: now.clone(),
                reason: None,
            }],
            status_reason: None,
            shipping_address,
            payment_method,
            payment: None,
            shipping: None,
            stock_released: None,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// The API's view of the order.
    pub fn to_view(&self) -> OrderView {
        OrderView {
            order_id: self.order_id.clone(),
            customer_name: self.customer_name.clone(),
            customer_email: self.customer_email.clone(),
            items: self
                .items
                .iter()
                .map(|l| OrderLine {
                    sku: l.sku.clone(),
                    product_name: l.product_name.clone(),
                    quantity: l.quantity,
                    unit_price: Money::from_cents(l.unit_price_cents),
                    line_total: Money::from_cents(l.line_total_cents),
                })
                .collect(),
            total: Money::from_cents(self.total_cents),
            status: self.status,
            status_history: self.status_history.clone(),
            shipping_address: self.shipping_address.clone(),
            payment_method: self.payment_method,
            payment: self.payment.as_ref().map(|p| PaymentInfo {
                transaction_id: p.transaction_id.clone(),
                method: p.method,
                amount: Money::from_cents(p.amount_cents),
                paid_at: p.paid_at.clone(),
            }),
            shipping: self.shipping.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

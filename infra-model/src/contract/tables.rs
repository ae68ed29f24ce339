//! The layout of each table: key names, index names and the attribute names the handlers read
//! and write. The table definitions in [`crate::system`] use the same constants.

use crate::aws::dynamodb::Key;

/// Orders, one item per order.
pub mod orders {
    use super::Key;

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
}

/// Inventory, one item per SKU.
pub mod inventory {
    use super::Key;

    pub const SKU: Key = Key::string("sku");
    pub const STOCK: &str = "stock";
    pub const PRICE_CENTS: &str = "priceCents";
    pub const NAME: &str = "name";
    pub const DESCRIPTION: &str = "description";
    pub const UPDATED_AT: &str = "updatedAt";
}

/// Registered businesses. E-mail uniqueness is enforced with a second item per business whose
/// key is `EMAIL#<lower-case e-mail>`, written in the same transaction as the business with
/// `attribute_not_exists`: a DynamoDB index cannot enforce uniqueness.
pub mod businesses {
    use super::Key;

    pub const BUSINESS_ID: Key = Key::string("businessId");
    pub const EMAIL_CLAIM_PREFIX: &str = "EMAIL#";
    pub const BUSINESS_NAME: &str = "businessName";
    pub const EMAIL: &str = "email";
    pub const PHONE: &str = "phone";
    pub const ADDRESS: &str = "address";
    pub const COGNITO_USER_ID: &str = "cognitoUserId";
    pub const CREATED_AT: &str = "createdAt";

    pub fn email_claim(email: &str) -> String {
        format!("{EMAIL_CLAIM_PREFIX}{}", email.trim().to_lowercase())
    }
}

/// Idempotency records for requests and messages that may arrive twice. Expired records are
/// removed by DynamoDB's TTL.
pub mod idempotency {
    use super::Key;

    /// `<scope>#<key>`, e.g. `POST /orders#<Idempotency-Key>` or `reserve#<event id>`.
    pub const KEY: Key = Key::string("idempotencyKey");
    /// Epoch seconds after which DynamoDB deletes the record.
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const REQUEST_HASH: &str = "requestHash";
    pub const STATUS_CODE: &str = "statusCode";
    pub const RESPONSE: &str = "response";
    /// How long a record is kept.
    pub const TTL_SECONDS: u64 = 24 * 3600;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(orders::shard_of("abc"), orders::shard_of("abc"));
        let mut seen = [0u32; orders::STATUS_SHARDS as usize];
        for i in 0..800 {
            seen[orders::shard_of(&format!("order-{i}")) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
        assert!(orders::status_shard("PENDING", "x").starts_with("PENDING#"));
    }

    #[test]
    fn email_claims_ignore_case_and_spaces() {
        assert_eq!(
            businesses::email_claim(" Ann@Example.COM "),
            "EMAIL#ann@example.com"
        );
    }
}

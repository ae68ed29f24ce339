//! The REST API's request and response bodies. API Gateway validates requests against JSON
//! Schemas generated from these same types (see [`super::schema`]); the handlers deserialize
//! them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::money::Money;

/// Limits shared by the API models and the handlers' validation.
pub mod limits {
    /// Lines of an order, each a different SKU. 99, not 100: reserving stock is one DynamoDB
    /// transaction of one update per SKU plus the order's own update, and a transaction holds
    /// at most 100 actions.
    pub const MAX_ITEMS: usize = 99;
    pub const MAX_QUANTITY: u32 = 1000;
    pub const MAX_TEXT: usize = 200;
    pub const MAX_EMAIL: usize = 254;
    pub const MAX_SKU: usize = 64;
    pub const MAX_STOCK: u32 = 1_000_000;
    pub const MAX_DESCRIPTION: usize = 2000;
    pub const DEFAULT_PAGE: u32 = 20;
    pub const MAX_PAGE: u32 = 100;
    /// The largest request body the handlers read, in bytes.
    pub const MAX_BODY_BYTES: usize = 64 * 1024;
    /// A SKU: letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    pub const SKU_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
    /// The longest `nextToken` accepted.
    pub const MAX_TOKEN: usize = 4096;
    /// The longest postal code.
    pub const MAX_POSTAL_CODE: usize = 20;
    /// The longest phone number (its separators included): what [`super::patterns::PHONE`]
    /// allows at most.
    pub const MAX_PHONE: usize = 48;
    /// The longest Cognito user id.
    pub const MAX_COGNITO_USER_ID: usize = 128;
    /// The shortest and longest country (an ISO 3166 code or an English name).
    pub const MIN_COUNTRY: usize = 2;
    pub const MAX_COUNTRY: usize = 56;
}

/// The patterns of the request fields: each is in the field's JSON Schema (API Gateway's
/// model, the OpenAPI document) and the handlers check the same pattern, so a request that one
/// accepts the other accepts too. Plain ECMA-262 / Python / Rust regex syntax: character
/// classes, anchors and counted repetition only.
pub mod patterns {
    /// Text with something to read: at least one character that is neither white space (any
    /// Unicode `White_Space`) nor invisible (a control character, a bidirectional control, the
    /// zero-width space, the byte-order mark). Unanchored: it looks for one such character.
    pub const VISIBLE: &str = "[^\\x00-\\x20\\x7F-\\xA0\\u1680\\u2000-\\u200B\\u200E\\u200F\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000\\uFEFF]";
    /// An e-mail address as we deliver to it: an ASCII local part of letters, digits and
    /// ``!#$%&'*+/=?^_`{|}~-`` in dot-separated runs, `@`, then two or more domain labels of
    /// letters, digits and inner hyphens (at most 63 each), the last one 2 to 63 characters
    /// starting with a letter (so `xn--p1ai` is one, an IP address is not).
    pub const EMAIL: &str = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$";
    /// A phone number: an optional `+`, then 7 to 15 digits, which spaces, parentheses and
    /// hyphens may separate.
    pub const PHONE: &str = "^\\+?[ ()-]{0,2}([0-9][ ()-]{0,2}){7,15}$";
    /// A postal code: ASCII letters and digits, with inner spaces or hyphens.
    pub const POSTAL_CODE: &str = "^[A-Za-z0-9]([A-Za-z0-9 -]{0,18}[A-Za-z0-9])?$";
    /// A Cognito user id: visible ASCII, no spaces.
    pub const COGNITO_USER_ID: &str = "^[!-~]{1,128}$";
    /// An order id (a UUID, either case).
    pub const ORDER_ID: &str =
        "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
    /// A SKU.
    pub const SKU: &str = super::limits::SKU_PATTERN;
    /// A `nextToken` as a page gave it (two base64url parts and a dot), or nothing.
    pub const TOKEN: &str = "^([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+)?$";

    /// Every pattern above.
    pub const ALL: [&str; 8] = [
        VISIBLE,
        EMAIL,
        PHONE,
        POSTAL_CODE,
        COGNITO_USER_ID,
        ORDER_ID,
        SKU,
        TOKEN,
    ];
}

/// How the customer pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    Card,
    Paypal,
    BankTransfer,
}

/// Where an order goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShippingAddress {
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub street: String,
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub city: String,
    #[schemars(length(min = 1, max = limits::MAX_POSTAL_CODE), regex(pattern = patterns::POSTAL_CODE))]
    pub postal_code: String,
    /// A country name or ISO 3166 code, e.g. `USA`, `DE`. One we do not ship to is refused
    /// with 422 `BUSINESS_RULE`.
    #[schemars(length(min = limits::MIN_COUNTRY, max = limits::MAX_COUNTRY), regex(pattern = patterns::VISIBLE))]
    pub country: String,
}

/// One line of a new order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderItemRequest {
    #[schemars(regex(pattern = patterns::SKU))]
    pub sku: String,
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub product_name: String,
    #[schemars(range(min = 1, max = limits::MAX_QUANTITY))]
    pub quantity: u32,
    /// The unit price the client saw. The order's total is computed from the stored prices;
    /// a price that differs from the stored one is recorded, not trusted.
    #[schemars(extend("exclusiveMinimum" = 0, "multipleOf" = 0.01))]
    pub price: Money,
}

/// `POST /orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrderRequest {
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub customer_name: String,
    #[schemars(length(min = 3, max = limits::MAX_EMAIL), regex(pattern = patterns::EMAIL))]
    pub customer_email: String,
    #[schemars(length(min = 1, max = limits::MAX_ITEMS))]
    pub items: Vec<OrderItemRequest>,
    pub shipping_address: ShippingAddress,
    pub payment_method: PaymentMethod,
}

/// The answer to `POST /orders` (202).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderResponse {
    pub order_id: String,
    pub status: OrderStatus,
    pub message: String,
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Accepted, waiting for stock.
    Pending,
    /// Stock is reserved; payment is next.
    Reserved,
    /// Not enough stock or an unknown SKU; nothing was reserved.
    Rejected,
    /// Payment taken.
    Paid,
    /// Handed to a carrier.
    Shipped,
    /// Payment or shipping failed after reservation; stock was released.
    Failed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Reserved,
        OrderStatus::Rejected,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Failed,
    ];

    /// The name used in the API and in the table, e.g. `RESERVED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Reserved => "RESERVED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::Paid => "PAID",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the order can still change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Rejected | OrderStatus::Shipped | OrderStatus::Failed
        )
    }
}

/// One line of a stored order, priced from the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub sku: String,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub line_total: Money,
}

/// A change of status, with when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: OrderStatus,
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The payment of an order, once taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInfo {
    pub transaction_id: String,
    pub method: PaymentMethod,
    pub amount: Money,
    pub paid_at: String,
}

/// The shipment of an order, once arranged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShippingInfo {
    pub carrier: String,
    pub tracking_number: String,
    /// A date, `YYYY-MM-DD`.
    pub estimated_delivery: String,
    pub shipped_at: String,
}

/// `GET /orders/{orderId}`, and each entry of `GET /orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub customer_name: String,
    pub customer_email: String,
    pub items: Vec<OrderLine>,
    pub total: Money,
    pub status: OrderStatus,
    pub status_history: Vec<StatusChange>,
    pub shipping_address: ShippingAddress,
    pub payment_method: PaymentMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<ShippingInfo>,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListOrdersResponse {
    pub orders: Vec<OrderView>,
    /// Pass back as `nextToken` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `PUT /inventory/{sku}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutInventoryRequest {
    #[schemars(range(max = limits::MAX_STOCK))]
    pub stock: u32,
    #[schemars(extend("exclusiveMinimum" = 0, "multipleOf" = 0.01))]
    pub price: Money,
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub name: String,
    #[serde(default)]
    #[schemars(length(max = limits::MAX_DESCRIPTION))]
    pub description: String,
}

/// `GET /inventory/{sku}` and each entry of `GET /inventory`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub sku: String,
    pub stock: u32,
    pub price: Money,
    pub name: String,
    pub description: String,
    pub updated_at: String,
}

/// `GET /inventory`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListInventoryResponse {
    pub items: Vec<InventoryItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `POST /auth/register-business` (seed 000 names its fields in snake case).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBusinessRequest {
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub business_name: String,
    #[schemars(length(min = 3, max = limits::MAX_EMAIL), regex(pattern = patterns::EMAIL))]
    pub email: String,
    /// E.164 style: an optional `+` and 7 to 15 digits, which spaces, parentheses and hyphens
    /// may separate.
    #[schemars(length(min = 7, max = limits::MAX_PHONE), regex(pattern = patterns::PHONE))]
    pub phone: String,
    #[schemars(length(min = 1, max = limits::MAX_TEXT), regex(pattern = patterns::VISIBLE))]
    pub address: String,
    #[schemars(length(min = 1, max = limits::MAX_COGNITO_USER_ID), regex(pattern = patterns::COGNITO_USER_ID))]
    pub cognito_user_id: String,
}

/// The answer to `POST /auth/register-business` (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterBusinessResponse {
    pub business_id: String,
    pub business_name: String,
    pub email: String,
    pub created_at: String,
    pub message: String,
}

/// `GET /`, `/health`, `/auth/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    pub status: String,
    pub service: String,
    pub version: String,
    pub environment: String,
}

/// One dependency in `GET /health/detailed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyHealth {
    pub name: String,
    pub healthy: bool,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /health/detailed` (200 when every dependency answers, 503 otherwise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetailedHealthResponse {
    pub status: String,
    pub service: String,
    pub version: String,
    pub environment: String,
    pub dependencies: Vec<DependencyHealth>,
}

/// The stable codes of API errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The body is not JSON, or not an object.
    MalformedJson,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than the API accepts.
    PayloadTooLarge,
    /// A field is missing, has the wrong type, or breaks a rule.
    ValidationFailed,
    /// A query parameter is not valid (including a tampered `nextToken`).
    InvalidQuery,
    /// No API key, or a wrong one.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    /// The resource exists already (an e-mail registered twice).
    Conflict,
    /// The same `Idempotency-Key` was used with a different body.
    IdempotencyKeyReused,
    /// A `nextToken` of the right form that this API did not issue for this query (altered,
    /// or from another query, deployment or version): start again without it.
    InvalidToken,
    /// The request is well formed but a business rule refuses it: an unknown SKU, a SKU
    /// listed twice, a country we do not ship to, a total over the limit, a listing without a
    /// filter.
    BusinessRule,
    /// Too many requests: the usage plan's throttle or quota.
    TooManyRequests,
    /// A dependency did not answer; retrying later may work.
    ServiceUnavailable,
    /// A bug: never the client's fault.
    InternalError,
}

/// The `Retry-After` (seconds) of every 503 the functions answer: a dependency (a table, the
/// queue) did not answer after the SDK's retries, and retrying a little later may work. The
/// OpenAPI documents declare the header on every 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::MalformedJson,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ValidationFailed,
        ErrorCode::InvalidQuery,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::InvalidToken,
        ErrorCode::BusinessRule,
        ErrorCode::TooManyRequests,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalError,
    ];

    /// The HTTP status an error with this code is answered with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson | ErrorCode::ValidationFailed | ErrorCode::InvalidQuery => 400,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::IdempotencyKeyReused | ErrorCode::InvalidToken | ErrorCode::BusinessRule => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::InternalError => 500,
            ErrorCode::ServiceUnavailable => 503,
        }
    }

    /// The code as it appears in an error body (`VALIDATION_FAILED`): the one spelling, which
    /// the serde form, the handlers and the gateway responses all use.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "MALFORMED_JSON",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::ValidationFailed => "VALIDATION_FAILED",
            ErrorCode::InvalidQuery => "INVALID_QUERY",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::InvalidToken => "INVALID_TOKEN",
            ErrorCode::BusinessRule => "BUSINESS_RULE",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// The API's operations: each route's identity, which the handler behind it matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    GetRoot,
    GetHealth,
    GetDetailedHealth,
    GetAuthHealth,
    RegisterBusiness,
    CreateOrder,
    ListOrders,
    GetOrder,
    PutInventoryItem,
    ListInventory,
    GetInventoryItem,
}

impl Operation {
    /// The OpenAPI `operationId` (`createOrder`).
    pub const fn id(self) -> &'static str {
        match self {
            Operation::GetRoot => "getRoot",
            Operation::GetHealth => "getHealth",
            Operation::GetDetailedHealth => "getDetailedHealth",
            Operation::GetAuthHealth => "getAuthHealth",
            Operation::RegisterBusiness => "registerBusiness",
            Operation::CreateOrder => "createOrder",
            Operation::ListOrders => "listOrders",
            Operation::GetOrder => "getOrder",
            Operation::PutInventoryItem => "putInventoryItem",
            Operation::ListInventory => "listInventory",
            Operation::GetInventoryItem => "getInventoryItem",
        }
    }
}

/// Every API error's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: ErrorCode,
    /// Names the field and the rule, e.g. `Missing required field: customerEmail`.
    pub message: String,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_have_one_spelling() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "{code:?}");
        }
    }
}

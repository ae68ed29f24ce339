//! What flows between the functions: the queue's messages, the workflow's input and the errors
//! its tasks raise (the workflow's Retry and Catch name the same constants).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::money::Money;

/// Sent to the order-events queue once stock is reserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderReserved {
    pub order_id: String,
    pub total: Money,
    pub reserved_at: String,
}

/// The workflow's input, and what each task receives (the state machine passes it along).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowInput {
    pub order_id: String,
}

/// What the payment task returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    pub transaction_id: String,
}

/// What the shipping task returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShippingResult {
    pub carrier: String,
    pub tracking_number: String,
    pub estimated_delivery: String,
}

/// The error a failed state hands to the compensation task (`Catch` with `ResultPath`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskFailure {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The compensation task's input: the workflow input plus the failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompensationInput {
    pub order_id: String,
    pub failure: TaskFailure,
}

/// The error types the task functions raise (the Lambda error response's `errorType`).
pub mod errors {
    /// The payment was declined: final, never retried.
    pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
    /// The payment gateway did not answer: retried.
    pub const PAYMENT_UNAVAILABLE: &str = "PaymentGatewayUnavailable";
    /// No carrier could take the parcel: final.
    pub const SHIPPING_REJECTED: &str = "ShippingRejected";
    /// The carrier did not answer: retried.
    pub const SHIPPING_UNAVAILABLE: &str = "ShippingUnavailable";
    /// The order is not in a state the task can act on (a duplicate or late delivery).
    pub const ORDER_STATE_CONFLICT: &str = "OrderStateConflict";
    /// Errors of the Lambda service itself, worth retrying.
    pub const LAMBDA_TRANSIENT: [&str; 3] = [
        "Lambda.ServiceException",
        "Lambda.TooManyRequestsException",
        "Lambda.SdkClientException",
    ];
}

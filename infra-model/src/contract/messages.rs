//! What flows between the functions: the queue's messages, the workflow's input and the errors
//! its tasks raise (the workflow's Retry and Catch name the same constants).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::OrderStatus;
use super::money::Money;

/// Sent to the order-events queue once stock is reserved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderReserved {
    pub order_id: String,
    pub total: Money,
    pub reserved_at: String,
}

/// What a customer is told when their order reaches a final status (REJECTED, SHIPPED or
/// FAILED), published to the customer-notifications topic once per status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerNotification {
    /// `<orderId>#<STATUS>`: one per status change. Delivery is at least once (SNS's), so a
    /// subscriber that sees an id twice drops the second.
    pub notification_id: String,
    pub order_id: String,
    pub status: OrderStatus,
    /// Why, for a rejected or failed order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub customer_email: String,
    pub customer_name: String,
    /// The carrier's tracking number, for a shipped order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// When the status changed (RFC 3339, UTC, milliseconds).
    pub at: String,
}

impl CustomerNotification {
    /// The notification id of an order's status change.
    pub fn id_of(order_id: &str, status: OrderStatus) -> String {
        format!("{order_id}#{}", status.as_str())
    }
}

/// The workflow's input, and what each task receives (the state machine passes it along).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowInput {
    pub order_id: String,
}

/// What the payment and shipping tasks receive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskInput {
    pub order_id: String,
    /// The workflow's count of earlier attempts of this step (`$$.State.RetryCount`).
    #[serde(default)]
    pub retry_count: u32,
}

impl TaskInput {
    /// The Task state's `Parameters`, which build this input from the execution's state: the
    /// order id from the state, the attempt number from the context object.
    pub fn parameters() -> Value {
        json!({"orderId.$": "$.orderId", "retryCount.$": "$$.State.RetryCount"})
    }
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

impl CompensationInput {
    /// The Task state's `Parameters`: the order id, and the failure a `Catch` put at
    /// `failure_path`.
    pub fn parameters(failure_path: &str) -> Value {
        json!({"orderId.$": "$.orderId", "failure.$": failure_path})
    }
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
    /// A table or queue did not answer (throttled, a 5xx, a timeout) after the SDK's own
    /// retries: retried, since every task is idempotent.
    pub const STORE_UNAVAILABLE: &str = "StoreUnavailable";
    /// How Step Functions reports a function that crashed, ran out of memory or timed out
    /// (AWS Step Functions Developer Guide, "Handle Lambda service exceptions": unhandled
    /// errors are `Lambda.Unknown`): retried, since every task is idempotent.
    pub const LAMBDA_UNKNOWN: &str = "Lambda.Unknown";
    /// Errors of the Lambda service itself, worth retrying.
    pub const LAMBDA_TRANSIENT: [&str; 3] = [
        "Lambda.ServiceException",
        "Lambda.TooManyRequestsException",
        "Lambda.SdkClientException",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters, with each path replaced by what the state machine would put there.
    fn resolve(parameters: &Value, state: &Value, retry_count: u32) -> Value {
        let mut out = serde_json::Map::new();
        for (k, v) in parameters.as_object().unwrap() {
            let key = k.strip_suffix(".$").unwrap();
            let path = v.as_str().unwrap();
            let value = if path == "$$.State.RetryCount" {
                json!(retry_count)
            } else {
                path.strip_prefix("$.")
                    .and_then(|p| state.get(p))
                    .cloned()
                    .unwrap()
            };
            out.insert(key.to_owned(), value);
        }
        Value::Object(out)
    }

    #[test]
    fn task_parameters_build_the_inputs_the_tasks_read() {
        let state = json!({"orderId": "o-1", "failure": {"Error": "PaymentDeclined", "Cause": "no"}});
        let input: TaskInput = serde_json::from_value(resolve(&TaskInput::parameters(), &state, 2)).unwrap();
        assert_eq!(
            input,
            TaskInput {
                order_id: "o-1".into(),
                retry_count: 2
            }
        );
        let input: CompensationInput =
            serde_json::from_value(resolve(&CompensationInput::parameters("$.failure"), &state, 0)).unwrap();
        assert_eq!(input.failure.error, "PaymentDeclined");
    }
}

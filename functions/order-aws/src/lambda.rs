//! Lambda glue shared by the event-driven functions: errors with a proper `errorType` (the
//! workflow's Retry and Catch match on it), and partial batch responses.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

/// A task failure as Step Functions sees it: `errorType` is matched by the workflow's
/// `Retry`/`Catch` (`PaymentDeclined`, `PaymentGatewayUnavailable`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    pub error_type: String,
    pub message: String,
}

impl TaskError {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// A failure of the function itself (an AWS call, bad input): retried by Lambda's own
    /// transient error names only if it is one; otherwise it reaches the workflow's Catch.
    pub fn internal(message: impl Into<String>) -> TaskError {
        TaskError::new("OrderTaskError", message)
    }

    /// A table or queue that failed: `StoreUnavailable` when retrying later may succeed
    /// (throttled, a 5xx, a timeout, after the SDK's own retries), which the workflow retries;
    /// otherwise [`TaskError::internal`].
    pub fn store(e: &crate::StoreError) -> TaskError {
        match e {
            crate::StoreError::Service { retryable: true, .. } => TaskError::new(
                infra_model::contract::messages::errors::STORE_UNAVAILABLE,
                e.to_string(),
            ),
            _ => TaskError::internal(e.to_string()),
        }
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for TaskError {}

impl From<TaskError> for lambda_runtime::Diagnostic {
    fn from(e: TaskError) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: e.error_type,
            error_message: e.message,
        }
    }
}

/// A queue consumer's answer (`ReportBatchItemFailures`): the messages to retry, by id.
pub fn sqs_failures(message_ids: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut r = SqsBatchResponse::default();
    for id in message_ids {
        let mut f = BatchItemFailure::default();
        f.item_identifier = id;
        r.batch_item_failures.push(f);
    }
    r
}

/// A stream consumer's answer (`ReportBatchItemFailures`): the records to retry, by sequence
/// number (Lambda retries from the first one).
pub fn stream_failures(sequence_numbers: impl IntoIterator<Item = String>) -> DynamoDbEventResponse {
    let mut r = DynamoDbEventResponse::default();
    for seq in sequence_numbers {
        let mut f = DynamoDbBatchItemFailure::default();
        f.item_identifier = Some(seq);
        r.batch_item_failures.push(f);
    }
    r
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, as RFC 3339 UTC with milliseconds (`2026-11-23T04:05:06.789Z`).
pub fn now() -> String {
    order_core::time::format_timestamp(now_ms()).unwrap_or_default()
}

/// A number in `[0, 1)` for simulated failure rates: a SplitMix64 step over the clock and a
/// salt. Not for anything secret.
pub fn random_unit(salt: &str) -> f64 {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    for b in salt.bytes() {
        x = x.rotate_left(5) ^ u64::from(b);
    }
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

pub use infra_model::contract::messages::TaskInput;

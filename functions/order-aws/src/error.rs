//! Errors of the AWS side, with what failed and where.

use std::fmt::Display;

use crate::item::ItemError;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The service answered with an error (throttling, a missing table, permissions, ...).
    #[error("{operation} on {resource} failed: {message}")]
    Service {
        operation: &'static str,
        resource: String,
        message: String,
        /// Whether retrying later may succeed.
        retryable: bool,
    },
    /// An item does not have the layout the record expects.
    #[error("an item does not match its record layout: {0}")]
    Layout(#[from] ItemError),
    /// The code asked for something the store was not set up for.
    #[error("store misconfigured: {0}")]
    Misconfigured(String),
}

/// Error codes that say "try again later": the common AWS errors of an overloaded or failing
/// endpoint and DynamoDB's own throttling codes. DynamoDB's error handling guide lists
/// `InternalServerError`, `ServiceUnavailable`, `ThrottlingException`,
/// `ProvisionedThroughputExceededException` and `RequestLimitExceeded` as "OK to retry"; the
/// common errors of every service add `InternalFailure` (500) and `ServiceUnavailable` (503).
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
const TRANSIENT_CODES: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
];

/// Whether an error code is one of [`TRANSIENT_CODES`].
pub fn transient_code(code: Option<&str>) -> bool {
    code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
}

impl StoreError {
    /// From an SDK error of any operation: retryable when no answer came (a timeout, a dropped
    /// connection, a reply that could not be read), when the service answered 5xx, or when it
    /// answered a throttling code.
    pub fn from_sdk<E>(
        operation: &'static str,
        resource: &str,
        e: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    {
        use aws_sdk_dynamodb::error::SdkError;
        let retryable = match &e {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(context) => {
                context.raw().status().is_server_error() || transient_code(context.err().code())
            }
            _ => false,
        };
        StoreError::Service {
            operation,
            resource: resource.to_owned(),
            message: error_chain(&e),
            retryable,
        }
    }

    /// From an operation's service error (after `into_service_error`). An error without a code
    /// is one where no answer came (a timeout or a dropped connection, which the SDK turns into
    /// an unhandled error), so it is retryable like a throttling or 5xx code.
    pub fn service(
        operation: &'static str,
        resource: &str,
        e: impl std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    ) -> StoreError {
        let retryable = e.code().is_none() || transient_code(e.code());
        StoreError::Service {
            operation,
            resource: resource.to_owned(),
            message: error_chain(&e),
            retryable,
        }
    }
}

/// An error and its sources on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A message with context, for errors of the queue, workflow and secret clients.
pub fn describe(operation: &str, target: &str, e: impl Display) -> String {
    format!("{operation} on {target} failed: {e}")
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::body::SdkBody;

    use super::StoreError;

    fn answered(status: u16, code: &str) -> StoreError {
        let error = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        StoreError::from_sdk("GetItem", "orders", SdkError::service_error(error, raw))
    }

    fn retryable(e: &StoreError) -> bool {
        matches!(e, StoreError::Service { retryable: true, .. })
    }

    #[test]
    fn a_5xx_or_a_throttling_answer_is_retryable_and_a_client_error_is_not() {
        assert!(retryable(&answered(500, "InternalFailure")));
        assert!(retryable(&answered(503, "ServiceUnavailable")));
        assert!(retryable(&answered(500, "SomethingNew")), "any 5xx");
        assert!(retryable(&answered(400, "ThrottlingException")));
        assert!(retryable(&answered(
            400,
            "ProvisionedThroughputExceededException"
        )));
        assert!(!retryable(&answered(400, "ValidationException")));
        assert!(!retryable(&answered(400, "ResourceNotFoundException")));
    }

    #[test]
    fn a_service_error_without_a_code_means_no_answer_came_and_is_retryable() {
        let unhandled = GetItemError::generic(ErrorMetadata::builder().build());
        assert!(retryable(&StoreError::service("GetItem", "orders", unhandled)));
        let throttled = GetItemError::generic(ErrorMetadata::builder().code("ThrottlingException").build());
        assert!(retryable(&StoreError::service("GetItem", "orders", throttled)));
        let invalid = GetItemError::generic(ErrorMetadata::builder().code("ValidationException").build());
        assert!(!retryable(&StoreError::service("GetItem", "orders", invalid)));
    }
}

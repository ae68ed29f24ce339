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

impl StoreError {
    /// From an SDK error of any operation.
    pub fn from_sdk<E, R>(
        operation: &'static str,
        resource: &str,
        e: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> StoreError
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let retryable = matches!(
            e,
            aws_sdk_dynamodb::error::SdkError::TimeoutError(_)
                | aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)
                | aws_sdk_dynamodb::error::SdkError::ResponseError(_)
        ) || format!("{e:?}").contains("Throttl");
        StoreError::Service {
            operation,
            resource: resource.to_owned(),
            message: error_chain(&e),
            retryable,
        }
    }

    /// From an operation's service error (after `into_service_error`).
    pub fn service(
        operation: &'static str,
        resource: &str,
        e: impl std::error::Error + 'static,
    ) -> StoreError {
        let message = error_chain(&e);
        StoreError::Service {
            operation,
            resource: resource.to_owned(),
            retryable: message.contains("Throttl") || message.contains("InternalServerError"),
            message,
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

//! Reads reserved orders from the order-events queue and starts the order workflow for each,
//! with the order id as the execution name: a duplicate message starts nothing twice.
//! A message that cannot be read fails alone (partial batch response); after the queue's
//! maximum receives it lands in the dead-letter queue instead of looping.

use infra_model::contract::messages::OrderReserved;
pub use order_aws::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use order_aws::lambda::sqs_failures;
use order_aws::messaging::{OrderWorkflow, Started};
use tracing::{error, info, warn};

/// Starts the workflow for every message; returns the messages to retry.
pub async fn handle(workflow: &OrderWorkflow, event: SqsEvent) -> SqsBatchResponse {
    let mut failed = Vec::new();
    for record in event.records {
        let message_id = record.message_id.unwrap_or_default();
        let body = record.body.unwrap_or_default();
        let message: OrderReserved = match serde_json::from_str(&body) {
            Ok(m) => m,
            Err(e) => {
                // Not retryable by nature, but failing it lets the queue count receives and move
                // it to the dead-letter queue, where it can be inspected; dropping it would lose it.
                error!(message_id = %message_id, error = %e, "unreadable order event");
                failed.push(message_id);
                continue;
            }
        };
        match workflow.start(&message.order_id).await {
            Ok(Started::New(arn)) => {
                info!(order_id = %message.order_id, execution = %arn, "workflow started")
            }
            Ok(Started::AlreadyRunning) => {
                warn!(order_id = %message.order_id, "workflow already started: duplicate message ignored")
            }
            Err(e) => {
                error!(order_id = %message.order_id, error = %e, "could not start the workflow");
                failed.push(message_id);
            }
        }
    }
    sqs_failures(failed)
}

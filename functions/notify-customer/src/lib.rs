//! Tells customers what became of their orders. The orders stream invokes this function for
//! every change to REJECTED, SHIPPED or FAILED (the mapping's filter); each becomes one
//! [`CustomerNotification`] on the customer-notifications topic, with the order id and status
//! as its notification id.
//!
//! Once per status change: before publishing, the notification id is claimed in the
//! idempotency table; a duplicate or late stream record finds the claim completed and publishes
//! nothing. If the process dies between publishing and recording it, the claim expires and the
//! stream's retry publishes again: at least once then, never lost, and subscribers drop a
//! `notificationId` they have seen. A failure fails the record (the stream retries from it;
//! after the retries it goes to the notification-failures queue).

use aws_sdk_sns::types::MessageAttributeValue;
use infra_model::contract::messages::CustomerNotification;
use infra_model::contract::tables::orders::OrderRecord;
use infra_model::decl::TopicArn;
pub use order_aws::aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
pub use order_aws::aws_lambda_events::event::streams::DynamoDbEventResponse;
use order_aws::idempotency::{Claim, IdempotencyStore};
use order_aws::item::from_image;
use order_aws::lambda::stream_failures;
use serde_json::Value;
use tracing::{error, info, warn};

/// Publishes notifications to the bound topic.
#[derive(Clone, Debug)]
pub struct Notifications {
    client: aws_sdk_sns::Client,
    topic: TopicArn<CustomerNotification>,
}

impl Notifications {
    pub fn new(client: aws_sdk_sns::Client, topic: TopicArn<CustomerNotification>) -> Notifications {
        Notifications { client, topic }
    }

    /// Publishes one notification, with its id and status as message attributes (for
    /// subscription filter policies).
    pub async fn publish(&self, n: &CustomerNotification) -> Result<String, String> {
        let attribute = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| e.to_string())
        };
        let out = self
            .client
            .publish()
            .topic_arn(self.topic.as_str())
            .message(serde_json::to_string(n).map_err(|e| e.to_string())?)
            .message_attributes("notificationId", attribute(&n.notification_id)?)
            .message_attributes("status", attribute(n.status.as_str())?)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Publish to {}: {}",
                    self.topic,
                    aws_sdk_sns::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// What the handler uses, built once per process.
pub struct Notifier {
    pub notifications: Notifications,
    pub idempotency: IdempotencyStore,
}

/// What happened to one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Skipped(&'static str),
    Published(String),
    AlreadyPublished,
}

/// The notification of an order in a final status, from its record.
pub fn notification_of(order: &OrderRecord) -> CustomerNotification {
    let at = order
        .status_history
        .iter()
        .rev()
        .find(|c| c.status == order.status)
        .map_or_else(|| order.updated_at.clone(), |c| c.at.clone());
    CustomerNotification {
        notification_id: CustomerNotification::id_of(&order.order_id, order.status),
        order_id: order.order_id.clone(),
        status: order.status,
        reason: order.status_reason.clone(),
        customer_email: order.customer_email.clone(),
        customer_name: order.customer_name.clone(),
        tracking_number: order.shipping.as_ref().map(|s| s.tracking_number.clone()),
        at,
    }
}

/// A stream image (DynamoDB JSON) as an order; `None` when the record has no such image.
fn image(item: &impl serde::Serialize) -> Result<Option<OrderRecord>, String> {
    match serde_json::to_value(item) {
        Ok(Value::Object(image)) if image.is_empty() => Ok(None),
        Ok(Value::Object(image)) => from_image(&image)
            .map(Some)
            .map_err(|e| format!("the image is not an order: {e}")),
        _ => Err("the image is not a DynamoDB item".into()),
    }
}

impl Notifier {
    /// Notifies for every record; on a failure, stops and reports that record, so the stream
    /// retries from it.
    pub async fn handle(&self, event: StreamEvent, now_s: u64) -> DynamoDbEventResponse {
        for record in event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            match self.process(&record, now_s).await {
                Ok(outcome) => info!(sequence_number = %seq, ?outcome, "order change processed"),
                Err(e) => {
                    error!(sequence_number = %seq, error = %e, "notification failed; the stream retries from here");
                    return stream_failures([seq]);
                }
            }
        }
        stream_failures([])
    }

    async fn process(&self, record: &StreamRecord, now_s: u64) -> Result<Outcome, String> {
        let Some(order) = image(&record.change.new_image)? else {
            return Ok(Outcome::Skipped("no new image"));
        };
        let span = tracing::info_span!("order", order_id = %order.order_id);
        let _enter = span.enter();
        if !order.status.is_final() {
            return Ok(Outcome::Skipped("not a final status"));
        }
        if image(&record.change.old_image)?.is_some_and(|old| old.status == order.status) {
            return Ok(Outcome::Skipped("the status did not change"));
        }
        let n = notification_of(&order);
        let key = order_core::idempotency::record_key("notify", &n.notification_id);
        match self
            .idempotency
            .claim(&key, &n.notification_id, now_s)
            .await
            .map_err(|e| e.to_string())?
        {
            Claim::Claimed => {}
            Claim::Existing(r) if r.is_completed() => {
                info!(notification_id = %n.notification_id, "already published: a duplicate change record");
                return Ok(Outcome::AlreadyPublished);
            }
            Claim::Existing(_) => {
                return Err(format!(
                    "another attempt is publishing {} (its claim expires within {} s); retrying",
                    n.notification_id,
                    self.idempotency.claim_seconds()
                ));
            }
        }
        match self.notifications.publish(&n).await {
            Ok(message_id) => {
                if let Err(e) = self.idempotency.complete(&key, 200, &message_id).await {
                    // Published: a retry would publish again, which subscribers tolerate.
                    warn!(error = %e, "could not record the publication");
                }
                info!(notification_id = %n.notification_id, status = n.status.as_str(), message_id, "customer notified");
                Ok(Outcome::Published(message_id))
            }
            Err(e) => {
                if let Err(a) = self.idempotency.abandon(&key).await {
                    warn!(error = %a, "could not release the claim; it expires on its own");
                }
                Err(e)
            }
        }
    }
}

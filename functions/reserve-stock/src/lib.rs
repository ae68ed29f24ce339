//! New orders arrive from the orders table's stream (INSERT records only: the mapping filters
//! the rest). For each, the stock of all its SKUs is reserved in one transaction with
//! conditions (`stock >= quantity`) that also moves the order PENDING → RESERVED; a refused
//! condition moves it to REJECTED with the reason. Reserved orders go to the order-events queue.
//!
//! Exactly once: the transaction only runs while the order is PENDING, so a duplicate record
//! reserves nothing. At least once for the queue: when a retry finds the order RESERVED already
//! (the message may not have been sent), the message is sent again; the consumer is idempotent.
//! On an error the batch stops at that record and reports it, so the stream retries from there
//! and, after the mapping's retries, the record goes to the failure queue: nothing is dropped.

use infra_model::contract::api::OrderStatus;
use infra_model::contract::messages::OrderReserved;
use infra_model::contract::metrics::Metric;
pub use order_aws::aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
pub use order_aws::aws_lambda_events::event::streams::DynamoDbEventResponse;
use order_aws::item::from_image;
use order_aws::lambda::stream_failures;
use order_aws::messaging::OrderEvents;
use order_aws::orders::{OrderRecord, OrderStore, ReserveRefusal, Transition};
use order_aws::telemetry;
use order_core::lifecycle::{self, plan_transition};
use order_core::reservation::ReservationPlan;
use serde_json::Value;
use tracing::{error, info, warn};

/// What the handler uses, built once per process.
pub struct Reserver {
    pub orders: OrderStore,
    pub events: OrderEvents,
    pub environment: String,
}

/// What happened to one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Skipped(&'static str),
    Reserved,
    Requeued,
    Rejected(String),
}

impl Reserver {
    pub async fn handle(
        &self,
        event: StreamEvent,
        now: &(dyn Fn() -> String + Sync),
    ) -> DynamoDbEventResponse {
        for record in event.records {
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            match self.process(record, &now()).await {
                Ok(outcome) => info!(sequence_number = %seq, ?outcome, "order event processed"),
                Err(e) => {
                    error!(sequence_number = %seq, error = %e, "order event failed; the stream retries from here");
                    // A stream is ordered: report the first failure and stop, so the retry
                    // starts at this record and nothing after it is processed twice.
                    return stream_failures([seq]);
                }
            }
        }
        stream_failures([])
    }

    async fn process(&self, record: StreamRecord, now: &str) -> Result<Outcome, String> {
        if record.event_name != "INSERT" {
            return Ok(Outcome::Skipped("not a new order"));
        }
        if record.change.new_image.is_empty() {
            return Err("an INSERT record without a new image".into());
        }
        let image = match serde_json::to_value(&record.change.new_image) {
            Ok(Value::Object(image)) => image,
            _ => return Err("the new image is not a DynamoDB item".into()),
        };
        let order: OrderRecord =
            from_image(&image).map_err(|e| format!("the new image is not an order: {e}"))?;
        let span = tracing::info_span!("order", order_id = %order.order_id);
        let _enter = span.enter();
        if plan_transition(order.status, OrderStatus::Reserved) != Ok(lifecycle::Transition::Apply) {
            return Ok(Outcome::Skipped("not pending"));
        }
        let lines = order.to_view().items;
        let plan = match ReservationPlan::from_lines(&lines) {
            Ok(plan) => plan,
            Err(e) => return self.reject(&order, &e.to_string(), now).await,
        };
        match self
            .orders
            .reserve(&order, plan.changes(), now)
            .await
            .map_err(|e| e.to_string())?
        {
            Ok(()) => {
                self.send(&order, now).await?;
                Ok(Outcome::Reserved)
            }
            Err(ReserveRefusal::NotPending) => {
                let current = self
                    .orders
                    .get(&order.order_id)
                    .await
                    .map_err(|e| e.to_string())?;
                match current {
                    Some(c) if c.status == OrderStatus::Reserved => {
                        warn!("order already reserved: sending its event again in case it was lost");
                        self.send(&c, now).await?;
                        Ok(Outcome::Requeued)
                    }
                    Some(c) if c.status == OrderStatus::Pending => {
                        // Refused although still PENDING: a conflict, not a duplicate. Retry.
                        Err("the reservation was refused while the order is still PENDING; retrying".into())
                    }
                    _ => Ok(Outcome::Skipped("already past reservation")),
                }
            }
            Err(ReserveRefusal::Stock { index, seen }) => match plan.failure_at(index, seen) {
                Some(failure) => self.reject(&order, &failure.reason(), now).await,
                None => Err("a stock condition failed although the stock was enough; retrying".into()),
            },
        }
    }

    async fn reject(&self, order: &OrderRecord, reason: &str, now: &str) -> Result<Outcome, String> {
        let t = self
            .orders
            .transition(&order.order_id, OrderStatus::Rejected, Some(reason), now, &[])
            .await
            .map_err(|e| e.to_string())?;
        match t {
            Transition::Done(_) => {
                telemetry::count(Metric::OrdersRejected, &self.environment);
                info!(reason, "order rejected");
                Ok(Outcome::Rejected(reason.to_owned()))
            }
            Transition::Refused(_) => Ok(Outcome::Skipped("no longer pending")),
        }
    }

    async fn send(&self, order: &OrderRecord, now: &str) -> Result<(), String> {
        self.events
            .send_reserved(&OrderReserved {
                order_id: order.order_id.clone(),
                total: infra_model::contract::money::Money::from_cents(order.total_cents),
                reserved_at: now.to_owned(),
            })
            .await
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    order_core::time::format_timestamp(ms).unwrap_or_default()
}

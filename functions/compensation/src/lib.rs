//! Compensation: after payment or shipping failed, releases the order's reserved stock and
//! marks it FAILED with the reason, in one transaction that only runs once (the order must be
//! RESERVED or PAID and not released yet). A retried or duplicate invocation releases nothing
//! twice.

use infra_model::contract::api::OrderStatus;
use infra_model::contract::messages::{CompensationInput, errors};
use infra_model::contract::metrics::Metric;
use order_aws::lambda::TaskError;
use order_aws::orders::OrderStore;
use order_aws::telemetry;
use order_core::lifecycle::is_duplicate;
use order_core::reservation::ReservationPlan;
use serde::Serialize;
use tracing::{info, warn};

pub struct Compensation {
    pub orders: OrderStore,
    pub environment: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compensated {
    pub order_id: String,
    /// Whether this invocation released the stock (false: it was released before).
    pub released: bool,
    pub reason: String,
}

/// The order's FAILED reason from the workflow's failure: the task's own message when the
/// cause is a Lambda error document, else the cause as it is.
pub fn failure_reason(error: &str, cause: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned());
    let message = message.trim();
    let what = match error {
        errors::PAYMENT_DECLINED => "payment declined",
        errors::PAYMENT_UNAVAILABLE => "payment gateway unavailable after retries",
        errors::SHIPPING_REJECTED => "shipping rejected",
        errors::SHIPPING_UNAVAILABLE => "carrier unavailable after retries",
        "States.Timeout" => "a step timed out",
        _ => "the order workflow failed",
    };
    if message.is_empty() || message.starts_with(what) {
        if message.is_empty() {
            what.to_owned()
        } else {
            message.to_owned()
        }
    } else {
        format!("{what}: {message}")
    }
}

impl Compensation {
    pub async fn handle(&self, input: CompensationInput, now: &str) -> Result<Compensated, TaskError> {
        let span = tracing::info_span!("order", order_id = %input.order_id);
        let _enter = span.enter();
        let reason = failure_reason(&input.failure.error, &input.failure.cause);
        let order = self
            .orders
            .get(&input.order_id)
            .await
            .map_err(|e| TaskError::store(&e))?
            .ok_or_else(|| {
                TaskError::new(
                    errors::ORDER_STATE_CONFLICT,
                    format!("order {} does not exist", input.order_id),
                )
            })?;
        let plan = ReservationPlan::from_lines(&order.to_view().items)
            .map_err(|e| TaskError::internal(e.to_string()))?;
        let released = self
            .orders
            .release(&order, plan.changes(), &reason, now)
            .await
            .map_err(|e| TaskError::store(&e))?;
        if released {
            telemetry::count(Metric::OrdersFailed, &self.environment);
            info!(reason, "stock released, order failed");
        } else {
            let current = self
                .orders
                .get(&input.order_id)
                .await
                .map_err(|e| TaskError::store(&e))?;
            match current.map(|c| c.status) {
                Some(status) if is_duplicate(status, OrderStatus::Failed) => {
                    warn!("already compensated: nothing released twice")
                }
                Some(other) => {
                    return Err(TaskError::new(
                        errors::ORDER_STATE_CONFLICT,
                        format!(
                            "order {} is {}: nothing to compensate",
                            input.order_id,
                            other.as_str()
                        ),
                    ));
                }
                None => return Err(TaskError::internal("the order disappeared")),
            }
        }
        Ok(Compensated {
            order_id: input.order_id,
            released,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_from_the_tasks_message() {
        let cause = r#"{"errorType":"PaymentDeclined","errorMessage":"payment declined: the card issuer declined the charge"}"#;
        assert_eq!(
            failure_reason("PaymentDeclined", cause),
            "payment declined: the card issuer declined the charge"
        );
        assert_eq!(
            failure_reason(
                "ShippingRejected",
                r#"{"errorMessage":"we do not ship to Atlantis"}"#
            ),
            "shipping rejected: we do not ship to Atlantis"
        );
        assert_eq!(failure_reason("States.Timeout", ""), "a step timed out");
        assert_eq!(
            failure_reason("Boom", "plain text"),
            "the order workflow failed: plain text"
        );
    }
}

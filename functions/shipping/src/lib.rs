//! The shipping task: for a PAID order, chooses the carrier, gets a tracking number and an
//! estimated delivery date, and moves the order to SHIPPED. `ShippingRejected` is final;
//! `ShippingUnavailable` is retried by the workflow. Idempotent like payment.

use infra_model::contract::api::{OrderStatus, ShippingInfo};
use infra_model::contract::messages::{ShippingResult, errors};
use infra_model::contract::metrics::Metric;
use infra_model::contract::money::Money;
use infra_model::contract::tables::orders as t;
use order_aws::item::to_attr;
use order_aws::lambda::{TaskError, TaskInput};
use order_aws::orders::{self, OrderStore};
use order_aws::telemetry;
use order_core::lifecycle::{Transition, plan_transition};
use order_core::shipping::arrange_shipment;
use order_core::time::Date;
use tracing::info;

pub struct Shipping {
    pub orders: OrderStore,
    pub environment: String,
}

fn result_of(s: &ShippingInfo) -> ShippingResult {
    ShippingResult {
        carrier: s.carrier.clone(),
        tracking_number: s.tracking_number.clone(),
        estimated_delivery: s.estimated_delivery.clone(),
    }
}

impl Shipping {
    pub async fn handle(
        &self,
        input: TaskInput,
        now: &str,
        now_ms: i64,
    ) -> Result<ShippingResult, TaskError> {
        let span = tracing::info_span!("order", order_id = %input.order_id);
        let _enter = span.enter();
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
        match (
            plan_transition(order.status, OrderStatus::Shipped),
            &order.shipping,
        ) {
            (Ok(Transition::Apply), _) => {}
            (Ok(Transition::Duplicate), Some(s)) => {
                info!("already shipped: answering the recorded shipment");
                return Ok(result_of(s));
            }
            (_, _) => {
                let other = order.status;
                return Err(TaskError::new(
                    errors::ORDER_STATE_CONFLICT,
                    format!(
                        "order {} is {}, not PAID: nothing to ship",
                        order.order_id,
                        other.as_str()
                    ),
                ));
            }
        }
        let today = Date::from_epoch_millis(now_ms).map_err(|e| TaskError::internal(e.to_string()))?;
        let shipment = arrange_shipment(
            &order.order_id,
            &order.shipping_address,
            Money::from_cents(order.total_cents),
            &order.customer_email,
            input.retry_count,
            today,
        )
        .map_err(|e| TaskError::new(e.error_type(), e.to_string()))?;
        let info = ShippingInfo {
            carrier: shipment.carrier.clone(),
            tracking_number: shipment.tracking_number.clone(),
            estimated_delivery: shipment.estimated_delivery.clone(),
            shipped_at: now.to_owned(),
        };
        let value = to_attr(&serde_json::to_value(&info).map_err(|e| TaskError::internal(e.to_string()))?);
        match self
            .orders
            .transition(
                &order.order_id,
                OrderStatus::Shipped,
                None,
                now,
                &[(t::SHIPPING, value)],
            )
            .await
            .map_err(|e| TaskError::store(&e))?
        {
            orders::Transition::Done(_) => {
                telemetry::count(Metric::OrdersShipped, &self.environment);
                info!(carrier = %info.carrier, tracking_number = %info.tracking_number, "order shipped");
                Ok(shipment)
            }
            orders::Transition::Refused(current) => match current.and_then(|c| c.shipping) {
                Some(s) => Ok(result_of(&s)),
                None => Err(TaskError::new(
                    errors::ORDER_STATE_CONFLICT,
                    "the order left PAID while it was being shipped",
                )),
            },
        }
    }
}

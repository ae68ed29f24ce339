//! The payment task: charges a RESERVED order through the (mock) gateway and moves it to PAID.
//! A decline raises `PaymentDeclined` (final); an unavailable gateway raises
//! `PaymentGatewayUnavailable`, which the workflow retries. Idempotent: an order already PAID
//! (a retried or duplicate invocation) answers its recorded transaction and charges nothing.

use std::time::Instant;

use infra_model::contract::api::OrderStatus;
use infra_model::contract::messages::{PaymentResult, errors};
use infra_model::contract::metrics::Metric;
use infra_model::contract::money::Money;
use infra_model::contract::tables::orders as t;
use order_aws::item::to_attr;
use order_aws::lambda::{TaskError, TaskInput};
use order_aws::orders::{self, OrderStore, PaymentRecord};
use order_aws::telemetry;
use order_core::lifecycle::{Transition, plan_transition};
use order_core::payment::{FailureRates, charge};
use tracing::info;

pub struct Payments {
    pub orders: OrderStore,
    pub rates: FailureRates,
    pub environment: String,
}

/// The simulated failure rates from the environment (percent, 0 when unset or invalid).
pub fn rates_from_env() -> FailureRates {
    use infra_model::system::functions::config;
    let percent =
        |c: &infra_model::decl::Config| c.read().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    FailureRates::new(
        percent(&config::PAYMENT_DECLINE_PERCENT),
        percent(&config::PAYMENT_UNAVAILABLE_PERCENT),
    )
    .unwrap_or(FailureRates::NONE)
}

impl Payments {
    pub async fn handle(&self, input: TaskInput, now: &str, random: f64) -> Result<PaymentResult, TaskError> {
        let span = tracing::info_span!("order", order_id = %input.order_id);
        let _enter = span.enter();
        let started = Instant::now();
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
        match (plan_transition(order.status, OrderStatus::Paid), &order.payment) {
            (Ok(Transition::Apply), _) => {}
            (Ok(Transition::Duplicate), Some(payment)) => {
                info!("already paid: answering the recorded transaction");
                return Ok(PaymentResult {
                    transaction_id: payment.transaction_id.clone(),
                });
            }
            (_, _) => {
                let other = order.status;
                return Err(TaskError::new(
                    errors::ORDER_STATE_CONFLICT,
                    format!(
                        "order {} is {}, not RESERVED: nothing to charge",
                        order.order_id,
                        other.as_str()
                    ),
                ));
            }
        }
        let amount = Money::from_cents(order.total_cents);
        let transaction_id = charge(
            &order.order_id,
            amount,
            order.payment_method,
            &order.customer_email,
            input.retry_count,
            self.rates,
            random,
        )
        .map_err(|e| {
            info!(error = %e, retry_count = input.retry_count, "payment failed");
            TaskError::new(e.error_type(), e.to_string())
        })?;
        let payment = PaymentRecord {
            transaction_id: transaction_id.clone(),
            method: order.payment_method,
            amount_cents: amount.cents(),
            paid_at: now.to_owned(),
        };
        let payment =
            to_attr(&serde_json::to_value(&payment).map_err(|e| TaskError::internal(e.to_string()))?);
        let moved = self
            .orders
            .transition(
                &order.order_id,
                OrderStatus::Paid,
                None,
                now,
                &[(t::PAYMENT, payment)],
            )
            .await
            .map_err(|e| TaskError::store(&e))?;
        match moved {
            orders::Transition::Done(_) => {
                telemetry::count(Metric::OrdersPaid, &self.environment);
                telemetry::metric(
                    Metric::PaymentLatency,
                    started.elapsed().as_secs_f64() * 1000.0,
                    &self.environment,
                );
                info!(transaction_id, "order paid");
                Ok(PaymentResult { transaction_id })
            }
            orders::Transition::Refused(current) => match current.and_then(|c| c.payment) {
                Some(p) => Ok(PaymentResult {
                    transaction_id: p.transaction_id,
                }),
                None => Err(TaskError::new(
                    errors::ORDER_STATE_CONFLICT,
                    "the order left RESERVED while it was being paid",
                )),
            },
        }
    }
}

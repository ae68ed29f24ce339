//! Payment (a mock of a payment gateway): [`charge`] takes the money or says why not, the same
//! way every time for the same inputs.
//!
//! What decides, in this order:
//!
//! | condition                                        | result                                      |
//! |--------------------------------------------------|---------------------------------------------|
//! | the amount is 0.00                               | `Declined` (nothing to charge)               |
//! | e-mail tag `+down`                               | `Unavailable`, on every attempt              |
//! | e-mail tag `+flaky` and `retry_count < 2`        | `Unavailable` (the third attempt succeeds)   |
//! | e-mail tag `+decline`                            | `Declined`                                   |
//! | `random < decline`                               | `Declined` (simulated decline rate)          |
//! | `random < decline + unavailable`                 | `Unavailable` (simulated outage rate)        |
//! | otherwise                                        | `Ok(transaction id)`                         |
//!
//! The tags are those of [`crate::triggers`]; the rates are a per-environment setting
//! ([`FailureRates`], zero unless set) and `random` is the caller's number in `[0, 1)`.
//! The transaction id is `txn_` and 24 hex digits of SHA-256 of the order id: a retried charge
//! of the same order has the same id, as a real gateway's idempotency key would give.

use infra_model::contract::api::PaymentMethod;
use infra_model::contract::messages::errors;
use infra_model::contract::money::Money;

use crate::hash::sha256;
use crate::triggers::{FLAKY_FAILURES, Triggers};

/// The share of charges the mock declines and fails as unavailable, each in `[0, 1]`, together
/// at most 1. Both are 0 by default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FailureRates {
    decline: f64,
    unavailable: f64,
}

/// Why failure rates are not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failure rates must each be between 0 and 1 and add up to at most 1")]
pub struct FailureRatesError;

impl FailureRates {
    pub const NONE: FailureRates = FailureRates {
        decline: 0.0,
        unavailable: 0.0,
    };

    pub fn new(decline: f64, unavailable: f64) -> Result<FailureRates, FailureRatesError> {
        let ok = |r: f64| (0.0..=1.0).contains(&r);
        if ok(decline) && ok(unavailable) && decline + unavailable <= 1.0 {
            Ok(FailureRates { decline, unavailable })
        } else {
            Err(FailureRatesError)
        }
    }

    pub fn decline(self) -> f64 {
        self.decline
    }

    pub fn unavailable(self) -> f64 {
        self.unavailable
    }
}

/// Why a charge did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Final: the workflow does not retry; it compensates (releases stock, order FAILED).
    #[error("payment declined: {0}")]
    Declined(String),
    /// The gateway did not answer: the workflow retries.
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
}

impl PaymentError {
    /// The Lambda error type the workflow's Retry and Catch match on.
    pub fn error_type(&self) -> &'static str {
        match self {
            PaymentError::Declined(_) => errors::PAYMENT_DECLINED,
            PaymentError::Unavailable(_) => errors::PAYMENT_UNAVAILABLE,
        }
    }
}

/// The transaction id of an order's payment: `txn_` + 24 hex digits.
pub fn transaction_id(order_id: &str) -> String {
    let h = sha256(format!("payment:{order_id}").as_bytes());
    format!("txn_{}", hex::encode(&h[..12]))
}

fn declined_by(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Card => "the card issuer declined the charge",
        PaymentMethod::Paypal => "PayPal declined the payment",
        PaymentMethod::BankTransfer => "the bank refused the transfer",
    }
}

/// Charges `amount` for an order (see the module's table for what decides). `retry_count` is
/// the workflow's count of earlier attempts of this step; `random` is in `[0, 1)`.
pub fn charge(
    order_id: &str,
    amount: Money,
    method: PaymentMethod,
    customer_email: &str,
    retry_count: u32,
    failure_rates: FailureRates,
    random: f64,
) -> Result<String, PaymentError> {
    if amount == Money::ZERO {
        return Err(PaymentError::Declined(
            "nothing to charge: the amount is 0.00".into(),
        ));
    }
    let triggers = Triggers::from_email(customer_email);
    if triggers.down {
        return Err(PaymentError::Unavailable(
            "the gateway is down (test trigger +down)".into(),
        ));
    }
    if triggers.flaky && retry_count < FLAKY_FAILURES {
        return Err(PaymentError::Unavailable(format!(
            "the gateway timed out (test trigger +flaky, attempt {} of {})",
            retry_count + 1,
            FLAKY_FAILURES + 1
        )));
    }
    if triggers.decline {
        return Err(PaymentError::Declined(format!(
            "{} (test trigger +decline)",
            declined_by(method)
        )));
    }
    if random < failure_rates.decline {
        return Err(PaymentError::Declined(format!(
            "{} (simulated decline rate {})",
            declined_by(method),
            failure_rates.decline
        )));
    }
    if random < failure_rates.decline + failure_rates.unavailable {
        return Err(PaymentError::Unavailable(format!(
            "the gateway timed out (simulated outage rate {})",
            failure_rates.unavailable
        )));
    }
    Ok(transaction_id(order_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMOUNT: Money = Money::from_cents(4_999);

    fn pay(email: &str, retry: u32) -> Result<String, PaymentError> {
        charge(
            "o-1",
            AMOUNT,
            PaymentMethod::Card,
            email,
            retry,
            FailureRates::NONE,
            0.0,
        )
    }

    #[test]
    fn a_plain_customer_is_charged_with_a_stable_id() {
        let id = pay("ann@example.com", 0).unwrap();
        assert_eq!(id, transaction_id("o-1"));
        assert_eq!(id.len(), 4 + 24);
        assert!(id.starts_with("txn_"));
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(pay("ann@example.com", 2).unwrap(), id);
        assert_ne!(transaction_id("o-2"), id);
    }

    #[test]
    fn decline_trigger() {
        let err = pay("ann+decline@example.com", 0).unwrap_err();
        assert_eq!(
            err,
            PaymentError::Declined("the card issuer declined the charge (test trigger +decline)".into())
        );
        assert_eq!(err.error_type(), "PaymentDeclined");
        let err = charge(
            "o",
            AMOUNT,
            PaymentMethod::Paypal,
            "a+decline@b.co",
            0,
            FailureRates::NONE,
            0.5,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "payment declined: PayPal declined the payment (test trigger +decline)"
        );
    }

    #[test]
    fn flaky_trigger_succeeds_on_the_third_attempt() {
        for retry in 0..2 {
            let err = pay("ann+flaky@example.com", retry).unwrap_err();
            assert_eq!(err.error_type(), "PaymentGatewayUnavailable");
            assert_eq!(
                err.to_string(),
                format!(
                    "payment gateway unavailable: the gateway timed out (test trigger +flaky, attempt {} of 3)",
                    retry + 1
                )
            );
        }
        assert_eq!(pay("ann+flaky@example.com", 2), Ok(transaction_id("o-1")));
        // Flaky first, then declined: the decline is told once the gateway answers.
        assert!(matches!(
            pay("a+flaky+decline@b.co", 0),
            Err(PaymentError::Unavailable(_))
        ));
        assert!(matches!(
            pay("a+flaky+decline@b.co", 2),
            Err(PaymentError::Declined(_))
        ));
    }

    #[test]
    fn down_trigger_never_succeeds() {
        for retry in [0, 1, 2, 3, 100] {
            assert!(matches!(
                pay("ann+down@example.com", retry),
                Err(PaymentError::Unavailable(_))
            ));
        }
        assert!(matches!(
            pay("a+decline+down@b.co", 0),
            Err(PaymentError::Unavailable(_))
        ));
    }

    #[test]
    fn shipping_triggers_do_not_touch_payment() {
        assert!(pay("ann+noship@example.com", 0).is_ok());
        assert!(pay("ann+shipflaky@example.com", 0).is_ok());
    }

    #[test]
    fn zero_amount_is_declined() {
        let err = charge(
            "o",
            Money::ZERO,
            PaymentMethod::Card,
            "a@b.co",
            0,
            FailureRates::NONE,
            0.9,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PaymentError::Declined("nothing to charge: the amount is 0.00".into())
        );
    }

    #[test]
    fn random_rates() {
        let rates = FailureRates::new(0.1, 0.2).unwrap();
        let at = |r: f64| charge("o", AMOUNT, PaymentMethod::BankTransfer, "a@b.co", 0, rates, r);
        assert_eq!(
            at(0.0).unwrap_err().to_string(),
            "payment declined: the bank refused the transfer (simulated decline rate 0.1)"
        );
        assert!(matches!(at(0.099), Err(PaymentError::Declined(_))));
        assert!(matches!(at(0.1), Err(PaymentError::Unavailable(_))));
        assert!(matches!(at(0.299), Err(PaymentError::Unavailable(_))));
        assert!(at(0.300_001).is_ok());
        assert!(at(0.999).is_ok());
        // With the default rates nothing fails, whatever the random number.
        for r in [0.0, 0.5, 0.999_999] {
            assert!(
                charge(
                    "o",
                    AMOUNT,
                    PaymentMethod::Card,
                    "a@b.co",
                    0,
                    FailureRates::default(),
                    r
                )
                .is_ok()
            );
        }
        // Over many draws, the shares are the rates.
        let mut x: u64 = 1;
        let (mut declined, mut unavailable) = (0, 0);
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            match at((x >> 11) as f64 / (1u64 << 53) as f64) {
                Err(PaymentError::Declined(_)) => declined += 1,
                Err(PaymentError::Unavailable(_)) => unavailable += 1,
                Ok(_) => {}
            }
        }
        assert!((900..1100).contains(&declined), "{declined}");
        assert!((1800..2200).contains(&unavailable), "{unavailable}");
    }

    #[test]
    fn failure_rates_are_checked() {
        assert!(FailureRates::new(0.0, 0.0).is_ok());
        assert!(FailureRates::new(1.0, 0.0).is_ok());
        assert!(FailureRates::new(0.5, 0.5).is_ok());
        for (d, u) in [
            (-0.1, 0.0),
            (0.0, 1.1),
            (0.6, 0.5),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert_eq!(FailureRates::new(d, u), Err(FailureRatesError), "{d} {u}");
        }
        assert_eq!(FailureRates::default(), FailureRates::NONE);
    }
}

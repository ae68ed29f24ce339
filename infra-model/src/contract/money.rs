//! Money as integer minor units (cents). Never a binary float in arithmetic or storage.
//!
//! On the wire a price is a JSON number such as `19.99`. JSON parsers hand numbers over as
//! `f64`; the exact decimal the client wrote is recovered from the shortest representation
//! that round-trips (`19.99`, never `19.989999…`), then parsed as a decimal. That is exact for
//! every amount up to 15 significant digits, which bounds what we accept anyway.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount accepted: 10 million in major units.
pub const MAX_MONEY_CENTS: u64 = 1_000_000_000;

/// A non-negative amount of money in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

/// Why a text or number is not an amount of money.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a number such as 19.99")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most 2 decimal places")]
    TooPrecise,
    #[error("must be at most 10000000.00")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_cents(cents: u64) -> Money {
        Money(cents)
    }

    pub const fn cents(self) -> u64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_mul(self, quantity: u64) -> Option<Money> {
        self.0.checked_mul(quantity).map(Money)
    }

    /// Parses a decimal such as `19.99`, `5`, `0.5`.
    pub fn parse_decimal(s: &str) -> Result<Money, MoneyError> {
        let s = s.trim();
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        // Accept exponent-free decimals only (`1e2` is not how anyone writes a price).
        let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
            return Err(MoneyError::NotANumber);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::TooLarge)?
        };
        let frac_cents: u64 = format!("{frac:0<2}")
            .parse()
            .map_err(|_| MoneyError::NotANumber)?;
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents))
            .ok_or(MoneyError::TooLarge)?;
        if cents > MAX_MONEY_CENTS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(cents))
    }

    /// The amount from a JSON number (see the module docs for why this is exact).
    pub fn from_f64(v: f64) -> Result<Money, MoneyError> {
        if !v.is_finite() {
            return Err(MoneyError::NotANumber);
        }
        if v < 0.0 {
            return Err(MoneyError::Negative);
        }
        if v > (MAX_MONEY_CENTS / 100) as f64 {
            return Err(MoneyError::TooLarge);
        }
        match Money::parse_decimal(&format!("{v}")) {
            Err(MoneyError::TooPrecise) => Money::from_f64_product(v).ok_or(MoneyError::TooPrecise),
            other => other,
        }
    }

    /// A whole number of cents that binary floating point computed with a rounding error:
    /// `57 * 0.01` is `0.5700000000000001`, not `0.57`. Accepted when it is within a few units
    /// in the last place of the nearest cent (what a multiplication or a sum of two amounts
    /// can be off by), so a client, or a fuzzer, that computes `multipleOf: 0.01` values in
    /// floating point is not refused; `19.999` is far from any cent and still is.
    fn from_f64_product(v: f64) -> Option<Money> {
        let cents = (v * 100.0).round();
        let nearest = cents / 100.0;
        let ulp = f64::EPSILON * v.abs().max(f64::MIN_POSITIVE);
        ((v - nearest).abs() <= 4.0 * ulp).then_some(Money(cents as u64))
    }

    /// The value as a JSON number: `cents / 100` is correctly rounded, so its shortest
    /// representation is exactly the decimal (`1999` cents prints as `19.99`).
    fn as_json_number(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        Money::parse_decimal(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(100) {
            s.serialize_u64(self.0 / 100)
        } else {
            s.serialize_f64(self.as_json_number())
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of money such as 19.99")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                v.checked_mul(100)
                    .filter(|c| *c <= MAX_MONEY_CENTS)
                    .map(Money)
                    .ok_or_else(|| E::custom(MoneyError::TooLarge))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(MoneyError::Negative)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                Money::from_f64(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Money {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "number",
            "minimum": 0,
            "maximum": MAX_MONEY_CENTS / 100,
            "description": "An amount with at most 2 decimal places"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(Money::parse_decimal("19.99").unwrap().cents(), 1999);
        assert_eq!(Money::parse_decimal("5").unwrap().cents(), 500);
        assert_eq!(Money::parse_decimal("0.5").unwrap().cents(), 50);
        assert_eq!(Money::parse_decimal(".05").unwrap().cents(), 5);
        assert_eq!(Money::parse_decimal("1.10").unwrap().cents(), 110);
        assert_eq!(Money::parse_decimal("1.100").unwrap().cents(), 110);
        assert_eq!(Money::parse_decimal("1.999"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse_decimal("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse_decimal("1e3"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse_decimal("."), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse_decimal("10000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse_decimal("99999999999999999999999"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn json_numbers_round_trip_without_float_error() {
        for text in ["19.99", "0.01", "0.1", "1234567.89", "999.99", "0.07", "100"] {
            let m: Money = serde_json::from_str(text).unwrap();
            assert_eq!(m, Money::parse_decimal(text).unwrap(), "{text}");
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                text.trim_end_matches(".0"),
                "{text}"
            );
        }
        // 0.1 + 0.2 in f64 is 0.30000000000000004; in cents it is exact.
        let a: Money = serde_json::from_str("0.1").unwrap();
        let b: Money = serde_json::from_str("0.2").unwrap();
        assert_eq!(serde_json::to_string(&a.checked_add(b).unwrap()).unwrap(), "0.3");
    }

    #[test]
    fn float_rounding_errors_are_not_extra_decimals() {
        for (text, cents) in [
            ("0.5700000000000001", 57),
            ("0.30000000000000004", 30),
            ("1.1500000000000001", 115),
        ] {
            let m: Money = serde_json::from_str(text).unwrap();
            assert_eq!(m.cents(), cents, "{text}");
        }
        for k in 1..10_000u64 {
            let m: Money = serde_json::from_str(&(k as f64 * 0.01).to_string()).unwrap();
            assert_eq!(m.cents(), k);
        }
        for text in ["19.999", "0.005", "19.990000001", "1.2345"] {
            assert!(serde_json::from_str::<Money>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn json_rejects_negative_too_precise_and_non_numbers() {
        for (text, msg) in [
            ("-1.5", "must not be negative"),
            ("19.999", "at most 2 decimal places"),
            ("\"19.99\"", "an amount of money"),
            ("1e12", "at most 10000000.00"),
        ] {
            let err = serde_json::from_str::<Money>(text).unwrap_err().to_string();
            assert!(err.contains(msg), "{text}: {err}");
        }
    }

    #[test]
    fn displays_with_two_decimals() {
        assert_eq!(Money::from_cents(1999).to_string(), "19.99");
        assert_eq!(Money::from_cents(5).to_string(), "0.05");
        assert_eq!(Money::from_cents(100).to_string(), "1.00");
    }
}

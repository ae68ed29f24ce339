//! Shipping (a mock of a carrier integration): where we ship, which carrier takes a parcel,
//! its tracking number and the estimated delivery date.
//!
//! **Where we ship**: the countries of [`Country`] (the United States, where the shop is,
//! Canada, Mexico, 18 European countries and 6 in Asia-Pacific). Orders to other countries are
//! refused when they are placed ([`crate::requests`]); the shipping step checks again, so an
//! order stored before a country was dropped is rejected, not shipped.
//!
//! **Which carrier** ([`choose_carrier`]), and the transit time in business days:
//!
//! | destination              | order total          | carrier         | business days |
//! |--------------------------|----------------------|-----------------|---------------|
//! | United States            | below 100.00         | UPS Ground      | 5             |
//! | United States            | 100.00 or more       | FedEx Express   | 2             |
//! | Canada, Mexico           | any                  | DHL Express     | 4             |
//! | Europe                   | any                  | DHL Express     | 5             |
//! | Asia-Pacific             | any                  | DHL Express     | 6             |
//!
//! The estimate counts business days (Monday to Friday, public holidays not known) from the
//! day the parcel is handed over (see [`Date::add_business_days`]).
//!
//! **Tracking numbers** are in each carrier's format with its check digit, and deterministic
//! from the order id (a retried shipping step gets the same number):
//! UPS `1Z` + shipper `ORD3R5` + service `03` + 7 digits + check digit (18 characters);
//! FedEx Express 11 digits + check digit (weights 1, 3, 7 from the right, modulo 11);
//! DHL Express 9 digits + check digit (the number modulo 7).
//!
//! **Rejections** ([`ShippingError::Rejected`], final) are an unsupported country and the test
//! trigger `+noship`; [`ShippingError::Unavailable`] (retried) is the trigger `+shipflaky`
//! (see [`crate::triggers`]).

use infra_model::contract::api::ShippingAddress;
use infra_model::contract::messages::{ShippingResult, errors};
use infra_model::contract::money::Money;

use crate::hash::sha256;
use crate::text::clean_text;
use crate::time::Date;
use crate::triggers::{FLAKY_FAILURES, Triggers};

/// Where a country is, for carriers and transit times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    Domestic,
    NorthAmerica,
    Europe,
    AsiaPacific,
}

/// A country we ship to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Country {
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub code: &'static str,
    /// ISO 3166-1 alpha-3, e.g. `USA`.
    pub code3: &'static str,
    /// The English name.
    pub name: &'static str,
    pub zone: Zone,
}

/// (alpha-2, alpha-3, zone, English names: the first is the official one).
const COUNTRIES: &[(&str, &str, Zone, &[&str])] = &[
    (
        "US",
        "USA",
        Zone::Domestic,
        &["United States", "United States of America", "America"],
    ),
    ("CA", "CAN", Zone::NorthAmerica, &["Canada"]),
    ("MX", "MEX", Zone::NorthAmerica, &["Mexico"]),
    (
        "GB",
        "GBR",
        Zone::Europe,
        &[
            "United Kingdom",
            "UK",
            "Great Britain",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
        ],
    ),
    ("IE", "IRL", Zone::Europe, &["Ireland"]),
    ("DE", "DEU", Zone::Europe, &["Germany"]),
    ("FR", "FRA", Zone::Europe, &["France"]),
    ("ES", "ESP", Zone::Europe, &["Spain"]),
    ("IT", "ITA", Zone::Europe, &["Italy"]),
    (
        "NL",
        "NLD",
        Zone::Europe,
        &["Netherlands", "The Netherlands", "Holland"],
    ),
    ("BE", "BEL", Zone::Europe, &["Belgium"]),
    ("LU", "LUX", Zone::Europe, &["Luxembourg"]),
    ("AT", "AUT", Zone::Europe, &["Austria"]),
    ("CH", "CHE", Zone::Europe, &["Switzerland"]),
    ("PT", "PRT", Zone::Europe, &["Portugal"]),
    ("SE", "SWE", Zone::Europe, &["Sweden"]),
    ("NO", "NOR", Zone::Europe, &["Norway"]),
    ("DK", "DNK", Zone::Europe, &["Denmark"]),
    ("FI", "FIN", Zone::Europe, &["Finland"]),
    ("PL", "POL", Zone::Europe, &["Poland"]),
    ("CZ", "CZE", Zone::Europe, &["Czechia", "Czech Republic"]),
    ("JP", "JPN", Zone::AsiaPacific, &["Japan"]),
    (
        "KR",
        "KOR",
        Zone::AsiaPacific,
        &["South Korea", "Korea", "Republic of Korea"],
    ),
    ("SG", "SGP", Zone::AsiaPacific, &["Singapore"]),
    ("AU", "AUS", Zone::AsiaPacific, &["Australia"]),
    ("NZ", "NZL", Zone::AsiaPacific, &["New Zealand"]),
    ("HK", "HKG", Zone::AsiaPacific, &["Hong Kong"]),
];

impl Country {
    /// The country a shipping address names: an ISO 3166 alpha-2 or alpha-3 code or an English
    /// name, in any case, with dots and extra spaces ignored (`u.s.a.`, `united  states`).
    /// `None` for a country we do not ship to or do not know.
    pub fn parse(text: &str) -> Option<Country> {
        let key: String = clean_text(&text.replace('.', "")).to_uppercase();
        COUNTRIES.iter().find_map(|(code, code3, zone, names)| {
            let hit = key == *code || key == *code3 || names.iter().any(|n| n.to_uppercase() == key);
            hit.then(|| Country {
                code,
                code3,
                name: names.first().copied().unwrap_or(code),
                zone: *zone,
            })
        })
    }

    /// The alpha-2 codes of every country we ship to, in the table's order.
    pub fn supported_codes() -> Vec<&'static str> {
        COUNTRIES.iter().map(|c| c.0).collect()
    }
}

/// The order total from which a domestic parcel goes express (insured, signed for).
pub const EXPRESS_FROM: Money = Money::from_cents(10_000);

/// A carrier service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Carrier {
    UpsGround,
    FedexExpress,
    DhlExpress,
}

impl Carrier {
    /// The name stored in the order and shown to the customer.
    pub fn name(self) -> &'static str {
        match self {
            Carrier::UpsGround => "UPS Ground",
            Carrier::FedexExpress => "FedEx Express",
            Carrier::DhlExpress => "DHL Express",
        }
    }
}

/// The carrier of a parcel to `country` for an order of `total` (see the module's table).
pub fn choose_carrier(country: Country, total: Money) -> Carrier {
    match country.zone {
        Zone::Domestic if total < EXPRESS_FROM => Carrier::UpsGround,
        Zone::Domestic => Carrier::FedexExpress,
        Zone::NorthAmerica | Zone::Europe | Zone::AsiaPacific => Carrier::DhlExpress,
    }
}

/// Business days from hand-over to delivery.
pub fn transit_business_days(carrier: Carrier, country: Country) -> u32 {
    match (carrier, country.zone) {
        (Carrier::UpsGround, _) => 5,
        (Carrier::FedexExpress, _) => 2,
        (Carrier::DhlExpress, Zone::NorthAmerica | Zone::Domestic) => 4,
        (Carrier::DhlExpress, Zone::Europe) => 5,
        (Carrier::DhlExpress, Zone::AsiaPacific) => 6,
    }
}

/// The estimated delivery date of a parcel handed over on `ship_date`. `None` only past the
/// year 9999.
pub fn estimate_delivery(carrier: Carrier, country: Country, ship_date: Date) -> Option<Date> {
    ship_date
        .add_business_days(transit_business_days(carrier, country))
        .ok()
}

/// `n` decimal digits derived from the order id and the carrier.
fn digits_from(order_id: &str, carrier: Carrier, n: u32) -> String {
    let h = sha256(format!("tracking:{}:{order_id}", carrier.name()).as_bytes());
    let mut first8 = [0u8; 8];
    first8.copy_from_slice(&h[..8]);
    let value = u64::from_be_bytes(first8) % 10u64.pow(n);
    format!("{value:0width$}", width = n as usize)
}

/// The UPS check digit of the 15 characters after `1Z`: letters count as `(ASCII - 63) % 10`,
/// odd positions once and even positions twice.
pub fn ups_check_digit(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let v = if c.is_ascii_digit() {
                u32::from(c - b'0')
            } else {
                (u32::from(c.to_ascii_uppercase()) - 63) % 10
            };
            if i % 2 == 1 { 2 * v } else { v }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The FedEx Express check digit of 11 digits: weights 1, 3, 7 from the rightmost digit,
/// the sum modulo 11, and 10 counts as 0.
pub fn fedex_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .zip([1, 3, 7].into_iter().cycle())
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    sum % 11 % 10
}

/// The DHL check digit of 9 digits: the number modulo 7.
pub fn dhl_check_digit(digits: &str) -> u32 {
    let n = digits.bytes().fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
    (n % 7) as u32
}

/// UPS's shipper number of this shop, in its tracking numbers.
const UPS_SHIPPER: &str = "ORD3R5";
/// UPS's service code for Ground.
const UPS_GROUND_SERVICE: &str = "03";

/// The tracking number of an order's parcel (see the module docs for the formats).
pub fn tracking_number(carrier: Carrier, order_id: &str) -> String {
    match carrier {
        Carrier::UpsGround => {
            let body = format!(
                "{UPS_SHIPPER}{UPS_GROUND_SERVICE}{}",
                digits_from(order_id, carrier, 7)
            );
            format!("1Z{body}{}", ups_check_digit(&body))
        }
        Carrier::FedexExpress => {
            let d = digits_from(order_id, carrier, 11);
            format!("{d}{}", fedex_check_digit(&d))
        }
        Carrier::DhlExpress => {
            let d = digits_from(order_id, carrier, 9);
            format!("{d}{}", dhl_check_digit(&d))
        }
    }
}

/// Why a parcel was not handed to a carrier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShippingError {
    /// Final: the workflow compensates (releases stock, order FAILED).
    #[error("shipping rejected: {0}")]
    Rejected(String),
    /// The carrier did not answer: the workflow retries.
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
}

impl ShippingError {
    /// The Lambda error type the workflow's Retry and Catch match on.
    pub fn error_type(&self) -> &'static str {
        match self {
            ShippingError::Rejected(_) => errors::SHIPPING_REJECTED,
            ShippingError::Unavailable(_) => errors::SHIPPING_UNAVAILABLE,
        }
    }
}

/// The shipping step: checks the destination and the test triggers, chooses the carrier and
/// gives the tracking number and the estimated delivery from `today` (the hand-over date).
/// `retry_count` is the workflow's count of earlier attempts of this step.
pub fn arrange_shipment(
    order_id: &str,
    address: &ShippingAddress,
    total: Money,
    customer_email: &str,
    retry_count: u32,
    today: Date,
) -> Result<ShippingResult, ShippingError> {
    let triggers = Triggers::from_email(customer_email);
    let country = Country::parse(&address.country)
        .ok_or_else(|| ShippingError::Rejected(format!("we do not ship to {}", address.country)))?;
    if triggers.no_ship {
        return Err(ShippingError::Rejected(
            "no carrier accepted the parcel (test trigger +noship)".into(),
        ));
    }
    if triggers.ship_flaky && retry_count < FLAKY_FAILURES {
        return Err(ShippingError::Unavailable(format!(
            "carrier timed out (test trigger +shipflaky, attempt {} of {})",
            retry_count + 1,
            FLAKY_FAILURES + 1
        )));
    }
    let carrier = choose_carrier(country, total);
    let delivery = estimate_delivery(carrier, country, today).ok_or_else(|| {
        ShippingError::Rejected("no delivery date can be estimated after 9999-12-31".into())
    })?;
    Ok(ShippingResult {
        carrier: carrier.name().to_owned(),
        tracking_number: tracking_number(carrier, order_id),
        estimated_delivery: delivery.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(s: &str) -> Country {
        Country::parse(s).unwrap()
    }

    fn address(country: &str) -> ShippingAddress {
        ShippingAddress {
            street: "1 Main St".into(),
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: country.into(),
        }
    }

    #[test]
    fn countries_by_code_and_name() {
        for s in [
            "US",
            "us",
            "USA",
            "U.S.A.",
            "u.s.",
            "United States",
            "united  states of america",
            " America ",
        ] {
            assert_eq!(country(s).code, "US", "{s}");
        }
        assert_eq!(country("DEU").name, "Germany");
        assert_eq!(country("uk").code, "GB");
        assert_eq!(country("The Netherlands").code3, "NLD");
        for s in ["Atlantis", "", "U", "RU", "Russia", "CN", "BR", "USAA"] {
            assert_eq!(Country::parse(s), None, "{s}");
        }
    }

    #[test]
    fn the_country_table_has_no_clashes() {
        let mut keys = std::collections::HashSet::new();
        for (code, code3, _, names) in COUNTRIES {
            assert_eq!(code.len(), 2);
            assert_eq!(code3.len(), 3);
            for k in [code.to_string(), code3.to_string()]
                .into_iter()
                .chain(names.iter().map(|n| n.to_uppercase()))
            {
                assert!(keys.insert(k.clone()), "{k} twice");
                assert_eq!(country(&k).code, *code);
            }
        }
        assert_eq!(Country::supported_codes().len(), COUNTRIES.len());
    }

    #[test]
    fn carriers_by_destination_and_total() {
        let us = country("US");
        assert_eq!(choose_carrier(us, Money::from_cents(1)), Carrier::UpsGround);
        assert_eq!(choose_carrier(us, Money::from_cents(9_999)), Carrier::UpsGround);
        assert_eq!(
            choose_carrier(us, Money::from_cents(10_000)),
            Carrier::FedexExpress
        );
        assert_eq!(
            choose_carrier(us, Money::from_cents(1_000_000)),
            Carrier::FedexExpress
        );
        for c in ["CA", "MX", "DE", "JP"] {
            assert_eq!(
                choose_carrier(country(c), Money::from_cents(1)),
                Carrier::DhlExpress
            );
            assert_eq!(
                choose_carrier(country(c), Money::from_cents(100_000)),
                Carrier::DhlExpress
            );
        }
        assert_eq!(transit_business_days(Carrier::UpsGround, us), 5);
        assert_eq!(transit_business_days(Carrier::FedexExpress, us), 2);
        assert_eq!(transit_business_days(Carrier::DhlExpress, country("CA")), 4);
        assert_eq!(transit_business_days(Carrier::DhlExpress, country("FR")), 5);
        assert_eq!(transit_business_days(Carrier::DhlExpress, country("AU")), 6);
    }

    #[test]
    fn check_digits_match_published_examples() {
        // UPS's documented example 1Z 999AA1 01 2345678 4.
        assert_eq!(ups_check_digit("999AA1012345678"), 4);
        // A FedEx Express number from FedEx's test data: 9865 7878 8855.
        assert_eq!(fedex_check_digit("98657878885"), 5);
        // DHL Express 3318810025.
        assert_eq!(dhl_check_digit("331881002"), 5);
    }

    #[test]
    fn tracking_numbers_have_the_carriers_formats() {
        for i in 0..200 {
            let id = format!("order-{i}");
            let ups = tracking_number(Carrier::UpsGround, &id);
            assert_eq!(ups.len(), 18, "{ups}");
            assert!(ups.starts_with("1ZORD3R503"), "{ups}");
            let check = ups.chars().last().unwrap().to_digit(10).unwrap();
            assert_eq!(check, ups_check_digit(&ups[2..17]));

            let fedex = tracking_number(Carrier::FedexExpress, &id);
            assert_eq!(fedex.len(), 12);
            assert!(fedex.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(
                fedex[11..].parse::<u32>().unwrap(),
                fedex_check_digit(&fedex[..11])
            );

            let dhl = tracking_number(Carrier::DhlExpress, &id);
            assert_eq!(dhl.len(), 10);
            assert!(dhl.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(dhl[9..].parse::<u32>().unwrap(), dhl_check_digit(&dhl[..9]));
        }
    }

    #[test]
    fn tracking_numbers_are_deterministic_and_distinct() {
        assert_eq!(
            tracking_number(Carrier::UpsGround, "o-1"),
            tracking_number(Carrier::UpsGround, "o-1")
        );
        let numbers: std::collections::HashSet<String> = (0..1000)
            .map(|i| tracking_number(Carrier::FedexExpress, &format!("o-{i}")))
            .collect();
        assert_eq!(numbers.len(), 1000);
    }

    #[test]
    fn a_shipment_is_arranged() {
        let friday = Date::parse("2026-11-20").unwrap();
        let r = arrange_shipment(
            "o-1",
            &address("USA"),
            Money::from_cents(4_999),
            "a@b.co",
            0,
            friday,
        )
        .unwrap();
        assert_eq!(r.carrier, "UPS Ground");
        assert_eq!(r.tracking_number, tracking_number(Carrier::UpsGround, "o-1"));
        assert_eq!(r.estimated_delivery, "2026-11-27");
        let r = arrange_shipment(
            "o-1",
            &address("US"),
            Money::from_cents(10_000),
            "a@b.co",
            0,
            friday,
        )
        .unwrap();
        assert_eq!(
            (r.carrier.as_str(), r.estimated_delivery.as_str()),
            ("FedEx Express", "2026-11-24")
        );
        let r = arrange_shipment(
            "o-1",
            &address("Japan"),
            Money::from_cents(10_000),
            "a@b.co",
            0,
            friday,
        )
        .unwrap();
        assert_eq!(
            (r.carrier.as_str(), r.estimated_delivery.as_str()),
            ("DHL Express", "2026-11-30")
        );
    }

    #[test]
    fn shipments_are_rejected_or_unavailable() {
        let day = Date::parse("2026-11-23").unwrap();
        let total = Money::from_cents(100);
        let err = arrange_shipment("o", &address("Atlantis"), total, "a@b.co", 0, day).unwrap_err();
        assert_eq!(err, ShippingError::Rejected("we do not ship to Atlantis".into()));
        assert_eq!(err.error_type(), "ShippingRejected");
        let err = arrange_shipment("o", &address("US"), total, "a+noship@b.co", 5, day).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shipping rejected: no carrier accepted the parcel (test trigger +noship)"
        );
        for retry in 0..FLAKY_FAILURES {
            let err =
                arrange_shipment("o", &address("US"), total, "a+shipflaky@b.co", retry, day).unwrap_err();
            assert_eq!(err.error_type(), "ShippingUnavailable");
        }
        assert!(
            arrange_shipment(
                "o",
                &address("US"),
                total,
                "a+shipflaky@b.co",
                FLAKY_FAILURES,
                day
            )
            .is_ok()
        );
        // Payment triggers do not touch shipping.
        assert!(arrange_shipment("o", &address("US"), total, "a+flaky+decline@b.co", 0, day).is_ok());
    }
}

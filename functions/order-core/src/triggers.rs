//! Test triggers: tags in a customer's e-mail address that make the payment and shipping mocks
//! fail in a chosen way, so that tests and demos can walk every path of the workflow without
//! luck. A tag is what follows a `+` in the local part, up to the next `+` or the `@`:
//! `ann+flaky+noship@example.com` has the tags `flaky` and `noship`. Tags are compared in lower
//! case and must match exactly (`+declined` is not `+decline`).
//!
//! | tag          | effect                                                                    |
//! |--------------|---------------------------------------------------------------------------|
//! | `+decline`   | payment declined (final: `PaymentDeclined`, the order ends FAILED)         |
//! | `+flaky`     | payment gateway unavailable while `retry_count < 2`, then the charge works |
//! | `+down`      | payment gateway always unavailable (retries run out, the order ends FAILED)|
//! | `+noship`    | payment works, shipping rejected (final: `ShippingRejected`, FAILED)       |
//! | `+shipflaky` | carrier unavailable while `retry_count < 2`, then shipping works           |
//!
//! They are part of the mocks: a real payment gateway or carrier replaces them, and these
//! tags with them.

/// How many attempts a `+flaky` or `+shipflaky` order fails before it succeeds (attempts are
/// counted from 0 by the workflow's `$$.State.RetryCount`).
pub const FLAKY_FAILURES: u32 = 2;

/// The tags of one e-mail address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Triggers {
    pub decline: bool,
    pub flaky: bool,
    pub down: bool,
    pub no_ship: bool,
    pub ship_flaky: bool,
}

impl Triggers {
    pub fn from_email(email: &str) -> Triggers {
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        let mut t = Triggers::default();
        for tag in local.split('+').skip(1) {
            match tag.to_ascii_lowercase().as_str() {
                "decline" => t.decline = true,
                "flaky" => t.flaky = true,
                "down" => t.down = true,
                "noship" => t.no_ship = true,
                "shipflaky" => t.ship_flaky = true,
                _ => {}
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_from_the_local_part() {
        assert_eq!(Triggers::from_email("ann@example.com"), Triggers::default());
        assert_eq!(
            Triggers::from_email("ann+decline@example.com"),
            Triggers {
                decline: true,
                ..Triggers::default()
            }
        );
        assert_eq!(
            Triggers::from_email("Ann+FLAKY+noship@example.com"),
            Triggers {
                flaky: true,
                no_ship: true,
                ..Triggers::default()
            }
        );
        assert_eq!(
            Triggers::from_email("ann+down+shipflaky@example.com"),
            Triggers {
                down: true,
                ship_flaky: true,
                ..Triggers::default()
            }
        );
    }

    #[test]
    fn only_exact_tags_in_the_local_part_count() {
        for email in [
            "ann+declined@example.com",
            "decline@example.com",
            "ann@decline.example.com",
            "ann@x+decline.com",
            "ann.decline@example.com",
            "ann+xdecline@example.com",
        ] {
            assert_eq!(Triggers::from_email(email), Triggers::default(), "{email}");
        }
    }
}

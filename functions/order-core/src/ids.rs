//! Identifiers the system creates: random UUIDs (version 4) from the caller's random bytes.

use crate::problem::ApiProblem;

/// A version 4 UUID in its canonical lower-case form from 16 random bytes (the `uuid` crate
/// sets the version and variant bits).
pub fn uuid_v4(random: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(random).into_uuid().to_string()
}

/// The order id of a request with an idempotency key: a UUID (version 4 form) from SHA-256 of
/// the key's record key and the request's hash. The same request with the same key always
/// names the same order, so a retry after a handler died between storing the order and
/// recording its answer finds the order it made instead of making a second one.
pub fn order_id_for(record_key: &str, request_hash: &str) -> String {
    let digest = crate::hash::sha256(format!("{record_key}\n{request_hash}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid_v4(bytes)
}

/// Whether `s` is a UUID in canonical form (any version, either case).
pub fn is_uuid(s: &str) -> bool {
    // 36 characters is the hyphenated form only: `uuid` also parses the braced, URN and simple ones.
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// An order id from a path (`/orders/{orderId}`), in lower case. Problems name `orderId`.
pub fn parse_order_id(s: &str) -> Result<String, ApiProblem> {
    if is_uuid(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(ApiProblem::invalid_field(
            "orderId",
            "must be an order id such as 550e8400-e29b-41d4-a716-446655440000",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_request_always_names_the_same_order() {
        let a = order_id_for("POST /orders#k1", "h1");
        assert!(is_uuid(&a) && a.as_bytes()[14] == b'4', "{a}");
        assert_eq!(a, order_id_for("POST /orders#k1", "h1"));
        assert_ne!(a, order_id_for("POST /orders#k2", "h1"));
        assert_ne!(a, order_id_for("POST /orders#k1", "h2"));
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert!(is_uuid(&id));
        assert_eq!(parse_order_id(&id.to_uppercase()).unwrap(), id);
    }

    #[test]
    fn order_ids_are_checked() {
        assert!(parse_order_id("550e8400-e29b-41d4-a716-446655440000").is_ok());
        for bad in [
            "",
            "550e8400e29b41d4a716446655440000",
            "550e8400-e29b-41d4-a716-44665544000g",
            "../etc/passwd",
        ] {
            assert_eq!(
                parse_order_id(bad).unwrap_err().message,
                "Invalid field orderId: must be an order id such as 550e8400-e29b-41d4-a716-446655440000"
            );
        }
    }
}

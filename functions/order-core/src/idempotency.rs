//! Idempotency of API requests (`Idempotency-Key` header) and the decision a handler takes
//! from the stored record.
//!
//! The handler's sequence: validate the request (a 4xx is never stored), compute
//! [`request_hash`], claim the record of [`record_key`] (`order_aws::idempotency`: a claim
//! blocks the key for as long as the claiming function can run, and a little more); when the key
//! was already claimed, [`decide`] from the record; do the work, then store the response when
//! [`is_replayable`], or give the claim up otherwise.

use infra_model::contract::api::ErrorCode;
use serde_json::Value;

use crate::hash::sha256;
use crate::problem::ApiProblem;

/// The longest `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` header: absent is fine (`None`); present, it must be 1 to 255
/// visible ASCII characters (`!` to `~`, no spaces).
pub fn parse_idempotency_key(header: Option<&str>) -> Result<Option<String>, ApiProblem> {
    let Some(key) = header else {
        return Ok(None);
    };
    let ok = (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(Some(key.to_owned()))
    } else {
        Err(ApiProblem::new(
            ErrorCode::ValidationFailed,
            format!(
                "Invalid header Idempotency-Key: must be 1 to {MAX_KEY_LEN} visible ASCII characters (no spaces)"
            ),
        ))
    }
}

/// The record's key in the idempotency table: `<scope>#<key>`, e.g. `POST /orders#abc`.
pub fn record_key(scope: &str, key: &str) -> String {
    format!("{scope}#{key}")
}

/// JSON with the keys of every object sorted and no white space. Numbers keep serde_json's
/// shortest form, except that a float with no fraction is written as an integer (`1.0` and
/// `1` are the same amount).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                out.push_str(&format!("{}", f as i64));
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// The hash that tells whether a retry is the same request: SHA-256 (hex) of the method, the
/// path and the canonical JSON of the body (the raw bytes when the body is not JSON; nothing
/// for an empty body).
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let canonical = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => format!("json:{}", canonical_json(&v)),
            Err(_) => format!("raw:{}", hex::encode(body)),
        }
    };
    let text = format!("{} {path}\n{canonical}", method.to_ascii_uppercase());
    hex::encode(sha256(text.as_bytes()))
}

/// A response kept for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status_code: u16,
    pub body: String,
}

/// A record of the idempotency table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    /// Epoch seconds; from then on the record counts as absent (DynamoDB's TTL deletes it
    /// later, up to days later).
    pub expires_at: u64,
    /// `None` while the first request is in progress.
    pub response: Option<StoredResponse>,
}

/// What to do with a request that carries an `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// First time (or the old record expired): do the work.
    Proceed,
    /// The same request was answered: send this answer again.
    Replay(StoredResponse),
    /// Refuse: 422 for a key reused with another request, 409 while the first is running.
    Reject(ApiProblem),
}

pub fn decide(record: Option<&IdempotencyRecord>, request_hash: &str, now_epoch_seconds: u64) -> Decision {
    let Some(record) = record.filter(|r| now_epoch_seconds < r.expires_at) else {
        return Decision::Proceed;
    };
    if record.request_hash != request_hash {
        return Decision::Reject(ApiProblem::new(
            ErrorCode::IdempotencyKeyReused,
            "Idempotency-Key was already used for a different request: use a new key for a new request",
        ));
    }
    match &record.response {
        Some(response) => Decision::Replay(response.clone()),
        None => Decision::Reject(ApiProblem::new(
            ErrorCode::Conflict,
            "A request with this Idempotency-Key is still in progress: retry later",
        )),
    }
}

/// Whether a response is stored for replay: successes only. A 5xx may work on a retry, and a
/// 4xx happens before the record is written.
pub fn is_replayable(status_code: u16) -> bool {
    (200..300).contains(&status_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys() {
        assert_eq!(parse_idempotency_key(None), Ok(None));
        for ok in [
            "a",
            "550e8400-e29b-41d4-a716-446655440000",
            "!~#/=",
            &"k".repeat(255),
        ] {
            assert_eq!(parse_idempotency_key(Some(ok)), Ok(Some(ok.to_owned())), "{ok}");
        }
        for bad in ["", " ", "a b", "tab\tkey", "é", "line\n", &"k".repeat(256)] {
            let p = parse_idempotency_key(Some(bad)).unwrap_err();
            assert_eq!(p.status, 400);
            assert_eq!(
                p.message,
                "Invalid header Idempotency-Key: must be 1 to 255 visible ASCII characters (no spaces)"
            );
        }
        assert_eq!(record_key("POST /orders", "abc"), "POST /orders#abc");
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_space() {
        let a: Value =
            serde_json::from_str(r#"{ "b": [1, {"y": 2, "x": 1}], "a": "é\n", "c": null, "d": true }"#)
                .unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":"é\n","b":[1,{"x":1,"y":2}],"c":null,"d":true}"#
        );
        assert_eq!(canonical_json(&json!(1.0)), "1");
        assert_eq!(canonical_json(&json!(-0.0)), "0");
        assert_eq!(canonical_json(&json!(19.99)), "19.99");
        assert_eq!(canonical_json(&json!(1e300)), "1e+300");
        assert_eq!(canonical_json(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(canonical_json(&json!({"\"k": 1})), r#"{"\"k":1}"#);
    }

    #[test]
    fn equal_requests_hash_equal() {
        let h = request_hash("POST", "/orders", br#"{"a":1,"b":[1,2]}"#);
        assert_eq!(h.len(), 64);
        assert_eq!(
            h,
            request_hash("post", "/orders", b"{ \"b\" : [1, 2],\n \"a\": 1.0 }")
        );
        assert_ne!(h, request_hash("POST", "/orders", br#"{"a":1,"b":[2,1]}"#));
        assert_ne!(h, request_hash("PUT", "/orders", br#"{"a":1,"b":[1,2]}"#));
        assert_ne!(h, request_hash("POST", "/inventory", br#"{"a":1,"b":[1,2]}"#));
        assert_eq!(request_hash("GET", "/x", b""), request_hash("GET", "/x", b"  "));
        assert_ne!(
            request_hash("POST", "/x", b"not json"),
            request_hash("POST", "/x", b"not json!")
        );
        // A JSON string and raw bytes that look alike do not collide.
        assert_ne!(
            request_hash("POST", "/x", b"\"1\""),
            request_hash("POST", "/x", b"1")
        );
    }

    fn record(hash: &str, response: Option<StoredResponse>) -> IdempotencyRecord {
        IdempotencyRecord {
            request_hash: hash.into(),
            expires_at: 1_000,
            response,
        }
    }

    #[test]
    fn decisions() {
        let done = StoredResponse {
            status_code: 202,
            body: "{\"orderId\":\"o\"}".into(),
        };
        assert_eq!(decide(None, "h", 10), Decision::Proceed);
        assert_eq!(
            decide(Some(&record("h", Some(done.clone()))), "h", 10),
            Decision::Replay(done.clone())
        );
        let Decision::Reject(p) = decide(Some(&record("other", Some(done.clone()))), "h", 10) else {
            panic!("not rejected");
        };
        assert_eq!((p.status, p.code), (422, ErrorCode::IdempotencyKeyReused));
        let Decision::Reject(p) = decide(Some(&record("h", None)), "h", 10) else {
            panic!("not rejected");
        };
        assert_eq!((p.status, p.code), (409, ErrorCode::Conflict));
        assert_eq!(
            p.message,
            "A request with this Idempotency-Key is still in progress: retry later"
        );
        // A different body while the first is in progress is still a reused key.
        let Decision::Reject(p) = decide(Some(&record("other", None)), "h", 10) else {
            panic!("not rejected");
        };
        assert_eq!(p.status, 422);
        // Expired records count as absent, whatever they hold.
        assert_eq!(
            decide(Some(&record("other", None)), "h", 1_000),
            Decision::Proceed
        );
        assert_eq!(
            decide(Some(&record("h", Some(done))), "h", 5_000),
            Decision::Proceed
        );
    }

    #[test]
    fn expiries_and_what_is_stored() {
        assert!(is_replayable(200) && is_replayable(201) && is_replayable(202));
        assert!(!is_replayable(400) && !is_replayable(409) && !is_replayable(500) && !is_replayable(503));
    }
}

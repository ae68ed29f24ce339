use super::*;
use crate::query::parse_list_orders_query;
use infra_model::contract::tables::orders;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn query(q: &[(&str, &str)]) -> ListOrdersQuery {
    parse_list_orders_query(q.iter().copied()).unwrap()
}

#[test]
fn tokens_round_trip() {
    let fp = orders_query_fingerprint(&query(&[("status", "PAID")]));
    let cursor = json!({"orderId": "o-1", "createdAt": "2026-11-23T04:05:06.789Z", "n": [1, null]});
    let token = encode(&fp, &cursor, KEY);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "{token}"
    );
    assert_eq!(decode(&token, &fp, KEY), Ok(cursor));
    // Deterministic: the same page gives the same token.
    assert_eq!(encode(&fp, &json!(1), KEY), encode(&fp, &json!(1), KEY));
}

#[test]
fn the_token_format_is_a_signed_envelope() {
    let token = encode("fp", &json!({"k": 1}), KEY);
    let (payload, tag) = token.split_once('.').unwrap();
    let envelope: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        envelope,
        json!({"version": 1, "fingerprint": "fp", "cursor": {"k": 1}})
    );
    let mut mac = hmac(KEY);
    mac.update(payload.as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.decode(tag).unwrap(),
        mac.finalize().into_bytes().to_vec()
    );
}

#[test]
fn tampered_tokens_are_refused() {
    let token = encode("fp", &json!({"orderId": "o-1"}), KEY);
    let (payload, tag) = token.split_once('.').unwrap();
    // Another cursor with the old signature.
    let forged = URL_SAFE_NO_PAD
        .encode(json!({"version": 1, "fingerprint": "fp", "cursor": {"orderId": "o-2"}}).to_string());
    assert_eq!(
        decode(&format!("{forged}.{tag}"), "fp", KEY),
        Err(TokenError::BadSignature)
    );
    // Another key.
    assert_eq!(
        decode(&token, "fp", b"another key"),
        Err(TokenError::BadSignature)
    );
    // Truncated anywhere.
    for cut in 1..token.len() {
        let r = decode(&token[..cut], "fp", KEY);
        assert!(
            matches!(r, Err(TokenError::Malformed | TokenError::BadSignature)),
            "{cut}: {r:?}"
        );
    }
    // A flipped character anywhere.
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        if changed != token {
            assert!(decode(&changed, "fp", KEY).is_err(), "{i}");
        }
    }
    for junk in ["", ".", "abc", "abc.", ".abc", "not base64!.x", "a.b.c", "💥.💥"] {
        assert!(
            matches!(
                decode(junk, "fp", KEY),
                Err(TokenError::Malformed | TokenError::BadSignature)
            ),
            "{junk}"
        );
    }
    assert_eq!(
        decode(&format!("{payload}.{tag}="), "fp", KEY),
        Err(TokenError::Malformed)
    );
}

#[test]
fn a_token_of_another_query_is_refused() {
    let paid = orders_query_fingerprint(&query(&[("status", "PAID")]));
    let token = encode(&paid, &json!({}), KEY);
    for other in [
        query(&[("status", "SHIPPED")]),
        query(&[("status", "PAID"), ("limit", "21")]),
        query(&[("status", "PAID"), ("sortOrder", "asc")]),
        query(&[("customerEmail", "a@b.co")]),
    ] {
        let fp = orders_query_fingerprint(&other);
        assert_ne!(fp, paid);
        assert_eq!(decode(&token, &fp, KEY), Err(TokenError::OtherQuery));
    }
    // The token does not take part in the fingerprint.
    assert_eq!(
        orders_query_fingerprint(&query(&[("status", "PAID"), ("nextToken", "x.y")])),
        paid
    );
    let inventory = inventory_query_fingerprint(&ListInventoryQuery {
        limit: 20,
        next_token: None,
    });
    assert_ne!(inventory, paid);
    assert_eq!(decode(&token, &inventory, KEY), Err(TokenError::OtherQuery));
}

#[test]
fn versions_are_checked() {
    let sign = |envelope: Value| {
        let payload = URL_SAFE_NO_PAD.encode(envelope.to_string());
        let mut mac = hmac(KEY);
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let v2 = sign(json!({"version": 2, "fingerprint": "fp", "cursor": {}}));
    assert_eq!(decode(&v2, "fp", KEY), Err(TokenError::UnsupportedVersion));
    let none = sign(json!({"fingerprint": "fp", "cursor": {}}));
    assert_eq!(decode(&none, "fp", KEY), Err(TokenError::Malformed));
    let no_cursor = sign(json!({"version": 1, "fingerprint": "fp"}));
    assert_eq!(decode(&no_cursor, "fp", KEY), Err(TokenError::Malformed));
    let not_json = {
        let payload = URL_SAFE_NO_PAD.encode("{oops");
        let mut mac = hmac(KEY);
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    assert_eq!(decode(&not_json, "fp", KEY), Err(TokenError::Malformed));
}

#[test]
fn token_errors_are_invalid_token_problems() {
    // A token of the right form that this API did not issue is refused by what the API
    // knows, not by the schema: 422.
    let p: ApiProblem = TokenError::BadSignature.into();
    assert_eq!(p.status, 422);
    assert_eq!(p.code, ErrorCode::InvalidToken);
    assert_eq!(
        p.message,
        "Refused field nextToken: has been altered or was issued by another deployment"
    );
    let p: ApiProblem = TokenError::OtherQuery.into();
    assert_eq!(
        p.message,
        "Refused field nextToken: belongs to another query: keep status, customerEmail, sortOrder and limit the same while paging"
    );
}

#[test]
fn customer_cursors_must_be_the_customers() {
    let q = query(&[("customerEmail", "ann@example.com")]);
    let fp = orders_query_fingerprint(&q);
    let good = json!({"customerEmail": "ann@example.com", "createdAt": "x", "orderId": "o"});
    let token = encode(&fp, &good, KEY);
    assert_eq!(
        decode_customer_cursor(&token, &fp, "ann@example.com", KEY),
        Ok(good)
    );
    let other = encode(&fp, &json!({"customerEmail": "bob@example.com"}), KEY);
    assert_eq!(
        decode_customer_cursor(&other, &fp, "ann@example.com", KEY),
        Err(TokenError::CursorMismatch)
    );
    assert_eq!(
        check_customer_cursor(&json!({}), "a@b.co"),
        Err(TokenError::CursorMismatch)
    );
}

#[test]
fn status_cursors_must_be_the_statuses_shards() {
    let n = STATUS_SHARDS as usize;
    let mut cursors = vec![json!("notStarted"); n];
    cursors[1] = json!("exhausted");
    cursors[3] = json!({"after": {"statusShard": "PAID#3", "createdAt": "t", "orderId": "o"}});
    let value = Value::Array(cursors.clone());
    let parsed = ShardCursors::from_value(&value, OrderStatus::Paid).unwrap();
    assert_eq!(parsed.to_value(), value);
    assert_eq!(parsed.shards()[1], ShardCursor::Exhausted);
    assert_eq!(
        parsed.queries().iter().map(|q| q.shard).collect::<Vec<_>>(),
        (0..n).filter(|i| *i != 1).collect::<Vec<_>>()
    );
    assert_eq!(
        ShardCursors::from_value(&value, OrderStatus::Shipped),
        Err(TokenError::CursorMismatch)
    );
    let mut wrong_shard = cursors.clone();
    wrong_shard[3] = json!({"after": {"statusShard": "PAID#4"}});
    assert_eq!(
        ShardCursors::from_value(&Value::Array(wrong_shard), OrderStatus::Paid),
        Err(TokenError::CursorMismatch)
    );
    let mut prefix_only = cursors.clone();
    prefix_only[3] = json!({"after": {"statusShard": "PAIDX#3"}});
    assert_eq!(
        ShardCursors::from_value(&Value::Array(prefix_only), OrderStatus::Paid),
        Err(TokenError::CursorMismatch)
    );
    for bad in [
        json!([]),
        json!({}),
        json!(["notStarted"]),
        json!(vec![json!("later"); n]),
    ] {
        assert_eq!(
            ShardCursors::from_value(&bad, OrderStatus::Paid),
            Err(TokenError::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn status_partitions_are_the_tables() {
    for i in 0..200 {
        let id = format!("order-{i}");
        for s in OrderStatus::ALL {
            assert_eq!(
                status_partition(s, orders::shard_of(&id) as usize),
                orders::status_shard(s.as_str(), &id)
            );
        }
    }
}

mod merge;

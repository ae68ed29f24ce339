//! Pagination: signed `nextToken`s and the merge of the sharded status index.
//!
//! ## Tokens
//!
//! A token is `<payload>.<mac>`: `payload` is the URL-safe base64 (no padding) of the JSON
//! `{"version":1,"fingerprint":"…","cursor":…}`, and `mac` the URL-safe base64 of
//! HMAC-SHA256(key, payload text). The cursor is DynamoDB's `LastEvaluatedKey` (or, for the
//! status index, the [`ShardCursors`]); the fingerprint names the query it belongs to
//! ([`orders_query_fingerprint`]), so that a token cannot be replayed against another status,
//! customer, sort order or page size. The key is a per-deployment secret of at least 32 random
//! bytes. Tokens are signed, not encrypted: the cursor (an order's keys, which the client has
//! seen anyway) is readable.
//!
//! Decoding checks the MAC before anything else (in constant time), then the version and the
//! fingerprint; every failure is a [`TokenError`], which becomes 400 `INVALID_QUERY`
//! `Invalid field nextToken: …`. Defense in depth, after the MAC: a `byCustomer` cursor must
//! carry the queried e-mail ([`check_customer_cursor`]), and each shard cursor of `byStatus`
//! the queried status and its own shard number ([`ShardCursors::from_value`]).
//!
//! ## The sharded status index
//!
//! Orders are spread over [`STATUS_SHARDS`] partitions per status (`PAID#0` … `PAID#7`). A page
//! of `GET /orders?status=PAID` queries every shard that is not exhausted (`Limit` = the page
//! size, each from its own cursor), then [`merge_shard_pages`] takes the first `limit` items
//! in `createdAt` order (ties: lower shard first; within a shard, the index's own order) and
//! gives each shard its next cursor: not started, after a key, or exhausted. When DynamoDB cut
//! a shard's answer short (its 1 MB limit), items of other shards that might sort after that
//! shard's unseen items are left for the next page: a page may then be shorter than `limit`,
//! but no item is skipped or repeated.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use infra_model::contract::api::{ErrorCode, OrderStatus};
use infra_model::contract::tables::orders::STATUS_SHARDS;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::hash::{hex, hmac, sha256};
use crate::problem::ApiProblem;
use crate::query::{ListInventoryQuery, ListOrdersQuery, OrdersFilter, SortOrder};

/// The version written in every token.
pub const TOKEN_VERSION: u64 = 1;

/// Why a `nextToken` of the right form is refused: 422 `INVALID_TOKEN` (one of the wrong form
/// is the query's 400, see [`crate::query`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("is not a token this API issued")]
    Malformed,
    #[error("has been altered or was issued by another deployment")]
    BadSignature,
    #[error("was issued by another version of the API: start again without nextToken")]
    UnsupportedVersion,
    #[error(
        "belongs to another query: keep status, customerEmail, sortOrder and limit the same while paging"
    )]
    OtherQuery,
    #[error("does not match the query")]
    CursorMismatch,
}

impl From<TokenError> for ApiProblem {
    fn from(e: TokenError) -> ApiProblem {
        ApiProblem::new(ErrorCode::InvalidToken, format!("Refused field nextToken: {e}"))
    }
}

/// A token for the page after `cursor` of the query with `query_fingerprint`.
pub fn encode(query_fingerprint: &str, cursor: &Value, key: &[u8]) -> String {
    let envelope = json!({
        "version": TOKEN_VERSION,
        "fingerprint": query_fingerprint,
        "cursor": cursor,
    });
    let payload = URL_SAFE_NO_PAD.encode(envelope.to_string());
    let mut mac = hmac(key);
    mac.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// The cursor of a token, if the token is one of ours, unaltered, and of this query.
pub fn decode(token: &str, expected_fingerprint: &str, key: &[u8]) -> Result<Value, TokenError> {
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    let mut mac = hmac(key);
    mac.update(payload.as_bytes());
    mac.verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let envelope: Value = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    match envelope.get("version").and_then(Value::as_u64) {
        Some(TOKEN_VERSION) => {}
        Some(_) => return Err(TokenError::UnsupportedVersion),
        None => return Err(TokenError::Malformed),
    }
    if envelope.get("fingerprint").and_then(Value::as_str) != Some(expected_fingerprint) {
        return Err(TokenError::OtherQuery);
    }
    envelope.get("cursor").cloned().ok_or(TokenError::Malformed)
}

fn fingerprint(canonical: &str) -> String {
    hex(&sha256(canonical.as_bytes())[..12])
}

/// The fingerprint of a `GET /orders` query: its filter, sort order and page size (not its
/// token).
pub fn orders_query_fingerprint(q: &ListOrdersQuery) -> String {
    let filter = match &q.filter {
        OrdersFilter::Status(s) => format!("status={}", s.as_str()),
        OrdersFilter::Customer { email, status: None } => format!("customerEmail={email}"),
        OrdersFilter::Customer {
            email,
            status: Some(s),
        } => format!("customerEmail={email}&status={}", s.as_str()),
    };
    fingerprint(&format!(
        "GET /orders?{filter}&sortOrder={}&limit={}",
        q.sort_order.as_str(),
        q.limit
    ))
}

/// The fingerprint of a `GET /inventory` query.
pub fn inventory_query_fingerprint(q: &ListInventoryQuery) -> String {
    fingerprint(&format!("GET /inventory?limit={}", q.limit))
}

/// A `byCustomer` cursor (DynamoDB's `LastEvaluatedKey`) must be one of this customer's.
pub fn check_customer_cursor(cursor: &Value, customer_email: &str) -> Result<(), TokenError> {
    if cursor.get("customerEmail").and_then(Value::as_str) == Some(customer_email) {
        Ok(())
    } else {
        Err(TokenError::CursorMismatch)
    }
}

/// The `byStatus` partition key of one shard: `PAID#3`.
pub fn status_partition(status: OrderStatus, shard: usize) -> String {
    format!("{}#{shard}", status.as_str())
}

/// Where the next page of one shard starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ShardCursor {
    /// Not queried yet: start at the beginning.
    NotStarted,
    /// Continue after this index key (DynamoDB's `ExclusiveStartKey`).
    After(Value),
    /// Nothing more in this shard.
    Exhausted,
}

/// One cursor per shard of the status index, in shard order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardCursors(Vec<ShardCursor>);

/// One shard to query for a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardQuery<'a> {
    pub shard: usize,
    /// DynamoDB's `ExclusiveStartKey`, if any.
    pub exclusive_start_key: Option<&'a Value>,
}

impl ShardCursors {
    /// The first page: every shard not started.
    pub fn start(shards: usize) -> ShardCursors {
        ShardCursors(vec![ShardCursor::NotStarted; shards])
    }

    pub fn shards(&self) -> &[ShardCursor] {
        &self.0
    }

    /// The shards to query for the next page (those not exhausted).
    pub fn queries(&self) -> Vec<ShardQuery<'_>> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(shard, c)| match c {
                ShardCursor::NotStarted => Some(ShardQuery {
                    shard,
                    exclusive_start_key: None,
                }),
                ShardCursor::After(key) => Some(ShardQuery {
                    shard,
                    exclusive_start_key: Some(key),
                }),
                ShardCursor::Exhausted => None,
            })
            .collect()
    }

    /// Whether every shard is exhausted.
    pub fn is_finished(&self) -> bool {
        self.0.iter().all(|c| *c == ShardCursor::Exhausted)
    }

    /// The cursor as stored in a token.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|c| match c {
                    ShardCursor::NotStarted => json!("notStarted"),
                    ShardCursor::After(key) => json!({ "after": key }),
                    ShardCursor::Exhausted => json!("exhausted"),
                })
                .collect(),
        )
    }

    /// The cursors of a token's cursor value for a query of `status`: exactly
    /// [`STATUS_SHARDS`] of them, and every key of shard `i` in the partition `STATUS#i`.
    pub fn from_value(value: &Value, status: OrderStatus) -> Result<ShardCursors, TokenError> {
        let cursors: Vec<ShardCursor> =
            serde_json::from_value(value.clone()).map_err(|_| TokenError::Malformed)?;
        if cursors.len() != STATUS_SHARDS as usize {
            return Err(TokenError::Malformed);
        }
        for (i, c) in cursors.iter().enumerate() {
            if let ShardCursor::After(key) = c {
                let partition = key.get("statusShard").and_then(Value::as_str);
                if partition != Some(status_partition(status, i).as_str()) {
                    return Err(TokenError::CursorMismatch);
                }
            }
        }
        Ok(ShardCursors(cursors))
    }
}

/// A `byStatus` token's shard cursors (decode, then [`ShardCursors::from_value`]).
pub fn decode_status_cursors(
    token: &str,
    expected_fingerprint: &str,
    status: OrderStatus,
    key: &[u8],
) -> Result<ShardCursors, TokenError> {
    ShardCursors::from_value(&decode(token, expected_fingerprint, key)?, status)
}

/// A `byCustomer` token's cursor (decode, then [`check_customer_cursor`]).
pub fn decode_customer_cursor(
    token: &str,
    expected_fingerprint: &str,
    customer_email: &str,
    key: &[u8],
) -> Result<Value, TokenError> {
    let cursor = decode(token, expected_fingerprint, key)?;
    check_customer_cursor(&cursor, customer_email)?;
    Ok(cursor)
}

/// An entry of the status index, as the merge needs to see it.
pub trait ShardItem {
    /// The index's sort key: `createdAt`, RFC 3339 text whose text order is time order.
    fn created_at(&self) -> &str;
    /// The entry's key in the index (`statusShard`, `createdAt`, `orderId`), in the JSON form
    /// the handler turns into DynamoDB's `ExclusiveStartKey`.
    fn index_key(&self) -> Value;
}

/// What one shard's query returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardPage<T> {
    /// In the query's order (`ScanIndexForward` from the sort order).
    pub items: Vec<T>,
    /// DynamoDB's `LastEvaluatedKey`: present when the shard may have more.
    pub last_evaluated_key: Option<Value>,
}

/// A merged page and where the next one starts (`None`: this was the last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergedPage<T> {
    pub items: Vec<T>,
    pub next: Option<ShardCursors>,
}

/// A merge whose inputs do not fit its cursors: a bug in the caller, not the client's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("shard {0} is not one of the cursors' shards")]
    UnknownShard(usize),
    #[error("shard {0} is exhausted and must not be queried")]
    ExhaustedShardQueried(usize),
    #[error("shard {0} was given twice")]
    DuplicateShard(usize),
    #[error("shard {0} was not queried")]
    MissingShard(usize),
    #[error("the items of shard {0} are not in the sort order")]
    OutOfOrder(usize),
}

/// Merges the pages of the shards named by [`ShardCursors::queries`] (each `(shard, page)`,
/// every queried shard once) into the page of `limit` items and the next cursors.
pub fn merge_shard_pages<T: ShardItem>(
    cursors: &ShardCursors,
    pages: Vec<(usize, ShardPage<T>)>,
    sort: SortOrder,
    limit: usize,
) -> Result<MergedPage<T>, MergeError> {
    let n = cursors.0.len();
    let mut slots: Vec<Option<ShardPage<T>>> = (0..n).map(|_| None).collect();
    // `a` strictly before `b` in the merged order: createdAt in the sort order, then shard.
    let before = |a: (&str, usize), b: (&str, usize)| match sort {
        SortOrder::Asc => a < b,
        SortOrder::Desc => a.0 > b.0 || (a.0 == b.0 && a.1 < b.1),
    };
    for (shard, page) in pages {
        match cursors.0.get(shard) {
            None => return Err(MergeError::UnknownShard(shard)),
            Some(ShardCursor::Exhausted) => return Err(MergeError::ExhaustedShardQueried(shard)),
            Some(_) => {}
        }
        let sorted = page.items.windows(2).all(|w| {
            let (a, b) = (w[0].created_at(), w[1].created_at());
            match sort {
                SortOrder::Asc => a <= b,
                SortOrder::Desc => a >= b,
            }
        });
        if !sorted {
            return Err(MergeError::OutOfOrder(shard));
        }
        if slots[shard].replace(page).is_some() {
            return Err(MergeError::DuplicateShard(shard));
        }
    }
    for (shard, c) in cursors.0.iter().enumerate() {
        if *c != ShardCursor::Exhausted && slots[shard].is_none() {
            return Err(MergeError::MissingShard(shard));
        }
    }

    let mut heads = vec![0usize; n];
    let mut taken: Vec<usize> = Vec::with_capacity(limit);
    while taken.len() < limit {
        let mut best: Option<(&str, usize)> = None;
        for (s, slot) in slots.iter().enumerate() {
            if let Some(item) = slot.as_ref().and_then(|p| p.items.get(heads[s])) {
                let key = (item.created_at(), s);
                if best.is_none_or(|b| before(key, b)) {
                    best = Some(key);
                }
            }
        }
        let Some(candidate) = best else { break };
        // A shard whose returned items are all taken but that has more could hold an item
        // that sorts before the candidate: then the candidate waits for the next page.
        let blocked = slots.iter().enumerate().any(|(t, slot)| match slot {
            Some(page) if t != candidate.1 && page.last_evaluated_key.is_some() => {
                heads[t] == page.items.len()
                    && page
                        .items
                        .last()
                        .is_none_or(|last| !before(candidate, (last.created_at(), t)))
            }
            _ => false,
        });
        if blocked {
            break;
        }
        heads[candidate.1] += 1;
        taken.push(candidate.1);
    }

    let next: Vec<ShardCursor> = cursors
        .0
        .iter()
        .zip(&slots)
        .zip(&heads)
        .map(|((previous, slot), &k)| match slot {
            None => ShardCursor::Exhausted,
            Some(page) if k == page.items.len() => match &page.last_evaluated_key {
                None => ShardCursor::Exhausted,
                Some(key) => ShardCursor::After(key.clone()),
            },
            Some(page) if k > 0 => ShardCursor::After(page.items[k - 1].index_key()),
            Some(_) => previous.clone(),
        })
        .collect();

    let mut iters: Vec<std::vec::IntoIter<T>> = slots
        .into_iter()
        .map(|s| s.map(|p| p.items).unwrap_or_default().into_iter())
        .collect();
    let items = taken
        .into_iter()
        .filter_map(|s| iters.get_mut(s).and_then(Iterator::next))
        .collect();
    let next = ShardCursors(next);
    Ok(MergedPage {
        items,
        next: (!next.is_finished()).then_some(next),
    })
}

#[cfg(test)]
mod tests {
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

    // ---- The merge, against a simulated sharded index. ----

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Entry {
        id: String,
        created_at: String,
        shard: usize,
    }

    impl ShardItem for Entry {
        fn created_at(&self) -> &str {
            &self.created_at
        }
        fn index_key(&self) -> Value {
            json!({
                "statusShard": status_partition(OrderStatus::Paid, self.shard),
                "createdAt": self.created_at,
                "orderId": self.id,
            })
        }
    }

    /// A small deterministic PRNG (SplitMix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Shards as the index holds them: each in its query order for `sort`.
    struct Index {
        shards: Vec<Vec<Entry>>,
    }

    impl Index {
        fn random(rng: &mut Rng, shards: usize, sort: SortOrder) -> Index {
            let mut next_id = 0;
            let spread = 1 + rng.below(40); // few distinct times: many ties
            let shards = (0..shards)
                .map(|shard| {
                    let count = match rng.below(4) {
                        0 => 0,
                        1 => rng.below(3),
                        _ => rng.below(40),
                    };
                    let mut entries: Vec<Entry> = (0..count)
                        .map(|_| {
                            next_id += 1;
                            Entry {
                                id: format!("o-{next_id:04}"),
                                created_at: format!("2026-11-23T04:05:{:02}.000Z", rng.below(spread)),
                                shard,
                            }
                        })
                        .collect();
                    // Ties keep a fixed but arbitrary order, as in DynamoDB.
                    entries.sort_by(|a, b| a.created_at.cmp(&b.created_at));
                    if sort == SortOrder::Desc {
                        entries.reverse();
                    }
                    entries
                })
                .collect();
            Index { shards }
        }

        /// A DynamoDB Query of one shard: up to `limit` items after `start`, sometimes cut
        /// short (the 1 MB limit) when `truncate`, and a `LastEvaluatedKey` when more remain
        /// (and sometimes when exactly `limit` were returned and none remain, as DynamoDB
        /// does).
        fn query(
            &self,
            rng: &mut Rng,
            shard: usize,
            start: Option<&Value>,
            limit: usize,
            truncate: bool,
        ) -> ShardPage<Entry> {
            let list = &self.shards[shard];
            let from = match start {
                None => 0,
                Some(key) => {
                    let id = key["orderId"].as_str().unwrap();
                    list.iter().position(|e| e.id == id).unwrap() + 1
                }
            };
            let mut take = limit;
            if truncate && rng.below(3) == 0 {
                take = rng.below(limit as u64 + 1) as usize;
                if take == 0 && from == 0 {
                    take = 1;
                }
            }
            let end = (from + take).min(list.len());
            let items = list[from..end].to_vec();
            let more = end < list.len();
            let last_evaluated_key = if more || (items.len() == limit && rng.below(2) == 0) {
                if end > 0 {
                    Some(list[end - 1].index_key())
                } else {
                    None
                }
            } else {
                None
            };
            ShardPage {
                items,
                last_evaluated_key,
            }
        }

        /// Every entry in the merged order.
        fn expected(&self, sort: SortOrder) -> Vec<Entry> {
            let mut all: Vec<Entry> = self.shards.iter().flatten().cloned().collect();
            // Stable: within a shard and a time, the index's order stays.
            all.sort_by(|a, b| {
                let by_time = a.created_at.cmp(&b.created_at);
                let by_time = if sort == SortOrder::Desc {
                    by_time.reverse()
                } else {
                    by_time
                };
                by_time.then(a.shard.cmp(&b.shard))
            });
            all
        }
    }

    /// Pages through `index` as the handler would, through real tokens, and returns the pages.
    fn page_through(
        rng: &mut Rng,
        index: &Index,
        sort: SortOrder,
        limit: usize,
        truncate: bool,
    ) -> Vec<Vec<Entry>> {
        let shards = index.shards.len();
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        let total: usize = index.shards.iter().map(Vec::len).sum();
        for _ in 0..(total + 10) * 20 {
            let cursors = match &token {
                None => ShardCursors::start(shards),
                Some(t) => {
                    let value = decode(t, "fp", KEY).unwrap();
                    let cursors: Vec<ShardCursor> = serde_json::from_value(value).unwrap();
                    ShardCursors(cursors)
                }
            };
            let answers = cursors
                .queries()
                .into_iter()
                .map(|q| {
                    (
                        q.shard,
                        index.query(rng, q.shard, q.exclusive_start_key, limit, truncate),
                    )
                })
                .collect();
            let page = merge_shard_pages(&cursors, answers, sort, limit).unwrap();
            assert!(page.items.len() <= limit);
            pages.push(page.items);
            match page.next {
                None => return pages,
                Some(next) => token = Some(encode("fp", &next.to_value(), KEY)),
            }
        }
        panic!("paging did not end");
    }

    #[test]
    fn paging_returns_every_item_once_in_order_with_full_pages() {
        let mut rng = Rng(42);
        for round in 0..400 {
            let sort = if round % 2 == 0 {
                SortOrder::Desc
            } else {
                SortOrder::Asc
            };
            let shards = 1 + rng.below(STATUS_SHARDS as u64) as usize;
            let limit = 1 + rng.below(12) as usize;
            let index = Index::random(&mut rng, shards, sort);
            let pages = page_through(&mut rng, &index, sort, limit, false);
            let got: Vec<Entry> = pages.iter().flatten().cloned().collect();
            assert_eq!(got, index.expected(sort), "round {round}");
            // Without cut-short answers, every page but the last is full.
            for (i, p) in pages.iter().enumerate().take(pages.len() - 1) {
                assert_eq!(p.len(), limit, "round {round}, page {i}");
            }
        }
    }

    #[test]
    fn paging_survives_answers_cut_short() {
        let mut rng = Rng(7);
        for round in 0..600 {
            let sort = if round % 3 == 0 {
                SortOrder::Asc
            } else {
                SortOrder::Desc
            };
            let shards = 1 + rng.below(STATUS_SHARDS as u64) as usize;
            let limit = 1 + rng.below(10) as usize;
            let index = Index::random(&mut rng, shards, sort);
            let got: Vec<Entry> = page_through(&mut rng, &index, sort, limit, true)
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(got, index.expected(sort), "round {round}");
        }
    }

    fn entry(id: &str, t: u32, shard: usize) -> Entry {
        Entry {
            id: id.into(),
            created_at: format!("2026-11-23T04:05:{t:02}.000Z"),
            shard,
        }
    }

    fn page(items: Vec<Entry>, more: bool) -> ShardPage<Entry> {
        let last_evaluated_key = more.then(|| items.last().map(ShardItem::index_key).unwrap_or(json!({})));
        ShardPage {
            items,
            last_evaluated_key,
        }
    }

    #[test]
    fn a_shard_cut_short_holds_back_later_items() {
        // Shard 0 returned one item (t=5) and has more; shard 1 has t=9 and t=3 (desc).
        let cursors = ShardCursors::start(2);
        let merged = merge_shard_pages(
            &cursors,
            vec![
                (0, page(vec![entry("a", 5, 0)], true)),
                (1, page(vec![entry("b", 9, 1), entry("c", 3, 1)], false)),
            ],
            SortOrder::Desc,
            10,
        )
        .unwrap();
        // t=3 might come after shard 0's unseen items (t ≤ 5): it waits.
        assert_eq!(
            merged.items.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let next = merged.next.unwrap();
        assert_eq!(next.shards()[0], ShardCursor::After(entry("a", 5, 0).index_key()));
        assert_eq!(next.shards()[1], ShardCursor::After(entry("b", 9, 1).index_key()));
    }

    #[test]
    fn ties_go_to_the_lower_shard() {
        let cursors = ShardCursors::start(3);
        let merged = merge_shard_pages(
            &cursors,
            vec![
                (2, page(vec![entry("c", 5, 2)], false)),
                (0, page(vec![entry("a", 5, 0)], false)),
                (1, page(vec![entry("b", 5, 1)], false)),
            ],
            SortOrder::Desc,
            10,
        )
        .unwrap();
        assert_eq!(
            merged.items.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(merged.next, None);
    }

    #[test]
    fn cursors_record_exhausted_and_untouched_shards() {
        let cursors = ShardCursors::start(3);
        let merged = merge_shard_pages(
            &cursors,
            vec![
                (0, page(vec![entry("a", 9, 0), entry("b", 8, 0)], true)),
                (1, page(vec![], false)),
                (2, page(vec![entry("c", 1, 2)], false)),
            ],
            SortOrder::Desc,
            2,
        )
        .unwrap();
        assert_eq!(merged.items.len(), 2);
        let next = merged.next.unwrap();
        assert_eq!(
            next.shards(),
            [
                ShardCursor::After(entry("b", 8, 0).index_key()),
                ShardCursor::Exhausted,
                ShardCursor::NotStarted,
            ]
        );
        assert_eq!(next.queries().iter().map(|q| q.shard).collect::<Vec<_>>(), [0, 2]);
    }

    #[test]
    fn an_empty_answer_with_more_to_come_moves_its_cursor() {
        let cursors = ShardCursors::start(2);
        let lek = json!({"statusShard": "PAID#0", "orderId": "x"});
        let merged = merge_shard_pages(
            &cursors,
            vec![
                (
                    0,
                    ShardPage {
                        items: vec![],
                        last_evaluated_key: Some(lek.clone()),
                    },
                ),
                (1, page(vec![entry("b", 9, 1)], false)),
            ],
            SortOrder::Desc,
            5,
        )
        .unwrap();
        assert!(merged.items.is_empty());
        let next = merged.next.unwrap();
        assert_eq!(next.shards(), [ShardCursor::After(lek), ShardCursor::NotStarted]);
    }

    #[test]
    fn inputs_that_do_not_fit_the_cursors_are_errors() {
        let mut cursors = ShardCursors::start(2);
        cursors.0[1] = ShardCursor::Exhausted;
        let empty = || page(vec![], false);
        assert_eq!(
            merge_shard_pages::<Entry>(&cursors, vec![], SortOrder::Asc, 5).unwrap_err(),
            MergeError::MissingShard(0)
        );
        assert_eq!(
            merge_shard_pages(&cursors, vec![(0, empty()), (1, empty())], SortOrder::Asc, 5).unwrap_err(),
            MergeError::ExhaustedShardQueried(1)
        );
        assert_eq!(
            merge_shard_pages(&cursors, vec![(0, empty()), (0, empty())], SortOrder::Asc, 5).unwrap_err(),
            MergeError::DuplicateShard(0)
        );
        assert_eq!(
            merge_shard_pages(&cursors, vec![(5, empty())], SortOrder::Asc, 5).unwrap_err(),
            MergeError::UnknownShard(5)
        );
        assert_eq!(
            merge_shard_pages(
                &cursors,
                vec![(0, page(vec![entry("a", 1, 0), entry("b", 2, 0)], false))],
                SortOrder::Desc,
                5
            )
            .unwrap_err(),
            MergeError::OutOfOrder(0)
        );
    }
}

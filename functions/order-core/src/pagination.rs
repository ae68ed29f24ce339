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

use crate::hash::{hmac, sha256};
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
    hex::encode(&sha256(canonical.as_bytes())[..12])
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
mod tests;

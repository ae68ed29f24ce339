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

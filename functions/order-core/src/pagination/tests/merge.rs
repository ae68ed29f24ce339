//! The merge of the sharded status index, against a simulated index.

use super::*;

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

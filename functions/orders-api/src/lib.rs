//! `POST /orders`, `GET /orders/{orderId}` and `GET /orders`.
//!
//! - An order is priced on the server from the stored prices (the client's prices are only
//!   compared and logged) and stored PENDING; the orders stream takes it from there.
//! - `Idempotency-Key`: a retried request gets the first answer and creates nothing new.
//! - Listing reads the customer index, or all shards of the status index merged by creation
//!   time; `nextToken` is signed (HMAC) and bound to its query.

use infra_model::contract::api::{CreateOrderResponse, ListOrdersResponse, Operation, OrderStatus};
use infra_model::contract::metrics::Metric;
use infra_model::contract::tables::orders as t;
use infra_model::system::api::params;
use order_aws::api::{failure, new_id, problem};
use order_aws::http::{ApiRequest, json, raw_json, unrouted};
use order_aws::idempotency::{Claim, IdempotencyStore};
use order_aws::inventory::InventoryStore;
use order_aws::item::{item_to_json, json_to_item};
use order_aws::lambda_http::{Body, Response};
use order_aws::orders::{OrderRecord, OrderStore};
use order_aws::{AppConfig, telemetry};
use order_core::ApiProblem;
use order_core::idempotency::{self as idem, Decision, StoredResponse};
use order_core::pagination::{
    self, ShardCursors, ShardItem, ShardPage, decode_customer_cursor, decode_status_cursors,
    merge_shard_pages, orders_query_fingerprint, status_partition,
};
use order_core::query::{OrdersFilter, parse_list_orders_query};
use order_core::requests::parse_create_order;
use serde_json::{Value, json};
use tracing::{info, warn};

pub struct OrdersApi {
    pub config: AppConfig,
    pub orders: OrderStore,
    pub inventory: InventoryStore,
    pub idempotency: IdempotencyStore,
    /// The key that signs pagination tokens (from the bound secret).
    pub token_key: Vec<u8>,
}

/// An order in a status index page.
struct Indexed(OrderRecord);

impl ShardItem for Indexed {
    fn created_at(&self) -> &str {
        &self.0.created_at
    }
    fn index_key(&self) -> Value {
        json!({
            t::ORDER_ID.name: self.0.order_id,
            t::STATUS_SHARD.name: self.0.status_shard,
            t::CREATED_AT.name: self.0.created_at,
        })
    }
}

impl OrdersApi {
    pub async fn handle(&self, req: &ApiRequest, now_ms: i64) -> Response<Body> {
        let cors = &self.config.cors;
        match req.operation() {
            Some(Operation::CreateOrder) => self.create(req, now_ms).await,
            Some(Operation::ListOrders) => self.list(req).await,
            Some(Operation::GetOrder) => {
                self.get(req, req.param(params::ORDER_ID.name).unwrap_or_default())
                    .await
            }
            _ => unrouted(req, cors),
        }
    }

    async fn create(&self, req: &ApiRequest, now_ms: i64) -> Response<Body> {
        let cors = &self.config.cors;
        let origin = req.origin.as_deref();
        // The header's schema first: every schema rule is answered (400) before a business rule
        // of the body (422).
        let key = match idem::parse_idempotency_key(req.idempotency_key.as_deref()) {
            Ok(k) => k.map(|k| idem::record_key("POST /orders", &k)),
            Err(p) => return problem(req, cors, &p),
        };
        let order = match parse_create_order(&req.body, req.content_type.as_deref()) {
            Ok(o) => o,
            Err(p) => return problem(req, cors, &p),
        };
        let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
        let hash = idem::request_hash("POST", "/orders", &req.body);
        // A keyed request names its order by the key, so a retry finds what an attempt that
        // died mid-way stored.
        let keyed_id = key.as_deref().map(|k| order_core::ids::order_id_for(k, &hash));
        if let Some(key) = &key {
            match self.idempotency.claim(key, &hash, now_s).await {
                Ok(Claim::Claimed) => {}
                Ok(Claim::Existing(rec)) => {
                    let record = idem::IdempotencyRecord {
                        request_hash: rec.request_hash.clone(),
                        expires_at: rec.expires_at,
                        response: match (rec.is_completed(), rec.status_code, rec.response.clone()) {
                            (true, Some(status_code), Some(body)) => {
                                Some(StoredResponse { status_code, body })
                            }
                            _ => None,
                        },
                    };
                    return match idem::decide(Some(&record), &hash, now_s) {
                        Decision::Replay(r) => {
                            info!("idempotent replay of an earlier answer");
                            raw_json(r.status_code, r.body, cors, origin)
                        }
                        // In progress: if the first attempt stored the order already (it may
                        // have died before recording its answer), that order is the answer.
                        Decision::Reject(p) if p.status == 409 => match &keyed_id {
                            Some(id) => match self.orders.get(id).await {
                                Ok(Some(_)) => {
                                    info!(order_id = %id, "the first attempt stored the order: answering it");
                                    raw_json(202, accepted_body(id.clone()), cors, origin)
                                }
                                Ok(None) => problem(req, cors, &p),
                                Err(e) => failure(req, cors, "the orders table", &e),
                            },
                            None => problem(req, cors, &p),
                        },
                        Decision::Reject(p) => problem(req, cors, &p),
                        Decision::Proceed => {
                            problem(req, cors, &ApiProblem::unavailable("the idempotency record"))
                        }
                    };
                }
                Err(e) => return failure(req, cors, "the idempotency table", &e),
            }
        }
        let order_id = match keyed_id {
            Some(id) => id,
            None => match new_id() {
                Ok(id) => id,
                Err(e) => {
                    tracing::error!(error = %e);
                    return problem(req, cors, &ApiProblem::internal());
                }
            },
        };
        let response = self.create_order(req, order, order_id, now_ms).await;
        if let Some(key) = &key {
            let (status, body) = response
                .as_ref()
                .map_or_else(|(s, b)| (*s, b.clone()), |(s, b)| (*s, b.clone()));
            let stored = if idem::is_replayable(status) {
                self.idempotency.complete(key, status, &body).await
            } else {
                self.idempotency.abandon(key).await
            };
            if let Err(e) = stored {
                warn!(error = %e, "could not record the idempotent answer");
            }
        }
        match response {
            Ok((status, body)) | Err((status, body)) => raw_json(status, body, cors, origin),
        }
    }

    /// The order's creation: `Ok((202, body))` or `Err((status, error body))`.
    async fn create_order(
        &self,
        req: &ApiRequest,
        order: infra_model::contract::api::CreateOrderRequest,
        order_id: String,
        now_ms: i64,
    ) -> Result<(u16, String), (u16, String)> {
        let fail = |p: ApiProblem| (p.status, p.to_body(&req.request_id));
        let skus: Vec<String> = order.items.iter().map(|i| i.sku.clone()).collect();
        let stored = match self.inventory.get_many(&skus).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "reading prices failed");
                return Err(fail(ApiProblem::unavailable("the inventory")));
            }
        };
        let views: Vec<_> = stored.values().map(|p| p.to_view()).collect();
        let priced = order_core::pricing::price_order(&order, &views).map_err(fail)?;
        for d in &priced.price_differences {
            info!(sku = %d.sku, client_price = %d.client_price, "client price differs from the stored price; the stored price is charged");
        }
        let now = order_core::time::format_timestamp(now_ms).map_err(|_| fail(ApiProblem::internal()))?;
        let record = OrderRecord::new_pending(
            order_id.clone(),
            order.customer_name.clone(),
            order.customer_email.clone(),
            &priced.lines,
            priced.total,
            order.shipping_address.clone(),
            order.payment_method,
            now,
        );
        match self.orders.create(&record).await {
            Ok(true) => {
                telemetry::count(Metric::OrdersAccepted, &self.config.environment);
                info!(order_id, total = %priced.total, lines = priced.lines.len(), "order accepted");
            }
            Ok(false) => info!(
                order_id,
                "an earlier attempt of this request stored the order: answering it"
            ),
            Err(e) => {
                tracing::error!(error = %e, "storing the order failed");
                return Err(fail(ApiProblem::unavailable("the orders table")));
            }
        }
        Ok((202, accepted_body(order_id)))
    }

    async fn get(&self, req: &ApiRequest, id: &str) -> Response<Body> {
        let cors = &self.config.cors;
        let id = match order_core::ids::parse_order_id(id) {
            Ok(id) => id,
            Err(p) => return problem(req, cors, &p),
        };
        match self.orders.get(&id).await {
            Ok(Some(o)) => json(200, &o.to_view(), cors, req.origin.as_deref()),
            Ok(None) => problem(req, cors, &ApiProblem::not_found("order", &id)),
            Err(e) => failure(req, cors, "the orders table", &e),
        }
    }

    async fn list(&self, req: &ApiRequest) -> Response<Body> {
        let cors = &self.config.cors;
        let query = match parse_list_orders_query(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(q) => q,
            Err(p) => return problem(req, cors, &p),
        };
        let fingerprint = orders_query_fingerprint(&query);
        let bad_token = |e: pagination::TokenError| problem(req, cors, &ApiProblem::from(e));
        let limit = i32::try_from(query.limit).unwrap_or(20);
        let ascending = query.sort_order.scan_index_forward();
        let (orders, next) = match &query.filter {
            OrdersFilter::Customer { email, status } => {
                let start = match &query.next_token {
                    None => None,
                    Some(token) => {
                        match decode_customer_cursor(token, &fingerprint, email, &self.token_key) {
                            Ok(c) => json_to_item(&c).ok(),
                            Err(e) => return bad_token(e),
                        }
                    }
                };
                let page = self
                    .orders
                    .query_index(
                        t::BY_CUSTOMER,
                        (t::CUSTOMER_EMAIL.name, email),
                        status.map(|s| (t::STATUS, s.as_str())),
                        ascending,
                        limit,
                        start,
                    )
                    .await;
                match page {
                    Ok((records, lek)) => {
                        let next = lek.and_then(|k| item_to_json(&k).ok());
                        (records, next)
                    }
                    Err(e) => return failure(req, cors, "the orders table", &e),
                }
            }
            OrdersFilter::Status(status) => {
                let cursors = match &query.next_token {
                    None => ShardCursors::start(t::STATUS_SHARDS as usize),
                    Some(token) => match decode_status_cursors(token, &fingerprint, *status, &self.token_key)
                    {
                        Ok(c) => c,
                        Err(e) => return bad_token(e),
                    },
                };
                let mut pages = Vec::new();
                // One query per shard, all at once: a page costs one round trip, not eight.
                let mut set = tokio::task::JoinSet::new();
                for q in cursors.queries() {
                    let store = self.orders.clone();
                    let partition = status_partition(*status, q.shard);
                    let start = q.exclusive_start_key.and_then(|k| json_to_item(k).ok());
                    let shard = q.shard;
                    set.spawn(async move {
                        let r = store
                            .query_index(
                                t::BY_STATUS,
                                (t::STATUS_SHARD.name, &partition),
                                None,
                                ascending,
                                limit,
                                start,
                            )
                            .await;
                        (shard, r)
                    });
                }
                while let Some(joined) = set.join_next().await {
                    let Ok((shard, result)) = joined else {
                        return problem(req, cors, &ApiProblem::internal());
                    };
                    match result {
                        Ok((records, lek)) => pages.push((
                            shard,
                            ShardPage {
                                items: records.into_iter().map(Indexed).collect(),
                                last_evaluated_key: lek.and_then(|k| item_to_json(&k).ok()),
                            },
                        )),
                        Err(e) => return failure(req, cors, "the orders table", &e),
                    }
                }
                match merge_shard_pages(&cursors, pages, query.sort_order, query.limit as usize) {
                    Ok(merged) => (
                        merged.items.into_iter().map(|i| i.0).collect(),
                        merged.next.map(|c| c.to_value()),
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "merging the status shards failed");
                        return problem(req, cors, &ApiProblem::internal());
                    }
                }
            }
        };
        let body = ListOrdersResponse {
            orders: orders.iter().map(OrderRecord::to_view).collect(),
            next_token: next.map(|cursor| pagination::encode(&fingerprint, &cursor, &self.token_key)),
        };
        json(200, &body, cors, req.origin.as_deref())
    }
}

/// The 202 of `POST /orders`.
fn accepted_body(order_id: String) -> String {
    let body = CreateOrderResponse {
        order_id,
        status: OrderStatus::Pending,
        message: "Order accepted for processing".into(),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

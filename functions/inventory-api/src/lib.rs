//! `PUT /inventory/{sku}` (create or replace a product: stock, price, name, description),
//! `GET /inventory/{sku}` and `GET /inventory` (paged, signed `nextToken`).

use infra_model::contract::api::{ListInventoryResponse, Operation};
use infra_model::system::api::params;
use order_aws::AppConfig;
use order_aws::api::{failure, problem};
use order_aws::http::{ApiRequest, json, unrouted};
use order_aws::inventory::{InventoryStore, ProductRecord};
use order_aws::item::{item_to_json, json_to_item};
use order_aws::lambda_http::{Body, Response};
use order_core::ApiProblem;
use order_core::pagination::{self, inventory_query_fingerprint};
use order_core::query::parse_list_inventory_query;
use order_core::requests::{parse_put_inventory, parse_sku_param};
use tracing::info;

pub struct InventoryApi {
    pub config: AppConfig,
    pub inventory: InventoryStore,
    pub token_key: Vec<u8>,
}

impl InventoryApi {
    pub async fn handle(&self, req: &ApiRequest, now: &str) -> Response<Body> {
        let cors = &self.config.cors;
        let sku = req.param(params::SKU.name).unwrap_or_default();
        match req.operation() {
            Some(Operation::PutInventoryItem) => self.put(req, sku, now).await,
            Some(Operation::GetInventoryItem) => self.get(req, sku).await,
            Some(Operation::ListInventory) => self.list(req).await,
            _ => unrouted(req, cors),
        }
    }

    async fn put(&self, req: &ApiRequest, sku: &str, now: &str) -> Response<Body> {
        let cors = &self.config.cors;
        let update = match parse_put_inventory(sku, &req.body, req.content_type.as_deref()) {
            Ok(u) => u,
            Err(p) => return problem(req, cors, &p),
        };
        let product = ProductRecord {
            sku: update.sku,
            stock: u64::from(update.item.stock),
            price_cents: update.item.price.cents(),
            name: update.item.name,
            description: update.item.description,
            updated_at: now.to_owned(),
        };
        match self.inventory.put(&product).await {
            Ok(()) => {
                info!(sku = %product.sku, stock = product.stock, "product stored");
                json(200, &product.to_view(), cors, req.origin.as_deref())
            }
            Err(e) => failure(req, cors, "the inventory table", &e),
        }
    }

    async fn get(&self, req: &ApiRequest, sku: &str) -> Response<Body> {
        let cors = &self.config.cors;
        let sku = match parse_sku_param(sku) {
            Ok(s) => s,
            Err(p) => return problem(req, cors, &p),
        };
        match self.inventory.get(&sku).await {
            Ok(Some(p)) => json(200, &p.to_view(), cors, req.origin.as_deref()),
            Ok(None) => problem(req, cors, &ApiProblem::not_found("product", &sku)),
            Err(e) => failure(req, cors, "the inventory table", &e),
        }
    }

    async fn list(&self, req: &ApiRequest) -> Response<Body> {
        let cors = &self.config.cors;
        let query = match parse_list_inventory_query(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            Ok(q) => q,
            Err(p) => return problem(req, cors, &p),
        };
        let fingerprint = inventory_query_fingerprint(&query);
        let start = match &query.next_token {
            None => None,
            Some(token) => match pagination::decode(token, &fingerprint, &self.token_key) {
                Ok(cursor) => json_to_item(&cursor).ok(),
                Err(e) => return problem(req, cors, &ApiProblem::from(e)),
            },
        };
        let limit = i32::try_from(query.limit).unwrap_or(20);
        match self.inventory.scan(limit, start).await {
            Ok((products, lek)) => {
                let body = ListInventoryResponse {
                    items: products.iter().map(ProductRecord::to_view).collect(),
                    next_token: lek
                        .and_then(|k| item_to_json(&k).ok())
                        .map(|cursor| pagination::encode(&fingerprint, &cursor, &self.token_key)),
                };
                json(200, &body, cors, req.origin.as_deref())
            }
            Err(e) => failure(req, cors, "the inventory table", &e),
        }
    }
}

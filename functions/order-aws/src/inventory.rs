//! The inventory table: products, prices and stock.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use infra_model::contract::tables::inventory as t;
pub use infra_model::contract::tables::inventory::ProductRecord;

use crate::error::StoreError;
use crate::item::{Item, from_item, s, to_item};

#[derive(Clone, Debug)]
pub struct InventoryStore {
    client: Client,
    table: String,
}

impl InventoryStore {
    pub fn new(client: Client, table: impl Into<String>) -> InventoryStore {
        InventoryStore {
            client,
            table: table.into(),
        }
    }

    /// Creates or replaces a product (stock is set, not added).
    pub async fn put(&self, product: &ProductRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(product)?))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", &self.table, e))?;
        Ok(())
    }

    pub async fn get(&self, sku: &str) -> Result<Option<ProductRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(t::SKU.name, s(sku))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", &self.table, e))?;
        out.item().map(from_item).transpose().map_err(StoreError::from)
    }

    /// The products with these SKUs (at most 100), by SKU; unknown SKUs are absent.
    pub async fn get_many(&self, skus: &[String]) -> Result<BTreeMap<String, ProductRecord>, StoreError> {
        let mut found = BTreeMap::new();
        if skus.is_empty() {
            return Ok(found);
        }
        let keys: Vec<Item> = skus
            .iter()
            .map(|sku| [(t::SKU.name.to_owned(), s(sku))].into())
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(|e| StoreError::Misconfigured(e.to_string()))?,
        );
        // DynamoDB may return part of the batch as unprocessed; ask again for the rest.
        for _ in 0..10 {
            let Some(req) = request.take() else { break };
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, req)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("BatchGetItem", &self.table, e))?;
            for item in out
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let p: ProductRecord = from_item(item)?;
                found.insert(p.sku.clone(), p);
            }
            request = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
        }
        if request.is_some() {
            return Err(StoreError::Service {
                operation: "BatchGetItem",
                resource: self.table.clone(),
                message: "keys stayed unprocessed after 10 attempts".into(),
                retryable: true,
            });
        }
        Ok(found)
    }

    /// One page of all products.
    pub async fn scan(
        &self,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<ProductRecord>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("Scan", &self.table, e))?;
        let items = out.items().iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok((items, out.last_evaluated_key().cloned()))
    }
}

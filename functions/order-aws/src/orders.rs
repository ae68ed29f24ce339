//! The orders table: records, status transitions with conditions, the reservation and release
//! transactions, and the two indexes.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use infra_model::contract::api::{OrderStatus, StatusChange};
use infra_model::contract::tables::orders as t;
pub use infra_model::contract::tables::orders::{LineRecord, OrderRecord, PaymentRecord};

use order_core::lifecycle::previous_statuses;
use order_core::reservation::{SeenStock, StockChange};

use crate::error::StoreError;
use crate::item::{Item, from_item, n, s, to_attr, to_item};

/// The outcome of a conditional status change.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    /// The order moved.
    Done(Box<OrderRecord>),
    /// The order was not in an expected status; here is what it is (`None`: no such order).
    Refused(Option<Box<OrderRecord>>),
}

/// Why a reservation did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveRefusal {
    /// The order is no longer PENDING (a duplicate stream record).
    NotPending,
    /// The condition on the stock change at this index of the plan failed; what it saw.
    Stock { index: usize, seen: SeenStock },
}

/// The orders table.
#[derive(Clone, Debug)]
pub struct OrderStore {
    client: Client,
    table: String,
    inventory_table: Option<String>,
}

fn status_list(statuses: &[OrderStatus]) -> (String, Vec<(String, AttributeValue)>) {
    let names: Vec<String> = (0..statuses.len()).map(|i| format!(":from{i}")).collect();
    let values = statuses
        .iter()
        .zip(&names)
        .map(|(st, name)| (name.clone(), s(st.as_str())))
        .collect();
    (format!("#status IN ({})", names.join(", ")), values)
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> OrderStore {
        OrderStore {
            client,
            table: table.into(),
            inventory_table: None,
        }
    }

    /// With the inventory table, for the reservation and release transactions.
    pub fn with_inventory(mut self, inventory_table: impl Into<String>) -> OrderStore {
        self.inventory_table = Some(inventory_table.into());
        self
    }

    fn key(order_id: &str) -> Item {
        [(t::ORDER_ID.name.to_owned(), s(order_id))].into()
    }

    /// Stores a new order; fails if the id exists.
    /// Stores a new order: `Ok(true)`, or `Ok(false)` when an order with its id is there
    /// already. An id is random or derived from an idempotency key
    /// ([`order_core::ids::order_id_for`]), so one that exists is this request's own: an
    /// earlier attempt stored it (a retried PutItem whose first answer was lost, or a handler
    /// that died before recording its answer).
    pub async fn create(&self, order: &OrderRecord) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(order)?))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", t::ORDER_ID.name)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", &self.table, e)),
        }
    }

    pub async fn get(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", &self.table, e))?;
        out.item().map(from_item).transpose().map_err(StoreError::from)
    }

    /// One page of an index query: the records and the key to continue from. `only` keeps
    /// the items whose string attribute has this value (a `FilterExpression`: DynamoDB applies
    /// it after reading up to `limit` items, so a page may hold fewer, even none, while a
    /// continuation key remains).
    pub async fn query_index(
        &self,
        index: &str,
        partition: (&str, &str),
        only: Option<(&str, &str)>,
        ascending: bool,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<OrderRecord>, Option<Item>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", partition.0)
            .expression_attribute_values(":pk", s(partition.1));
        if let Some((attribute, value)) = only {
            query = query
                .filter_expression("#only = :only")
                .expression_attribute_names("#only", attribute)
                .expression_attribute_values(":only", s(value));
        }
        let out = query
            .scan_index_forward(ascending)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("Query", &self.table, e))?;
        let records = out.items().iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok((records, out.last_evaluated_key().cloned()))
    }

    /// Moves an order to `to`, appending to its history and setting the extra attributes given,
    /// on condition that it is in a status `to` may follow (the status machine's,
    /// [`previous_statuses`]). Refused (with the current record) when the order is elsewhere.
    pub async fn transition(
        &self,
        order_id: &str,
        to: OrderStatus,
        reason: Option<&str>,
        now: &str,
        extra: &[(&str, AttributeValue)],
    ) -> Result<Transition, StoreError> {
        let (condition, from_values) = status_list(&previous_statuses(to));
        let change = StatusChange {
            status: to,
            at: now.to_owned(),
            reason: reason.map(str::to_owned),
        };
        let change = to_attr(&serde_json::to_value(&change).map_err(crate::item::ItemError::from)?);
        let mut set = vec![
            "#status = :to".to_string(),
            "#shard = :shard".into(),
            "#updated = :now".into(),
            "#history = list_append(#history, :change)".into(),
        ];
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .condition_expression(condition)
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_names("#shard", t::STATUS_SHARD.name)
            .expression_attribute_names("#updated", t::UPDATED_AT)
            .expression_attribute_names("#history", t::STATUS_HISTORY)
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":shard", s(t::status_shard(to.as_str(), order_id)))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":change", AttributeValue::L(vec![change]));
        if let Some(r) = reason {
            set.push("#reason = :reason".into());
            req = req
                .expression_attribute_names("#reason", t::STATUS_REASON)
                .expression_attribute_values(":reason", s(r));
        }
        for (i, (name, value)) in extra.iter().enumerate() {
            set.push(format!("#x{i} = :x{i}"));
            req = req
                .expression_attribute_names(format!("#x{i}"), *name)
                .expression_attribute_values(format!(":x{i}"), value.clone());
        }
        for (k, v) in from_values {
            req = req.expression_attribute_values(k, v);
        }
        let result = req
            .update_expression(format!("SET {}", set.join(", ")))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                Ok(Transition::Done(Box::new(from_item(&item)?)))
            }
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    let current = c.item().map(from_item::<OrderRecord>).transpose()?;
                    Ok(Transition::Refused(current.map(Box::new)))
                }
                other => Err(StoreError::service("UpdateItem", &self.table, other)),
            },
        }
    }

    fn inventory(&self) -> Result<&str, StoreError> {
        self.inventory_table.as_deref().ok_or_else(|| {
            StoreError::Misconfigured("the order store needs the inventory table for this".into())
        })
    }

    /// Reserves the stock of a PENDING order and moves it to RESERVED, in one transaction:
    /// every SKU must have enough stock, and the order must still be PENDING.
    pub async fn reserve(
        &self,
        order: &OrderRecord,
        changes: &[StockChange],
        now: &str,
    ) -> Result<Result<(), ReserveRefusal>, StoreError> {
        let inventory = self.inventory()?;
        let change = StatusChange {
            status: OrderStatus::Reserved,
            at: now.to_owned(),
            reason: None,
        };
        let change = to_attr(&serde_json::to_value(&change).map_err(crate::item::ItemError::from)?);
        let reserved_from = status_list(&previous_statuses(OrderStatus::Reserved));
        let order_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(&order.order_id)))
            .update_expression("SET #status = :to, #shard = :shard, #updated = :now, #history = list_append(#history, :change)")
            .condition_expression(reserved_from.0)
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_names("#shard", t::STATUS_SHARD.name)
            .expression_attribute_names("#updated", t::UPDATED_AT)
            .expression_attribute_names("#history", t::STATUS_HISTORY)
            .expression_attribute_values(":to", s(OrderStatus::Reserved.as_str()))
            .expression_attribute_values(":shard", s(t::status_shard(OrderStatus::Reserved.as_str(), &order.order_id)))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":change", AttributeValue::L(vec![change]));
        let order_update = reserved_from
            .1
            .into_iter()
            .fold(order_update, |u, (k, v)| u.expression_attribute_values(k, v))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(order_update).build()];
        for StockChange { sku, quantity: qty } in changes {
            let update = Update::builder()
                .table_name(inventory)
                .key(infra_model::contract::tables::inventory::SKU.name, s(sku))
                .update_expression("SET #stock = #stock - :q, #updated = :now")
                .condition_expression("attribute_exists(#sku) AND #stock >= :q")
                .expression_attribute_names("#stock", infra_model::contract::tables::inventory::STOCK)
                .expression_attribute_names("#sku", infra_model::contract::tables::inventory::SKU.name)
                .expression_attribute_names("#updated", infra_model::contract::tables::inventory::UPDATED_AT)
                .expression_attribute_values(":q", n(qty))
                .expression_attribute_values(":now", s(now))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                let service = e.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service {
                    let reasons = c.cancellation_reasons();
                    tracing::debug!(reasons = ?reasons.iter().map(|r| (r.code(), r.message())).collect::<Vec<_>>(), "transaction cancelled");
                    if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
                        return Ok(Err(ReserveRefusal::NotPending));
                    }
                    for (i, reason) in reasons.iter().enumerate().skip(1) {
                        if reason.code() != Some("ConditionalCheckFailed") {
                            continue;
                        }
                        let seen = match reason.item().filter(|item| !item.is_empty()) {
                            // No old item: either the SKU does not exist or the service did not
                            // return it. A consistent read tells which.
                            None => self.seen_stock(inventory, changes.get(i - 1).map(|c| c.sku.as_str())).await?,
                            Some(item) => match item
                                .get(infra_model::contract::tables::inventory::STOCK)
                                .and_then(|v| v.as_n().ok())
                                .and_then(|v| v.parse::<u64>().ok())
                            {
                                Some(stock) => SeenStock::Had(u32::try_from(stock).unwrap_or(u32::MAX)),
                                None => SeenStock::Missing,
                            },
                        };
                        return Ok(Err(ReserveRefusal::Stock { index: i - 1, seen }));
                    }
                }
                Err(StoreError::service("TransactWriteItems", &self.table, service))
            }
        }
    }

    /// What a reader sees of a SKU's stock now.
    async fn seen_stock(&self, inventory: &str, sku: Option<&str>) -> Result<SeenStock, StoreError> {
        let Some(sku) = sku else {
            return Ok(SeenStock::NotReturned);
        };
        let out = self
            .client
            .get_item()
            .table_name(inventory)
            .key(infra_model::contract::tables::inventory::SKU.name, s(sku))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetItem", inventory, e))?;
        Ok(match out.item() {
            None => SeenStock::Missing,
            Some(item) => item
                .get(infra_model::contract::tables::inventory::STOCK)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(SeenStock::NotReturned, |n| {
                    SeenStock::Had(u32::try_from(n).unwrap_or(u32::MAX))
                }),
        })
    }

    /// Releases a failed order's stock and marks it FAILED, once: the transaction only runs
    /// while the order is RESERVED or PAID and its stock was never released. Returns false
    /// when there was nothing to do (already released, or not in a releasable state).
    pub async fn release(
        &self,
        order: &OrderRecord,
        changes: &[StockChange],
        reason: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let inventory = self.inventory()?;
        let change = StatusChange {
            status: OrderStatus::Failed,
            at: now.to_owned(),
            reason: Some(reason.to_owned()),
        };
        let change = to_attr(&serde_json::to_value(&change).map_err(crate::item::ItemError::from)?);
        let failed_from = status_list(&previous_statuses(OrderStatus::Failed));
        let order_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(&order.order_id)))
            .update_expression(
                "SET #status = :failed, #shard = :shard, #updated = :now, #reason = :reason, #released = :true, \
                 #history = list_append(#history, :change)",
            )
            .condition_expression(format!("{} AND attribute_not_exists(#released)", failed_from.0))
            .expression_attribute_names("#status", t::STATUS)
            .expression_attribute_names("#shard", t::STATUS_SHARD.name)
            .expression_attribute_names("#updated", t::UPDATED_AT)
            .expression_attribute_names("#reason", t::STATUS_REASON)
            .expression_attribute_names("#released", t::STOCK_RELEASED)
            .expression_attribute_names("#history", t::STATUS_HISTORY)
            .expression_attribute_values(":failed", s(OrderStatus::Failed.as_str()))
            .expression_attribute_values(":shard", s(t::status_shard(OrderStatus::Failed.as_str(), &order.order_id)))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":change", AttributeValue::L(vec![change]));
        let order_update = failed_from
            .1
            .into_iter()
            .fold(order_update, |u, (k, v)| u.expression_attribute_values(k, v))
            .build()
            .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(order_update).build()];
        for StockChange { sku, quantity: qty } in changes {
            let update = Update::builder()
                .table_name(inventory)
                .key(infra_model::contract::tables::inventory::SKU.name, s(sku))
                .update_expression("ADD #stock :q SET #updated = :now")
                .expression_attribute_names("#stock", infra_model::contract::tables::inventory::STOCK)
                .expression_attribute_names("#updated", infra_model::contract::tables::inventory::UPDATED_AT)
                .expression_attribute_values(":q", n(qty))
                .expression_attribute_values(":now", s(now))
                .build()
                .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let service = e.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) = &service
                    && c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                {
                    return Ok(false);
                }
                Err(StoreError::service("TransactWriteItems", &self.table, service))
            }
        }
    }
}

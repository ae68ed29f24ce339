//! What a run against a live API leaves, and its removal: the SKUs it created and the orders it
//! placed, deleted from the tables once they are finished (`test-api` and `load`).

use aws_sdk_dynamodb::types::AttributeValue;
use infra_model::contract::tables::{inventory, orders};
use serde::Serialize;

use super::Tables;

/// The statuses an order ends in.
pub const TERMINAL: &[&str] = &["SHIPPED", "FAILED", "REJECTED"];

/// An order a run placed, and how it ended.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub scenario: &'static str,
    pub order_id: String,
    /// Its last status read (`None` if it was never read).
    pub status: Option<String>,
}

/// What the run cleaned up, or left.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    pub skus_deleted: usize,
    pub orders_deleted: usize,
    /// What is still there, and why.
    pub left: Vec<String>,
}

/// Deletes the run's SKUs and its finished orders (an unfinished one still has a workflow or a
/// stream record to come: it stays, and is named).
pub async fn clean_up(
    tables: Option<&Tables>,
    skus: &[String],
    placed: &[PlacedOrder],
    run: &str,
) -> Cleanup {
    let mut c = Cleanup::default();
    let Some(t) = tables else {
        if !skus.is_empty() || !placed.is_empty() {
            c.left.push(format!(
                "{} SKU(s) and {} order(s) of run {run}: with --url there is no table access; run with --env or --local to clean up",
                skus.len(),
                placed.len()
            ));
        }
        return c;
    };
    for sku in skus {
        let r = t
            .aws
            .dynamodb
            .delete_item()
            .table_name(&t.inventory)
            .key(inventory::SKU.name, AttributeValue::S(sku.clone()))
            .send()
            .await;
        match r {
            Ok(_) => c.skus_deleted += 1,
            Err(e) => c
                .left
                .push(format!("SKU {sku}: {:#}", t.aws.explain("delete it", e))),
        }
    }
    for p in placed {
        // Its status now, from the table when the run did not see it finish (no request quota).
        let status = if p.status.as_deref().is_some_and(|s| TERMINAL.contains(&s)) {
            p.status.clone()
        } else {
            t.aws
                .dynamodb
                .get_item()
                .table_name(&t.orders)
                .key(orders::ORDER_ID.name, AttributeValue::S(p.order_id.clone()))
                .projection_expression("#s")
                .expression_attribute_names("#s", orders::STATUS)
                .send()
                .await
                .ok()
                .and_then(|o| o.item)
                .and_then(|mut i| i.remove(orders::STATUS))
                .and_then(|v| v.as_s().ok().cloned())
                .or_else(|| p.status.clone())
        };
        if !status.as_deref().is_some_and(|s| TERMINAL.contains(&s)) {
            c.left.push(format!(
                "order {} ({}): not finished ({}), so not deleted",
                p.order_id,
                p.scenario,
                status.as_deref().unwrap_or("never read")
            ));
            continue;
        }
        let r = t
            .aws
            .dynamodb
            .delete_item()
            .table_name(&t.orders)
            .key(orders::ORDER_ID.name, AttributeValue::S(p.order_id.clone()))
            .send()
            .await;
        match r {
            Ok(_) => c.orders_deleted += 1,
            Err(e) => c.left.push(format!(
                "order {}: {:#}",
                p.order_id,
                t.aws.explain("delete it", e)
            )),
        }
    }
    c
}

//! Inventory, one item per SKU.

use serde::{Deserialize, Serialize};

use crate::aws::dynamodb::Key;
use crate::contract::api::InventoryItem;
use crate::contract::money::Money;

pub const SKU: Key = Key::string("sku");
pub const STOCK: &str = "stock";
pub const PRICE_CENTS: &str = "priceCents";
pub const NAME: &str = "name";
pub const DESCRIPTION: &str = "description";
pub const UPDATED_AT: &str = "updatedAt";

/// A product as stored: the items of the inventory table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRecord {
    pub sku: String,
    pub stock: u64,
    pub price_cents: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub updated_at: String,
}

impl ProductRecord {
    pub fn to_view(&self) -> InventoryItem {
        InventoryItem {
            sku: self.sku.clone(),
            stock: u32::try_from(self.stock).unwrap_or(u32::MAX),
            price: Money::from_cents(self.price_cents),
            name: self.name.clone(),
            description: self.description.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

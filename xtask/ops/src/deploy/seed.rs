//! `cargo xtask seed-inventory`: sample products in the inventory table (seed 003's laptop,
//! mouse, keyboard, ...), written with the attribute names the handlers read.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use infra_model::contract::tables::inventory;
use serde::Serialize;

use super::{Aws, Console, DeployTarget, OutputMode, read_stack};

/// One sample product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub stock: u32,
    pub price_cents: u64,
}

/// The sample products (the SKUs seed 003's example orders use, and a few more).
pub const PRODUCTS: &[Product] = &[
    Product {
        sku: "laptop",
        name: "Laptop 14\"",
        description: "14-inch laptop, 16 GB memory, 512 GB SSD",
        stock: 50,
        price_cents: 99_999,
    },
    Product {
        sku: "mouse",
        name: "Wireless mouse",
        description: "Two-button wireless mouse with a USB receiver",
        stock: 200,
        price_cents: 2_499,
    },
    Product {
        sku: "keyboard",
        name: "Mechanical keyboard",
        description: "Full-size mechanical keyboard, US layout",
        stock: 120,
        price_cents: 7_999,
    },
    Product {
        sku: "monitor",
        name: "27\" monitor",
        description: "27-inch QHD monitor with a height-adjustable stand",
        stock: 40,
        price_cents: 32_900,
    },
    Product {
        sku: "headphones",
        name: "Noise-cancelling headphones",
        description: "Over-ear Bluetooth headphones, 30 hours of battery",
        stock: 75,
        price_cents: 19_900,
    },
    Product {
        sku: "webcam",
        name: "HD webcam",
        description: "1080p webcam with a built-in microphone",
        stock: 90,
        price_cents: 5_999,
    },
    Product {
        sku: "usb-c-hub",
        name: "USB-C hub",
        description: "7-in-1 hub: HDMI, 3 x USB-A, SD, microSD, 100 W pass-through",
        stock: 150,
        price_cents: 3_999,
    },
    Product {
        sku: "desk-lamp",
        name: "LED desk lamp",
        description: "Dimmable LED desk lamp with a USB charging port",
        stock: 0,
        price_cents: 2_999,
    },
];

/// The output naming the inventory table.
pub fn inventory_table_output() -> String {
    infra_model::decl::Target::Table(&infra_model::system::resources::INVENTORY.spec).output_id()
}

/// What `seed-inventory` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct SeedReport {
    pub stack: String,
    pub table: String,
    pub products: Vec<Product>,
}

/// Writes the sample products into the stack's inventory table (an existing SKU is
/// overwritten with the sample's values).
pub async fn seed_inventory(target: &DeployTarget, output: OutputMode) -> Result<SeedReport> {
    let console = Console::new(output);
    let aws = Aws::connect(&target.aws).await?;
    let Some(stack) = read_stack(&aws, &target.stack).await? else {
        bail!(
            "{} does not exist: deploy it first (`cargo xtask deploy --env {}`)",
            target.stack,
            target.env.name()
        );
    };
    let output = inventory_table_output();
    let Some(table) = stack.outputs.get(&output).cloned() else {
        bail!(
            "{} has no output {output} (status {}): deploy the current model first",
            target.stack,
            stack.status
        );
    };
    let now = rfc3339_millis(SystemTime::now());
    for p in PRODUCTS {
        let item: HashMap<String, AttributeValue> = HashMap::from([
            (
                inventory::SKU.name.to_owned(),
                AttributeValue::S(p.sku.to_owned()),
            ),
            (
                inventory::STOCK.to_owned(),
                AttributeValue::N(p.stock.to_string()),
            ),
            (
                inventory::PRICE_CENTS.to_owned(),
                AttributeValue::N(p.price_cents.to_string()),
            ),
            (inventory::NAME.to_owned(), AttributeValue::S(p.name.to_owned())),
            (
                inventory::DESCRIPTION.to_owned(),
                AttributeValue::S(p.description.to_owned()),
            ),
            (inventory::UPDATED_AT.to_owned(), AttributeValue::S(now.clone())),
        ]);
        aws.dynamodb
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| aws.explain(&format!("write {} into {table}", p.sku), e))?;
        console.line(format!(
            "  {:<12} {:>5} in stock  {:>8}  {}",
            p.sku,
            p.stock,
            format!("{}.{:02}", p.price_cents / 100, p.price_cents % 100),
            p.name
        ));
    }
    console.line(format!("Seeded {} products into {table}", PRODUCTS.len()));
    Ok(SeedReport {
        stack: target.stack.clone(),
        table,
        products: PRODUCTS.to_vec(),
    })
}

/// `2026-11-23T04:30:34.221Z` (UTC, milliseconds), as the handlers write `updatedAt`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    // The handlers' own formatter; it refuses only years after 9999.
    order_core::time::format_timestamp(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_408_234_221);
        assert_eq!(rfc3339_millis(t), "2026-11-23T04:30:34.221Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn samples_include_the_seed_skus_and_are_valid() {
        for sku in ["laptop", "mouse", "keyboard"] {
            assert!(PRODUCTS.iter().any(|p| p.sku == sku), "{sku}");
        }
        let re_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        assert!(PRODUCTS.iter().all(|p| re_ok(p.sku)));
    }
}

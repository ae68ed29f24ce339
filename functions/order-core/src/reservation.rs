//! Stock reservation: what to take from the inventory for an order, in one transaction of
//! conditional decrements (`stock >= :quantity`), and the REJECTED reason when a condition
//! fails. The same plan, as increments, releases the stock when the order fails later.

use std::collections::BTreeMap;

use infra_model::contract::api::OrderLine;

/// Take (or give back) `quantity` of `sku`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockChange {
    pub sku: String,
    pub quantity: u32,
}

/// The stock changes of an order: one per SKU (a DynamoDB transaction may not touch one item
/// twice), quantities of the same SKU added up, sorted by SKU so that every order names its
/// items in the same sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationPlan {
    changes: Vec<StockChange>,
}

/// Why an order's lines give no plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the order has no lines to reserve")]
    Empty,
    #[error("the quantities of {0} add up to more than {max}", max = u32::MAX)]
    QuantityOverflow(String),
}

/// What a failed condition saw of the inventory item (DynamoDB returns the item with
/// `ReturnValuesOnConditionCheckFailure = ALL_OLD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeenStock {
    /// There is no such item.
    Missing,
    /// The item had this stock.
    Had(u32),
    /// The item was not returned.
    NotReturned,
}

/// Why a SKU could not be reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReservationFailure {
    InsufficientStock {
        sku: String,
        requested: u32,
        available: Option<u32>,
    },
    UnknownSku {
        sku: String,
    },
}

impl ReservationFailure {
    /// The order's REJECTED reason: `insufficient stock for laptop: 3 requested` (with `, 1
    /// available` when the stock is known) or `unknown sku: xyz`.
    pub fn reason(&self) -> String {
        match self {
            ReservationFailure::InsufficientStock {
                sku,
                requested,
                available: Some(available),
            } => format!("insufficient stock for {sku}: {requested} requested, {available} available"),
            ReservationFailure::InsufficientStock {
                sku,
                requested,
                available: None,
            } => format!("insufficient stock for {sku}: {requested} requested"),
            ReservationFailure::UnknownSku { sku } => format!("unknown sku: {sku}"),
        }
    }
}

/// The reason of several failures, in plan order, joined with `; `.
pub fn rejection_reason(failures: &[ReservationFailure]) -> String {
    failures
        .iter()
        .map(ReservationFailure::reason)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ReservationPlan {
    /// The plan of an order's lines. Lines of quantity 0 take nothing and are left out.
    pub fn from_lines(lines: &[OrderLine]) -> Result<ReservationPlan, PlanError> {
        let mut by_sku: BTreeMap<&str, u32> = BTreeMap::new();
        for line in lines.iter().filter(|l| l.quantity > 0) {
            let q = by_sku.entry(line.sku.as_str()).or_insert(0);
            *q = q
                .checked_add(line.quantity)
                .ok_or_else(|| PlanError::QuantityOverflow(line.sku.clone()))?;
        }
        if by_sku.is_empty() {
            return Err(PlanError::Empty);
        }
        Ok(ReservationPlan {
            changes: by_sku
                .into_iter()
                .map(|(sku, quantity)| StockChange {
                    sku: sku.to_owned(),
                    quantity,
                })
                .collect(),
        })
    }

    /// The changes, in the order the transaction lists them.
    pub fn changes(&self) -> &[StockChange] {
        &self.changes
    }

    /// The failure of the change at `index` of the transaction (DynamoDB's cancellation
    /// reasons come in the same order), given what the condition saw. `None` when there is no
    /// such change, or when the stock seen was enough (the condition failed for another reason
    /// and the transaction is worth retrying).
    pub fn failure_at(&self, index: usize, seen: SeenStock) -> Option<ReservationFailure> {
        let change = self.changes.get(index)?;
        match seen {
            SeenStock::Missing => Some(ReservationFailure::UnknownSku {
                sku: change.sku.clone(),
            }),
            SeenStock::Had(stock) if stock >= change.quantity => None,
            SeenStock::Had(stock) => Some(ReservationFailure::InsufficientStock {
                sku: change.sku.clone(),
                requested: change.quantity,
                available: Some(stock),
            }),
            SeenStock::NotReturned => Some(ReservationFailure::InsufficientStock {
                sku: change.sku.clone(),
                requested: change.quantity,
                available: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_model::contract::money::Money;

    fn line(sku: &str, quantity: u32) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            product_name: sku.into(),
            quantity,
            unit_price: Money::from_cents(100),
            line_total: Money::from_cents(100 * u64::from(quantity)),
        }
    }

    fn change(sku: &str, quantity: u32) -> StockChange {
        StockChange {
            sku: sku.into(),
            quantity,
        }
    }

    #[test]
    fn quantities_are_merged_per_sku_and_sorted() {
        let plan = ReservationPlan::from_lines(&[
            line("mouse", 2),
            line("laptop", 1),
            line("mouse", 3),
            line("cable", 0),
        ])
        .unwrap();
        assert_eq!(plan.changes(), [change("laptop", 1), change("mouse", 5)]);
    }

    #[test]
    fn empty_and_overflowing_plans_are_errors() {
        assert_eq!(ReservationPlan::from_lines(&[]), Err(PlanError::Empty));
        assert_eq!(
            ReservationPlan::from_lines(&[line("a", 0)]),
            Err(PlanError::Empty)
        );
        assert_eq!(
            ReservationPlan::from_lines(&[line("a", u32::MAX), line("a", 1)]),
            Err(PlanError::QuantityOverflow("a".into()))
        );
    }

    #[test]
    fn failures_become_rejection_reasons() {
        let plan = ReservationPlan::from_lines(&[line("laptop", 3), line("xyz", 1)]).unwrap();
        let insufficient = plan.failure_at(0, SeenStock::NotReturned).unwrap();
        assert_eq!(
            insufficient.reason(),
            "insufficient stock for laptop: 3 requested"
        );
        assert_eq!(
            plan.failure_at(0, SeenStock::Had(1)).unwrap().reason(),
            "insufficient stock for laptop: 3 requested, 1 available"
        );
        let unknown = plan.failure_at(1, SeenStock::Missing).unwrap();
        assert_eq!(unknown.reason(), "unknown sku: xyz");
        assert_eq!(
            rejection_reason(&[insufficient, unknown]),
            "insufficient stock for laptop: 3 requested; unknown sku: xyz"
        );
        // Enough stock seen: the condition failed for another reason.
        assert_eq!(plan.failure_at(0, SeenStock::Had(3)), None);
        assert_eq!(plan.failure_at(2, SeenStock::Missing), None);
    }
}

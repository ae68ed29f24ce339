//! The life of an order: which status may follow which, and how a consumer that receives the
//! same event twice (or late) recognizes it.
//!
//! ```text
//! PENDING ──► RESERVED ──► PAID ──► SHIPPED
//!    │            │          │
//!    ▼            ▼          ▼
//! REJECTED      FAILED ◄─────┘
//! ```

use infra_model::contract::api::OrderStatus;

/// A change of status that the life of an order does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {} to {}", .from.as_str(), .to.as_str())]
pub struct TransitionError {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// The statuses that may follow `from`.
pub fn next_statuses(from: OrderStatus) -> &'static [OrderStatus] {
    use OrderStatus::*;
    match from {
        Pending => &[Reserved, Rejected],
        Reserved => &[Paid, Failed],
        Paid => &[Shipped, Failed],
        Rejected | Shipped | Failed => &[],
    }
}

/// The statuses `to` may follow: what a conditional write to `to` requires the order to be in
/// (the store's condition expressions are built from this).
pub fn previous_statuses(to: OrderStatus) -> Vec<OrderStatus> {
    OrderStatus::ALL
        .into_iter()
        .filter(|from| next_statuses(*from).contains(&to))
        .collect()
}

/// `Ok` when `to` may follow `from`; otherwise an error naming both.
pub fn check_transition(from: OrderStatus, to: OrderStatus) -> Result<(), TransitionError> {
    if next_statuses(from).contains(&to) {
        Ok(())
    } else {
        Err(TransitionError { from, to })
    }
}

/// The statuses every order in `status` has been through, itself included (the dominators of
/// `status` in the graph above): a FAILED order has certainly been RESERVED, but not
/// necessarily PAID.
pub fn statuses_passed(status: OrderStatus) -> &'static [OrderStatus] {
    use OrderStatus::*;
    match status {
        Pending => &[Pending],
        Reserved => &[Pending, Reserved],
        Rejected => &[Pending, Rejected],
        Paid => &[Pending, Reserved, Paid],
        Shipped => &[Pending, Reserved, Paid, Shipped],
        Failed => &[Pending, Reserved, Failed],
    }
}

/// Whether an event that would move an order to `target` has already had its effect: the
/// order is in `target`, or certainly went through it. A consumer acknowledges such an event
/// and changes nothing.
pub fn is_duplicate(current: OrderStatus, target: OrderStatus) -> bool {
    statuses_passed(current).contains(&target)
}

/// What a consumer does with an event that moves an order from `current` to `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Write the new status (conditionally on the status still being `current`).
    Apply,
    /// Already done: acknowledge, change nothing.
    Duplicate,
}

/// [`Transition::Apply`] for an allowed change, [`Transition::Duplicate`] for one already
/// made, and an error (`OrderStateConflict` for a workflow task) for anything else, such as a
/// payment for a REJECTED order.
pub fn plan_transition(current: OrderStatus, target: OrderStatus) -> Result<Transition, TransitionError> {
    if check_transition(current, target).is_ok() {
        Ok(Transition::Apply)
    } else if is_duplicate(current, target) {
        Ok(Transition::Duplicate)
    } else {
        Err(TransitionError {
            from: current,
            to: target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn allowed_transitions_are_exactly_the_documented_ones() {
        let allowed = [
            (Pending, Reserved),
            (Pending, Rejected),
            (Reserved, Paid),
            (Reserved, Failed),
            (Paid, Shipped),
            (Paid, Failed),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(
                    check_transition(from, to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        for s in OrderStatus::ALL {
            assert_eq!(next_statuses(s).is_empty(), s.is_final(), "{s:?}");
        }
    }

    #[test]
    fn previous_statuses_invert_the_graph() {
        assert_eq!(previous_statuses(Reserved), [Pending]);
        assert_eq!(previous_statuses(Failed), [Reserved, Paid]);
        assert_eq!(previous_statuses(Shipped), [Paid]);
        assert!(previous_statuses(Pending).is_empty());
        for to in OrderStatus::ALL {
            for from in previous_statuses(to) {
                assert!(check_transition(from, to).is_ok());
            }
        }
    }

    #[test]
    fn errors_name_both_states() {
        assert_eq!(
            check_transition(Paid, Reserved).unwrap_err().to_string(),
            "an order cannot go from PAID to RESERVED"
        );
        assert_eq!(
            check_transition(Shipped, Shipped).unwrap_err(),
            TransitionError {
                from: Shipped,
                to: Shipped
            }
        );
    }

    /// Every path from PENDING to `to`, by walking the graph.
    fn paths_to(to: OrderStatus) -> Vec<Vec<OrderStatus>> {
        fn walk(path: Vec<OrderStatus>, to: OrderStatus, out: &mut Vec<Vec<OrderStatus>>) {
            let last = *path.last().unwrap();
            if last == to {
                out.push(path.clone());
            }
            for next in next_statuses(last) {
                let mut p = path.clone();
                p.push(*next);
                walk(p, to, out);
            }
        }
        let mut out = Vec::new();
        walk(vec![Pending], to, &mut out);
        out
    }

    #[test]
    fn statuses_passed_are_those_on_every_path() {
        for s in OrderStatus::ALL {
            let paths = paths_to(s);
            assert!(!paths.is_empty(), "{s:?} unreachable");
            let on_every: Vec<OrderStatus> = OrderStatus::ALL
                .into_iter()
                .filter(|x| paths.iter().all(|p| p.contains(x)))
                .collect();
            let mut expected = statuses_passed(s).to_vec();
            expected.sort();
            assert_eq!(on_every, expected, "{s:?}");
        }
    }

    #[test]
    fn duplicates_and_conflicts() {
        assert_eq!(plan_transition(Pending, Reserved), Ok(Transition::Apply));
        assert_eq!(plan_transition(Reserved, Reserved), Ok(Transition::Duplicate));
        assert_eq!(plan_transition(Paid, Reserved), Ok(Transition::Duplicate));
        assert_eq!(plan_transition(Shipped, Paid), Ok(Transition::Duplicate));
        assert_eq!(plan_transition(Failed, Reserved), Ok(Transition::Duplicate));
        assert_eq!(plan_transition(Failed, Failed), Ok(Transition::Duplicate));
        // A FAILED order may never have been paid: a payment for it is a conflict.
        assert_eq!(
            plan_transition(Failed, Paid),
            Err(TransitionError {
                from: Failed,
                to: Paid
            })
        );
        assert_eq!(
            plan_transition(Rejected, Reserved),
            Err(TransitionError {
                from: Rejected,
                to: Reserved
            })
        );
        assert_eq!(
            plan_transition(Pending, Paid),
            Err(TransitionError {
                from: Pending,
                to: Paid
            })
        );
        assert!(is_duplicate(Shipped, Pending));
        assert!(!is_duplicate(Reserved, Paid));
        assert!(!is_duplicate(Rejected, Failed));
    }
}

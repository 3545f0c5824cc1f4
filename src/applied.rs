//! Ledger rows that a function has already applied itself.
//!
//! `reserve` is the hot path: instead of letting the ledger's triggers work out, row by row and
//! statement by statement, what a reservation does to the balances, the hold and the fences, it
//! does exactly that in a few statements under the ledger's locks, then records its ledger row.
//! That row must be stored and validated but not applied a second time. The marker that says so
//! lives here, in backend memory, where no SQL can forge it: only the extension's own functions
//! call `_row_applied_next` (EXECUTE is revoked from PUBLIC), and a mark is good for the very
//! next ledger row of the same transaction and subtransaction, if it is that row, and no other.

use pgrx::prelude::*;
use std::cell::{Cell, RefCell};

/// The row a function applied, and where: a mark left behind by an error in a subtransaction
/// can never match a row of another (sub)transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedRow {
    pub sku: String,
    pub location: String,
    pub from_stage: String,
    pub to_stage: String,
    pub qty: i64,
    pub channel: String,
    pub reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    transaction: u32,
    subtransaction: u32,
}

thread_local! {
    static MARKED: RefCell<Option<(AppliedRow, Place)>> = const { RefCell::new(None) };
    static STATEMENT: Cell<Option<Place>> = const { Cell::new(None) };
}

impl AppliedRow {
    #[allow(clippy::too_many_arguments)]
    fn new(
        sku: &str,
        location: &str,
        from_stage: &str,
        to_stage: &str,
        qty: i64,
        channel: &str,
        reference: &str,
    ) -> AppliedRow {
        AppliedRow {
            sku: sku.to_owned(),
            location: location.to_owned(),
            from_stage: from_stage.to_owned(),
            to_stage: to_stage.to_owned(),
            qty,
            channel: channel.to_owned(),
            reference: reference.to_owned(),
        }
    }
}

fn here() -> Place {
    unsafe {
        Place {
            transaction: pg_sys::GetTopTransactionIdIfAny().into_inner(),
            subtransaction: pg_sys::GetCurrentSubTransactionId(),
        }
    }
}

/// Whether a mark taken for `marked` covers the row `row` seen at `now`: the same content, in
/// the same (sub)transaction, which must have an id (the applying function has written).
fn covers(marked: &(AppliedRow, Place), row: &AppliedRow, now: Place) -> bool {
    marked.1 == now && now.transaction != 0 && marked.0 == *row
}

/// Marks the next ledger row as applied by the caller. Internal.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn _row_applied_next(
    sku: &str,
    location: &str,
    from_stage: &str,
    to_stage: &str,
    qty: i64,
    channel: &str,
    reference: &str,
) {
    let row = AppliedRow::new(sku, location, from_stage, to_stage, qty, channel, reference);
    MARKED.with(|m| *m.borrow_mut() = Some((row, here())));
}

/// Called by the ledger's row trigger for every new row: consumes any mark, and says whether it
/// covered this row (which then must not be applied again). Internal.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn _row_was_applied(
    sku: Option<&str>,
    location: Option<&str>,
    from_stage: Option<&str>,
    to_stage: Option<&str>,
    qty: Option<i64>,
    channel: Option<&str>,
    reference: Option<&str>,
) -> bool {
    let Some(marked) = MARKED.with(|m| m.borrow_mut().take()) else {
        return false;
    };
    let (
        Some(sku),
        Some(location),
        Some(from_stage),
        Some(to_stage),
        Some(qty),
        Some(channel),
        Some(reference),
    ) = (sku, location, from_stage, to_stage, qty, channel, reference)
    else {
        return false;
    };
    let row = AppliedRow::new(sku, location, from_stage, to_stage, qty, channel, reference);
    let now = here();
    if covers(&marked, &row, now) {
        STATEMENT.set(Some(now));
        true
    } else {
        false
    }
}

/// Called first by the ledger's statement trigger: true when this statement's row was applied by
/// the function that inserted it (a one-row statement), so there is nothing left to apply.
/// Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _statement_was_applied() -> bool {
    STATEMENT.take().is_some_and(|place| place == here())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AppliedRow {
        AppliedRow::new("TEE", "DC1", "available", "committed", 2, "web", "SO-1")
    }

    const PLACE: Place = Place {
        transaction: 700,
        subtransaction: 1,
    };

    #[test]
    fn a_mark_covers_only_its_own_row() {
        let marked = (row(), PLACE);
        assert!(covers(&marked, &row(), PLACE));
        let mut other = row();
        other.qty = 3;
        assert!(!covers(&marked, &other, PLACE));
        let mut other = row();
        other.reference = "SO-2".into();
        assert!(!covers(&marked, &other, PLACE));
    }

    #[test]
    fn a_mark_does_not_outlive_its_subtransaction_or_transaction() {
        let marked = (row(), PLACE);
        assert!(!covers(
            &marked,
            &row(),
            Place {
                transaction: 700,
                subtransaction: 2
            }
        ));
        assert!(!covers(
            &marked,
            &row(),
            Place {
                transaction: 701,
                subtransaction: 1
            }
        ));
    }

    #[test]
    fn a_transaction_without_an_id_is_never_covered() {
        let nowhere = Place {
            transaction: 0,
            subtransaction: 1,
        };
        assert!(!covers(&(row(), nowhere), &row(), nowhere));
    }
}

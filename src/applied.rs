//! Ledger rows that a function applies itself.
//!
//! A function that moves stock checks its arguments, applies its rows with the engine (the same
//! code the ledger's statement trigger runs for direct inserts), and then records each row in
//! the ledger. That row must be stored and given its filled-in columns by the ledger's row
//! trigger, but neither validated again nor applied a second time by the statement trigger. The
//! mark that says so lives here, in backend memory, where no SQL can forge it: only the
//! extension's own code sets it, and a mark is good for the very next ledger row of the same
//! transaction and sub-transaction, if it is that row, and no other.

use pgrx::prelude::*;
use std::cell::{Cell, RefCell};

use crate::stage::Stage;

/// What identifies a ledger row a function is about to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowKey {
    pub sku: String,
    pub location: String,
    pub from: Option<Stage>,
    pub to: Option<Stage>,
    pub qty: i64,
    pub channel: Option<String>,
    pub reference: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    transaction: u32,
    subtransaction: u32,
}

thread_local! {
    static MARKED: RefCell<Option<(RowKey, Place)>> = const { RefCell::new(None) };
    static STATEMENT: Cell<Option<Place>> = const { Cell::new(None) };
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
fn covers(marked: &(RowKey, Place), row: &RowKey, now: Place) -> bool {
    marked.1 == now && now.transaction != 0 && marked.0 == *row
}

/// Marks the next ledger row as applied by the caller, which has written already (its SKU's
/// row at least), so the transaction has an id.
pub fn mark_next(row: RowKey) {
    // The transaction has written (the SKU's row); make sure it has its id all the same.
    unsafe { pg_sys::GetTopTransactionId() };
    MARKED.with(|m| *m.borrow_mut() = Some((row, here())));
}

/// Takes back a mark whose row was not inserted after all (a conditional write that wrote
/// nothing).
pub fn clear() {
    MARKED.with(|m| *m.borrow_mut() = None);
}

/// Called by the ledger's row trigger for every new row: consumes any mark, and says whether it
/// covered this row (which then must not be validated or applied again).
pub fn take_mark(row: &RowKey) -> bool {
    let Some(marked) = MARKED.with(|m| m.borrow_mut().take()) else {
        return false;
    };
    let now = here();
    if covers(&marked, row, now) {
        STATEMENT.set(Some(now));
        true
    } else {
        false
    }
}

/// Called first by the ledger's statement trigger: true when this statement's row was applied by
/// the function that inserted it (a one-row statement), so there is nothing left to apply.
pub fn statement_was_applied() -> bool {
    STATEMENT.take().is_some_and(|place| place == here())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> RowKey {
        RowKey {
            sku: "TEE".into(),
            location: "DC1".into(),
            from: Some(Stage::available),
            to: Some(Stage::committed),
            qty: 2,
            channel: Some("web".into()),
            reference: Some("SO-1".into()),
        }
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
        other.reference = Some("SO-2".into());
        assert!(!covers(&marked, &other, PLACE));
        let mut other = row();
        other.channel = None;
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

//! C functions that released versions' SQL still calls.
//!
//! Between installing a new build of the library and `ALTER EXTENSION inventory_truth UPDATE`,
//! a database keeps the SQL of the version it was created at, calling into this library by
//! symbol. Every symbol a released install script names must therefore stay, with the behaviour
//! that version's SQL expects (a missing symbol would even keep `CREATE EXTENSION ... VERSION`
//! of an old version from working). These serve 0.1.0 (`sql/released/inventory_truth--0.1.0.sql`):
//! its `reserve` marked its own ledger row as applied (`_row_applied_next`, `_row_was_applied`,
//! `_statement_was_applied`), and its direct mode published from a pre-commit callback
//! (`_publish_before_commit`). They are not part of the current version's SQL.

use pgrx::prelude::*;
use pgrx::{register_xact_callback, IntoDatum, PgXactCallbackEvent};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use crate::error::Outcome;
use crate::sqlfn::Call;

#[derive(Clone, Debug, PartialEq, Eq)]
struct AppliedRow {
    sku: String,
    location: String,
    from_stage: String,
    to_stage: String,
    qty: i64,
    channel: String,
    reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    transaction: u32,
    subtransaction: u32,
}

thread_local! {
    static MARKED: RefCell<Option<(AppliedRow, Place)>> = const { RefCell::new(None) };
    static STATEMENT: Cell<Option<Place>> = const { Cell::new(None) };
    static TO_PUBLISH: RefCell<Option<(pg_sys::Oid, BTreeSet<String>)>> = const { RefCell::new(None) };
}

fn here() -> Place {
    unsafe {
        Place {
            transaction: pg_sys::GetTopTransactionIdIfAny().into_inner(),
            subtransaction: pg_sys::GetCurrentSubTransactionId(),
        }
    }
}

/// The seven text/bigint arguments of 0.1.0's mark functions, or None if any is NULL.
fn applied_row(fcinfo: Call) -> Option<AppliedRow> {
    Some(AppliedRow {
        sku: fcinfo.arg(0)?,
        location: fcinfo.arg(1)?,
        from_stage: fcinfo.arg(2)?,
        to_stage: fcinfo.arg(3)?,
        qty: fcinfo.arg(4)?,
        channel: fcinfo.arg(5)?,
        reference: fcinfo.arg(6)?,
    })
}

/// 0.1.0's `_row_applied_next(...)`: marks the next ledger row as applied by the caller.
fn row_applied_next(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    if let Some(row) = applied_row(fcinfo) {
        MARKED.with(|m| *m.borrow_mut() = Some((row, here())));
    }
    Ok(pg_sys::Datum::from(0))
}
crate::sql_function!(
    _row_applied_next_wrapper,
    pg_finfo__row_applied_next_wrapper,
    row_applied_next
);

/// 0.1.0's `_row_was_applied(...)`: consumes any mark and says whether it covered this row.
fn row_was_applied(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let Some(marked) = MARKED.with(|m| m.borrow_mut().take()) else {
        return Ok(pg_sys::Datum::from(false));
    };
    let now = here();
    let covered = applied_row(fcinfo)
        .is_some_and(|row| marked.1 == now && now.transaction != 0 && marked.0 == row);
    if covered {
        STATEMENT.set(Some(now));
    }
    Ok(pg_sys::Datum::from(covered))
}
crate::sql_function!(
    _row_was_applied_wrapper,
    pg_finfo__row_was_applied_wrapper,
    row_was_applied
);

/// 0.1.0's `_statement_was_applied()`.
fn statement_was_applied(_fcinfo: Call) -> Outcome<pg_sys::Datum> {
    Ok(pg_sys::Datum::from(
        STATEMENT.take().is_some_and(|place| place == here()),
    ))
}
crate::sql_function!(
    _statement_was_applied_wrapper,
    pg_finfo__statement_was_applied_wrapper,
    statement_was_applied
);

/// 0.1.0's `_publish_before_commit(sku, publisher)`: in direct mode, publishes `sku` just
/// before the transaction commits through `publisher` (its `_publish_committed(text[])`).
fn publish_before_commit(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let (Some(sku), Some(publisher)) = (fcinfo.arg::<String>(0), fcinfo.arg::<pg_sys::Oid>(1))
    else {
        return Ok(pg_sys::Datum::from(0));
    };
    let first = TO_PUBLISH.with(|pending| {
        let mut pending = pending.borrow_mut();
        let first = pending.is_none();
        pending
            .get_or_insert_with(|| (publisher, BTreeSet::new()))
            .1
            .insert(sku);
        first
    });
    if first {
        register_xact_callback(PgXactCallbackEvent::PreCommit, || {
            let Some((publisher, skus)) = TO_PUBLISH.with(|pending| pending.borrow_mut().take())
            else {
                return;
            };
            let skus: Vec<String> = skus.into_iter().collect();
            if let Some(datum) = skus.into_datum() {
                unsafe { pg_sys::OidFunctionCall1Coll(publisher, pg_sys::InvalidOid, datum) };
            }
        });
        register_xact_callback(PgXactCallbackEvent::Abort, || {
            TO_PUBLISH.with(|pending| pending.borrow_mut().take());
        });
        register_xact_callback(PgXactCallbackEvent::PrePrepare, || {
            TO_PUBLISH.with(|pending| pending.borrow_mut().take());
        });
    }
    Ok(pg_sys::Datum::from(0))
}
crate::sql_function!(
    _publish_before_commit_wrapper,
    pg_finfo__publish_before_commit_wrapper,
    publish_before_commit
);

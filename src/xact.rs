//! What the current transaction has done that outlives a statement: the SKUs whose row it holds
//! (and whether it advanced their version), the SKUs whose ATP may have changed (for
//! notifications), and whether it wrote the ledger (its commit time is recorded).
//!
//! One transaction callback and one sub-transaction callback, registered once per backend, act
//! on it: just before commit the transaction's commit time is recorded and, in direct mode, its
//! changes published (`_at_commit`, a SECURITY DEFINER function, since the committing role may
//! not write those tables); after commit, in relay mode, the changed SKUs go to the relay through
//! shared memory (`relay::hand_over`). A rolled-back sub-transaction gives back the SKU rows it
//! locked, so they are forgotten with it.

use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use crate::error::{Failure, Outcome};
use crate::guc::{effective_mode, NotifyMode, NOTIFY_MODE};
use crate::relay;

/// A SKU row this transaction holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    /// The sub-transaction that took it: the lock goes if that one rolls back.
    subtransaction: pg_sys::SubTransactionId,
    /// Whether the version advanced under it (once per transaction is enough: the version
    /// only has to differ from every other committed state's).
    advanced: bool,
}

#[derive(Default)]
struct State {
    held: HashMap<String, Held>,
    changed: BTreeSet<String>,
    /// `_atp_changed_everywhere`: every SKU may have changed.
    everything_changed: bool,
    ledger_written: bool,
    /// The notification mode when the first change was recorded.
    mode: Option<NotifyMode>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static CALLBACKS_REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// `_at_commit(boolean, text[], boolean)`, looked up once per backend (checked before each use).
    static AT_COMMIT: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Whether this transaction holds `sku`'s row, and whether it advanced its version.
pub fn held(sku: &str) -> Option<bool> {
    STATE.with(|s| s.borrow().held.get(sku).map(|h| h.advanced))
}

/// Notes that this transaction now holds `sku`'s row (locked in the current sub-transaction),
/// and advanced its version if `advanced`.
pub fn note_held(sku: &str, advanced: bool) {
    register_callbacks();
    let subtransaction = unsafe { pg_sys::GetCurrentSubTransactionId() };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let entry = s.held.entry(sku.to_owned()).or_insert(Held {
            subtransaction,
            advanced,
        });
        if advanced && !entry.advanced {
            *entry = Held {
                subtransaction,
                advanced,
            };
        }
    });
}

/// The notification mode in force for this transaction's changes.
pub fn notify_mode() -> NotifyMode {
    STATE.with(|s| {
        *s.borrow_mut()
            .mode
            .get_or_insert_with(|| effective_mode(NOTIFY_MODE.get(), relay::preloaded()))
    })
}

/// Records that `sku`'s ATP may have changed in this transaction: it is published after commit
/// (relay) or just before (direct), unless notifications are off.
pub fn changed(sku: &str) {
    register_callbacks();
    if notify_mode() == NotifyMode::Off {
        return;
    }
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !s.changed.contains(sku) {
            s.changed.insert(sku.to_owned());
        }
    });
}

/// Records that every SKU's ATP may have changed (a channel's default buffer, a new channel).
pub fn everything_changed() {
    register_callbacks();
    if notify_mode() == NotifyMode::Off {
        return;
    }
    STATE.with(|s| s.borrow_mut().everything_changed = true);
}

/// Records that this transaction wrote the ledger: its commit time goes into movement_commit.
pub fn ledger_written() {
    register_callbacks();
    STATE.with(|s| s.borrow_mut().ledger_written = true);
}

fn register_callbacks() {
    if CALLBACKS_REGISTERED.with(|r| r.replace(true)) {
        return;
    }
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_transaction), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subtransaction), std::ptr::null_mut());
    }
}

/// What the commit has to do, taken out of the state.
struct AtCommit {
    record_commit: bool,
    publish: Option<Vec<String>>,
}

fn take_pre_commit_work() -> Option<AtCommit> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let direct = s.mode == Some(NotifyMode::Direct);
        let publish = if direct && (s.everything_changed || !s.changed.is_empty()) {
            // Every SKU: `_at_commit` is given NULL and publishes them all.
            Some(if s.everything_changed {
                Vec::new()
            } else {
                std::mem::take(&mut s.changed).into_iter().collect()
            })
        } else {
            None
        };
        if direct {
            s.everything_changed = false;
        }
        let record_commit = std::mem::take(&mut s.ledger_written);
        (record_commit || publish.is_some()).then_some(AtCommit {
            record_commit,
            publish,
        })
    })
}

fn at_commit_function() -> Outcome<pg_sys::Oid> {
    let cached = AT_COMMIT.with(Cell::get);
    if cached != pg_sys::InvalidOid {
        let name = unsafe { pg_sys::get_func_name(cached) };
        if !name.is_null() {
            let matches = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == b"_at_commit";
            unsafe { pg_sys::pfree(name.cast()) };
            if matches {
                return Ok(cached);
            }
        }
    }
    let found = Spi::get_one::<pg_sys::Oid>(
        "SELECT pg_catalog.to_regprocedure('inventory_truth._at_commit(boolean, text[], boolean)')::pg_catalog.oid",
    )
    .map_err(|e| Failure::internal(format!("inventory_truth: {e}")))?
    .ok_or_else(|| Failure::internal("inventory_truth._at_commit(boolean, text[], boolean) is missing"))?;
    AT_COMMIT.with(|c| c.set(found));
    Ok(found)
}

fn pre_commit(prepare: bool) -> Outcome<()> {
    let Some(mut work) = take_pre_commit_work() else {
        return Ok(());
    };
    if prepare {
        // NOTIFY cannot be prepared: a prepared transaction publishes nothing in direct mode.
        work.publish = None;
        if !work.record_commit {
            return Ok(());
        }
    }
    // Statements need a snapshot, and the commit has none of its own.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    let outcome = call_at_commit(work);
    unsafe { pg_sys::PopActiveSnapshot() };
    outcome
}

fn call_at_commit(work: AtCommit) -> Outcome<()> {
    let function = at_commit_function()?;
    let (publish, publish_all) = match work.publish {
        Some(skus) if skus.is_empty() => (Vec::new(), true),
        Some(skus) => (skus, false),
        None => (Vec::new(), false),
    };
    let publish = publish
        .into_datum()
        .ok_or_else(|| Failure::internal("inventory_truth: cannot build the SKUs to publish"))?;
    // Through fmgr, so that the function's SECURITY DEFINER and pinned search_path apply: the
    // committing role may not write movement_commit or atp_published.
    unsafe {
        pg_sys::OidFunctionCall3Coll(
            function,
            pg_sys::InvalidOid,
            pg_sys::Datum::from(work.record_commit),
            publish,
            pg_sys::Datum::from(publish_all),
        );
    }
    Ok(())
}

unsafe extern "C-unwind" fn on_transaction(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PARALLEL_PRE_COMMIT => unsafe {
            crate::error::run(|| pre_commit(false))
        },
        XACT_EVENT_PRE_PREPARE => unsafe { crate::error::run(|| pre_commit(true)) },
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => {
            let state = STATE.with(|s| std::mem::take(&mut *s.borrow_mut()));
            if state.mode == Some(NotifyMode::Relay) {
                relay::hand_over(&state.changed, state.everything_changed);
            }
        }
        XACT_EVENT_PREPARE => {
            let state = STATE.with(|s| std::mem::take(&mut *s.borrow_mut()));
            if state.mode == Some(NotifyMode::Relay)
                && (state.everything_changed || !state.changed.is_empty())
            {
                // COMMIT PREPARED may come from any session, later: the relay looks for versions
                // past what it published until no prepared transaction is left.
                relay::hand_over_prepared();
            }
        }
        _ => STATE.with(|s| *s.borrow_mut() = State::default()),
    }
}

unsafe extern "C-unwind" fn on_subtransaction(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::SubXactEvent::*;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match event {
            SUBXACT_EVENT_ABORT_SUB => s.held.retain(|_, h| h.subtransaction != my_subid),
            SUBXACT_EVENT_COMMIT_SUB => {
                for h in s.held.values_mut() {
                    if h.subtransaction == my_subid {
                        h.subtransaction = parent_subid;
                    }
                }
            }
            _ => {}
        }
    });
}

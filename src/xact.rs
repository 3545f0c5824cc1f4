//! What the current transaction has done that outlives a statement: the SKUs whose row it holds
//! (and whether it advanced their version), the SKUs whose ATP may have changed (for
//! notifications), whether it wrote the ledger (its commit time is recorded), and what its
//! direct ledger inserts left to judge at commit (a stage below zero, a fence or buffer breached).
//!
//! One transaction callback and one sub-transaction callback, registered once per backend, act
//! on it: just before commit the commit time is recorded (`ledger::record_commit`) and, when
//! there is more to do, `_at_commit` (SECURITY DEFINER, since the committing role may not read
//! those tables) judges what was left to judge, records the commit time and, in direct mode,
//! publishes the changes; after commit, in relay mode, the changed SKUs go to the relay through
//! shared memory (`relay::hand_over`). A rolled-back sub-transaction gives back the
//! SKU rows it locked and takes its breaches with it, so they are forgotten too.

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

/// A direct sale (SKU, location, channel) that breached a fence or a buffer when written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Breach {
    sku: String,
    location: String,
    channel: String,
    /// The sub-transaction that wrote it: the sale goes if that one rolls back.
    subtransaction: pg_sys::SubTransactionId,
}

#[derive(Default)]
struct State {
    held: HashMap<String, Held>,
    changed: BTreeSet<String>,
    /// Changed SKUs whose state as this transaction leaves it is known without reading it (a
    /// reservation's, relay mode): handed to the relay with the SKU, which then reads less. The
    /// sub-transaction that wrote it: the state goes if that one rolls back.
    handed: HashMap<String, (pg_sys::SubTransactionId, crate::notify::AtpInputs)>,
    /// `_atp_changed_everywhere`: every SKU may have changed.
    everything_changed: bool,
    /// The (sub)transactions that wrote the ledger: a rolled-back savepoint's writes are gone,
    /// and a commit with no ledger row left records no commit time.
    ledger_writers: Vec<pg_sys::SubTransactionId>,
    /// Places a direct insert left with a stage below zero: judged at commit (IT001).
    negative: BTreeSet<(String, String)>,
    /// Direct sales that breached a fence or a buffer when written: judged at commit (IT003).
    breaches: Vec<Breach>,
    /// The notification mode when the first change was recorded.
    mode: Option<NotifyMode>,
    /// Escrowed SKUs whose row this transaction holds while their parts may be lent out
    /// (src/escrow.rs): every later change of the SKU in it folds them first. Kept to the end of
    /// the transaction: a fold inside a savepoint that rolls back is undone, so a later change
    /// folds again (a fold of parts this transaction already folded is a cheap no-op).
    lent: BTreeSet<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static CALLBACKS_REGISTERED: Cell<bool> = const { Cell::new(false) };
    /// `_at_commit(...)`, looked up once per backend (checked before each use).
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

/// Notes that this transaction holds `sku`'s row with its pool lent to its escrow parts (it lent
/// it, or sold from a fence without folding them).
pub fn note_lent(sku: &str) {
    register_callbacks();
    STATE.with(|s| s.borrow_mut().lent.insert(sku.to_owned()));
}

/// Whether this transaction holds `sku`'s row while its parts may be lent out: the caller folds
/// them before it decides anything under the row.
pub fn lent(sku: &str) -> bool {
    STATE.with(|s| s.borrow().lent.contains(sku))
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
        // Whatever was known of its state is out of date now.
        s.handed.remove(sku);
    });
}

/// Records that `sku` changed (see [`changed`]) and that `inputs` is its whole state for
/// publishing as this transaction commits it, unless a later change says otherwise. Only in
/// relay mode, the only one that hands changes over.
pub fn changed_to(sku: &str, inputs: crate::notify::AtpInputs) {
    changed(sku);
    if notify_mode() != NotifyMode::Relay {
        return;
    }
    let subtransaction = unsafe { pg_sys::GetCurrentSubTransactionId() };
    STATE.with(|s| {
        s.borrow_mut()
            .handed
            .insert(sku.to_owned(), (subtransaction, inputs))
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

/// Records that a direct ledger insert left a stage of this place below zero: the transaction
/// may still bring the units, so it is judged at commit (`IT001` if still below zero).
pub fn went_negative(sku: &str, location: &str) {
    register_callbacks();
    STATE.with(|s| {
        s.borrow_mut()
            .negative
            .insert((sku.to_owned(), location.to_owned()))
    });
}

/// Records that a direct ledger sale of `channel` at this place took other channels' fenced
/// units or went into the channel's buffer: a later statement may still bring units, so it is
/// judged at commit (`IT003` if still in breach).
pub fn breached(sku: &str, location: &str, channel: &str) {
    register_callbacks();
    let subtransaction = unsafe { pg_sys::GetCurrentSubTransactionId() };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let known = s.breaches.iter().any(|b| {
            b.sku == sku
                && b.location == location
                && b.channel == channel
                && b.subtransaction == subtransaction
        });
        if !known {
            s.breaches.push(Breach {
                sku: sku.to_owned(),
                location: location.to_owned(),
                channel: channel.to_owned(),
                subtransaction,
            });
        }
    });
}

/// Whether a direct sale of this transaction breached a fence or a buffer of `sku` (any SKU if
/// `None`) for `channel` (any channel if `None`): changing those rules before the commit would
/// hide the breach.
pub fn breached_in_transaction(sku: Option<&str>, channel: Option<&str>) -> bool {
    STATE.with(|s| {
        s.borrow().breaches.iter().any(|b| {
            sku.is_none_or(|sku| b.sku == sku) && channel.is_none_or(|channel| b.channel == channel)
        })
    })
}

/// Records that this transaction wrote the ledger: its commit time goes into movement_commit.
pub fn ledger_written() {
    register_callbacks();
    let subtransaction = unsafe { pg_sys::GetCurrentSubTransactionId() };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !s.ledger_writers.contains(&subtransaction) {
            s.ledger_writers.push(subtransaction);
        }
    });
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
    negative: Vec<(String, String)>,
    breaches: Vec<(String, String, String)>,
}

fn take_pre_commit_work(prepare: bool) -> Option<AtCommit> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        // NOTIFY cannot be prepared: a prepared transaction publishes nothing in direct mode.
        let direct = s.mode == Some(NotifyMode::Direct) && !prepare;
        let publish = if direct && (s.everything_changed || !s.changed.is_empty()) {
            // Every SKU: an empty list with publish_all.
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
        let record_commit = !std::mem::take(&mut s.ledger_writers).is_empty();
        let negative: Vec<(String, String)> = std::mem::take(&mut s.negative).into_iter().collect();
        let mut breaches: Vec<(String, String, String)> = std::mem::take(&mut s.breaches)
            .into_iter()
            .map(|b| (b.sku, b.location, b.channel))
            .collect();
        breaches.sort();
        breaches.dedup();
        let work =
            record_commit || publish.is_some() || !negative.is_empty() || !breaches.is_empty();
        work.then_some(AtCommit {
            record_commit,
            publish,
            negative,
            breaches,
        })
    })
}

/// `_at_commit`'s OID, or `None` when the transaction dropped the extension (or the database is
/// at a version without it).
fn at_commit_function() -> Outcome<Option<pg_sys::Oid>> {
    let cached = AT_COMMIT.with(Cell::get);
    if cached != pg_sys::InvalidOid {
        let name = unsafe { pg_sys::get_func_name(cached) };
        if !name.is_null() {
            let matches = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == b"_at_commit";
            unsafe { pg_sys::pfree(name.cast()) };
            if matches {
                return Ok(Some(cached));
            }
        }
    }
    let found = Spi::get_one::<pg_sys::Oid>(
        "SELECT pg_catalog.to_regprocedure('inventory_truth._at_commit(boolean, text[], boolean, text[], text[], text[], text[], text[])')::pg_catalog.oid",
    )
    .map_err(|e| Failure::internal(format!("inventory_truth: {e}")))?;
    if let Some(found) = found {
        AT_COMMIT.with(|c| c.set(found));
    }
    Ok(found)
}

/// The call to `_at_commit`, its arguments built (palloc'd datums: nothing to drop).
#[derive(Clone, Copy)]
struct AtCommitCall {
    function: pg_sys::Oid,
    args: [pg_sys::Datum; 8],
}

/// What the commit must do, as a call to `_at_commit`, or nothing.
fn prepare_pre_commit(prepare: bool) -> Outcome<Option<AtCommitCall>> {
    let Some(work) = take_pre_commit_work(prepare) else {
        return Ok(None);
    };
    if work.publish.is_none() && work.negative.is_empty() && work.breaches.is_empty() {
        // Only the commit time (the common case: a reservation in relay mode): written here,
        // without a call to `_at_commit`.
        if work.record_commit {
            crate::ledger::record_commit()?;
        }
        return Ok(None);
    }
    // Looking the function up needs a snapshot, and the commit has none of its own.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    let function = at_commit_function();
    unsafe { pg_sys::PopActiveSnapshot() };
    let Some(function) = function? else {
        // The transaction dropped the extension: nothing of it is left to judge or publish.
        return Ok(None);
    };
    let (publish, publish_all) = match work.publish {
        Some(skus) if skus.is_empty() => (Vec::new(), true),
        Some(skus) => (skus, false),
        None => (Vec::new(), false),
    };
    let (skus, locations): (Vec<String>, Vec<String>) = work.negative.into_iter().unzip();
    let mut breach_skus = Vec::with_capacity(work.breaches.len());
    let mut breach_locations = Vec::with_capacity(work.breaches.len());
    let mut breach_channels = Vec::with_capacity(work.breaches.len());
    for (sku, location, channel) in work.breaches {
        breach_skus.push(sku);
        breach_locations.push(location);
        breach_channels.push(channel);
    }
    let datum = |v: Vec<String>| {
        v.into_datum()
            .ok_or_else(|| Failure::internal("inventory_truth: cannot build a text array"))
    };
    Ok(Some(AtCommitCall {
        function,
        args: [
            pg_sys::Datum::from(work.record_commit),
            datum(publish)?,
            pg_sys::Datum::from(publish_all),
            datum(skus)?,
            datum(locations)?,
            datum(breach_skus)?,
            datum(breach_locations)?,
            datum(breach_channels)?,
        ],
    }))
}

// fmgr's entry point, declared here without pgrx's guard: `_at_commit` may end the commit with
// IT001, which must reach PostgreSQL as it is (through pgrx it would become XX000). Called only
// from a frame with nothing to drop.
unsafe extern "C-unwind" {
    #[link_name = "OidFunctionCall8Coll"]
    fn unguarded_oid_function_call8(
        function: pg_sys::Oid,
        collation: pg_sys::Oid,
        arg1: pg_sys::Datum,
        arg2: pg_sys::Datum,
        arg3: pg_sys::Datum,
        arg4: pg_sys::Datum,
        arg5: pg_sys::Datum,
        arg6: pg_sys::Datum,
        arg7: pg_sys::Datum,
        arg8: pg_sys::Datum,
    ) -> pg_sys::Datum;
}

/// Just before commit (or PREPARE): everything the transaction left to do at commit, in
/// `_at_commit` (SECURITY DEFINER, its search path pinned: the committing role may not write
/// movement_commit or atp_published).
unsafe fn pre_commit(prepare: bool) {
    let Some(call) = (unsafe { crate::error::run(|| prepare_pre_commit(prepare)) }) else {
        return;
    };
    unsafe {
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        unguarded_oid_function_call8(
            call.function,
            pg_sys::InvalidOid,
            call.args[0],
            call.args[1],
            call.args[2],
            call.args[3],
            call.args[4],
            call.args[5],
            call.args[6],
            call.args[7],
        );
        pg_sys::PopActiveSnapshot();
    }
}

unsafe extern "C-unwind" fn on_transaction(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PARALLEL_PRE_COMMIT => unsafe { pre_commit(false) },
        XACT_EVENT_PRE_PREPARE => unsafe { pre_commit(true) },
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => {
            let state = STATE.with(|s| std::mem::take(&mut *s.borrow_mut()));
            if state.mode == Some(NotifyMode::Relay) {
                relay::hand_over(&state.changed, &state.handed, state.everything_changed);
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
            SUBXACT_EVENT_ABORT_SUB => {
                s.held.retain(|_, h| h.subtransaction != my_subid);
                s.breaches.retain(|b| b.subtransaction != my_subid);
                s.ledger_writers.retain(|&w| w != my_subid);
                s.handed.retain(|_, (sub, _)| *sub != my_subid);
            }
            SUBXACT_EVENT_COMMIT_SUB => {
                for h in s.held.values_mut() {
                    if h.subtransaction == my_subid {
                        h.subtransaction = parent_subid;
                    }
                }
                for b in &mut s.breaches {
                    if b.subtransaction == my_subid {
                        b.subtransaction = parent_subid;
                    }
                }
                for w in &mut s.ledger_writers {
                    if *w == my_subid {
                        *w = parent_subid;
                    }
                }
                s.ledger_writers.dedup();
                for (sub, _) in s.handed.values_mut() {
                    if *sub == my_subid {
                        *sub = parent_subid;
                    }
                }
            }
            _ => {}
        }
    });
}

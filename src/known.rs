//! The channel and location codes this backend has seen exist. Every floor call checks its
//! location, and every sale its channel, before anything else: an index lookup under a snapshot
//! of its own each time (4% of a `pick()`'s backend time in a profile of the suite's floor
//! load), for codes that are added and never removed by the API.
//!
//! So a code found once is remembered, as PostgreSQL remembers catalog rows
//! (`src/backend/utils/cache/relcache.c`), and only that: a code not remembered is looked up
//! (it may have been added since), and no setting of a channel or location is kept (a
//! buffer or a priority read from a cache could lag a commit). A statement that updates or
//! deletes rows of either table (a DBA's, outside the API) sends a relcache invalidation
//! (`_codes_changed`, a row trigger enabled ALWAYS) on which every backend forgets what it remembered of
//! that table: the writing backend at the end of its command (and again if it rolls back), the
//! others once it commits, at their next transaction or lock, or here ([`location_exists`]
//! accepts pending invalidations first). A row this transaction inserted is not remembered until
//! a later transaction finds it committed: an insert rolled back sends no invalidation.

use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use crate::direct::{self, Index, Key, Table};
use crate::error::{Failure, Outcome};
use crate::sql_function;
use crate::sqlfn::Call;

/// The codes remembered of one table, and the table.
struct Remembered {
    table: pg_sys::Oid,
    codes: HashSet<String>,
}

thread_local! {
    static CHANNELS: RefCell<Option<Remembered>> = const { RefCell::new(None) };
    static LOCATIONS: RefCell<Option<Remembered>> = const { RefCell::new(None) };
    /// Advances at every forgetting, so that a look-up overtaken by one is not remembered.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Whether location `code` exists.
pub fn location_exists(code: &str) -> Outcome<bool> {
    exists(&LOCATIONS, direct::LOCATION, &direct::LOCATION_CODE, code)
}

/// Whether channel `code` exists.
pub fn channel_exists(code: &str) -> Outcome<bool> {
    exists(&CHANNELS, direct::CHANNEL, &direct::CHANNEL_CODE, code)
}

fn exists(
    remembered: &'static std::thread::LocalKey<RefCell<Option<Remembered>>>,
    table: Table,
    index: &Index,
    code: &str,
) -> Outcome<bool> {
    // What other backends committed since this one last looked (PostgreSQL does the same at
    // every lock it takes; a transaction that holds every lock already would not).
    unsafe { pg_sys::AcceptInvalidationMessages() };
    if remembered.with(|r| r.borrow().as_ref().is_some_and(|r| r.codes.contains(code))) {
        return Ok(true);
    }
    let table_oid = direct::oid_of(table)?;
    let mut found = false;
    direct::read(|reader| {
        reader.rows(index, &[Key::Text(code)], &[], |_| {
            found = true;
            Ok(())
        })
    })?;
    if found && committed_now(index, code)? {
        remembered.with(|r| {
            r.borrow_mut()
                .get_or_insert_with(|| Remembered {
                    table: table_oid,
                    codes: HashSet::new(),
                })
                .codes
                .insert(code.to_owned());
        });
    }
    Ok(found)
}

/// Whether `code` may be remembered: committed, and there under the latest snapshot, taken after
/// every invalidation this backend has processed (the caller's snapshot may be older: REPEATABLE
/// READ, or a READ COMMITTED statement whose first lock of the table processed a DBA's delete
/// after its snapshot was taken), with no invalidation processed meanwhile. A delete committed
/// after that snapshot sends its invalidation after it, which forgets the code again.
fn committed_now(index: &Index, code: &str) -> Outcome<bool> {
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let generation = GENERATION.get();
    let mut committed = false;
    direct::read_latest(|reader| {
        reader.rows(index, &[Key::Text(code)], &[], |row| {
            committed = !row.inserted_by_this_transaction();
            Ok(())
        })
    })?;
    Ok(committed && GENERATION.get() == generation)
}

/// Called for every relcache invalidation (`direct.rs` registers the callback): one of the two
/// tables, or every relation (`InvalidOid`), forgets its codes.
pub fn forget(relid: pg_sys::Oid) {
    if !direct::invalidation_may_concern(direct::CHANNEL, relid)
        && !direct::invalidation_may_concern(direct::LOCATION, relid)
    {
        return;
    }
    GENERATION.set(GENERATION.get() + 1);
    for remembered in [&CHANNELS, &LOCATIONS] {
        remembered.with(|r| {
            let mut r = r.borrow_mut();
            if relid == pg_sys::InvalidOid || r.as_ref().is_some_and(|k| k.table == relid) {
                *r = None;
            }
        });
    }
}

/// `_codes_changed()`: the row trigger on UPDATE or DELETE of channel and location (enabled
/// ALWAYS: it fires under `session_replication_role = replica` and in a logical replication
/// apply worker too). Tells every backend (this one at the end of the command, the others at commit) to forget the
/// codes it remembers of the table.
fn codes_changed_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let trigdata = fcinfo.trigger()?;
    let relation = trigdata.tg_relation;
    let mut ours = false;
    for table in [direct::CHANNEL, direct::LOCATION] {
        ours |= !relation.is_null() && unsafe { (*relation).rd_id } == direct::oid_of(table)?;
    }
    if !ours {
        return Err(Failure::internal(
            "inventory_truth: _codes_changed fired on a table other than channel or location",
        ));
    }
    unsafe { pg_sys::CacheInvalidateRelcache(relation) };
    Ok(pg_sys::Datum::from(0))
}
sql_function!(
    inventory_truth_codes_changed,
    pg_finfo_inventory_truth_codes_changed,
    codes_changed_call
);

//! Rows read and written without a plan: the engine's, the relay's and the commit record's.
//!
//! A statement run through SPI, even with its plan kept, builds an executor on every run: its
//! nodes and projections, the result relations with their indexes, and tears it all down again.
//! On a reservation that was most of the CPU (docs/development.md, "The hot path"). Here the same
//! reads and writes go straight to the indexes and to the executor's row-level entry points, as
//! logical replication's apply worker does (`src/backend/executor/execReplication.c`): a lookup
//! under a snapshot; an update computed from the row's current version and written as an UPDATE
//! writes it (`table_tuple_update`, waiting for a transaction that is changing the row, computing
//! again from the version it committed); `ExecSimpleRelationInsert`, which keeps indexes, NOT
//! NULL, row triggers and WAL as a statement does; a row lock where a row is only taken.
//! Statement-level triggers do not fire for these rows, and column defaults are not applied: the
//! callers give every column.
//!
//! Nothing here cleans up after a PostgreSQL error: the error aborts the (sub)transaction, whose
//! resource owner closes relations, ends scans and releases snapshots, as it does for a
//! statement. Every other path closes what it opened.

use pgrx::datum::{FromDatum, IntoDatum};
use pgrx::pg_sys;
use pgrx::tupdesc::PgTupleDesc;
use std::cell::{Cell, RefCell};
use std::ffi::CStr;

use crate::error::{Failure, Outcome, SqlState};
use crate::spi::Columns;

const SCHEMA: &CStr = c"inventory_truth";

thread_local! {
    /// The extension's relations by name, resolved once and forgotten on any invalidation of
    /// one of them (a DROP EXTENSION, an ALTER, VACUUM's new statistics): looking them up by
    /// name costs two catalog cache lookups each, and a reservation opens nine.
    static RELATIONS: RefCell<Vec<(&'static CStr, pg_sys::Oid)>> = const { RefCell::new(Vec::new()) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

unsafe extern "C-unwind" fn forget_relations(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    crate::known::forget(relid);
    crate::notify::forget_published_at(relid);
    RELATIONS.with(|r| {
        let mut r = r.borrow_mut();
        if relid == pg_sys::InvalidOid || r.iter().any(|&(_, oid)| oid == relid) {
            r.clear();
        }
    });
}

/// The OID of one of the extension's tables.
pub fn oid_of(table: Table) -> Outcome<pg_sys::Oid> {
    relation(table)
}

/// Whether one of the extension's tables exists (a transaction may have dropped the extension).
pub fn exists(table: Table) -> bool {
    unsafe {
        let namespace = pg_sys::get_namespace_oid(SCHEMA.as_ptr(), true);
        namespace != pg_sys::InvalidOid
            && pg_sys::get_relname_relid(table.as_ptr(), namespace) != pg_sys::InvalidOid
    }
}

/// The OID of one of the extension's tables if it was resolved already (no catalog lookup: for
/// the invalidation callback).
fn cached_oid(table: Table) -> Option<pg_sys::Oid> {
    RELATIONS.with(|r| {
        r.try_borrow()
            .ok()
            .and_then(|r| r.iter().find(|(n, _)| *n == table).map(|&(_, oid)| oid))
    })
}

/// Whether a relcache invalidation of `relid` may concern `table`: it names the table, or every
/// relation (`InvalidOid`), or the table's OID is not resolved here (so it cannot be ruled out).
pub fn invalidation_may_concern(table: Table, relid: pg_sys::Oid) -> bool {
    relid == pg_sys::InvalidOid || cached_oid(table).is_none_or(|oid| oid == relid)
}

/// Registers the relcache callback (once per backend) that forgets the relations resolved here
/// and the codes remembered in `known.rs`.
fn register_callback() {
    if !CALLBACK_REGISTERED.with(|c| c.replace(true)) {
        unsafe {
            pg_sys::CacheRegisterRelcacheCallback(Some(forget_relations), pg_sys::Datum::from(0))
        };
    }
}

/// A relation of the extension, by name.
fn relation(name: &'static CStr) -> Outcome<pg_sys::Oid> {
    if let Some(oid) = RELATIONS.with(|r| {
        r.borrow()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, oid)| oid)
    }) {
        return Ok(oid);
    }
    register_callback();
    let oid = unsafe {
        let namespace = pg_sys::get_namespace_oid(SCHEMA.as_ptr(), true);
        pg_sys::get_relname_relid(name.as_ptr(), namespace)
    };
    if oid == pg_sys::InvalidOid {
        return Err(Failure::internal(format!(
            "inventory_truth: relation {} is missing",
            name.to_string_lossy()
        )));
    }
    RELATIONS.with(|r| r.borrow_mut().push((name, oid)));
    Ok(oid)
}

/// The attribute number of `column` in `rel` (1-based), found by name: a database updated from
/// an earlier version may have its columns in another order than a fresh install.
fn attnum(rel: pg_sys::Relation, column: &str) -> Outcome<usize> {
    let desc = unsafe { PgTupleDesc::from_pg_unchecked((*rel).rd_att) };
    desc.iter()
        .position(|a| {
            !a.attisdropped
                && unsafe { CStr::from_ptr(a.attname.data.as_ptr()) }.to_bytes()
                    == column.as_bytes()
        })
        .map(|i| i + 1)
        .ok_or_else(|| Failure::internal(format!("inventory_truth: no column {column}")))
}

fn natts(rel: pg_sys::Relation) -> usize {
    unsafe { (*(*rel).rd_att).natts as usize }
}

/// A table of the extension.
pub type Table = &'static CStr;

pub const SKU: Table = c"sku";
pub const CHANNEL: Table = c"channel";
pub const LOCATION: Table = c"location";
pub const SKU_BUFFER: Table = c"sku_buffer";
pub const RINGFENCE: Table = c"ringfence";
pub const STOCK: Table = c"stock";
pub const STOCK_PART: Table = c"stock_part";
pub const HOLD: Table = c"hold";
pub const RECEIPT: Table = c"expected_receipt";
pub const MOVEMENT: Table = c"movement";
pub const MOVEMENT_COMMIT: Table = c"movement_commit";
pub const ATP_PUBLISHED: Table = c"atp_published";

/// An index of one of the extension's tables, and what its leading columns are (for a reader).
pub struct Index {
    pub table: Table,
    pub name: &'static CStr,
}

/// (code)
pub const SKU_CODE: Index = Index {
    table: SKU,
    name: c"sku_pkey",
};
/// (code)
pub const CHANNEL_CODE: Index = Index {
    table: CHANNEL,
    name: c"channel_pkey",
};
/// (code)
pub const LOCATION_CODE: Index = Index {
    table: LOCATION,
    name: c"location_pkey",
};
/// (sku, channel)
pub const SKU_BUFFER_KEY: Index = Index {
    table: SKU_BUFFER,
    name: c"sku_buffer_pkey",
};
/// (sku)
pub const ATP_PUBLISHED_SKU: Index = Index {
    table: ATP_PUBLISHED,
    name: c"atp_published_pkey",
};
/// (sku): a SKU's own rules; NULL, the rules for every SKU.
pub const RINGFENCE_SKU: Index = Index {
    table: RINGFENCE,
    name: c"ringfence_sku",
};
/// (sku, location)
pub const STOCK_PLACE: Index = Index {
    table: STOCK,
    name: c"stock_pkey",
};
/// (sku, location, part)
pub const STOCK_PART_KEY: Index = Index {
    table: STOCK_PART,
    name: c"stock_part_pkey",
};
/// (ref, sku, channel, location)
pub const HOLD_KEY: Index = Index {
    table: HOLD,
    name: c"hold_pkey",
};
/// (sku, location), open holds only
pub const HOLD_OPEN_AT: Index = Index {
    table: HOLD,
    name: c"hold_open_at",
};
/// (sku, location), open preorders still awaiting units only
pub const HOLD_AWAITING: Index = Index {
    table: HOLD,
    name: c"hold_awaiting",
};
/// (id)
pub const RECEIPT_ID: Index = Index {
    table: RECEIPT,
    name: c"expected_receipt_pkey",
};
/// (ref, sku, location)
pub const RECEIPT_KEY: Index = Index {
    table: RECEIPT,
    name: c"expected_receipt_ref_sku_location_key",
};
/// (sku, location, eta, id), open receipts only
pub const RECEIPT_OPEN: Index = Index {
    table: RECEIPT,
    name: c"expected_receipt_open",
};

/// A value an index column must equal (or be NULL).
#[derive(Clone, Copy, Debug)]
pub enum Key<'a> {
    Text(&'a str),
    Int8(i64),
    Null,
}

/// Equality keys on the leading columns of `index`, compared as the planner would (text in the
/// index's collation).
unsafe fn scan_keys(index: pg_sys::Relation, key: &[Key]) -> Vec<pg_sys::ScanKeyData> {
    let mut keys: Vec<pg_sys::ScanKeyData> = Vec::with_capacity(key.len());
    for (i, value) in key.iter().enumerate() {
        let mut entry = pg_sys::ScanKeyData::default();
        let attno = (i + 1) as pg_sys::AttrNumber;
        unsafe {
            match *value {
                Key::Text(text) => pg_sys::ScanKeyEntryInitialize(
                    &mut entry,
                    0,
                    attno,
                    pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
                    pg_sys::InvalidOid,
                    *(*index).rd_indcollation.add(i),
                    pg_sys::Oid::from(pg_sys::F_TEXTEQ),
                    pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
                        text.as_ptr().cast(),
                        text.len() as i32,
                    )),
                ),
                Key::Int8(n) => pg_sys::ScanKeyEntryInitialize(
                    &mut entry,
                    0,
                    attno,
                    pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
                    pg_sys::InvalidOid,
                    pg_sys::InvalidOid,
                    pg_sys::Oid::from(pg_sys::F_INT8EQ),
                    pg_sys::Datum::from(n),
                ),
                Key::Null => pg_sys::ScanKeyEntryInitialize(
                    &mut entry,
                    (pg_sys::SK_ISNULL | pg_sys::SK_SEARCHNULL) as i32,
                    attno,
                    0,
                    pg_sys::InvalidOid,
                    pg_sys::InvalidOid,
                    pg_sys::InvalidOid,
                    pg_sys::Datum::from(0),
                ),
            }
        }
        keys.push(entry);
    }
    keys
}

/// One row, as a slot holds it.
struct Row {
    slot: *mut pg_sys::TupleTableSlot,
}

impl Row {
    /// Column `attnum` (1-based), NULL as `None`.
    fn get<T: FromDatum>(&self, attnum: usize) -> Outcome<Option<T>> {
        let (datum, isnull) = self.datum(attnum);
        if isnull {
            return Ok(None);
        }
        unsafe { T::from_datum(datum, false) }
            .map(Some)
            .ok_or_else(|| Failure::internal("inventory_truth: a column that does not convert"))
    }

    fn datum(&self, attnum: usize) -> (pg_sys::Datum, bool) {
        unsafe {
            (
                *(*self.slot).tts_values.add(attnum - 1),
                *(*self.slot).tts_isnull.add(attnum - 1),
            )
        }
    }
}

/// Reads under one snapshot: a fresh one in READ COMMITTED, as each SPI statement takes, that
/// sees what this transaction wrote before.
pub struct Reader {
    snapshot: pg_sys::Snapshot,
}

thread_local! {
    /// The snapshot of the innermost [`with_snapshot`], if any.
    static SHARED_SNAPSHOT: Cell<pg_sys::Snapshot> = const { Cell::new(std::ptr::null_mut()) };
}

/// The snapshot reads and writers use: the one [`with_snapshot`] took, else a new one (in READ
/// COMMITTED, one that sees every commit so far and this transaction's earlier commands).
fn current_snapshot() -> pg_sys::Snapshot {
    let shared = SHARED_SNAPSHOT.with(Cell::get);
    if shared.is_null() {
        unsafe { pg_sys::GetTransactionSnapshot() }
    } else {
        shared
    }
}

/// Runs `f` with one snapshot for every read and writer inside it (taking a snapshot costs a
/// pass over every backend's state): for work whose reads need not see its own writes, such as
/// the loads of a SKU under its row, taken after the lock.
pub fn with_snapshot<R>(f: impl FnOnce() -> Outcome<R>) -> Outcome<R> {
    /// Puts the outer snapshot back however `f` ends, an error unwinding through it included
    /// (whose abort releases the snapshot itself).
    struct Restore(pg_sys::Snapshot);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHARED_SNAPSHOT.with(|s| s.set(self.0));
        }
    }
    let snapshot = unsafe { pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot()) };
    let restore = Restore(SHARED_SNAPSHOT.with(|s| s.replace(snapshot)));
    let result = f();
    drop(restore);
    unsafe { pg_sys::UnregisterSnapshot(snapshot) };
    result
}

/// Runs `f` in a memory context of its own, deleted after: what a reader or a writer allocates
/// (slots, scan keys, the executor state, the datums a caller builds inside) is gone with it,
/// so a statement that applies a hundred thousand SKUs does not keep every SKU's (an error
/// unwinding through `f` leaves the context to its parent's cleanup). `f` returns owned values
/// only.
fn in_own_context<R>(f: impl FnOnce() -> R) -> R {
    unsafe {
        let context = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"inventory_truth direct".as_ptr(),
            0,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as pg_sys::Size,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as pg_sys::Size,
        );
        let outer = pg_sys::CurrentMemoryContext;
        pg_sys::CurrentMemoryContext = context;
        let result = f();
        pg_sys::CurrentMemoryContext = outer;
        pg_sys::MemoryContextDelete(context);
        result
    }
}

/// Runs `f` with a [`Reader`].
pub fn read<R>(f: impl FnOnce(&Reader) -> Outcome<R>) -> Outcome<R> {
    in_own_context(|| {
        let snapshot = unsafe { pg_sys::RegisterSnapshot(current_snapshot()) };
        let result = f(&Reader { snapshot });
        unsafe { pg_sys::UnregisterSnapshot(snapshot) };
        result
    })
}

/// Runs `f` with a [`Reader`] whose snapshot is the latest: every commit so far, at any
/// isolation level (for what is kept beyond the transaction: `known.rs`).
pub fn read_latest<R>(f: impl FnOnce(&Reader) -> Outcome<R>) -> Outcome<R> {
    in_own_context(|| {
        let snapshot = unsafe { pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot()) };
        let result = f(&Reader { snapshot });
        unsafe { pg_sys::UnregisterSnapshot(snapshot) };
        result
    })
}

/// A row with the columns a caller asked for, numbered from 1 in the order asked (as a
/// statement's target list numbers them: `spi::value(&row, 1)`).
pub struct Selected<'a> {
    row: &'a Row,
    columns: &'a [usize],
}

/// Where a row version is stored: a hint for [`Writer::modify_at`].
pub type Tid = pg_sys::ItemPointerData;

impl Selected<'_> {
    /// Where this version of the row is stored.
    pub fn tid(&self) -> Tid {
        unsafe { (*self.row.slot).tts_tid }
    }

    /// Whether this transaction (or one of its subtransactions) inserted the row: the row is
    /// not committed yet.
    pub fn inserted_by_this_transaction(&self) -> bool {
        unsafe {
            let slot = self.row.slot;
            let Some(getsysattr) = (*(*slot).tts_ops).getsysattr else {
                return true;
            };
            let mut isnull = false;
            let xmin = getsysattr(slot, pg_sys::MinTransactionIdAttributeNumber, &mut isnull);
            isnull
                || pg_sys::TransactionIdIsCurrentTransactionId(pg_sys::TransactionId::from(
                    xmin.value() as u32,
                ))
        }
    }
}

impl Columns for Selected<'_> {
    fn column<T: FromDatum + IntoDatum>(&self, n: usize) -> Outcome<Option<T>> {
        let attnum = *self
            .columns
            .get(n.wrapping_sub(1))
            .ok_or_else(|| Failure::internal(format!("inventory_truth: no column {n}")))?;
        self.row.get(attnum)
    }
}

impl Reader {
    /// Every row of `index`'s table whose leading index columns equal `key`, with the
    /// attribute numbers of `columns`, to `each` in index order.
    pub fn rows(
        &self,
        index: &Index,
        key: &[Key],
        columns: &[&str],
        mut each: impl FnMut(&Selected) -> Outcome<()>,
    ) -> Outcome<()> {
        let table_oid = relation(index.table)?;
        let index_oid = relation(index.name)?;
        unsafe {
            let rel = pg_sys::table_open(table_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let index = pg_sys::index_open(index_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let result = (|| {
                let attnums: Vec<usize> = columns
                    .iter()
                    .map(|c| attnum(rel, c))
                    .collect::<Outcome<_>>()?;
                let mut keys = scan_keys(index, key);
                let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
                let scan = begin_index_scan(rel, index, self.snapshot, keys.len());
                pg_sys::index_rescan(
                    scan,
                    keys.as_mut_ptr(),
                    keys.len() as i32,
                    std::ptr::null_mut(),
                    0,
                );
                let mut result = Ok(());
                while pg_sys::index_getnext_slot(
                    scan,
                    pg_sys::ScanDirection::ForwardScanDirection,
                    slot,
                ) {
                    pg_sys::slot_getallattrs(slot);
                    result = each(&Selected {
                        row: &Row { slot },
                        columns: &attnums,
                    });
                    if result.is_err() {
                        break;
                    }
                }
                pg_sys::index_endscan(scan);
                pg_sys::ExecDropSingleTupleTableSlot(slot);
                result
            })();
            pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            result
        }
    }

    /// Whether `index`'s table has a row whose leading index columns equal `key`.
    pub fn exists(&self, index: &Index, key: &[Key]) -> Outcome<bool> {
        let mut found = false;
        self.rows(index, key, &[], |_| {
            found = true;
            Ok(())
        })?;
        Ok(found)
    }

    /// Every row of a (small) table, in no order.
    pub fn all(
        &self,
        table: Table,
        columns: &[&str],
        mut each: impl FnMut(&Selected) -> Outcome<()>,
    ) -> Outcome<()> {
        let table_oid = relation(table)?;
        unsafe {
            let rel = pg_sys::table_open(table_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let result = (|| {
                let attnums: Vec<usize> = columns
                    .iter()
                    .map(|c| attnum(rel, c))
                    .collect::<Outcome<_>>()?;
                let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
                let scan = pg_sys::table_beginscan(rel, self.snapshot, 0, std::ptr::null_mut());
                let mut result = Ok(());
                while pg_sys::table_scan_getnextslot(
                    scan,
                    pg_sys::ScanDirection::ForwardScanDirection,
                    slot,
                ) {
                    pg_sys::slot_getallattrs(slot);
                    result = each(&Selected {
                        row: &Row { slot },
                        columns: &attnums,
                    });
                    if result.is_err() {
                        break;
                    }
                }
                pg_sys::table_endscan(scan);
                pg_sys::ExecDropSingleTupleTableSlot(slot);
                result
            })();
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            result
        }
    }
}

#[cfg(not(feature = "pg18"))]
unsafe fn begin_index_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    nkeys: usize,
) -> pg_sys::IndexScanDesc {
    unsafe { pg_sys::index_beginscan(rel, index, snapshot, nkeys as i32, 0) }
}

#[cfg(feature = "pg18")]
unsafe fn begin_index_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    nkeys: usize,
) -> pg_sys::IndexScanDesc {
    unsafe { pg_sys::index_beginscan(rel, index, snapshot, std::ptr::null_mut(), nkeys as i32, 0) }
}

/// A table to write, opened (with its indexes) on first use.
struct Target {
    name: Table,
    oid: pg_sys::Oid,
    rel: pg_sys::Relation,
    info: *mut pg_sys::ResultRelInfo,
    /// Where the columns an update changes are noted, for `UPDATE OF` triggers and index hints:
    /// the range table entry (PostgreSQL 15) or its permission info (16 and later).
    updated: *mut *mut pg_sys::Bitmapset,
    /// Its length in blocks, once a hint needed it: it cannot shrink while the writer holds
    /// the table (VACUUM truncates under an exclusive lock).
    blocks: Option<pg_sys::BlockNumber>,
}

/// Writes to a few tables, as one statement would: one executor state, the tables' indexes
/// open, AFTER row triggers fired at the end, and a command counter increment after, so what
/// follows sees the rows.
pub struct Writer {
    estate: *mut pg_sys::EState,
    epq: Box<pg_sys::EPQState>,
    targets: Vec<Target>,
    snapshot: pg_sys::Snapshot,
    /// Where the last row [`Writer::modify_at`] wrote is stored.
    written: Option<Tid>,
}

/// The transaction holding the row in `slot` that a lock with `LockWaitSkip` would have waited
/// for: heap_lock_tuple reports the tuple's xmax then (`tmfd->xmax`, heapam.c) and leaves the
/// tuple in the slot. A multixact's number is not a transaction's, and this transaction is
/// never one to wait for.
fn holder(
    slot: *mut pg_sys::TupleTableSlot,
    failure: &pg_sys::TM_FailureData,
) -> Option<pg_sys::TransactionId> {
    let xmax = failure.xmax;
    unsafe {
        let tuple = (*slot.cast::<pg_sys::HeapTupleTableSlot>()).tuple;
        if tuple.is_null() || (*tuple).t_data.is_null() {
            return None;
        }
        let multi = u32::from((*(*tuple).t_data).t_infomask) & pg_sys::HEAP_XMAX_IS_MULTI != 0;
        if multi
            || !pg_sys::TransactionIdIsNormal(xmax)
            || pg_sys::TransactionIdIsCurrentTransactionId(xmax)
        {
            return None;
        }
    }
    Some(xmax)
}

/// What [`Writer::try_take`] found.
pub enum Take {
    /// The row, locked.
    Taken(Locked),
    /// No such row, not wanted, or changed since the snapshot.
    Passed,
    /// Wanted, but held by another transaction: that transaction, when it can be told (not
    /// when several hold it, as a multixact).
    Busy(Option<pg_sys::TransactionId>),
}

/// A row locked by [`Writer::lock`], at its latest version, with the columns asked for
/// (numbered from 1, as [`Selected`]).
pub struct Locked {
    target: usize,
    row: Row,
    columns: Vec<usize>,
}

impl Columns for Locked {
    fn column<T: FromDatum + IntoDatum>(&self, n: usize) -> Outcome<Option<T>> {
        Selected {
            row: &self.row,
            columns: &self.columns,
        }
        .column(n)
    }
}

/// A row as [`Writer::insert`] stored it, until the writer closes.
pub struct Stored {
    slot: *mut pg_sys::TupleTableSlot,
    desc: pg_sys::TupleDesc,
}

impl Stored {
    /// Column `column` of the row as stored (after the table's BEFORE triggers).
    pub fn get<T: FromDatum>(&self, column: &str) -> Outcome<Option<T>> {
        let rel_desc = self.desc;
        let desc = unsafe { PgTupleDesc::from_pg_unchecked(rel_desc) };
        let attnum = desc
            .iter()
            .position(|a| {
                !a.attisdropped
                    && unsafe { CStr::from_ptr(a.attname.data.as_ptr()) }.to_bytes()
                        == column.as_bytes()
            })
            .map(|i| i + 1)
            .ok_or_else(|| Failure::internal(format!("inventory_truth: no column {column}")))?;
        unsafe { pg_sys::slot_getallattrs(self.slot) };
        Row { slot: self.slot }.get(attnum)
    }
}

/// A relation's name, for messages.
fn name_of(rel: pg_sys::Relation) -> String {
    unsafe { CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Stored {
    /// The row as a tuple of the table's row type (in the writer's memory).
    pub fn tuple(&self) -> pg_sys::HeapTuple {
        unsafe { pg_sys::ExecFetchSlotHeapTuple(self.slot, true, std::ptr::null_mut()) }
    }

    /// The table's row type.
    pub fn desc(&self) -> pg_sys::TupleDesc {
        self.desc
    }
}

/// A row [`Writer::find`] found: its slot, its tid, the columns asked for.
struct Found {
    slot: *mut pg_sys::TupleTableSlot,
    tid: pg_sys::ItemPointerData,
    columns: Vec<usize>,
}

/// What [`Writer::modify`] did.
pub enum Modified<R> {
    /// No such row.
    Missing,
    /// The change wrote nothing.
    Declined,
    /// Written; what the change said.
    Done(R),
}

/// Which indexes an update must add entries to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IndexUpdate {
    None,
    All,
    #[cfg_attr(feature = "pg15", allow(dead_code))]
    Summarizing,
}

#[cfg(feature = "pg15")]
unsafe fn tuple_update(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    slot: *mut pg_sys::TupleTableSlot,
    cid: pg_sys::CommandId,
    snapshot: pg_sys::Snapshot,
    failure: &mut pg_sys::TM_FailureData,
    lockmode: &mut pg_sys::LockTupleMode::Type,
) -> (pg_sys::TM_Result::Type, IndexUpdate) {
    let mut update_indexes = false;
    let result = unsafe {
        pg_sys::table_tuple_update(
            rel,
            tid,
            slot,
            cid,
            snapshot,
            std::ptr::null_mut(),
            true,
            failure,
            lockmode,
            &mut update_indexes,
        )
    };
    (
        result,
        if update_indexes {
            IndexUpdate::All
        } else {
            IndexUpdate::None
        },
    )
}

#[cfg(not(feature = "pg15"))]
unsafe fn tuple_update(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    slot: *mut pg_sys::TupleTableSlot,
    cid: pg_sys::CommandId,
    snapshot: pg_sys::Snapshot,
    failure: &mut pg_sys::TM_FailureData,
    lockmode: &mut pg_sys::LockTupleMode::Type,
) -> (pg_sys::TM_Result::Type, IndexUpdate) {
    let mut update_indexes = pg_sys::TU_UpdateIndexes::TU_None;
    let result = unsafe {
        pg_sys::table_tuple_update(
            rel,
            tid,
            slot,
            cid,
            snapshot,
            std::ptr::null_mut(),
            true,
            failure,
            lockmode,
            &mut update_indexes,
        )
    };
    let which = match update_indexes {
        pg_sys::TU_UpdateIndexes::TU_All => IndexUpdate::All,
        pg_sys::TU_UpdateIndexes::TU_Summarizing => IndexUpdate::Summarizing,
        _ => IndexUpdate::None,
    };
    (result, which)
}

#[cfg(feature = "pg15")]
unsafe fn insert_index_tuples(
    info: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    estate: *mut pg_sys::EState,
    _which: IndexUpdate,
) {
    unsafe {
        pg_sys::ExecInsertIndexTuples(
            info,
            slot,
            estate,
            true,
            false,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
    }
}

#[cfg(not(feature = "pg15"))]
unsafe fn insert_index_tuples(
    info: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    estate: *mut pg_sys::EState,
    which: IndexUpdate,
) {
    unsafe {
        pg_sys::ExecInsertIndexTuples(
            info,
            slot,
            estate,
            true,
            false,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            which == IndexUpdate::Summarizing,
        );
    }
}

/// A column's new value: its name, and the datum (`None` for NULL), built with `IntoDatum`.
pub type Value<'a> = (&'a str, Option<pg_sys::Datum>);

/// Runs `f` with a [`Writer`] on `tables` (their positions in the slice name them to it).
pub fn write<R>(tables: &[Table], f: impl FnOnce(&mut Writer) -> Outcome<R>) -> Outcome<R> {
    let mut oids = Vec::with_capacity(tables.len());
    for &table in tables {
        oids.push((table, relation(table)?));
    }
    in_own_context(|| {
        let mut writer = unsafe { Writer::open(&oids) };
        let result = f(&mut writer);
        unsafe { writer.close() };
        result
    })
}

impl Writer {
    unsafe fn open(oids: &[(Table, pg_sys::Oid)]) -> Writer {
        unsafe {
            // A statement's check: no writes in a read-only transaction or on a standby (25006).
            pg_sys::PreventCommandIfReadOnly(c"inventory_truth ledger write".as_ptr());
            let estate = pg_sys::CreateExecutorState();
            let mut range_table: *mut pg_sys::List = std::ptr::null_mut();
            let mut permissions: *mut pg_sys::List = std::ptr::null_mut();
            let mut targets = Vec::with_capacity(oids.len());
            for &(name, oid) in oids {
                let rte: *mut pg_sys::RangeTblEntry =
                    pg_sys::palloc0(std::mem::size_of::<pg_sys::RangeTblEntry>()).cast();
                (*rte).type_ = pg_sys::NodeTag::T_RangeTblEntry;
                (*rte).rtekind = pg_sys::RTEKind::RTE_RELATION;
                (*rte).relid = oid;
                (*rte).relkind = pg_sys::RELKIND_RELATION as std::ffi::c_char;
                (*rte).rellockmode = pg_sys::RowExclusiveLock as i32;
                range_table = pg_sys::lappend(range_table, rte.cast());
                let updated = updated_columns_of(rte, &mut permissions);
                targets.push(Target {
                    name,
                    oid,
                    rel: std::ptr::null_mut(),
                    info: std::ptr::null_mut(),
                    updated,
                    blocks: None,
                });
            }
            init_range_table(estate, range_table, permissions);
            let snapshot = pg_sys::RegisterSnapshot(current_snapshot());
            (*estate).es_snapshot = snapshot;
            (*estate).es_output_cid = pg_sys::GetCurrentCommandId(true);
            let mut epq: Box<pg_sys::EPQState> = Box::new(std::mem::zeroed());
            init_epq(&mut epq, estate);
            pg_sys::AfterTriggerBeginQuery();
            Writer {
                estate,
                epq,
                targets,
                snapshot,
                written: None,
            }
        }
    }

    /// Table `t`, opened with its indexes the first time.
    fn target(&mut self, t: usize) -> &Target {
        let target = &mut self.targets[t];
        if target.rel.is_null() {
            unsafe {
                target.rel =
                    pg_sys::table_open(target.oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
                let info: *mut pg_sys::ResultRelInfo =
                    pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>()).cast();
                (*info).type_ = pg_sys::NodeTag::T_ResultRelInfo;
                pg_sys::InitResultRelInfo(
                    info,
                    target.rel,
                    (t + 1) as pg_sys::Index,
                    std::ptr::null_mut(),
                    0,
                );
                pg_sys::ExecOpenIndices(info, false);
                target.info = info;
            }
        }
        &self.targets[t]
    }

    unsafe fn close(mut self) {
        unsafe {
            pg_sys::AfterTriggerEndQuery(self.estate);
            pg_sys::EvalPlanQualEnd(&mut *self.epq);
            for target in self.targets.iter().filter(|t| !t.rel.is_null()) {
                pg_sys::ExecCloseIndices(target.info);
            }
            // The relations AFTER row triggers opened for themselves (ExecGetTriggerResultRel).
            pg_sys::ExecCloseResultRelations(self.estate);
            pg_sys::ExecResetTupleTable((*self.estate).es_tupleTable, false);
            pg_sys::FreeExecutorState(self.estate);
            for target in self.targets.iter().filter(|t| !t.rel.is_null()) {
                pg_sys::table_close(target.rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            }
            pg_sys::UnregisterSnapshot(self.snapshot);
            pg_sys::CommandCounterIncrement();
        }
    }

    /// The row of table `t` whose key in `index` equals `key`, as the writer's snapshot sees it,
    /// in a slot of the writer's, with the `columns` asked for numbered; `None` if there is none.
    fn find(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
    ) -> Outcome<Option<Found>> {
        let (rel, index_oid, columns) = self.lookup(t, index, columns)?;
        unsafe {
            let slot = pg_sys::table_slot_create(rel, &mut (*self.estate).es_tupleTable);
            let index = pg_sys::index_open(index_oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let mut keys = scan_keys(index, key);
            let scan = begin_index_scan(rel, index, self.snapshot, keys.len());
            pg_sys::index_rescan(
                scan,
                keys.as_mut_ptr(),
                keys.len() as i32,
                std::ptr::null_mut(),
                0,
            );
            let found =
                pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot);
            let tid = (*slot).tts_tid;
            pg_sys::index_endscan(scan);
            pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
            Ok(found.then_some(Found { slot, tid, columns }))
        }
    }

    /// What [`Writer::find`] and [`Writer::fetch`] need of table `t` and `index` (which must be
    /// the table's): the table, the index's OID and the attribute numbers of `columns`.
    fn lookup(
        &mut self,
        t: usize,
        index: &Index,
        columns: &[&str],
    ) -> Outcome<(pg_sys::Relation, pg_sys::Oid, Vec<usize>)> {
        let (name, rel) = {
            let target = self.target(t);
            (target.name, target.rel)
        };
        if name != index.table {
            return Err(Failure::internal(
                "inventory_truth: an index of another table",
            ));
        }
        let columns = columns
            .iter()
            .map(|c| attnum(rel, c))
            .collect::<Outcome<_>>()?;
        Ok((rel, relation(index.name)?, columns))
    }

    /// Where the row the last [`Writer::modify_at`] (or [`Writer::modify`]) wrote is stored:
    /// a hint for writing it again later.
    pub fn written(&self) -> Option<Tid> {
        self.written
    }

    /// The row version stored at `tid` in table `t`, if the writer's snapshot sees it and its
    /// key in `index` is `key` (a line pointer may have been pruned and reused since a read, and
    /// a hint kept from an earlier transaction may point past a table VACUUM has shortened).
    fn fetch(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
        tid: Tid,
    ) -> Outcome<Option<Found>> {
        let (rel, index_oid, columns) = self.lookup(t, index, columns)?;
        let blocks = *self.targets[t].blocks.get_or_insert_with(|| unsafe {
            pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM)
        });
        let block = (u32::from(tid.ip_blkid.bi_hi) << 16) | u32::from(tid.ip_blkid.bi_lo);
        if block >= blocks {
            return Ok(None);
        }
        unsafe {
            if (*rel).rd_tableam == pg_sys::GetHeapamTableAmRoutine() {
                // What an index fetch does on reaching a page (heapam_index_fetch_tuple): a
                // fetch by TID does not prune, and a row only ever reached here (the relay's
                // atp_published) would otherwise fill its page with dead versions, so that
                // its updates stop being HOT and add index entries.
                let buffer = pg_sys::ReadBuffer(rel, block);
                pg_sys::heap_page_prune_opt(rel, buffer);
                pg_sys::ReleaseBuffer(buffer);
            }
            let slot = pg_sys::table_slot_create(rel, &mut (*self.estate).es_tupleTable);
            let mut at = tid;
            if !pg_sys::table_tuple_fetch_row_version(rel, &mut at, self.snapshot, slot) {
                return Ok(None);
            }
            pg_sys::slot_getallattrs(slot);
            let index = pg_sys::index_open(index_oid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let keys = (*(*index).rd_index).indkey.values.as_slice(key.len());
            let row = Row { slot };
            let same = keys.iter().zip(key).all(|(&attnum, &expected)| {
                let attnum = attnum as usize;
                match expected {
                    Key::Text(text) => matches!(row.get::<&str>(attnum), Ok(Some(v)) if v == text),
                    Key::Int8(n) => matches!(row.get::<i64>(attnum), Ok(Some(v)) if v == n),
                    Key::Null => row.datum(attnum).1,
                }
            });
            pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
            if !same {
                // Not the row: let go of its page now (the writer may go on for long).
                pg_sys::ExecClearTuple(slot);
                return Ok(None);
            }
            Ok(Some(Found {
                slot,
                tid: (*slot).tts_tid,
                columns,
            }))
        }
    }

    /// Locks the row of table `t` whose key equals `key`, at its latest version, as an UPDATE
    /// does: waiting for a transaction that holds it, then following its update (in REPEATABLE
    /// READ and above a row changed since the snapshot is a serialization failure). `None` when
    /// there is no such row.
    pub fn lock(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
    ) -> Outcome<Option<Locked>> {
        let rel = self.target(t).rel;
        let Some(Found {
            slot,
            mut tid,
            columns,
        }) = self.find(t, index, key, columns)?
        else {
            return Ok(None);
        };
        unsafe {
            let mut failure = pg_sys::TM_FailureData::default();
            let result = pg_sys::table_tuple_lock(
                rel,
                &mut tid,
                self.snapshot,
                slot,
                (*self.estate).es_output_cid,
                pg_sys::LockTupleMode::LockTupleNoKeyExclusive,
                pg_sys::LockWaitPolicy::LockWaitBlock,
                pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION as u8,
                &mut failure,
            );
            match result {
                pg_sys::TM_Result::TM_Ok => {
                    if failure.traversed
                        && pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32
                    {
                        return Err(Failure::new(
                            SqlState::SERIALIZATION_FAILURE,
                            "could not serialize access due to concurrent update",
                        ));
                    }
                    pg_sys::slot_getallattrs(slot);
                    Ok(Some(Locked {
                        target: t,
                        row: Row { slot },
                        columns,
                    }))
                }
                pg_sys::TM_Result::TM_Deleted => {
                    if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
                        return Err(Failure::new(
                            SqlState::SERIALIZATION_FAILURE,
                            "could not serialize access due to concurrent delete",
                        ));
                    }
                    Ok(None)
                }
                other => Err(Failure::internal(format!(
                    "inventory_truth: a row could not be locked ({other})"
                ))),
            }
        }
    }

    /// Takes the row of table `t` whose key equals `key`, as committed now (a fresh snapshot),
    /// if `wanted` accepts it and no other transaction holds it: locked as an UPDATE locks, and
    /// only that version. A row another transaction holds (`Busy`), or changed since that
    /// snapshot, is passed over without a lock, so that nothing stays locked that was not wanted
    /// (a locking read that follows a row to its newest version and then finds it unwanted
    /// keeps the lock: a deadlock for a caller that goes on to wait for something else).
    pub fn try_take(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
        wanted: impl FnOnce(&Selected) -> Outcome<bool>,
    ) -> Outcome<Take> {
        let rel = self.target(t).rel;
        let latest = unsafe { pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot()) };
        let writer_snapshot = std::mem::replace(&mut self.snapshot, latest);
        let found = self.find(t, index, key, columns);
        self.snapshot = writer_snapshot;
        unsafe { pg_sys::UnregisterSnapshot(latest) };
        let Some(Found {
            slot,
            mut tid,
            columns,
        }) = found?
        else {
            return Ok(Take::Passed);
        };
        let row = Row { slot };
        unsafe { pg_sys::slot_getallattrs(slot) };
        if !wanted(&Selected {
            row: &row,
            columns: &columns,
        })? {
            return Ok(Take::Passed);
        }
        unsafe {
            let mut failure = pg_sys::TM_FailureData::default();
            let result = pg_sys::table_tuple_lock(
                rel,
                &mut tid,
                self.snapshot,
                slot,
                (*self.estate).es_output_cid,
                pg_sys::LockTupleMode::LockTupleNoKeyExclusive,
                pg_sys::LockWaitPolicy::LockWaitSkip,
                0,
                &mut failure,
            );
            match result {
                pg_sys::TM_Result::TM_Ok => {}
                pg_sys::TM_Result::TM_WouldBlock => return Ok(Take::Busy(holder(slot, &failure))),
                _ => return Ok(Take::Passed),
            }
            pg_sys::slot_getallattrs(slot);
        }
        Ok(Take::Taken(Locked {
            target: t,
            row,
            columns,
        }))
    }

    /// Finds the row of table `t` whose key equals `key` and writes over it what `change`
    /// computes from its current values (the `columns` asked for, numbered from 1), as an
    /// UPDATE does: waiting for a transaction that is changing it, and computing again from
    /// the version it committed (in REPEATABLE READ and above, a serialization failure). No
    /// lock of its own first (a row lock is a WAL record of its own): the update takes it.
    /// `change` returning `None` writes nothing.
    pub fn modify<R>(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
        change: impl FnMut(&Selected) -> Outcome<Option<(Vec<Value<'static>>, R)>>,
    ) -> Outcome<Modified<R>> {
        self.modify_at(t, index, key, columns, None, change)
    }

    /// [`Writer::modify`], looking first at `at`, where a read found the row (no index search
    /// when the version there is still the one the writer's snapshot sees, and its key).
    pub fn modify_at<R>(
        &mut self,
        t: usize,
        index: &Index,
        key: &[Key],
        columns: &[&str],
        at: Option<Tid>,
        mut change: impl FnMut(&Selected) -> Outcome<Option<(Vec<Value<'static>>, R)>>,
    ) -> Outcome<Modified<R>> {
        self.written = None;
        let info = self.target(t).info;
        let has_row_triggers = unsafe {
            let triggers = (*info).ri_TrigDesc;
            !triggers.is_null()
                && ((*triggers).trig_update_before_row || (*triggers).trig_update_after_row)
        };
        if has_row_triggers {
            // Row triggers need the executor's own path (src/backend/executor/execReplication.c).
            let Some(locked) = self.lock(t, index, key, columns)? else {
                return Ok(Modified::Missing);
            };
            let current = Selected {
                row: &locked.row,
                columns: &locked.columns,
            };
            return match change(&current)? {
                None => Ok(Modified::Declined),
                Some((changes, result)) => {
                    self.update(&locked, &changes)?;
                    Ok(Modified::Done(result))
                }
            };
        }
        let hinted = match at {
            Some(tid) => self.fetch(t, index, key, columns, tid)?,
            None => None,
        };
        let found = match hinted {
            Some(found) => Some(found),
            None => self.find(t, index, key, columns)?,
        };
        let Some(Found {
            slot,
            tid,
            columns: attnums,
        }) = found
        else {
            return Ok(Modified::Missing);
        };
        let rel = self.target(t).rel;
        let new = unsafe { self.new_slot(rel) };
        let outcome = self.modify_found(t, slot, tid, &attnums, new, change);
        // Let go of the row's page now: a writer may modify a row of every SKU (a publication
        // of every SKU at commit), and pins kept until it closes could use up shared buffers.
        unsafe {
            pg_sys::ExecClearTuple(slot);
            pg_sys::ExecClearTuple(new);
        }
        outcome
    }

    /// [`Writer::modify_at`] once the row is in `slot` (at `tid`): computes the change, writes
    /// it through `new`, and follows a concurrent update as an UPDATE does.
    fn modify_found<R>(
        &mut self,
        t: usize,
        slot: *mut pg_sys::TupleTableSlot,
        mut tid: Tid,
        attnums: &[usize],
        new: *mut pg_sys::TupleTableSlot,
        mut change: impl FnMut(&Selected) -> Outcome<Option<(Vec<Value<'static>>, R)>>,
    ) -> Outcome<Modified<R>> {
        let (rel, info) = {
            let target = self.target(t);
            (target.rel, target.info)
        };
        unsafe {
            loop {
                pg_sys::slot_getallattrs(slot);
                let current = Selected {
                    row: &Row { slot },
                    columns: attnums,
                };
                let Some((changes, result)) = change(&current)? else {
                    return Ok(Modified::Declined);
                };
                if changes.is_empty() {
                    return Ok(Modified::Done(result));
                }
                let changes = by_attnum(rel, &changes)?;
                self.note_updated(t, &changes);
                // Empty again when a concurrent update made this a second try.
                pg_sys::ExecClearTuple(new);
                for attnum in 1..=natts(rel) {
                    *(*new).tts_values.add(attnum - 1) = *(*slot).tts_values.add(attnum - 1);
                    *(*new).tts_isnull.add(attnum - 1) = *(*slot).tts_isnull.add(attnum - 1);
                }
                set(new, &changes);
                pg_sys::ExecStoreVirtualTuple(new);
                if !(*(*rel).rd_att).constr.is_null() {
                    pg_sys::ExecConstraints(info, new, self.estate);
                }
                let mut failure = pg_sys::TM_FailureData::default();
                let mut lockmode = pg_sys::LockTupleMode::LockTupleNoKeyExclusive;
                let (result_code, update_indexes) = tuple_update(
                    rel,
                    &mut tid,
                    new,
                    (*self.estate).es_output_cid,
                    self.snapshot,
                    &mut failure,
                    &mut lockmode,
                );
                match result_code {
                    pg_sys::TM_Result::TM_Ok => {
                        if (*info).ri_NumIndices > 0 && update_indexes != IndexUpdate::None {
                            insert_index_tuples(info, new, self.estate, update_indexes);
                        }
                        self.written = Some((*new).tts_tid);
                        return Ok(Modified::Done(result));
                    }
                    pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted => {
                        if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
                            return Err(Failure::new(
                                SqlState::SERIALIZATION_FAILURE,
                                "could not serialize access due to concurrent update",
                            ));
                        }
                        if result_code == pg_sys::TM_Result::TM_Deleted {
                            return Ok(Modified::Missing);
                        }
                        // Another transaction committed a new version: take it (locked now,
                        // so the next try cannot fail this way) and compute again from it.
                        let locked = pg_sys::table_tuple_lock(
                            rel,
                            &mut tid,
                            self.snapshot,
                            slot,
                            (*self.estate).es_output_cid,
                            lockmode,
                            pg_sys::LockWaitPolicy::LockWaitBlock,
                            pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION as u8,
                            &mut failure,
                        );
                        match locked {
                            pg_sys::TM_Result::TM_Ok => tid = (*slot).tts_tid,
                            pg_sys::TM_Result::TM_Deleted => return Ok(Modified::Missing),
                            other => {
                                return Err(Failure::internal(format!(
                                    "inventory_truth: a row could not be locked ({other})"
                                )))
                            }
                        }
                    }
                    other => {
                        return Err(Failure::internal(format!(
                            "inventory_truth: a row could not be updated ({other})"
                        )))
                    }
                }
            }
        }
    }

    /// Writes `changes` over the locked row, keeping its other columns.
    pub fn update(&mut self, locked: &Locked, changes: &[Value]) -> Outcome<()> {
        let changes = by_attnum(self.targets[locked.target].rel, changes)?;
        self.note_updated(locked.target, &changes);
        let target = &self.targets[locked.target];
        unsafe {
            let slot = self.new_slot(target.rel);
            for attnum in 1..=natts(target.rel) {
                let (datum, isnull) = locked.row.datum(attnum);
                *(*slot).tts_values.add(attnum - 1) = datum;
                *(*slot).tts_isnull.add(attnum - 1) = isnull;
            }
            set(slot, &changes);
            pg_sys::ExecStoreVirtualTuple(slot);
            pg_sys::ExecSimpleRelationUpdate(
                target.info,
                self.estate,
                &mut *self.epq,
                locked.row.slot,
                slot,
            );
        }
        Ok(())
    }

    /// Inserts a row into table `t` with `values` (every other column NULL), returning the row
    /// as stored (after the table's BEFORE triggers).
    pub fn insert(&mut self, t: usize, values: &[Value]) -> Outcome<Stored> {
        let (rel, info) = {
            let target = self.target(t);
            (target.rel, target.info)
        };
        let values = by_attnum(rel, values)?;
        unsafe {
            let slot = self.new_slot(rel);
            for attnum in 1..=natts(rel) {
                *(*slot).tts_isnull.add(attnum - 1) = true;
            }
            set(slot, &values);
            pg_sys::ExecStoreVirtualTuple(slot);
            pg_sys::ExecSimpleRelationInsert(info, self.estate, slot);
            // A BEFORE trigger that returned NULL skipped the row: nothing was stored.
            if (*slot).tts_tid.ip_posid == 0 {
                return Err(Failure::internal(format!(
                    "inventory_truth: a trigger on {} skipped a row the extension wrote",
                    name_of(rel)
                )));
            }
            Ok(Stored {
                slot,
                desc: (*rel).rd_att,
            })
        }
    }

    /// Whether the only BEFORE INSERT row trigger of table `t` is one that runs `function`
    /// (a function of the table's schema, by name), enabled as it comes and without a WHEN
    /// condition: then a caller that does that trigger's work itself may insert with
    /// [`Writer::insert_without_before_triggers`]. Any other such trigger (a DBA's) may change
    /// the row, so the row must go through them all. Under `session_replication_role =
    /// replica` that trigger would not fire, and the row would lack what it fills in: the
    /// caller's own filling makes the row what it is in any other session.
    pub fn only_before_insert_trigger(&mut self, t: usize, function: &CStr) -> bool {
        let info = self.target(t).info;
        unsafe {
            let triggers = (*info).ri_TrigDesc;
            if triggers.is_null() {
                return false;
            }
            let before_insert_row = (pg_sys::TRIGGER_TYPE_ROW
                | pg_sys::TRIGGER_TYPE_BEFORE
                | pg_sys::TRIGGER_TYPE_INSERT) as i16;
            let mask = before_insert_row | pg_sys::TRIGGER_TYPE_INSTEAD as i16;
            let mut only = None;
            for i in 0..(*triggers).numtriggers as usize {
                let trigger = &*(*triggers).triggers.add(i);
                if trigger.tgtype & mask == before_insert_row {
                    if only.is_some() {
                        return false;
                    }
                    only = Some(trigger);
                }
            }
            let Some(trigger) = only else {
                return false;
            };
            let fires_as_it_comes = trigger.tgenabled as u8 == pg_sys::TRIGGER_FIRES_ON_ORIGIN;
            let name = pg_sys::get_func_name(trigger.tgfoid);
            fires_as_it_comes
                && trigger.tgqual.is_null()
                && !name.is_null()
                && CStr::from_ptr(name) == function
                && pg_sys::get_func_namespace(trigger.tgfoid)
                    == (*(*(*info).ri_RelationDesc).rd_rel).relnamespace
        }
    }

    /// [`Writer::insert`], with no BEFORE row trigger fired: for a caller that
    /// [`Writer::only_before_insert_trigger`] said does their work itself. Constraints,
    /// indexes and AFTER row triggers are kept.
    pub fn insert_without_before_triggers(
        &mut self,
        t: usize,
        values: &[Value],
    ) -> Outcome<Stored> {
        let info = self.target(t).info;
        // The executor state's own copy of the table's triggers (InitResultRelInfo).
        let triggers = unsafe { (*info).ri_TrigDesc };
        let before = unsafe { (*triggers).trig_insert_before_row };
        unsafe { (*triggers).trig_insert_before_row = false };
        let stored = self.insert(t, values);
        unsafe { (*triggers).trig_insert_before_row = before };
        stored
    }

    /// Notes that an update of table `t` changes these columns (what `UPDATE ... SET` lists).
    fn note_updated(&mut self, t: usize, changes: &[(usize, Option<pg_sys::Datum>)]) {
        let updated = self.targets[t].updated;
        for &(attnum, _) in changes {
            unsafe {
                *updated = pg_sys::bms_add_member(
                    *updated,
                    attnum as i32 - pg_sys::FirstLowInvalidHeapAttributeNumber,
                );
            }
        }
    }

    unsafe fn new_slot(&self, rel: pg_sys::Relation) -> *mut pg_sys::TupleTableSlot {
        unsafe {
            pg_sys::ExecInitExtraTupleSlot(self.estate, (*rel).rd_att, &pg_sys::TTSOpsVirtual)
        }
    }
}

fn by_attnum(
    rel: pg_sys::Relation,
    values: &[Value],
) -> Outcome<Vec<(usize, Option<pg_sys::Datum>)>> {
    values
        .iter()
        .map(|&(column, value)| Ok((attnum(rel, column)?, value)))
        .collect()
}

unsafe fn set(slot: *mut pg_sys::TupleTableSlot, values: &[(usize, Option<pg_sys::Datum>)]) {
    for &(attnum, value) in values {
        unsafe {
            *(*slot).tts_values.add(attnum - 1) = value.unwrap_or(pg_sys::Datum::from(0));
            *(*slot).tts_isnull.add(attnum - 1) = value.is_none();
        }
    }
}

/// Where a range table entry's updated columns are kept: in the entry (PostgreSQL 15), or in a
/// permission info made for it (16 and later, which the executor looks them up in).
#[cfg(feature = "pg15")]
unsafe fn updated_columns_of(
    rte: *mut pg_sys::RangeTblEntry,
    _permissions: &mut *mut pg_sys::List,
) -> *mut *mut pg_sys::Bitmapset {
    unsafe { &mut (*rte).updatedCols }
}

#[cfg(not(feature = "pg15"))]
unsafe fn updated_columns_of(
    rte: *mut pg_sys::RangeTblEntry,
    permissions: &mut *mut pg_sys::List,
) -> *mut *mut pg_sys::Bitmapset {
    unsafe {
        let info = pg_sys::addRTEPermissionInfo(permissions, rte);
        &mut (*info).updatedCols
    }
}

#[cfg(feature = "pg15")]
unsafe fn init_range_table(
    estate: *mut pg_sys::EState,
    range_table: *mut pg_sys::List,
    _permissions: *mut pg_sys::List,
) {
    unsafe { pg_sys::ExecInitRangeTable(estate, range_table) }
}

#[cfg(feature = "pg18")]
unsafe fn init_range_table(
    estate: *mut pg_sys::EState,
    range_table: *mut pg_sys::List,
    permissions: *mut pg_sys::List,
) {
    unsafe {
        let every =
            pg_sys::bms_add_range(std::ptr::null_mut(), 1, pg_sys::list_length(range_table));
        pg_sys::ExecInitRangeTable(estate, range_table, permissions, every)
    }
}

#[cfg(feature = "pg15")]
unsafe fn init_epq(epq: &mut pg_sys::EPQState, estate: *mut pg_sys::EState) {
    unsafe { pg_sys::EvalPlanQualInit(epq, estate, std::ptr::null_mut(), std::ptr::null_mut(), -1) }
}

#[cfg(not(feature = "pg15"))]
unsafe fn init_epq(epq: &mut pg_sys::EPQState, estate: *mut pg_sys::EState) {
    unsafe {
        pg_sys::EvalPlanQualInit(
            epq,
            estate,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            -1,
            std::ptr::null_mut(),
        )
    }
}

/// The datum of enum `label` for `column` of table `t` (an enum's values are stored as the
/// OIDs of its labels).
impl Writer {
    pub fn enum_value(&mut self, t: usize, column: &str, label: &str) -> Outcome<pg_sys::Datum> {
        let rel = self.target(t).rel;
        let attnum = attnum(rel, column)?;
        let desc = unsafe { PgTupleDesc::from_pg_unchecked((*rel).rd_att) };
        let type_oid = desc
            .get(attnum - 1)
            .map(|a| a.atttypid)
            .ok_or_else(|| Failure::internal("inventory_truth: no such column"))?;
        let label = std::ffi::CString::new(label)
            .map_err(|_| Failure::internal("inventory_truth: an enum label with a NUL"))?;
        let oid = unsafe {
            pg_sys::GetSysCacheOid(
                pg_sys::SysCacheIdentifier::ENUMTYPOIDNAME as i32,
                pg_sys::Anum_pg_enum_oid as pg_sys::AttrNumber,
                pg_sys::Datum::from(type_oid),
                pg_sys::Datum::from(label.as_ptr()),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
            )
        };
        if oid == pg_sys::InvalidOid {
            return Err(Failure::internal(format!(
                "inventory_truth: no enum label {}",
                label.to_string_lossy()
            )));
        }
        Ok(pg_sys::Datum::from(oid))
    }
}

// nextval(regclass)'s C entry point; pgrx's binding of it is a Rust wrapper, and
// DirectFunctionCall1Coll needs the function itself.
unsafe extern "C-unwind" {
    #[link_name = "nextval_oid"]
    fn nextval_entry(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
}

/// The next value of one of the extension's sequences (a serial column's default).
pub fn next_id(sequence: &'static CStr) -> Outcome<i64> {
    let oid = relation(sequence)?;
    let datum = unsafe {
        pg_sys::DirectFunctionCall1Coll(
            Some(nextval_entry),
            pg_sys::InvalidOid,
            pg_sys::Datum::from(oid),
        )
    };
    Ok(datum.value() as i64)
}

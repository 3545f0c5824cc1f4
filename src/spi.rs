//! Statements the engine runs through SPI, each planned once per backend and kept
//! (`SPI_keepplan`), with parameters bound as datums, never formatted into the text.
//!
//! Every name in these statements is schema-qualified. They run only inside the extension's
//! SECURITY DEFINER functions and triggers, whose `search_path` is pinned: PostgreSQL replans a
//! kept plan when the search path differs from the one it was planned with, so an unpinned
//! caller could otherwise have its own objects resolved into them.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::{Failure, Outcome};

/// A statement and the types of its parameters.
pub struct Sql {
    pub text: &'static str,
    pub args: &'static [pg_sys::Oid],
}

thread_local! {
    /// Kept plans, keyed by the address of their `Sql` (each is a `static`).
    static PLANS: RefCell<HashMap<usize, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

fn spi_failure(e: pgrx::spi::SpiError) -> Failure {
    Failure::internal(format!("inventory_truth: SPI: {e}"))
}

/// Runs `sql` with `args` (read-write: a fresh snapshot per statement at READ COMMITTED, so a
/// read after a lock sees what the lock waited for).
pub fn run<'conn>(
    client: &mut SpiClient<'conn>,
    sql: &'static Sql,
    args: &[DatumWithOid],
) -> Outcome<SpiTupleTable<'conn>> {
    let key = sql as *const Sql as usize;
    let known = PLANS.with(|plans| plans.borrow().contains_key(&key));
    if !known {
        let types: Vec<PgOid> = sql.args.iter().map(|&oid| PgOid::from(oid)).collect();
        let plan = client
            .prepare_mut(sql.text, &types)
            .map_err(spi_failure)?
            .keep();
        PLANS.with(|plans| plans.borrow_mut().insert(key, plan));
    }
    PLANS.with(|plans| {
        let plans = plans.borrow();
        let plan = plans
            .get(&key)
            .ok_or_else(|| Failure::internal("inventory_truth: a kept plan went missing"))?;
        client.update(plan, None, args).map_err(spi_failure)
    })
}

/// Runs `body` inside an SPI connection.
pub fn connect<T>(body: impl FnOnce(&mut SpiClient<'_>) -> Outcome<T>) -> Outcome<T> {
    Spi::connect_mut(body)
}

/// A result row: the current row of a tuple table, or a row its iterator gave.
pub trait Columns {
    /// Column `n` (1-based); `None` for NULL.
    fn column<T: FromDatum + IntoDatum>(&self, n: usize) -> Outcome<Option<T>>;
}

impl Columns for SpiTupleTable<'_> {
    fn column<T: FromDatum + IntoDatum>(&self, n: usize) -> Outcome<Option<T>> {
        self.get::<T>(n).map_err(spi_failure)
    }
}

impl Columns for pgrx::spi::SpiHeapTupleData<'_> {
    fn column<T: FromDatum + IntoDatum>(&self, n: usize) -> Outcome<Option<T>> {
        self.get::<T>(n).map_err(spi_failure)
    }
}

/// Reads column `n` (1-based) of a row; `None` for NULL.
pub fn get<T: FromDatum + IntoDatum>(row: &impl Columns, n: usize) -> Outcome<Option<T>> {
    row.column(n)
}

/// Reads column `n` of a row, which must not be NULL.
pub fn value<T: FromDatum + IntoDatum>(row: &impl Columns, n: usize) -> Outcome<T> {
    get(row, n)?.ok_or_else(|| Failure::internal(format!("inventory_truth: column {n} is NULL")))
}

pub mod oid {
    use pgrx::pg_sys::{BuiltinOid, Oid};
    pub const TEXT: Oid = BuiltinOid::TEXTOID.value();
    pub const TEXT_ARRAY: Oid = BuiltinOid::TEXTARRAYOID.value();
    pub const INT8: Oid = BuiltinOid::INT8OID.value();
    pub const INT8_ARRAY: Oid = BuiltinOid::INT8ARRAYOID.value();
    pub const INT4: Oid = BuiltinOid::INT4OID.value();
    pub const BOOL: Oid = BuiltinOid::BOOLOID.value();
    pub const TIMESTAMPTZ: Oid = BuiltinOid::TIMESTAMPTZOID.value();
    pub const DATE: Oid = BuiltinOid::DATEOID.value();
    pub const INTERVAL: Oid = BuiltinOid::INTERVALOID.value();
}

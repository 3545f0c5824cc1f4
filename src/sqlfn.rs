//! Functions and triggers PostgreSQL calls directly, in the V1 calling convention, written by
//! hand rather than with `#[pg_extern]` so that they can end with the contract's own SQLSTATEs
//! (see `error.rs`). Their SQL declarations are in `sql/*.sql`
//! (`LANGUAGE c AS 'MODULE_PATHNAME', 'inventory_truth_...'`).

use pgrx::prelude::*;

use crate::error::{Failure, Outcome};

/// Declares an SQL-callable function `$name` whose body is `$body(Call) -> Outcome<Datum>`: the
/// V1 info record PostgreSQL looks for, and an entry point that runs the body under pgrx's guard
/// and raises the failure it ends with, if any, from its own (outermost) frame.
#[macro_export]
macro_rules! sql_function {
    ($name:ident, $finfo:ident, $body:path) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record =
                ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[no_mangle]
        #[doc(hidden)]
        pub unsafe extern "C-unwind" fn $name(
            fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            unsafe {
                let call = $crate::sqlfn::Call::new(fcinfo);
                $crate::error::run(|| $body(call))
            }
        }
    };
}

/// A call PostgreSQL made to one of these functions: its arguments, its result, its trigger.
#[derive(Clone, Copy)]
pub struct Call(pg_sys::FunctionCallInfo);

impl Call {
    /// # Safety
    /// `fcinfo` is the call PostgreSQL passed to the function, valid for the whole call.
    pub unsafe fn new(fcinfo: pg_sys::FunctionCallInfo) -> Call {
        Call(fcinfo)
    }

    /// Argument `n` (0-based), or `None` for NULL.
    pub fn arg<T: FromDatum>(self, n: usize) -> Option<T> {
        unsafe { pgrx::fcinfo::pg_getarg::<T>(self.0, n) }
    }

    /// Argument `n`, which must not be NULL (`22004`, naming it, otherwise).
    pub fn required<T: FromDatum>(self, n: usize, what: &str) -> Outcome<T> {
        self.arg(n).ok_or_else(|| Failure::null(what))
    }

    /// The SQL NULL result.
    pub fn null(self) -> pg_sys::Datum {
        unsafe { pgrx::fcinfo::pg_return_null(self.0) }
    }

    /// Sets up the call's set result (`InitMaterializedSRF`); an error if the caller cannot
    /// take a set.
    pub fn set_result(self) -> SetResult {
        unsafe {
            pg_sys::InitMaterializedSRF(self.0, 0);
            let rsinfo = (*self.0).resultinfo as *mut pg_sys::ReturnSetInfo;
            SetResult {
                store: (*rsinfo).setResult,
                desc: (*rsinfo).setDesc,
            }
        }
    }

    /// The trigger's data, when a trigger called.
    pub fn trigger(self) -> Outcome<&'static pg_sys::TriggerData> {
        unsafe {
            let context = (*self.0).context;
            if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_TriggerData {
                return Err(Failure::internal(
                    "inventory_truth: not called as a trigger",
                ));
            }
            Ok(&*(context as *const pg_sys::TriggerData))
        }
    }

    /// The trigger data of a trigger that must fire on `INSERT` into `table`, for each row
    /// (`row`) or each statement, `BEFORE` or `AFTER` (`before`): anything else (the function
    /// attached elsewhere by a superuser) is refused before the data is read.
    pub fn insert_trigger_on(
        self,
        table: pg_sys::Oid,
        row: bool,
        before: bool,
    ) -> Outcome<&'static pg_sys::TriggerData> {
        let trigdata = self.trigger()?;
        let event = trigdata.tg_event;
        let fired_right = event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_INSERT
            && (event & pg_sys::TRIGGER_EVENT_ROW != 0) == row
            && (event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_BEFORE) == before;
        let relation = trigdata.tg_relation;
        if !fired_right || relation.is_null() || unsafe { (*relation).rd_id } != table {
            return Err(Failure::internal(
                "inventory_truth: a trigger function of the ledger fired where it does not belong",
            ));
        }
        Ok(trigdata)
    }
}

/// A set result, materialized: rows go into a tuplestore in the query's memory, so they may be
/// added from inside an SPI connection.
pub struct SetResult {
    store: *mut pg_sys::Tuplestorestate,
    desc: pg_sys::TupleDesc,
}

impl SetResult {
    /// Adds a tuple of the result's row type (a copy is stored).
    ///
    /// # Safety
    /// `tuple` is a valid tuple of the result's row type.
    pub unsafe fn push_tuple(&self, tuple: pg_sys::HeapTuple) {
        unsafe { pg_sys::tuplestore_puttuple(self.store, tuple) }
    }

    /// Adds a row from its column values.
    pub fn push(&self, values: &mut [pg_sys::Datum], nulls: &mut [bool]) -> Outcome<()> {
        let natts = unsafe { (*self.desc).natts } as usize;
        if values.len() != natts || nulls.len() != natts {
            return Err(Failure::internal(format!(
                "inventory_truth: a result row of {} columns where {natts} are declared",
                values.len()
            )));
        }
        unsafe {
            pg_sys::tuplestore_putvalues(
                self.store,
                self.desc,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            )
        };
        Ok(())
    }
}

/// The value a function returns after filling a [`SetResult`].
pub fn set_returned() -> pg_sys::Datum {
    pg_sys::Datum::from(0)
}

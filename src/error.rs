//! Errors with the contract's SQLSTATEs (docs/design.md §8), raised from Rust.
//!
//! pgrx 0.18 raises errors through a closed enum of SQLSTATEs, which turns the extension's own
//! codes (IT001-IT004) into XX000. So the engine returns a [`Failure`] instead of raising, and
//! the SQL-callable functions and triggers (see `sql_fn`) raise it themselves with
//! PostgreSQL's `errstart`/`errfinish`, from their outermost frame, once every Rust value is
//! dropped: `errfinish` longjmps, and only frames with nothing to drop may be jumped over
//! (<https://github.com/rust-lang/rfcs/blob/master/text/2945-c-unwind-abi.md#plain-old-frames>).

use std::ffi::{c_char, c_int, CString};
use std::fmt;

/// A five-character SQLSTATE.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SqlState(&'static [u8; 5]);

impl SqlState {
    /// IT001: ATP or the source stage holds fewer units than asked.
    pub const INSUFFICIENT_STOCK: SqlState = SqlState(b"IT001");
    /// IT002: a stage transition the rules do not allow.
    pub const TRANSITION_NOT_ALLOWED: SqlState = SqlState(b"IT002");
    /// 40001: a row this transaction must lock changed since its snapshot (REPEATABLE READ).
    pub const SERIALIZATION_FAILURE: SqlState = SqlState(b"40001");
    /// IT003: a direct ledger write breached a ringfence or a safety buffer.
    pub const FENCE_OR_BUFFER_BREACHED: SqlState = SqlState(b"IT003");
    /// IT004: a reference reused with other content.
    pub const IDEMPOTENCY_CONFLICT: SqlState = SqlState(b"IT004");
    /// 55000: the object is not in the state the call needs (a channel that takes no preorders).
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState(b"55000");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState(b"22023");
    pub const NULL_VALUE_NOT_ALLOWED: SqlState = SqlState(b"22004");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState(b"23502");
    pub const UNDEFINED_OBJECT: SqlState = SqlState(b"42704");
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState(b"42501");
    pub const INTERNAL_ERROR: SqlState = SqlState(b"XX000");

    pub fn as_str(self) -> &'static str {
        std::str::from_utf8(self.0).unwrap_or("XX000")
    }

    /// PostgreSQL's packed form (`MAKE_SQLSTATE`): six bits per character.
    pub fn packed(self) -> c_int {
        self.0
            .iter()
            .enumerate()
            .map(|(i, &ch)| (c_int::from(ch.wrapping_sub(b'0')) & 0x3F) << (6 * i))
            .sum()
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call ends in an error: what PostgreSQL reports to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// The result of anything that may end in one of the contract's errors.
pub type Outcome<T> = Result<T, Failure>;

impl Failure {
    pub fn new(state: SqlState, message: impl Into<String>) -> Failure {
        Failure {
            state,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Failure {
        self.detail = Some(detail.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    pub fn insufficient(message: impl Into<String>) -> Failure {
        Failure::new(SqlState::INSUFFICIENT_STOCK, message)
    }

    pub fn conflict(message: impl Into<String>) -> Failure {
        Failure::new(SqlState::IDEMPOTENCY_CONFLICT, message)
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(SqlState::INVALID_PARAMETER_VALUE, message)
    }

    pub fn unknown(message: impl Into<String>) -> Failure {
        Failure::new(SqlState::UNDEFINED_OBJECT, message)
    }

    pub fn null(what: &str) -> Failure {
        Failure::new(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!("{what} must not be NULL"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Failure {
        Failure::new(SqlState::INTERNAL_ERROR, message)
    }
}

// PostgreSQL's error reporting (elog.h). pgrx keeps its own declarations private; these are the
// server's exported symbols.
unsafe extern "C-unwind" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errmsg_internal(fmt: *const c_char, ...) -> c_int;
    fn errdetail_internal(fmt: *const c_char, ...) -> c_int;
    fn errhint(fmt: *const c_char, ...) -> c_int;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
}

const ERROR: c_int = pgrx::pg_sys::PGERROR as c_int;

/// A C string for the error report: interior NULs (impossible in PostgreSQL text) become spaces.
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

/// Raises `failure` as a PostgreSQL ERROR and does not return.
///
/// # Safety
/// Longjmps out of the caller: call it only where no frame between here and PostgreSQL holds a
/// value with a destructor (the outermost frame of an SQL-callable function, trigger or
/// callback, after its body has returned).
pub unsafe fn raise(failure: Failure) -> ! {
    let Failure {
        state,
        message,
        detail,
        hint,
    } = failure;
    let message = c_text(&message);
    let detail = detail.as_deref().map(c_text);
    let hint = hint.as_deref().map(c_text);
    unsafe {
        if errstart(ERROR, std::ptr::null()) {
            errcode(state.packed());
            // Each call copies its text into the error data, so the Rust strings can go before
            // errfinish jumps.
            errmsg_internal(c"%s".as_ptr(), message.as_ptr());
            drop(message);
            if let Some(detail) = detail {
                errdetail_internal(c"%s".as_ptr(), detail.as_ptr());
            }
            if let Some(hint) = hint {
                errhint(c"%s".as_ptr(), hint.as_ptr());
            }
            errfinish(c"inventory_truth".as_ptr(), 0, c"inventory_truth".as_ptr());
        }
    }
    // errstart returns true for every ERROR; reaching here would be a server bug.
    std::process::abort()
}

/// Runs `body` with pgrx's guard (a Rust panic or a PostgreSQL error inside it is reported as a
/// PostgreSQL error), then raises the [`Failure`] it ended with, if any.
///
/// # Safety
/// The same as [`raise`]: only at the outermost frame of a function PostgreSQL calls.
pub unsafe fn run<T>(body: impl FnOnce() -> Outcome<T>) -> T {
    match unsafe { pgrx::pg_sys::panic::pgrx_extern_c_guard(body) } {
        Ok(value) => value,
        Err(failure) => unsafe { raise(failure) },
    }
}

/// Raises `failure` from a `#[pg_extern]` function, through pgrx (which knows only PostgreSQL's
/// own SQLSTATEs: use it for failures that are not IT00x).
pub fn report(failure: Failure) -> ! {
    let Failure {
        state,
        message,
        detail,
        hint,
    } = failure;
    let mut report = pgrx::pg_sys::panic::ErrorReport::new(
        pgrx::PgSqlErrorCode::from(state.packed()),
        message,
        "inventory_truth",
    );
    if let Some(detail) = detail {
        report = report.set_detail(detail);
    }
    if let Some(hint) = hint {
        report = report.set_hint(hint);
    }
    report.report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR does not return")
}

/// A quantity as messages show it: "1 unit", "5 units".
pub fn units(n: i64) -> String {
    if n == 1 || n == -1 {
        format!("{n} unit")
    } else {
        format!("{n} units")
    }
}

/// A code as messages show it: in double quotes, like PostgreSQL's own object names.
pub fn q(code: &str) -> String {
    format!("\"{code}\"")
}

/// "SKU "X" at location "Y"".
pub fn describe(sku: &str, location: &str) -> String {
    format!("SKU {} at location {}", q(sku), q(location))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_pack_as_postgresql_does() {
        // MAKE_SQLSTATE('2','2','0','2','3') and ('X','X','0','0','0') from errcodes.h.
        assert_eq!(
            SqlState::INVALID_PARAMETER_VALUE.packed(),
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as c_int
        );
        assert_eq!(
            SqlState::INTERNAL_ERROR.packed(),
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR as c_int
        );
        assert_eq!(
            SqlState::UNDEFINED_OBJECT.packed(),
            pgrx::PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT as c_int
        );
        assert_eq!(SqlState::INSUFFICIENT_STOCK.as_str(), "IT001");
        // 'I' - '0' = 25, 'T' - '0' = 36, then '0', '0', '1'.
        assert_eq!(
            SqlState::INSUFFICIENT_STOCK.packed(),
            25 | (36 << 6) | (1 << 24)
        );
    }

    #[test]
    fn messages_show_units_and_codes_as_the_sql_did() {
        assert_eq!(units(1), "1 unit");
        assert_eq!(units(-1), "-1 unit");
        assert_eq!(units(0), "0 units");
        assert_eq!(describe("TEE", "DC1"), "SKU \"TEE\" at location \"DC1\"");
    }
}

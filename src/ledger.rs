//! The stock ledger (docs/design.md §2, §7, §8): the append-only `movement` table, its triggers, and the
//! floor and ERP functions that record movements.
//!
//! A row an ERP inserts directly is validated by the row trigger (what a row alone can tell:
//! nothing missing, a positive quantity, a real time, a movement the stage rules allow) and
//! applied by the statement trigger, which looks up what the rows name and hands them to the
//! engine (`engine::apply`), the code every function applies its own rows with. A function
//! checks its arguments, applies its rows, then records them; the row trigger recognises them
//! (`applied.rs`) and only fills in their columns.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::collections::HashSet;

use crate::applied::{self, RowKey};
use crate::engine::{self, Movement, Options};
use crate::error::{describe, q, units, Failure, Outcome, SqlState};
use crate::place::{Row, MAX_UNITS};
use crate::spi;
use crate::sql_function;
use crate::sqlfn::{set_returned, Call, SetResult};
use crate::stage::{movement_allowed, Stage};
use crate::xact;

extension_sql_file!(
    "../sql/ledger.sql",
    name = "ledger",
    requires = ["stage", _check_code]
);
extension_sql_file!("../sql/floor.sql", name = "floor", requires = ["ledger"]);
// stock() and verify() read the fences and holds too, so they come last.
extension_sql_file!("../sql/reading.sql", name = "reading", requires = ["holds"]);

// ---------------------------------------------------------------------------------------------
// Codes

/// A code as messages quote it: JSON, cut to 120 characters (`left(to_json(code)::text, 120)`).
fn quoted_for_error(code: &str) -> String {
    let mut json = String::with_capacity(code.len() + 2);
    json.push('"');
    for ch in code.chars() {
        match ch {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\u{8}' => json.push_str("\\b"),
            '\u{c}' => json.push_str("\\f"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            c if (c as u32) < 0x20 => json.push_str(&format!("\\u{:04x}", c as u32)),
            c => json.push(c),
        }
    }
    json.push('"');
    json.chars().take(120).collect()
}

/// Whether `code` is a code at all: 1 to 100 characters, no control characters, no surrounding
/// spaces. SKUs, locations, channels and every `ref` are codes: what ERPs and scanners know.
pub fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.chars().count() <= 100
        && !code.chars().any(char::is_control)
        && !code.starts_with(char::is_whitespace)
        && !code.ends_with(char::is_whitespace)
}

/// `kind`'s code, checked: NULL is `22004`, anything that is not a code `22023`.
pub fn check_code<'a>(kind: &str, code: Option<&'a str>) -> Outcome<&'a str> {
    let code = code.ok_or_else(|| {
        Failure::new(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!("{kind} code must not be NULL"),
        )
    })?;
    if is_code(code) {
        Ok(code)
    } else {
        Err(
            Failure::invalid(format!("invalid {kind} code {}", quoted_for_error(code))).detail(
                "Codes are 1 to 100 characters, without control characters or surrounding spaces.",
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// What a row alone must be

/// A timestamptz as PostgreSQL prints an infinite one.
fn infinite(micros: i64) -> Option<&'static str> {
    match micros {
        i64::MAX => Some("infinity"),
        i64::MIN => Some("-infinity"),
        _ => None,
    }
}

/// The checks a ledger row must pass on its own, in this order: nothing missing (`23502`), a
/// positive quantity of at most [`MAX_UNITS`] (`22023`), a real time (`22023`), a movement the
/// stage rules allow (`IT002`).
pub fn validate_row(
    sku: Option<&str>,
    location: Option<&str>,
    from: Option<Stage>,
    to: Option<Stage>,
    qty: Option<i64>,
    occurred_at: Option<i64>,
) -> Outcome<()> {
    let (Some(sku), Some(location), Some(qty), Some(occurred_at)) =
        (sku, location, qty, occurred_at)
    else {
        let missing: Vec<&str> = [
            (sku.is_none(), "a sku"),
            (location.is_none(), "a location"),
            (qty.is_none(), "a qty"),
            (occurred_at.is_none(), "an occurred_at"),
        ]
        .into_iter()
        .filter_map(|(absent, what)| absent.then_some(what))
        .collect();
        return Err(Failure::new(
            SqlState::NOT_NULL_VIOLATION,
            format!("a movement needs {}", missing.join(" and ")),
        ));
    };
    check_qty(Some(qty), sku, location)?;
    if let Some(text) = infinite(occurred_at) {
        return Err(Failure::invalid(format!(
            "occurred_at must be a real time, not {text}"
        )));
    }
    if !movement_allowed(from, to) {
        return Err(Failure::new(
            SqlState::TRANSITION_NOT_ALLOWED,
            format!(
                "movement from {} to {} is not allowed ({} of {})",
                from.map_or("outside", Stage::label),
                to.map_or("outside", Stage::label),
                units(qty),
                describe(sku, location)
            ),
        )
        .hint("inventory_truth.allowed_movements() lists the allowed movements."));
    }
    Ok(())
}

/// A movement's quantity: present (`22004`), positive and at most [`MAX_UNITS`] (`22023`).
pub fn check_qty(qty: Option<i64>, sku: &str, location: &str) -> Outcome<i64> {
    let qty = qty.ok_or_else(|| Failure::null("qty"))?;
    if qty <= 0 {
        return Err(Failure::invalid(format!(
            "quantity must be positive: {} of {}",
            units(qty),
            describe(sku, location)
        )));
    }
    if qty > MAX_UNITS {
        return Err(Failure::invalid(format!(
            "quantity too large: {} of {}",
            units(qty),
            describe(sku, location)
        ))
        .detail(format!("A movement is at most {MAX_UNITS} units.")));
    }
    Ok(qty)
}

/// A row into or out of committed names its hold by (channel, ref): a reservation creates or
/// adds to one, a release or a pick takes from it, and a loss may name one (both or neither).
fn check_hold_named(row: &Row, sku: &str, location: &str) -> Outcome<()> {
    let into = row.to == Some(Stage::committed);
    let out = row.from == Some(Stage::committed);
    let needs_name = into
        || (out && matches!(row.to, Some(Stage::available) | Some(Stage::picked)))
        || (out && (row.channel.is_some() || row.reference.is_some()));
    if needs_name && (row.channel.is_none() || row.reference.is_none()) {
        return Err(Failure::new(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!(
                "a movement {} committed needs a channel and a ref naming the hold ({} of {})",
                if into { "into" } else { "out of" },
                units(row.qty),
                describe(sku, location)
            ),
        )
        .hint("Reservations are holds of a channel for an order: give the channel and the order reference."));
    }
    Ok(())
}

/// `_check_code(kind, code) RETURNS text`: the code, checked (the CHECK of location and channel
/// codes, and the SQL functions' arguments). Internal.
#[pg_extern(immutable, parallel_safe)]
fn _check_code(kind: &str, code: Option<&str>) -> String {
    check_code(kind, code)
        .map(str::to_owned)
        .unwrap_or_else(|f| crate::error::report(f))
}

// ---------------------------------------------------------------------------------------------
// What a row names

/// Whether a row with this code exists (`index` is the table's primary key on code).
fn exists(index: &crate::direct::Index, code: &str) -> Outcome<bool> {
    crate::direct::read(|reader| reader.exists(index, &[crate::direct::Key::Text(code)]))
}

/// A SKU that must exist: `22004` for NULL, `22023` for something that is not a code, `42704`.
/// One this transaction holds the row of exists (no lookup).
pub fn known_sku(sku: Option<&str>) -> Outcome<&str> {
    let sku = sku.ok_or_else(|| Failure::null("sku"))?;
    if crate::xact::held(sku).is_none() && !exists(&crate::direct::SKU_CODE, sku)? {
        return Err(missing_sku(sku));
    }
    Ok(sku)
}

/// What [`known_sku`] says of a SKU that does not exist: `22023` if it is not a code, else
/// `42704`.
pub fn missing_sku(sku: &str) -> Failure {
    match check_code("SKU", Some(sku)) {
        Err(failure) => failure,
        Ok(_) => Failure::unknown(format!("unknown SKU {}", q(sku))),
    }
}

/// Whether SKU `sku` exists, as committed or as this transaction made it.
pub fn sku_exists(sku: &str) -> Outcome<bool> {
    exists(&crate::direct::SKU_CODE, sku)
}

pub fn unknown_location(location: &str) -> Failure {
    Failure::unknown(format!("unknown location {}", q(location)))
        .hint("Add it with inventory_truth.add_location().")
}

/// A location that must exist.
pub fn known_location(location: Option<&str>) -> Outcome<&str> {
    let location = location.ok_or_else(|| Failure::null("location"))?;
    if !crate::known::location_exists(location)? {
        check_code("location", Some(location))?;
        return Err(unknown_location(location));
    }
    Ok(location)
}

pub fn unknown_channel(channel: &str) -> Failure {
    Failure::unknown(format!("unknown channel {}", q(channel)))
        .hint("Add it with inventory_truth.add_channel().")
}

/// A channel that must exist.
pub fn known_channel(channel: Option<&str>) -> Outcome<&str> {
    let channel = channel.ok_or_else(|| Failure::null("channel"))?;
    if !crate::known::channel_exists(channel)? {
        check_code("channel", Some(channel))?;
        return Err(unknown_channel(channel));
    }
    Ok(channel)
}

/// `_known_sku(sku) RETURNS text`, for the SQL functions. Internal.
#[pg_extern(stable, parallel_safe)]
fn _known_sku(sku: Option<&str>) -> String {
    known_sku(sku)
        .map(str::to_owned)
        .unwrap_or_else(|f| crate::error::report(f))
}

/// `_known_location(location) RETURNS text`, for the SQL functions. Internal.
#[pg_extern(stable, parallel_safe)]
fn _known_location(location: Option<&str>) -> String {
    known_location(location)
        .map(str::to_owned)
        .unwrap_or_else(|f| crate::error::report(f))
}

/// `_known_channel(channel) RETURNS text`, for the SQL functions. Internal.
#[pg_extern(stable, parallel_safe)]
fn _known_channel(channel: Option<&str>) -> String {
    known_channel(channel)
        .map(str::to_owned)
        .unwrap_or_else(|f| crate::error::report(f))
}

/// `_lock_sku(sku)`: takes the SKU's row for this transaction, first of anything of the SKU,
/// as the engine does (for the SQL functions that read a SKU's stock before they move it).
/// Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _lock_sku(sku: &str) {
    let outcome = spi::connect(|client| {
        if !engine::lock_sku(client, sku, false, false, "")? {
            return Err(Failure::unknown(format!("unknown SKU {}", q(sku))));
        }
        Ok(())
    });
    if let Err(f) = outcome {
        crate::error::report(f);
    }
}

/// What a statement's rows name that the row trigger could not check: the location, the SKU's
/// code when the SKU is new, the reference, the channel, and a hold's name where committed
/// needs one. In ledger order; each code looked up once per statement.
fn check_names(rows: &[Movement]) -> Outcome<()> {
    let mut locations: HashSet<&str> = HashSet::new();
    let mut channels: HashSet<&str> = HashSet::new();
    let mut skus: HashSet<&str> = HashSet::new();
    for m in rows {
        if !locations.contains(m.location.as_str()) {
            if !crate::known::location_exists(&m.location)? {
                check_code("location", Some(&m.location))?;
                return Err(unknown_location(&m.location));
            }
            locations.insert(&m.location);
        }
        if !skus.contains(m.sku.as_str()) {
            // An unknown SKU is the engine's to refuse (42704) or create; a bad code is 22023 here.
            check_code("SKU", Some(&m.sku))?;
            skus.insert(&m.sku);
        }
        match &m.row.reference {
            Some(reference) => {
                check_code("reference", Some(reference))?;
            }
            None if m.row.to == Some(Stage::inbound) => {
                return Err(Failure::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    format!(
                        "an expected receipt of {} needs a reference",
                        describe(&m.sku, &m.location)
                    ),
                )
                .hint("Give the purchase order or ASN line as ref."));
            }
            None => {}
        }
        if let Some(channel) = &m.row.channel {
            if !channels.contains(channel.as_str()) {
                if !crate::known::channel_exists(channel)? {
                    check_code("channel", Some(channel))?;
                    return Err(unknown_channel(channel));
                }
                channels.insert(channel);
            }
        }
        check_hold_named(&m.row, &m.sku, &m.location)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The ledger's triggers

// movement's columns, in table order (attribute numbers 1..13).
const ID: usize = 0;
const SKU: usize = 1;
const LOCATION: usize = 2;
const FROM_STAGE: usize = 3;
const TO_STAGE: usize = 4;
const QTY: usize = 5;
const CHANNEL: usize = 6;
const REF: usize = 7;
const OCCURRED_AT: usize = 9;
const RECORDED_AT: usize = 10;
const ACTOR: usize = 11;
const TXID: usize = 12;
const COLUMNS: usize = 13;

/// One ledger tuple's columns.
struct Columns {
    values: [pg_sys::Datum; COLUMNS],
    nulls: [bool; COLUMNS],
}

impl Columns {
    unsafe fn of(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Columns {
        let mut columns = Columns {
            values: [pg_sys::Datum::from(0); COLUMNS],
            nulls: [true; COLUMNS],
        };
        unsafe {
            pg_sys::heap_deform_tuple(
                tuple,
                desc,
                columns.values.as_mut_ptr(),
                columns.nulls.as_mut_ptr(),
            )
        };
        columns
    }

    fn get<T: FromDatum>(&self, i: usize) -> Option<T> {
        unsafe { T::from_datum(self.values[i], self.nulls[i]) }
    }

    fn micros(&self, i: usize) -> Option<i64> {
        (!self.nulls[i]).then(|| self.values[i].value() as i64)
    }

    fn key(&self) -> RowKey {
        RowKey {
            sku: self.get(SKU).unwrap_or_default(),
            location: self.get(LOCATION).unwrap_or_default(),
            from: self.get(FROM_STAGE),
            to: self.get(TO_STAGE),
            qty: self.get(QTY).unwrap_or_default(),
            channel: self.get(CHANNEL),
            reference: self.get(REF),
        }
    }
}

/// recorded_at: now, never before the transaction's start even if the clock steps back (a row
/// is "recorded now" when its txid is this transaction's and its recorded_at is since its start).
fn recorded_now() -> i64 {
    unsafe { pg_sys::GetCurrentTimestamp().max(pg_sys::GetCurrentTransactionStartTimestamp()) }
}

/// The acting role: the SET ROLE role, else the login (SECURITY DEFINER functions do not change
/// it).
fn actor_datum() -> pg_sys::Datum {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), false);
        pg_sys::Datum::from(pg_sys::cstring_to_text(name))
    }
}

/// Records when this transaction commits (now, just before its commit) in movement_commit: the
/// commit side of the warehouse lag. Written without a plan (src/direct.rs), and without a
/// privilege check: it runs at every commit of a ledger writer, whoever that is.
pub fn record_commit() -> Outcome<()> {
    if !crate::direct::exists(crate::direct::MOVEMENT_COMMIT) {
        // The transaction dropped the extension after writing the ledger.
        return Ok(());
    }
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    // The commit has no snapshot of its own; a trigger or CHECK a DBA added may need one.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    let written = crate::direct::write(&[crate::direct::MOVEMENT_COMMIT], |w| {
        w.insert(
            0,
            &[
                ("txid", Some(pg_sys::Datum::from(this_transaction()))),
                ("committed_at", Some(pg_sys::Datum::from(now))),
            ],
        )?;
        Ok(())
    });
    unsafe { pg_sys::PopActiveSnapshot() };
    written
}

fn this_transaction() -> u64 {
    unsafe { pg_sys::GetTopFullTransactionId().value }
}

/// The row trigger's work: whose the row is, what it is, and its filled-in columns. Returns the
/// tuple to store.
fn movement_row_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let trigdata =
        fcinfo.insert_trigger_on(crate::direct::oid_of(crate::direct::MOVEMENT)?, true, true)?;
    let (tuple, relation) = (trigdata.tg_trigtuple, trigdata.tg_relation);
    let desc = unsafe { (*relation).rd_att };
    if unsafe { (*desc).natts } as usize != COLUMNS {
        return Err(Failure::internal(
            "inventory_truth.movement has an unexpected shape",
        ));
    }
    let columns = unsafe { Columns::of(tuple, desc) };
    let mut replace: Vec<(usize, pg_sys::Datum)> = Vec::with_capacity(4);
    let filled_in = [RECORDED_AT, ACTOR, TXID].map(|i| !columns.nulls[i]);

    if applied::take_mark(&columns.key()) {
        // A function's row, applied by it: only the filled-in columns.
    } else {
        // Only the table's owner (and superusers) may supply the filled-in columns (restoring
        // history); everyone else's rows get their id from the sequence, whatever they said.
        // Judged against the inserting role, not against column privileges: an INSERT through a
        // view fills the view's column defaults without checking them.
        let owner = unsafe { (*(*relation).rd_rel).relowner };
        if !unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), owner) } {
            if filled_in.iter().any(|&f| f) {
                return Err(Failure::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    "recorded_at, actor and txid are filled in by the extension",
                )
                .hint("Insert sku, location, from_stage, to_stage, qty, channel, ref, reason and occurred_at only."));
            }
            let id = crate::direct::next_id(c"movement_id_seq")?;
            replace.push((ID, pg_sys::Datum::from(id)));
        }
        if filled_in.iter().all(|&f| f) {
            // History being restored (pg_dump, pg_restore): stored as it is; its balances come
            // back from stock's own dump. It cannot claim this transaction's id and a time since
            // it began: that is what marks a new movement.
            let txid = columns.values[TXID].value() as u64;
            let recorded = columns.micros(RECORDED_AT).unwrap_or(i64::MIN);
            if txid == this_transaction()
                && recorded >= unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
            {
                return Err(Failure::invalid(
                    "a restored movement cannot carry this transaction's txid and a time since it began",
                )
                .hint("New movements leave recorded_at, actor and txid out."));
            }
            return Ok(modified(tuple, desc, &replace));
        }
        validate_row(
            columns.get::<&str>(SKU),
            columns.get::<&str>(LOCATION),
            columns.get(FROM_STAGE),
            columns.get(TO_STAGE),
            columns.get(QTY),
            columns.micros(OCCURRED_AT),
        )?;
    }
    replace.push((RECORDED_AT, pg_sys::Datum::from(recorded_now())));
    replace.push((ACTOR, actor_datum()));
    replace.push((TXID, pg_sys::Datum::from(this_transaction())));
    Ok(modified(tuple, desc, &replace))
}

fn modified(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    replace: &[(usize, pg_sys::Datum)],
) -> pg_sys::Datum {
    if replace.is_empty() {
        return pg_sys::Datum::from(tuple);
    }
    let mut columns: Vec<i32> = replace.iter().map(|(i, _)| *i as i32 + 1).collect();
    let mut values: Vec<pg_sys::Datum> = replace.iter().map(|(_, v)| *v).collect();
    let mut nulls: Vec<bool> = vec![false; replace.len()];
    let new = unsafe {
        pg_sys::heap_modify_tuple_by_cols(
            tuple,
            desc,
            replace.len() as i32,
            columns.as_mut_ptr(),
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
        )
    };
    pg_sys::Datum::from(new)
}

sql_function!(
    inventory_truth_movement_row,
    pg_finfo_inventory_truth_movement_row,
    movement_row_call
);

/// The statement trigger's work: the statement's new rows (restored history is left alone), in
/// ledger order, checked for what they name and applied.
fn movement_statement_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let trigdata = fcinfo.insert_trigger_on(
        crate::direct::oid_of(crate::direct::MOVEMENT)?,
        false,
        false,
    )?;
    let (store, relation) = (trigdata.tg_newtable, trigdata.tg_relation);
    if store.is_null() {
        return Err(Failure::internal(
            "inventory_truth: the ledger's trigger has no transition table",
        ));
    }
    if applied::statement_was_applied() {
        // A function's row, which it applied under these same locks. A mark covers exactly one
        // row: a statement of more rows is never let through unapplied.
        let count = unsafe { pg_sys::tuplestore_tuple_count(store) };
        if count != 1 {
            return Err(Failure::internal(format!(
                "a ledger statement of {count} rows carries a row marked as applied"
            )));
        }
        return Ok(pg_sys::Datum::from(0));
    }
    let transaction = this_transaction();
    let started = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    let mut rows: Vec<Movement> = Vec::new();
    unsafe {
        let desc = (*relation).rd_att;
        let slot = pg_sys::MakeSingleTupleTableSlot(desc, &pg_sys::TTSOpsMinimalTuple);
        let reader = pg_sys::tuplestore_alloc_read_pointer(store, 0);
        pg_sys::tuplestore_select_read_pointer(store, reader);
        pg_sys::tuplestore_rescan(store);
        while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
            pg_sys::slot_getsomeattrs_int(slot, COLUMNS as i32);
            let value = |i: usize| (*(*slot).tts_values.add(i), *(*slot).tts_isnull.add(i));
            let (txid, txid_null) = value(TXID);
            let (recorded, recorded_null) = value(RECORDED_AT);
            // Only rows recorded by this transaction since it began: restored history never is.
            if txid_null
                || recorded_null
                || txid.value() as u64 != transaction
                || (recorded.value() as i64) < started
            {
                continue;
            }
            let get_text = |i: usize| {
                let (v, n) = value(i);
                String::from_datum(v, n)
            };
            let stage = |i: usize| {
                let (v, n) = value(i);
                Stage::from_datum(v, n)
            };
            rows.push(Movement {
                sku: get_text(SKU).unwrap_or_default(),
                location: get_text(LOCATION).unwrap_or_default(),
                row: Row {
                    id: value(ID).0.value() as i64,
                    from: stage(FROM_STAGE),
                    to: stage(TO_STAGE),
                    qty: value(QTY).0.value() as i64,
                    channel: get_text(CHANNEL),
                    reference: get_text(REF),
                    expiry: false,
                    eta: None,
                    preorder: false,
                },
            });
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
    }
    if rows.is_empty() {
        return Ok(pg_sys::Datum::from(0));
    }
    rows.sort_by_key(|m| m.row.id);
    xact::ledger_written();
    spi::connect(|client| {
        check_names(&rows)?;
        engine::apply(client, rows, &Options::default())?;
        Ok(())
    })?;
    Ok(pg_sys::Datum::from(0))
}
sql_function!(
    inventory_truth_movement_statement,
    pg_finfo_inventory_truth_movement_statement,
    movement_statement_call
);

// ---------------------------------------------------------------------------------------------
// Recording a function's rows

/// A movement a function records.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub sku: &'a str,
    pub location: &'a str,
    pub from: Option<Stage>,
    pub to: Option<Stage>,
    pub qty: i64,
    pub channel: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub reason: &'a str,
    pub occurred_at: pgrx::datum::TimestampWithTimeZone,
    /// A release that is the hold's expiry.
    pub expiry: bool,
    /// The ETA of the expected receipt a row into inbound creates.
    pub eta: Option<i32>,
    /// A put-away's units into the preorder (channel, ref) that awaits them (preorder.rs).
    pub preorder: bool,
}

impl<'a> Record<'a> {
    /// A movement with no channel, no expiry and no ETA.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sku: &'a str,
        location: &'a str,
        from: Option<Stage>,
        to: Option<Stage>,
        qty: i64,
        reference: Option<&'a str>,
        reason: &'a str,
        occurred_at: pgrx::datum::TimestampWithTimeZone,
    ) -> Record<'a> {
        Record {
            sku,
            location,
            from,
            to,
            qty,
            channel: None,
            reference,
            reason,
            occurred_at,
            expiry: false,
            eta: None,
            preorder: false,
        }
    }

    pub fn for_channel(mut self, channel: Option<&'a str>) -> Record<'a> {
        self.channel = channel;
        self
    }

    /// The row as the engine applies it, once it has its id.
    pub fn movement(&self, id: i64) -> Movement {
        Movement {
            sku: self.sku.to_owned(),
            location: self.location.to_owned(),
            row: Row {
                id,
                from: self.from,
                to: self.to,
                qty: self.qty,
                channel: self.channel.map(str::to_owned),
                reference: self.reference.map(str::to_owned),
                expiry: self.expiry,
                eta: self.eta,
                preorder: self.preorder,
            },
        }
    }

    /// The checks a row must pass on its own (`validate_row`), and its reference a code.
    pub fn validate(&self) -> Outcome<()> {
        validate_row(
            Some(self.sku),
            Some(self.location),
            self.from,
            self.to,
            Some(self.qty),
            Some(self.occurred_at.into_inner()),
        )?;
        if let Some(reference) = self.reference {
            check_code("reference", Some(reference))?;
        }
        Ok(())
    }
}

/// Marks the next ledger row, `r`, as applied by the caller (see applied.rs), and the
/// transaction as a writer of the ledger.
pub fn mark_applied(r: &Record<'_>) {
    applied::mark_next(key_of(r));
    xact::ledger_written();
}

/// What identifies `r` as a ledger row (applied.rs).
fn key_of(r: &Record<'_>) -> RowKey {
    RowKey {
        sku: r.sku.to_owned(),
        location: r.location.to_owned(),
        from: r.from,
        to: r.to,
        qty: r.qty,
        channel: r.channel.map(str::to_owned),
        reference: r.reference.map(str::to_owned),
    }
}

/// Records a row the caller applies (or applied) itself, returning its id; the stored row goes
/// into `result` too, when given, or is returned as a datum in the caller's memory.
pub fn record(r: &Record<'_>, result: Option<&SetResult>) -> Outcome<(i64, Option<pg_sys::Datum>)> {
    crate::direct::write(&[crate::direct::MOVEMENT], |w| {
        let (id, stored) = insert_applied(w, 0, r)?;
        match result {
            Some(set) => {
                unsafe { set.push_tuple(stored.tuple()) };
                Ok((id, None))
            }
            None => {
                let header = unsafe { pg_sys::SPI_returntuple(stored.tuple(), stored.desc()) };
                Ok((id, Some(pg_sys::Datum::from(header))))
            }
        }
    })
}

/// Inserts `r`, which the caller applies itself, into the ledger through `w` (its table `t` is
/// movement), with its id from the ledger's sequence: the ledger's row trigger fills in
/// recorded_at, actor and txid; nothing applies it again (applied.rs). Returns the id and the
/// stored row.
pub fn insert_applied(
    w: &mut crate::direct::Writer,
    t: usize,
    r: &Record<'_>,
) -> Outcome<(i64, crate::direct::Stored)> {
    let mut stage = |column: &str, stage: Option<Stage>| -> Outcome<Option<pg_sys::Datum>> {
        stage
            .map(|s| w.enum_value(t, column, s.label()))
            .transpose()
    };
    let from_stage = stage("from_stage", r.from)?;
    let to_stage = stage("to_stage", r.to)?;
    let id = crate::direct::next_id(c"movement_id_seq")?;
    let mut values = vec![
        ("id", id.into_datum()),
        ("sku", r.sku.into_datum()),
        ("location", r.location.into_datum()),
        ("from_stage", from_stage),
        ("to_stage", to_stage),
        ("qty", r.qty.into_datum()),
        ("channel", r.channel.into_datum()),
        ("ref", r.reference.into_datum()),
        ("reason", r.reason.into_datum()),
        ("occurred_at", r.occurred_at.into_datum()),
    ];
    if w.only_before_insert_trigger(t, c"_movement_row") {
        // No trigger of a DBA's before it: the row trigger's work for a function's row (the
        // filled-in columns, movement_row_call) is done here, and the trigger not called (2% of
        // a pick()'s time).
        xact::ledger_written();
        values.push(("recorded_at", Some(pg_sys::Datum::from(recorded_now()))));
        values.push(("actor", Some(actor_datum())));
        values.push(("txid", Some(pg_sys::Datum::from(this_transaction()))));
        let stored = w.insert_without_before_triggers(t, &values)?;
        return Ok((id, stored));
    }
    mark_applied(r);
    let stored = w.insert(t, &values)?;
    // The row trigger knew the row for the caller's (no statement trigger fires for it), and
    // no trigger after it changed what the caller applied.
    let as_stored = RowKey {
        sku: stored.get::<String>("sku")?.unwrap_or_default(),
        location: stored.get::<String>("location")?.unwrap_or_default(),
        from: r.from,
        to: r.to,
        qty: stored.get::<i64>("qty")?.unwrap_or_default(),
        channel: stored.get::<String>("channel")?,
        reference: stored.get::<String>("ref")?,
    };
    let stages_kept = stored
        .get::<pg_sys::Datum>("from_stage")?
        .map(|d| d.value())
        == from_stage.map(|d| d.value())
        && stored.get::<pg_sys::Datum>("to_stage")?.map(|d| d.value())
            == to_stage.map(|d| d.value());
    if !applied::statement_was_applied() || !stages_kept || as_stored != key_of(r) {
        return Err(Failure::internal(
            "inventory_truth: another trigger changed a function's ledger row",
        ));
    }
    Ok((id, stored))
}

/// Applies a function's rows (strictly: a source stage without the units is `IT001` at once)
/// and records them, in this order, returning their ids. The caller has checked its arguments
/// and holds the SKU's row when it decided the rows under it.
pub fn move_stock(
    client: &mut SpiClient<'_>,
    records: &[Record<'_>],
    options: &Options,
    result: Option<&SetResult>,
) -> Outcome<Vec<i64>> {
    for r in records {
        r.validate()?;
    }
    let mut ids = Vec::with_capacity(records.len());
    let mut movements = Vec::with_capacity(records.len());
    for r in records {
        let (id, _) = record(r, result)?;
        ids.push(id);
        movements.push(r.movement(id));
    }
    let options = Options {
        strict: true,
        ..options.clone()
    };
    engine::apply(client, movements, &options)?;
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// _move: one movement, for the SQL functions that decide several (counts)

/// `_move(sku, location, from, to, qty, ref, reason, occurred_at, channel) RETURNS movement`.
fn move_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let sku: String = fcinfo.required(0, "sku")?;
    let location: String = fcinfo.required(1, "location")?;
    let from: Option<Stage> = fcinfo.arg(2);
    let to: Option<Stage> = fcinfo.arg(3);
    let qty: i64 = fcinfo.required(4, "qty")?;
    let reference: Option<String> = fcinfo.arg(5);
    let reason: Option<String> = fcinfo.arg(6);
    let occurred_at: pgrx::datum::TimestampWithTimeZone = fcinfo.required(7, "occurred_at")?;
    let channel: Option<String> = fcinfo.arg(8);
    let record = Record::new(
        &sku,
        &location,
        from,
        to,
        qty,
        reference.as_deref(),
        reason.as_deref().unwrap_or_default(),
        occurred_at,
    )
    .for_channel(channel.as_deref());
    record.validate()?;
    spi::connect(|client| {
        let (id, datum) = record_and_apply_one(client, &record)?;
        let _ = id;
        datum.ok_or_else(|| Failure::internal("inventory_truth: _move recorded no row"))
    })
}
sql_function!(
    inventory_truth_move,
    pg_finfo_inventory_truth_move,
    move_call
);

fn record_and_apply_one(
    client: &mut SpiClient<'_>,
    r: &Record<'_>,
) -> Outcome<(i64, Option<pg_sys::Datum>)> {
    let (id, datum) = record(r, None)?;
    engine::apply(
        client,
        vec![r.movement(id)],
        &Options {
            strict: true,
            ..Options::default()
        },
    )?;
    Ok((id, datum))
}

// ---------------------------------------------------------------------------------------------
// Floor and ERP functions

/// What every function that moves stock between two known stages checks before it moves, in
/// this order: a known SKU and location, a positive quantity, a physical event time.
fn floor_arguments(
    fcinfo: Call,
    occurred_at_arg: usize,
) -> Outcome<(String, String, i64, pgrx::datum::TimestampWithTimeZone)> {
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    let sku = known_sku(sku.as_deref())?.to_owned();
    let location = known_location(location.as_deref())?.to_owned();
    let qty = check_qty(fcinfo.arg(2), &sku, &location)?;
    let occurred_at = fcinfo.required(occurred_at_arg, "occurred_at")?;
    Ok((sku, location, qty, occurred_at))
}

/// One movement between two known stages: the body of the one-line floor functions.
#[allow(clippy::too_many_arguments)]
fn floor_move(
    fcinfo: Call,
    occurred_at_arg: usize,
    from: Option<Stage>,
    to: Option<Stage>,
    reference: Option<String>,
    reason: &str,
) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    spi::connect(|client| {
        let (sku, location, qty, occurred_at) = floor_arguments(fcinfo, occurred_at_arg)?;
        move_stock(
            client,
            &[Record::new(
                &sku,
                &location,
                from,
                to,
                qty,
                reference.as_deref(),
                reason,
                occurred_at,
            )],
            &Options::default(),
            Some(&result),
        )?;
        Ok(())
    })?;
    Ok(set_returned())
}

/// Units onto the shelf (`from` -> available): a put-away, or QC passed. Under the SKU's row,
/// the open preorders awaiting units here take them first, oldest first (src/preorder.rs): one
/// row available -> committed into each, past the fences.
fn shelve(
    fcinfo: Call,
    occurred_at_arg: usize,
    from: Stage,
    reason: &str,
) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    spi::connect(|client| {
        let (sku, location, qty, occurred_at) = floor_arguments(fcinfo, occurred_at_arg)?;
        let cause = format!("{}->available", from.label());
        engine::lock_sku(client, &sku, true, false, &cause)?;
        let awaiting =
            crate::direct::read(|reader| engine::awaiting_holds(reader, &sku, Some(&location)))?;
        let claims: Vec<(i64, i64)> = awaiting
            .iter()
            .filter_map(|h| Some((h.id?, h.preorder_qty.unwrap_or(0))))
            .collect();
        let mut records = vec![Record::new(
            &sku,
            &location,
            Some(from),
            Some(Stage::available),
            qty,
            None,
            reason,
            occurred_at,
        )];
        for (id, units) in crate::preorder::fills(qty, &claims) {
            if let Some(hold) = awaiting.iter().find(|h| h.id == Some(id)) {
                let mut record = Record::new(
                    &sku,
                    &location,
                    Some(Stage::available),
                    Some(Stage::committed),
                    units,
                    Some(&hold.reference),
                    "preorder arrived",
                    occurred_at,
                )
                .for_channel(Some(&hold.channel));
                record.preorder = true;
                records.push(record);
            }
        }
        move_stock(client, &records, &Options::default(), Some(&result))?;
        Ok(())
    })?;
    Ok(set_returned())
}

/// put_away(sku, location, qty, qc boolean, occurred_at)
fn put_away_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let qc: bool = fcinfo.required(3, "qc")?;
    if qc {
        return floor_move(
            fcinfo,
            4,
            Some(Stage::receiving),
            Some(Stage::quality_control),
            None,
            "put-away to QC",
        );
    }
    shelve(fcinfo, 4, Stage::receiving, "put-away")
}
sql_function!(
    inventory_truth_put_away,
    pg_finfo_inventory_truth_put_away,
    put_away_call
);

/// qc_pass(sku, location, qty, occurred_at)
fn qc_pass_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    shelve(fcinfo, 3, Stage::quality_control, "QC passed")
}
sql_function!(
    inventory_truth_qc_pass,
    pg_finfo_inventory_truth_qc_pass,
    qc_pass_call
);

/// qc_fail(sku, location, qty, occurred_at)
fn qc_fail_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    floor_move(
        fcinfo,
        3,
        Some(Stage::quality_control),
        Some(Stage::damaged),
        None,
        "QC failed",
    )
}
sql_function!(
    inventory_truth_qc_fail,
    pg_finfo_inventory_truth_qc_fail,
    qc_fail_call
);

/// put_back(sku, location, qty, occurred_at)
fn put_back_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    floor_move(
        fcinfo,
        3,
        Some(Stage::picked),
        Some(Stage::available),
        None,
        "put back",
    )
}
sql_function!(
    inventory_truth_put_back,
    pg_finfo_inventory_truth_put_back,
    put_back_call
);

/// ship(sku, location, qty, ref, occurred_at)
fn ship_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    floor_move(
        fcinfo,
        4,
        Some(Stage::picked),
        Some(Stage::shipped),
        fcinfo.arg(3),
        "shipped",
    )
}
sql_function!(
    inventory_truth_ship,
    pg_finfo_inventory_truth_ship,
    ship_call
);

/// report_damage(sku, location, qty, from_stage, occurred_at)
fn report_damage_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let from: Stage = fcinfo.required(3, "from_stage")?;
    if from == Stage::quarantine {
        return Err(Failure::invalid(
            "report_damage does not take returns out of quarantine: a manager's inspection does",
        )
        .hint("A manager records it with inventory_truth.inspect_return(..., resale => false)."));
    }
    floor_move(
        fcinfo,
        4,
        Some(from),
        Some(Stage::damaged),
        None,
        "damage found",
    )
}
sql_function!(
    inventory_truth_report_damage,
    pg_finfo_inventory_truth_report_damage,
    report_damage_call
);

/// inspect_return(sku, location, qty, resale, occurred_at)
fn inspect_return_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let resale: bool = fcinfo.required(3, "resale")?;
    let (to, reason) = if resale {
        (Stage::available, "inspection: ready for resale")
    } else {
        (Stage::damaged, "inspection: damaged")
    };
    floor_move(fcinfo, 4, Some(Stage::quarantine), Some(to), None, reason)
}
sql_function!(
    inventory_truth_inspect_return,
    pg_finfo_inventory_truth_inspect_return,
    inspect_return_call
);

/// write_off(sku, location, qty, from_stage, reason, occurred_at)
fn write_off_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let from: Stage = fcinfo.required(3, "from_stage")?;
    let reason: Option<String> = fcinfo.arg(4);
    let reason = reason.unwrap_or_else(|| {
        crate::stage::find_movement(Some(from), Some(Stage::written_off))
            .map_or("write-off", |m| m.event)
            .to_owned()
    });
    floor_move(
        fcinfo,
        5,
        Some(from),
        Some(Stage::written_off),
        None,
        &reason,
    )
}
sql_function!(
    inventory_truth_write_off,
    pg_finfo_inventory_truth_write_off,
    write_off_call
);
#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn qty(sku: &str, location: &str, stage: &str) -> i64 {
        Spi::get_one_with_args::<i64>(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.balance
              WHERE sku = $1 AND location = $2 AND stage = $3::inventory_truth.stage",
            &[sku.into(), location.into(), stage.into()],
        )
        .expect("read a balance")
        .expect("sum is never NULL")
    }

    fn verify_rows() -> i64 {
        Spi::get_one::<i64>("SELECT count(*) FROM inventory_truth.verify()")
            .expect("run verify()")
            .expect("count is never NULL")
    }

    #[pg_test]
    fn a_function_and_a_direct_insert_apply_the_same_way() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 10)").expect("receive");
        Spi::run(
            "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
             VALUES ('SKU-1', 'DC1', 'receiving', 'available', 4)",
        )
        .expect("direct insert");
        Spi::run("SELECT * FROM inventory_truth.put_away('SKU-1', 'DC1', 6)").expect("put away");
        assert_eq!(qty("SKU-1", "DC1", "receiving"), 0);
        assert_eq!(qty("SKU-1", "DC1", "available"), 10);
        assert_eq!(verify_rows(), 0);
    }

    #[pg_test]
    fn the_ledger_fills_in_time_role_and_transaction() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        let filled = Spi::get_one::<bool>(
            "SELECT recorded_at >= occurred_at AND actor = current_user
                    AND txid = pg_current_xact_id()
               FROM inventory_truth.receive('SKU-1', 'DC1', 1,
                                            occurred_at => now() - interval '1 minute')",
        )
        .expect("receive")
        .expect("one row");
        assert!(filled);
    }

    #[pg_test(
        error = "movement from available to shipped is not allowed (1 unit of SKU \"SKU-1\" at location \"DC1\")"
    )]
    fn an_illegal_direct_insert_is_refused() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 1)").expect("receive");
        Spi::run(
            "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
             VALUES ('SKU-1', 'DC1', 'available', 'shipped', 1)",
        )
        .expect("refused");
    }

    #[pg_test(
        error = "insufficient stock: SKU \"SKU-1\" at location \"DC1\" has 3 units in stage receiving, 5 asked"
    )]
    fn a_function_refuses_to_move_more_than_the_bucket_holds() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 3)").expect("receive");
        Spi::run("SELECT * FROM inventory_truth.put_away('SKU-1', 'DC1', 5)").expect("refused");
    }

    #[pg_test(error = "the movement ledger is append-only: UPDATE is refused")]
    fn the_ledger_refuses_updates() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 3)").expect("receive");
        Spi::run("UPDATE inventory_truth.movement SET qty = 30").expect("refused");
    }
}

#[cfg(test)]
mod code_rules {
    use super::is_code;

    #[test]
    fn codes_are_what_scanners_send() {
        let longest = "S".repeat(100);
        for code in ["TEE-RED-M", "S1", "DC 1", "Größe-42", longest.as_str()] {
            assert!(is_code(code), "{code:?} is a code");
        }
        let too_long = "S".repeat(101);
        for code in [
            "",
            " TEE",
            "TEE ",
            "TEE\u{a0}",
            "\u{3000}TEE",
            "TE\tE",
            "TE\u{1}E",
            too_long.as_str(),
        ] {
            assert!(!is_code(code), "{code:?} is not a code");
        }
    }
}

//! Holds (docs/design.md §4): reservations of a channel for an order, checked against ATP in the
//! reserving transaction, released back to the buckets their units came from, expired, consumed
//! by pick scans. Every change to a hold is a ledger movement applied by the engine, so an ERP's
//! direct movements and these functions keep holds the same way.
//!
//! `reserve` is the checkout's hot path. It reads what it needs of the SKU (five index
//! lookups, no plan: src/direct.rs), from committed state and without a lock, and refuses a sale
//! that state cannot serve at once (a sold-out SKU refuses buyers side by side instead of
//! queueing them on its row). Otherwise one writer takes the SKU's row, advancing its version
//! (`engine::take_sku`), and writes the sale (`engine::write_sale`: the place, the hold, the
//! ledger row) if the version it found is the one it read and the place's fences are as read:
//! nobody changed the SKU in between, so the decision stands. If not, it reads again under the
//! row now held, decides again and writes.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::collections::HashMap;

use crate::direct::{self, Key};
use crate::engine::{self, Options, StoredPlace};
use crate::error::{q, units, Failure, Outcome};
use crate::escrow;
use crate::guc::NotifyMode;
use crate::ledger::{check_code, known_channel, known_location, known_sku, Record};
use crate::place::HoldStatus;
use crate::plan::{beyond_atp, check_sale, plan_sale, sale_order, Split};
use crate::spi::{self, oid, Sql};
use crate::sql_function;
use crate::sqlfn::Call;
use crate::stage::Stage;
use crate::xact;

extension_sql_file!(
    "../sql/holds.sql",
    name = "holds",
    requires = ["channels", _check_split]
);

static LOCATION_PRIORITIES: Sql = Sql {
    text: "SELECT code, priority FROM inventory_truth.location",
    args: &[],
};

/// Every location's priority (`Split::Priority`).
fn location_priorities(client: &mut SpiClient<'_>) -> Outcome<HashMap<String, i32>> {
    let mut priorities = HashMap::new();
    for row in spi::run(client, &LOCATION_PRIORITIES, &[])? {
        priorities.insert(spi::value(&row, 1)?, spi::value(&row, 2)?);
    }
    Ok(priorities)
}

static SALE_PLACES: Sql = Sql {
    text: "SELECT coalesce((SELECT b.units FROM inventory_truth.sku_buffer b
                             WHERE b.channel = $2 AND b.sku = $1),
                            (SELECT c.buffer FROM inventory_truth.channel c WHERE c.code = $2), 0),
                  p.location, p.inbound, p.receiving, p.quality_control, p.available, p.committed,
                  p.picked, p.shipped, p.quarantine, p.damaged, p.missing, p.written_off,
                  p.fence_channels, p.fence_qty, p.fence_held
             FROM (SELECT 1) one
             LEFT JOIN inventory_truth.stock p ON p.sku = $1",
    args: &[oid::TEXT, oid::TEXT],
};

/// Every place of `sku`, and `channel`'s buffer for it.
pub fn load_sale_places(
    client: &mut SpiClient<'_>,
    sku: &str,
    channel: &str,
) -> Outcome<(Vec<StoredPlace>, i64)> {
    let mut places = Vec::new();
    let mut buffer = 0;
    let rows = spi::run(client, &SALE_PLACES, &[sku.into(), channel.into()])?;
    for row in rows {
        buffer = spi::value(&row, 1)?;
        if spi::get::<String>(&row, 2)?.is_some() {
            places.push(engine::stored_place(&row, 2)?);
        }
    }
    Ok((places, buffer))
}

// ---------------------------------------------------------------------------------------------
// reserve

/// A ttl's checks and the expiry it gives, in one statement (interval arithmetic is
/// PostgreSQL's): not positive, beyond 100 years, not positive from now (a month of 30 days
/// less a day is positive among intervals but not from the end of February), its text, and
/// now() + ttl.
static TTL: Sql = Sql {
    text: "SELECT $1 <= interval '0', $1 > interval '100 years',
                  CASE WHEN $1 <= interval '0' OR $1 > interval '100 years' THEN true
                       ELSE pg_catalog.now() + $1 <= pg_catalog.now() END,
                  $1::pg_catalog.text,
                  CASE WHEN $1 > interval '0' AND $1 <= interval '100 years' THEN pg_catalog.now() + $1 END",
    args: &[oid::INTERVAL],
};

/// The expiry of a hold reserved now with `ttl` (none without one); `22023` for a ttl that is
/// not positive or beyond 100 years.
pub fn check_ttl(
    client: &mut SpiClient<'_>,
    ttl: Option<Interval>,
) -> Outcome<Option<TimestampWithTimeZone>> {
    let Some(ttl) = ttl else {
        return Ok(None);
    };
    let row = spi::run(client, &TTL, &[ttl.into()])?.first();
    let not_positive: bool = spi::value(&row, 1)?;
    let too_long: bool = spi::value(&row, 2)?;
    let not_later: bool = spi::value(&row, 3)?;
    let text: String = spi::value(&row, 4)?;
    let refuse = |message: String| {
        Failure::invalid(message).hint("Leave ttl NULL for a hold that does not expire.")
    };
    if not_positive {
        return Err(refuse(format!("a hold's ttl must be positive, not {text}")));
    }
    if too_long {
        return Err(refuse(format!(
            "a hold's ttl must be at most 100 years, not {text}"
        )));
    }
    if not_later {
        return Err(refuse(format!("a hold's ttl must be positive, not {text}")));
    }
    spi::get(&row, 5)
}

/// `_check_ttl(ttl) RETURNS interval`: the ttl, checked (for `reserve_order`). Internal.
#[pg_extern(stable, parallel_safe)]
fn _check_ttl(ttl: Option<Interval>) -> Option<Interval> {
    if let Err(f) = spi::connect(|client| check_ttl(client, ttl)) {
        crate::error::report(f);
    }
    ttl
}

/// One location's part of a reservation (a hold row), as a retry or a change reads it.
#[derive(Clone, Debug)]
struct Part {
    id: i64,
    status: HoldStatus,
    /// The units it was reserved with (grown included).
    qty: i64,
    /// What it asks for: its qty less what was released.
    asked: i64,
    open_qty: i64,
    location: String,
}

/// The columns of a hold that [`part_of`] reads, in its order.
const PART_COLUMNS: [&str; 6] = [
    "id",
    "status",
    "qty",
    "released_qty",
    "open_qty",
    "location",
];

fn part_of(row: &impl spi::Columns) -> Outcome<Part> {
    let status: String = spi::value(row, 2)?;
    let qty: i64 = spi::value(row, 3)?;
    let released: i64 = spi::value(row, 4)?;
    Ok(Part {
        id: spi::value(row, 1)?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| Failure::internal(format!("a hold with status {status}")))?,
        qty,
        asked: qty - released,
        open_qty: spi::value(row, 5)?,
        location: spi::value(row, 6)?,
    })
}

/// What `read_for_reserve` found.
struct Read {
    /// The SKU's ATP version: its row's, plus its escrow parts' sales since their last fold.
    version: i64,
    /// Its row's version alone.
    row_version: i64,
    /// Where that version of the SKU's row is stored (a hint for taking it).
    sku_at: Option<direct::Tid>,
    /// Its escrow parts per location (0: not escrowed).
    escrow_parts: i32,
    buffer: i64,
    /// The parts of the reservation the reference names, by id (none: a new one).
    parts: Vec<Part>,
    places: Vec<StoredPlace>,
}

/// Everything `reserve` needs of a SKU, read under one snapshot without a lock (src/direct.rs:
/// five index lookups, no plan): the SKU's version, the channel's buffer for it, the hold the
/// reference names (if any), and every place of the SKU. `None` when the SKU or the channel does
/// not exist.
fn read_for_reserve(sku: &str, channel: &str, reference: Option<&str>) -> Outcome<Option<Read>> {
    direct::read(|reader| {
        let mut version = None;
        let mut escrow_parts = 0;
        let mut sku_at = None;
        reader.rows(
            &direct::SKU_CODE,
            &[Key::Text(sku)],
            &["version", "escrow_parts"],
            |row| {
                version = spi::get(row, 1)?;
                escrow_parts = spi::value(row, 2)?;
                sku_at = Some(row.tid());
                Ok(())
            },
        )?;
        let mut buffer = None;
        reader.rows(
            &direct::CHANNEL_CODE,
            &[Key::Text(channel)],
            &["buffer"],
            |row| {
                buffer = spi::get(row, 1)?;
                Ok(())
            },
        )?;
        let (Some(version), Some(mut buffer)) = (version, buffer) else {
            return Ok(None);
        };
        reader.rows(
            &direct::SKU_BUFFER_KEY,
            &[Key::Text(sku), Key::Text(channel)],
            &["units"],
            |row| {
                buffer = spi::value(row, 1)?;
                Ok(())
            },
        )?;
        let parts = match reference {
            Some(reference) => reservation_parts(reader, sku, channel, reference)?,
            None => Vec::new(),
        };
        let mut places = Vec::new();
        reader.rows(
            &direct::STOCK_PLACE,
            &[Key::Text(sku)],
            &engine::PLACE_COLUMNS,
            |row| {
                places.push(engine::read_place(row, 1)?);
                Ok(())
            },
        )?;
        let row_version = version;
        let mut version = version;
        if escrow_parts > 0 {
            let sales = escrow::part_sales(reader, sku)?;
            sales.apply(&mut places);
            version += sales.sales;
        }
        Ok(Some(Read {
            version,
            row_version,
            sku_at,
            escrow_parts,
            buffer,
            parts,
            places,
        }))
    })
}

/// `read_for_reserve` again, of a SKU known to exist (this call read it, or holds its row).
fn read_again(r: &Reservation) -> Outcome<Read> {
    read_for_reserve(&r.sku, &r.channel, Some(&r.reference))?
        .ok_or_else(|| Failure::internal("inventory_truth: the SKU went away"))
}

/// Whether this buyer may sell beside an escrowed SKU's parts (from a part, or from its fence
/// leaving them out): it does not notify itself (it would publish the SKU's version before its
/// commit, and a part's sale committing meanwhile could publish the same one), at READ
/// COMMITTED (a part is taken as committed now, not as of the snapshot; at REPEATABLE READ a
/// later fold would meet the parts' new sales as serialization failures).
fn sells_beside_parts() -> bool {
    xact::notify_mode() != NotifyMode::Direct
        && unsafe { pg_sys::XactIsoLevel } < pg_sys::XACT_REPEATABLE_READ as i32
}

/// The parts of the reservation (channel, ref) of a SKU, by id, as `reader` sees them (one
/// index lookup).
fn reservation_parts(
    reader: &direct::Reader,
    sku: &str,
    channel: &str,
    reference: &str,
) -> Outcome<Vec<Part>> {
    let mut parts = Vec::new();
    reader.rows(
        &direct::HOLD_KEY,
        &[Key::Text(reference), Key::Text(sku), Key::Text(channel)],
        &PART_COLUMNS,
        |row| {
            parts.push(part_of(row)?);
            Ok(())
        },
    )?;
    parts.sort_by_key(|p| p.id);
    Ok(parts)
}

/// The same, as committed now.
fn read_reservation(sku: &str, channel: &str, reference: &str) -> Outcome<Vec<Part>> {
    direct::read(|reader| reservation_parts(reader, sku, channel, reference))
}

/// `atp(sku, channel, location) RETURNS bigint`: what the channel may sell of the SKU now, its
/// fence and the pool less its buffer (never below 0), over every location or at one. The read
/// a reservation starts with (four index lookups, no plan), in the caller's snapshot; the
/// errors in argument order, as the other functions give them.
fn atp_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let sku: Option<String> = fcinfo.arg(0);
    let channel: Option<String> = fcinfo.arg(1);
    let location: Option<String> = fcinfo.arg(2);
    let read = match (sku.as_deref(), channel.as_deref()) {
        (Some(s), Some(c)) => read_for_reserve(s, c, None)?,
        _ => None,
    };
    let (Some(read), Some(channel)) = (read, channel.as_deref()) else {
        known_sku(sku.as_deref())?;
        known_channel(channel.as_deref())?;
        return Err(Failure::internal("inventory_truth: atp read nothing"));
    };
    if let Some(l) = location.as_deref() {
        if !read.places.iter().any(|p| p.location == l) {
            known_location(Some(l))?;
        }
    }
    let sellable: i64 = read
        .places
        .iter()
        .filter(|p| location.as_deref().is_none_or(|l| p.location == l))
        .map(|p| p.sellable(channel))
        .sum();
    Ok(pg_sys::Datum::from((sellable - read.buffer).max(0)))
}
sql_function!(inventory_truth_atp, pg_finfo_inventory_truth_atp, atp_call);

/// The arguments of a reservation, checked.
struct Reservation {
    channel: String,
    sku: String,
    qty: i64,
    reference: String,
    expires_at: Option<TimestampWithTimeZone>,
    location: Option<String>,
    occurred_at: TimestampWithTimeZone,
    split: Split,
}

/// The `split` argument, checked: `22004` for NULL, `22023` for an unknown way.
fn check_split(split: Option<&str>) -> Outcome<Split> {
    let split = split.ok_or_else(|| Failure::null("split"))?;
    Split::parse(split).ok_or_else(|| {
        Failure::invalid(format!("unknown split {}", q(split)))
            .hint("split is 'most_stock' (the default), 'priority' or 'none'.")
    })
}

/// `22023` for a quantity to hold that is not positive or above [`crate::place::MAX_UNITS`]
/// (`reserve`, `preorder`).
pub(crate) fn check_hold_qty(qty: i64, sku: &str) -> Outcome<()> {
    if qty <= 0 {
        return Err(Failure::invalid(format!(
            "quantity must be positive: {} of SKU {}",
            units(qty),
            q(sku)
        )));
    }
    check_at_most_max(qty, sku)
}

/// `22023` for a hold quantity above [`crate::place::MAX_UNITS`] (`reserve`, `resize_hold`).
fn check_at_most_max(qty: i64, sku: &str) -> Outcome<()> {
    if qty > crate::place::MAX_UNITS {
        return Err(Failure::invalid(format!(
            "quantity too large: {} of SKU {}",
            units(qty),
            q(sku)
        ))
        .detail(format!(
            "A movement is at most {} units.",
            crate::place::MAX_UNITS
        )));
    }
    Ok(())
}

/// `22023` for an `occurred_at` that is not a real time (`infinity`).
pub(crate) fn check_real_time(occurred_at: TimestampWithTimeZone) -> Outcome<()> {
    if occurred_at.is_finite() {
        return Ok(());
    }
    let text = if occurred_at.is_infinity() {
        "infinity"
    } else {
        "-infinity"
    };
    Err(Failure::invalid(format!(
        "occurred_at must be a real time, not {text}"
    )))
}

/// `_check_split(split) RETURNS text`: the split, checked (for `reserve_order` and
/// `check_order`). Internal.
#[pg_extern(immutable, parallel_safe)]
fn _check_split(split: Option<&str>) -> String {
    match check_split(split) {
        Ok(_) => split.unwrap_or_default().to_owned(),
        Err(f) => crate::error::report(f),
    }
}

/// reserve(channel, sku, qty, ref, ttl, location, occurred_at, split) RETURNS bigint: the id of
/// the hold (of its first part, when it is served from several locations).
fn reserve_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let sku: Option<String> = fcinfo.arg(1);
    let qty: Option<i64> = fcinfo.arg(2);
    let reference: Option<String> = fcinfo.arg(3);
    let ttl: Option<Interval> = fcinfo.arg(4);
    let location: Option<String> = fcinfo.arg(5);
    let occurred_at: Option<TimestampWithTimeZone> = fcinfo.arg(6);
    let split: Option<String> = fcinfo.arg(7);
    let id = spi::connect(|client| {
        // One read for the common case; the checks below keep the order of the contract's
        // errors whatever is wrong.
        let read = match (channel.as_deref(), sku.as_deref()) {
            (Some(c), Some(s)) => read_for_reserve(s, c, reference.as_deref())?,
            _ => None,
        };
        let read = match read {
            Some(read) => read,
            None => {
                known_channel(channel.as_deref())?;
                known_sku(sku.as_deref())?;
                return Err(Failure::internal("inventory_truth: reserve read nothing"));
            }
        };
        let (channel, sku) = (channel.unwrap_or_default(), sku.unwrap_or_default());
        let qty = qty.ok_or_else(|| Failure::null("qty"))?;
        let reference = check_code("reference", reference.as_deref())?.to_owned();
        let expires_at = check_ttl(client, ttl)?;
        let occurred_at = occurred_at.ok_or_else(|| Failure::null("occurred_at"))?;
        check_hold_qty(qty, &sku)?;
        check_real_time(occurred_at)?;
        if let Some(l) = location.as_deref() {
            if !read.places.iter().any(|p| p.location == l) {
                known_location(Some(l))?;
            }
        }
        let split = check_split(split.as_deref())?;
        let reservation = Reservation {
            channel,
            sku,
            qty,
            reference,
            expires_at,
            location,
            occurred_at,
            split,
        };
        reserve(client, &reservation, read)
    })?;
    Ok(pg_sys::Datum::from(id))
}
sql_function!(
    inventory_truth_reserve,
    pg_finfo_inventory_truth_reserve,
    reserve_call
);

/// What a reservation's change of a SKU is called (`sku.change_cause`, a notification's cause),
/// a sale from an escrow part's included.
pub(crate) const RESERVATION_CAUSE: &str = "available->committed";

fn reserve(client: &mut SpiClient<'_>, r: &Reservation, first: Read) -> Outcome<i64> {
    const CAUSE: &str = RESERVATION_CAUSE;
    let held = xact::held(&r.sku);
    if held == Some(false) {
        // This transaction holds the SKU's row but has not advanced its version yet.
        engine::lock_sku(client, &r.sku, true, false, CAUSE)?;
    }
    let mut read = first;
    if held.is_some() && xact::lent(&r.sku) {
        // This transaction holds the row with the parts lent out (src/escrow.rs): they are
        // folded before anything is decided under the row.
        escrow::fold(client, &r.sku)?;
        read = read_again(r)?;
    }
    if read.escrow_parts > 0 && held.is_none() {
        // Escrowed (src/escrow.rs): calls with this key meet on a lock of their own, and what
        // a call with it committed meanwhile is read again after it.
        escrow::lock_reservation(&r.channel, &r.reference, &r.sku);
        read.parts = read_reservation(&r.sku, &r.channel, &r.reference)?;
    }
    // Whether `read` was read under the SKU's row: this transaction held it before, or took it
    // and found the SKU changed since the first read.
    let mut under_lock = held.is_some();
    // Waits for a busy escrow part's holder, at most two (src/escrow.rs, `claim`): with the
    // exact path's read again under the row, five passes at most.
    let mut waits = 0;
    for _ in 0..5 {
        if !read.parts.is_empty() {
            return retry(client, r, &read.parts, under_lock);
        }
        // Decided from what was read: committed state before the lock (a refusal then waits
        // for nobody), or the SKU as this transaction holds it.
        let plan = match r.location.as_deref() {
            Some(l) => {
                check_sale(
                    &read.places,
                    read.buffer,
                    &r.channel,
                    &r.sku,
                    Some(l),
                    r.qty,
                )?;
                vec![(l.to_owned(), r.qty)]
            }
            None => {
                let priorities = if r.split == Split::Priority {
                    location_priorities(client)?
                } else {
                    HashMap::new()
                };
                let ordered = sale_order(&read.places, &r.channel, r.split, &priorities);
                plan_sale(
                    &ordered,
                    read.buffer,
                    &r.channel,
                    &r.sku,
                    r.qty,
                    r.split != Split::None,
                )?
            }
        };
        if plan.len() > 1 {
            // Several locations: decided again under the SKU's row, then applied like any
            // movements (the single-location path below writes without the engine's replay).
            if !under_lock {
                if !engine::lock_sku(client, &r.sku, true, false, CAUSE)? {
                    return Err(Failure::unknown(format!("unknown SKU {}", q(&r.sku))));
                }
                under_lock = true;
                read = read_again(r)?;
                continue;
            }
            let id = reserve_parts(client, r, &plan)?;
            if read.escrow_parts > 0 {
                escrow::lend(client, &r.sku)?;
            }
            return Ok(id);
        }
        let location = plan[0].0.clone();
        let place = read
            .places
            .iter()
            .find(|p| p.location == location)
            .ok_or_else(|| {
                Failure::internal("inventory_truth: the chosen location has no stock")
            })?;
        let sale = Record::new(
            &r.sku,
            &location,
            Some(Stage::available),
            Some(Stage::committed),
            r.qty,
            Some(&r.reference),
            "reservation",
            r.occurred_at,
        )
        .for_channel(Some(&r.channel));
        sale.validate()?;
        let options = Options {
            strict: true,
            expires_at: r.expires_at,
            cause: None,
        };
        if !under_lock && read.escrow_parts > 0 {
            // An escrowed SKU (src/escrow.rs): a sale from the pool takes a part.
            let from_pool = place.fenced(&r.channel) == 0;
            if from_pool && sells_beside_parts() {
                let claimed = direct::write(&engine::PART_SALE_TABLES, |w| {
                    let key = (r.channel.as_str(), r.reference.as_str());
                    match escrow::claim(w, &r.sku, &location, r.qty, read.escrow_parts, key)? {
                        escrow::Claim::Taken => {
                            engine::write_part_sale(w, &sale, place, &options).map(Ok)
                        }
                        unsold => Ok(Err(unsold)),
                    }
                })?;
                match claimed {
                    Ok(id) => {
                        xact::changed(&r.sku);
                        return Ok(id);
                    }
                    Err(escrow::Claim::Busy(holder)) if waits < 2 => {
                        // Every part with the units is held: wait for one holder to end (no
                        // part held, nothing of the writer kept), then read and decide again.
                        waits += 1;
                        escrow::wait_for(holder);
                        read = read_again(r)?;
                        continue;
                    }
                    Err(_) => {}
                }
            }
            if !from_pool && place.fenced(&r.channel) - read.buffer >= r.qty && sells_beside_parts()
            {
                // A sale from the channel's own fence, which covers it and the channel's buffer
                // here: the parts never lend fenced units, and whatever they sell meanwhile the
                // channel's ATP stays at least its fence less its buffer. So it takes the SKU's
                // row without folding them (a fold and a lend would lock every part until this
                // commit); a later change of the SKU in this transaction folds them first.
                let sold = direct::write(&engine::SALE_TABLES, |w| {
                    match engine::take_sku(w, &r.sku, CAUSE, read.sku_at)? {
                        None => Err(Failure::unknown(format!("unknown SKU {}", q(&r.sku)))),
                        Some((version, true)) if version == read.row_version => {
                            engine::write_sale(w, &sale, place, &options, true)
                        }
                        Some(_) => Ok(None),
                    }
                })?;
                if let Some((id, _)) = sold {
                    xact::note_lent(&r.sku);
                    return Ok(id);
                }
                // The SKU changed since the read, and its row is held now: folded, read again.
                escrow::fold(client, &r.sku)?;
                under_lock = true;
                read = read_again(r)?;
                continue;
            }
            // Otherwise exactly, under the SKU's row (taking it folds the parts).
            if !engine::lock_sku(client, &r.sku, true, false, CAUSE)? {
                return Err(Failure::unknown(format!("unknown SKU {}", q(&r.sku))));
            }
            under_lock = true;
            read = read_again(r)?;
            continue;
        }
        // One writer: the SKU's row (unless held), then, if nobody changed the SKU since the
        // read, the place, the hold and the ledger row.
        let mut escrowed = false;
        let sold = direct::write(&engine::SALE_TABLES, |w| {
            if !under_lock {
                match engine::take_sku(w, &r.sku, CAUSE, read.sku_at)? {
                    None => return Err(Failure::unknown(format!("unknown SKU {}", q(&r.sku)))),
                    Some((version, false)) if version == read.version => {}
                    Some((_, escrow)) => {
                        escrowed = escrow;
                        return Ok(None);
                    }
                }
            }
            engine::write_sale(w, &sale, place, &options, !under_lock)
        })?;
        if escrowed {
            // Escrowed since the read: its parts are folded before it is read again.
            escrow::fold(client, &r.sku)?;
        }
        if let Some((id, written)) = sold {
            if read.escrow_parts > 0 {
                // The exact sale of an escrowed SKU lends its pool out again.
                escrow::lend(client, &r.sku)?;
            }
            if under_lock {
                // Under a lock taken earlier in the transaction the state read may be older
                // than the transaction's own changes: the relay reads the SKU.
                xact::changed(&r.sku);
            } else {
                // The SKU's whole state is known: the read, unchanged since (same version), with
                // this sale's place as written.
                let others = read
                    .places
                    .iter()
                    .filter(|p| p.location != written.location);
                let state = engine::committed_state(
                    others.chain(std::iter::once(&written)),
                    read.version + 1,
                );
                xact::changed_to(&r.sku, state);
            }
            return Ok(id);
        }
        // Another transaction changed the SKU between the read and the lock: read again,
        // under the lock now held, and decide again.
        under_lock = true;
        read = read_again(r)?;
    }
    Err(Failure::internal(
        "inventory_truth: the SKU kept changing under its lock",
    ))
}

static HOLD_PARTS: Sql = Sql {
    text: "SELECT id, status, qty, released_qty, open_qty, location FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3 ORDER BY id",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// The parts of the reservation (channel, ref) of a SKU, by id: one per location it is served
/// from.
fn read_parts(
    client: &mut SpiClient<'_>,
    reference: &str,
    sku: &str,
    channel: &str,
) -> Outcome<Vec<Part>> {
    let mut parts = Vec::new();
    for row in spi::run(
        client,
        &HOLD_PARTS,
        &[reference.into(), sku.into(), channel.into()],
    )? {
        parts.push(part_of(&row)?);
    }
    Ok(parts)
}

/// A reservation served from several locations: one movement (and one hold) per location, all
/// under the reservation's reference, applied by the engine under the SKU's row (held). Returns
/// the first part's id.
fn reserve_parts(
    client: &mut SpiClient<'_>,
    r: &Reservation,
    plan: &[(String, i64)],
) -> Outcome<i64> {
    let records: Vec<Record<'_>> = plan
        .iter()
        .map(|(location, qty)| {
            Record::new(
                &r.sku,
                location,
                Some(Stage::available),
                Some(Stage::committed),
                *qty,
                Some(&r.reference),
                "reservation",
                r.occurred_at,
            )
            .for_channel(Some(&r.channel))
        })
        .collect();
    let options = Options {
        strict: true,
        expires_at: r.expires_at,
        cause: None,
    };
    crate::ledger::move_stock(client, &records, &options, None)?;
    read_parts(client, &r.reference, &r.sku, &r.channel)?
        .first()
        .map(|p| p.id)
        .ok_or_else(|| Failure::internal("inventory_truth: the reservation made no hold"))
}

/// A retry (same channel, ref, SKU and qty) of a reservation whose parts are all open gets it
/// back (its first part's id); anything else under that reference is a conflict, including a
/// retry after a part ended: its units are no longer held, and saying otherwise would promise
/// them twice. Decided under the SKU's lock, so a first call still in flight has committed or
/// rolled back.
fn retry(client: &mut SpiClient<'_>, r: &Reservation, seen: &[Part], locked: bool) -> Outcome<i64> {
    let parts = if locked {
        seen.to_vec()
    } else {
        engine::lock_sku(client, &r.sku, false, false, "")?;
        read_parts(client, &r.reference, &r.sku, &r.channel)?
    };
    let asked: i64 = parts.iter().map(|p| p.asked).sum();
    // Open while one of its parts is (a part fully picked has ended; the reservation has not).
    let open = parts.iter().any(|p| p.status == HoldStatus::Open);
    let located = r
        .location
        .as_deref()
        .is_none_or(|l| parts.iter().all(|p| p.location == l));
    if let (true, true, Some(first)) = (open && asked == r.qty, located, parts.first()) {
        return Ok(first.id);
    }
    let locations: Vec<String> = parts.iter().map(|p| q(&p.location)).collect();
    // What it holds, or, once ended, what it was reserved with.
    let shown = if open {
        asked
    } else {
        parts.iter().map(|p| p.qty).sum()
    };
    let ended = match parts.first() {
        Some(p) if !open => format!(" and has ended ({})", p.status.label()),
        _ => String::new(),
    };
    Err(Failure::conflict(format!(
        "hold {} of channel {} for SKU {} already exists with {} at location {}{}",
        q(&r.reference),
        q(&r.channel),
        q(&r.sku),
        units(shown),
        locations.join(", "),
        ended
    ))
    .detail(format!(
        "This call asked for {}{}.",
        units(r.qty),
        r.location
            .as_deref()
            .map(|l| format!(" at location {}", q(l)))
            .unwrap_or_default()
    ))
    .hint(if ended.is_empty() {
        "Release it first, change it with resize_hold, or reserve under another reference."
    } else {
        "Reserve under another reference."
    }))
}

// ---------------------------------------------------------------------------------------------
// release and expiry

static ANY_HOLD: Sql = Sql {
    text: "SELECT true FROM inventory_truth.hold WHERE ref = $1 AND channel = $2 LIMIT 1",
    args: &[oid::TEXT, oid::TEXT],
};
static OPEN_HOLDS_OF_ORDER: Sql = Sql {
    text: "SELECT DISTINCT sku FROM inventory_truth.hold
            WHERE ref = $1 AND channel = $2 AND status = 'open'",
    args: &[oid::TEXT, oid::TEXT],
};
static OPEN_HOLD: Sql = Sql {
    text: "SELECT location, open_qty, expires_at <= pg_catalog.now(), coalesce(preorder_qty, 0)
             FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND status = 'open' ORDER BY id",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

static AWAITING: Sql = Sql {
    text: "SELECT 1 FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND status = 'open' AND preorder_qty > 0
            LIMIT 1",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// `55000` for a change a preorder does not take while units are on their way to it: it is
/// sized by what was preordered and does not expire (src/preorder.rs).
fn refuse_awaiting(
    client: &mut SpiClient<'_>,
    reference: &str,
    sku: &str,
    channel: &str,
    what: &str,
) -> Outcome<()> {
    if spi::run(
        client,
        &AWAITING,
        &[reference.into(), sku.into(), channel.into()],
    )?
    .is_empty()
    {
        return Ok(());
    }
    Err(Failure::new(
        crate::error::SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "hold {} of channel {} for SKU {} is a preorder still awaiting units: it cannot {what}",
            q(reference),
            q(channel),
            q(sku)
        ),
    )
    .hint("Release it and preorder again, or wait until its units are put away."))
}

/// A released preorder awaits nothing more: its parts end (their held units, if any, were
/// released first).
static END_PREORDER: Sql = Sql {
    text: "UPDATE inventory_truth.hold
              SET preorder_qty = 0, status = 'released', ended_at = pg_catalog.now()
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND status = 'open' AND preorder_qty > 0",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// The SKUs of an order's open reservations (channel, ref), in byte order (the lock order);
/// `42704` when the channel has no hold under that reference at all.
fn open_reservations(
    client: &mut SpiClient<'_>,
    reference: &str,
    channel: &str,
) -> Outcome<Vec<String>> {
    if spi::run(client, &ANY_HOLD, &[reference.into(), channel.into()])?.is_empty() {
        check_code("reference", Some(reference))?;
        return Err(Failure::unknown(format!(
            "no hold {} for channel {}",
            q(reference),
            q(channel)
        )));
    }
    let mut skus: Vec<String> = Vec::new();
    for row in spi::run(
        client,
        &OPEN_HOLDS_OF_ORDER,
        &[reference.into(), channel.into()],
    )? {
        skus.push(spi::value(&row, 1)?);
    }
    skus.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(skus)
}

/// release(channel, ref, occurred_at) RETURNS int: every open hold of the order, committed ->
/// available, each SKU under its own lock, in SKU order.
fn release_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let released = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?.to_owned();
        let reference: String = fcinfo.required(1, "ref")?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(2, "occurred_at")?;
        let skus = open_reservations(client, &reference, &channel)?;
        let mut released = 0i32;
        for sku in &skus {
            if release_one(
                client,
                sku,
                &channel,
                &reference,
                occurred_at,
                false,
                "hold released",
            )? {
                released += 1;
            }
        }
        Ok(released)
    })?;
    Ok(pg_sys::Datum::from(released))
}
sql_function!(
    inventory_truth_release,
    pg_finfo_inventory_truth_release,
    release_call
);

/// Releases one reservation of a SKU, every open part of it, under the SKU's lock (taken here,
/// before the parts are read again: they may have been picked or released meanwhile). With
/// `expiry`, only a reservation past its expiry. Returns whether it released one.
#[allow(clippy::too_many_arguments)]
fn release_one(
    client: &mut SpiClient<'_>,
    sku: &str,
    channel: &str,
    reference: &str,
    occurred_at: TimestampWithTimeZone,
    expiry: bool,
    reason: &str,
) -> Outcome<bool> {
    // The SKU's row without moving its version: an expiry pass that finds nothing due (a pick
    // ended the expiry meanwhile) changes nothing. The release below moves it.
    engine::lock_sku(client, sku, false, false, "")?;
    let rows = spi::run(
        client,
        &OPEN_HOLD,
        &[reference.into(), sku.into(), channel.into()],
    )?;
    // Every open part of the reservation (one per location it is served from).
    let mut parts: Vec<(String, i64, Option<bool>, i64)> = Vec::new();
    for row in rows {
        parts.push((
            spi::value(&row, 1)?,
            spi::value(&row, 2)?,
            spi::get(&row, 3)?,
            spi::value(&row, 4)?,
        ));
    }
    if parts.is_empty() {
        return Ok(false); // picked or lost meanwhile
    }
    if expiry && parts.iter().any(|(_, _, due, _)| *due != Some(true)) {
        return Ok(false);
    }
    let records: Vec<Record<'_>> = parts
        .iter()
        .filter(|(_, open_qty, _, _)| *open_qty > 0)
        .map(|(location, open_qty, _, _)| {
            let mut record = Record::new(
                sku,
                location,
                Some(Stage::committed),
                Some(Stage::available),
                *open_qty,
                Some(reference),
                reason,
                occurred_at,
            )
            .for_channel(Some(channel));
            record.expiry = expiry;
            record
        })
        .collect();
    if !records.is_empty() {
        crate::ledger::move_stock(client, &records, &Options::default(), None)?;
    }
    if parts.iter().any(|(_, _, _, awaited)| *awaited > 0) {
        // What may be preordered grows: the version moves for the notifications.
        engine::lock_sku(client, sku, true, false, "preorder released")?;
        spi::run(
            client,
            &END_PREORDER,
            &[reference.into(), sku.into(), channel.into()],
        )?;
    }
    Ok(true)
}

static TRY_LOCK_SKU: Sql = Sql {
    text: "SELECT escrow_parts FROM inventory_truth.sku WHERE code = $1
              FOR NO KEY UPDATE SKIP LOCKED",
    args: &[oid::TEXT],
};
static NOW: Sql = Sql {
    text: "SELECT pg_catalog.now()",
    args: &[],
};

/// `_expire_hold(ref, sku, channel, skip_busy) RETURNS boolean`: releases one hold past its
/// expiry (it ends as `expired`). With `skip_busy`, a SKU another transaction holds is left for
/// the next pass instead of waited for. False when nothing was expired.
fn expire_hold_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let reference: String = fcinfo.required(0, "ref")?;
    let sku: String = fcinfo.required(1, "sku")?;
    let channel: String = fcinfo.required(2, "channel")?;
    let skip_busy: bool = fcinfo.arg(3).unwrap_or(false);
    let expired = spi::connect(|client| {
        if skip_busy && xact::held(&sku).is_none() {
            let taken = spi::run(client, &TRY_LOCK_SKU, &[sku.as_str().into()])?;
            if taken.is_empty() {
                return Ok(false);
            }
            let escrow_parts: i32 = spi::value(&taken.first(), 1)?;
            xact::note_held(&sku, false);
            if escrow_parts > 0 {
                escrow::fold(client, &sku)?;
            }
        }
        let now: TimestampWithTimeZone = spi::value(&spi::run(client, &NOW, &[])?.first(), 1)?;
        release_one(
            client,
            &sku,
            &channel,
            &reference,
            now,
            true,
            "hold expired",
        )
    })?;
    Ok(pg_sys::Datum::from(expired))
}
sql_function!(
    inventory_truth_expire_hold,
    pg_finfo_inventory_truth_expire_hold,
    expire_hold_call
);

// ---------------------------------------------------------------------------------------------
// changing a hold

/// `resize_hold(channel, ref, sku, qty, occurred_at, split) RETURNS bigint`: sets what a
/// reservation asks for, its quantity less what was released (over all its parts), to `qty`,
/// under the SKU's lock: growing reserves the difference (checked as `reserve` checks it) at the
/// locations it is served from first, then (unless `split` is none) at the others in the split
/// order; shrinking releases it, newest part first, back to the buckets the units came from
/// (the fence first).
/// The same call again changes nothing, so a retry is safe whatever came in between (a pick
/// included).
fn resize_hold_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let reference: Option<String> = fcinfo.arg(1);
    let sku: Option<String> = fcinfo.arg(2);
    let qty: Option<i64> = fcinfo.arg(3);
    let occurred_at: Option<TimestampWithTimeZone> = fcinfo.arg(4);
    let split: Option<String> = fcinfo.arg(5);
    let id = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?;
        let reference = check_code("reference", reference.as_deref())?;
        let sku = known_sku(sku.as_deref())?;
        let qty = qty.ok_or_else(|| Failure::null("qty"))?;
        let occurred_at = occurred_at.ok_or_else(|| Failure::null("occurred_at"))?;
        let split = check_split(split.as_deref())?;
        if qty < 0 {
            return Err(Failure::invalid(format!(
                "a hold's quantity cannot be negative: {} of SKU {}",
                units(qty),
                q(sku)
            )));
        }
        check_at_most_max(qty, sku)?;
        check_real_time(occurred_at)?;
        // The SKU first (the lock order), then the reservation as it is under that lock.
        engine::lock_sku(client, sku, false, false, "")?;
        refuse_awaiting(client, reference, sku, channel, "be resized")?;
        let parts = read_parts(client, reference, sku, channel)?;
        let Some(first) = parts.first() else {
            return Err(Failure::unknown(format!(
                "no hold {} of channel {} for SKU {}",
                q(reference),
                q(channel),
                q(sku)
            ))
            .hint("Reserve it first."));
        };
        let asked: i64 = parts.iter().map(|p| p.asked).sum();
        let open: Vec<&Part> = parts
            .iter()
            .filter(|p| p.status == HoldStatus::Open)
            .collect();
        let change = qty - asked;
        if change == 0 {
            return Ok(first.id);
        }
        if open.is_empty() {
            return Err(Failure::conflict(format!(
                "hold {} of channel {} for SKU {} has ended ({}): it cannot change",
                q(reference),
                q(channel),
                q(sku),
                first.status.label()
            ))
            .hint("Reserve under another reference."));
        }
        let mut records: Vec<Record<'_>> = Vec::new();
        let mut options = Options::default();
        let plan: Vec<(String, i64)>;
        if change > 0 {
            let (places, buffer) = load_sale_places(client, sku, channel)?;
            let sellable: i64 = places.iter().map(|p| p.sellable(channel)).sum();
            if change > sellable - buffer {
                return Err(beyond_atp(channel, sku, change, sellable, buffer));
            }
            // Where it is served from first (its open parts, by id), then, unless it may not
            // split, the other locations in the split order (a part that ended there takes
            // units again).
            let mut ordered: Vec<&StoredPlace> = open
                .iter()
                .filter_map(|p| places.iter().find(|place| place.location == p.location))
                .collect();
            if split != Split::None {
                let priorities = if split == Split::Priority {
                    location_priorities(client)?
                } else {
                    HashMap::new()
                };
                ordered.extend(
                    sale_order(&places, channel, split, &priorities)
                        .into_iter()
                        .filter(|place| !open.iter().any(|p| p.location == place.location)),
                );
            }
            let room: i64 = ordered.iter().map(|p| p.sellable(channel)).sum();
            plan = plan_sale(&ordered, 0, channel, sku, change, true).map_err(|_| {
                Failure::insufficient(format!(
                    "insufficient stock: hold {} of channel {} for SKU {} can grow by {} where it is served, {} asked",
                    q(reference),
                    q(channel),
                    q(sku),
                    units(room.max(0)),
                    change
                ))
                .hint("With split => 'none' a hold grows only at the locations it is served from.")
            })?;
            options.strict = true;
            for (location, units) in &plan {
                records.push(
                    Record::new(
                        sku,
                        location,
                        Some(Stage::available),
                        Some(Stage::committed),
                        *units,
                        Some(reference),
                        "hold grown",
                        occurred_at,
                    )
                    .for_channel(Some(channel)),
                );
            }
        } else {
            let held: i64 = open.iter().map(|p| p.open_qty).sum();
            if -change > held {
                return Err(Failure::invalid(format!(
                    "hold {} of channel {} for SKU {} cannot shrink to {}, below the {} picked or lost",
                    q(reference),
                    q(channel),
                    q(sku),
                    units(qty),
                    units(asked - held)
                ))
                .hint("A hold keeps the units it no longer holds open; shrink it to at least those."));
            }
            let mut left = -change;
            let mut taken = Vec::new();
            for part in open.iter().rev() {
                let units = part.open_qty.min(left);
                if units > 0 {
                    taken.push((part.location.clone(), units));
                    left -= units;
                }
            }
            plan = taken;
            for (location, units) in &plan {
                records.push(
                    Record::new(
                        sku,
                        location,
                        Some(Stage::committed),
                        Some(Stage::available),
                        *units,
                        Some(reference),
                        "hold reduced",
                        occurred_at,
                    )
                    .for_channel(Some(channel)),
                );
            }
        }
        crate::ledger::move_stock(client, &records, &options, None)?;
        Ok(first.id)
    })?;
    Ok(pg_sys::Datum::from(id))
}
sql_function!(
    inventory_truth_resize_hold,
    pg_finfo_inventory_truth_resize_hold,
    resize_hold_call
);

static SET_EXPIRY: Sql = Sql {
    text: "UPDATE inventory_truth.hold h SET expires_at = $4
            WHERE h.ref = $1 AND h.sku = $2 AND h.channel = $3 AND h.status = 'open'
              AND NOT EXISTS (SELECT FROM inventory_truth.hold p
                               WHERE p.ref = $1 AND p.sku = $2 AND p.channel = $3
                                 AND p.picked_qty > 0)
            RETURNING true",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT, oid::TIMESTAMPTZ],
};

/// `extend_hold(channel, ref, ttl) RETURNS int`: every open reservation of the order (every
/// part of it) expires `ttl` from now (never, for NULL), but one a pick scan has ended the expiry
/// of. Each under its SKU's lock, in SKU order, as expiry takes them: an expiry that waited for
/// the lock reads the new time and leaves the hold. Returns how many reservations (SKUs) it set.
fn extend_hold_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let reference: Option<String> = fcinfo.arg(1);
    let ttl: Option<Interval> = fcinfo.arg(2);
    let extended = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?;
        let reference = check_code("reference", reference.as_deref())?;
        let expires_at = check_ttl(client, ttl)?;
        let skus = open_reservations(client, reference, channel)?;
        let mut extended = 0i32;
        for sku in &skus {
            engine::lock_sku(client, sku, false, false, "")?;
            refuse_awaiting(client, reference, sku, channel, "expire")?;
            let updated = spi::run(
                client,
                &SET_EXPIRY,
                &[
                    reference.into(),
                    sku.as_str().into(),
                    channel.into(),
                    expires_at.into(),
                ],
            )?;
            if !updated.is_empty() {
                extended += 1;
            }
        }
        Ok(extended)
    })?;
    Ok(pg_sys::Datum::from(extended))
}
sql_function!(
    inventory_truth_extend_hold,
    pg_finfo_inventory_truth_extend_hold,
    extend_hold_call
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one_i64(query: &str) -> i64 {
        Spi::get_one::<i64>(query)
            .expect("query runs")
            .expect("one value")
    }

    /// Ten units at DC1, Amazon fenced 4, the web with a buffer of 1.
    fn store() {
        Spi::run(
            "SELECT inventory_truth.add_location('DC1');
             SELECT inventory_truth.add_channel('amazon', 10), inventory_truth.add_channel('web', 20, 1);
             SELECT count(*) FROM inventory_truth.receive('TEE', 'DC1', 10);
             SELECT count(*) FROM inventory_truth.put_away('TEE', 'DC1', 10);
             SELECT inventory_truth.set_ringfence('amazon', 'TEE', units => 4);",
        )
        .expect("set up the store");
    }

    fn fenced(channel: &str) -> i64 {
        Spi::get_one_with_args::<i64>(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.fence WHERE channel = $1",
            &[channel.into()],
        )
        .expect("read the fence")
        .expect("sum is never NULL")
    }

    #[pg_test]
    fn a_released_hold_returns_its_units_to_the_buckets_they_came_from() {
        store();
        // 6 for Amazon: its fence of 4, then 2 of the pool's 6.
        one_i64("SELECT inventory_truth.reserve('amazon', 'TEE', 6, 'A-1')");
        assert_eq!(fenced("amazon"), 0);
        assert_eq!(
            one_i64("SELECT fence_qty FROM inventory_truth.hold WHERE ref = 'A-1'"),
            4
        );
        Spi::run("SELECT inventory_truth.release('amazon', 'A-1')").expect("release");
        assert_eq!(fenced("amazon"), 4);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 5);
        assert_eq!(one_i64("SELECT count(*) FROM inventory_truth.verify()"), 0);
    }

    #[pg_test]
    fn atp_is_fence_plus_pool_minus_buffer() {
        store();
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'amazon')"), 10);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 5);
        one_i64("SELECT inventory_truth.reserve('web', 'TEE', 5, 'W-1')");
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 0);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'amazon')"), 5);
    }

    #[pg_test(
        error = "insufficient stock: channel \"web\" can promise 5 units of SKU \"TEE\", 6 asked"
    )]
    fn a_reservation_beyond_atp_is_refused() {
        store();
        Spi::run("SELECT inventory_truth.reserve('web', 'TEE', 6, 'W-1')").expect("refused");
    }
}

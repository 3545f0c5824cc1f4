//! Holds (SPEC §4): reservations of a channel for an order, checked against ATP in the
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

use crate::direct::{self, Key};
use crate::engine::{self, Options, StoredPlace};
use crate::error::{q, units, Failure, Outcome};
use crate::ledger::{check_code, known_channel, known_location, known_sku, Record};
use crate::place::HoldStatus;
use crate::spi::{self, oid, Sql};
use crate::sql_function;
use crate::sqlfn::Call;
use crate::stage::Stage;
use crate::xact;

extension_sql_file!("../sql/holds.sql", name = "holds", requires = ["channels"]);

/// Whether `channel` may sell `qty` units of `sku`: within its ATP (its fence and the pool at
/// every location, less its buffer) and, at `location`, within its fence and the pool there.
/// `IT001` otherwise, with the numbers.
pub fn check_sale(
    places: &[StoredPlace],
    buffer: i64,
    channel: &str,
    sku: &str,
    location: Option<&str>,
    qty: i64,
) -> Outcome<()> {
    let sellable: i64 = places.iter().map(|p| p.sellable(channel)).sum();
    if qty > sellable - buffer {
        return Err(Failure::insufficient(format!(
            "insufficient stock: channel {} can promise {} of SKU {}, {} asked",
            q(channel),
            units((sellable - buffer).max(0)),
            q(sku),
            qty
        ))
        .detail(format!(
            "Its fence and the shared pool hold {}; its safety buffer is {}.",
            units(sellable),
            units(buffer)
        )));
    }
    let here = location.map_or(0, |l| {
        places
            .iter()
            .find(|p| p.location == l)
            .map_or(0, |p| p.sellable(channel))
    });
    if qty > here {
        return Err(Failure::insufficient(format!(
            "insufficient stock: channel {} can promise {} of SKU {} at location {}, {} asked",
            q(channel),
            units(here),
            q(sku),
            q(location.unwrap_or_default()),
            qty
        ))
        .hint("A hold is at one location: reserve the rest at another location under another reference."));
    }
    Ok(())
}

/// Where a reservation without a location goes: the location where the channel can sell the
/// most, ties by code.
pub fn best_location<'a>(places: &'a [StoredPlace], channel: &str) -> Option<&'a str> {
    places
        .iter()
        .max_by(|a, b| {
            a.sellable(channel)
                .cmp(&b.sellable(channel))
                .then_with(|| b.location.as_bytes().cmp(a.location.as_bytes()))
        })
        .map(|p| p.location.as_str())
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

/// What `RESERVE_READ` found.
struct Read {
    version: i64,
    buffer: i64,
    hold: Option<(i64, HoldStatus, i64, String)>,
    places: Vec<StoredPlace>,
}

/// Everything `reserve` needs of a SKU, read under one snapshot without a lock (src/direct.rs:
/// five index lookups, no plan): the SKU's version, the channel's buffer for it, the hold the
/// reference names (if any), and every place of the SKU. `None` when the SKU or the channel does
/// not exist.
fn read_for_reserve(sku: &str, channel: &str, reference: Option<&str>) -> Outcome<Option<Read>> {
    direct::read(|reader| {
        let mut version = None;
        reader.rows(&direct::SKU_CODE, &[Key::Text(sku)], &["version"], |row| {
            version = spi::get(row, 1)?;
            Ok(())
        })?;
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
        let mut hold = None;
        if let Some(reference) = reference {
            let columns = ["id", "status", "qty", "location"];
            reader.rows(
                &direct::HOLD_KEY,
                &[Key::Text(reference), Key::Text(sku), Key::Text(channel)],
                &columns,
                |row| {
                    let status: String = spi::value(row, 2)?;
                    hold = Some((
                        spi::value(row, 1)?,
                        HoldStatus::parse(&status).ok_or_else(|| {
                            Failure::internal(format!("a hold with status {status}"))
                        })?,
                        spi::value(row, 3)?,
                        spi::value(row, 4)?,
                    ));
                    Ok(())
                },
            )?;
        }
        let mut places = Vec::new();
        reader.rows(
            &direct::STOCK_PLACE,
            &[Key::Text(sku)],
            &engine::PLACE_COLUMNS,
            |row| {
                places.push(engine::stored_place(row, 1)?);
                Ok(())
            },
        )?;
        Ok(Some(Read {
            version,
            buffer,
            hold,
            places,
        }))
    })
}

/// The arguments of a reservation, checked.
struct Reservation {
    channel: String,
    sku: String,
    qty: i64,
    reference: String,
    expires_at: Option<TimestampWithTimeZone>,
    location: Option<String>,
    occurred_at: TimestampWithTimeZone,
}

/// reserve(channel, sku, qty, ref, ttl, location, occurred_at) RETURNS bigint: the hold id.
fn reserve_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let sku: Option<String> = fcinfo.arg(1);
    let qty: Option<i64> = fcinfo.arg(2);
    let reference: Option<String> = fcinfo.arg(3);
    let ttl: Option<Interval> = fcinfo.arg(4);
    let location: Option<String> = fcinfo.arg(5);
    let occurred_at: Option<TimestampWithTimeZone> = fcinfo.arg(6);
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
        if qty <= 0 {
            return Err(Failure::invalid(format!(
                "quantity must be positive: {} of SKU {}",
                units(qty),
                q(&sku)
            )));
        }
        if qty > crate::place::MAX_UNITS {
            return Err(Failure::invalid(format!(
                "quantity too large: {} of SKU {}",
                units(qty),
                q(&sku)
            ))
            .detail(format!(
                "A movement is at most {} units.",
                crate::place::MAX_UNITS
            )));
        }
        if !occurred_at.is_finite() {
            let text = if occurred_at.is_infinity() {
                "infinity"
            } else {
                "-infinity"
            };
            return Err(Failure::invalid(format!(
                "occurred_at must be a real time, not {text}"
            )));
        }
        if let Some(l) = location.as_deref() {
            if !read.places.iter().any(|p| p.location == l) {
                known_location(Some(l))?;
            }
        }
        let reservation = Reservation {
            channel,
            sku,
            qty,
            reference,
            expires_at,
            location,
            occurred_at,
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

fn reserve(client: &mut SpiClient<'_>, r: &Reservation, first: Read) -> Outcome<i64> {
    const CAUSE: &str = "available->committed";
    let held = xact::held(&r.sku);
    if held == Some(false) {
        // This transaction holds the SKU's row but has not advanced its version yet.
        engine::lock_sku(client, &r.sku, true, false, CAUSE)?;
    }
    let mut read = first;
    // Whether `read` was read under the SKU's row: this transaction held it before, or took it
    // and found the SKU changed since the first read.
    let mut under_lock = held.is_some();
    for _ in 0..3 {
        if let Some(hold) = &read.hold {
            return retry(client, r, hold, under_lock);
        }
        let location = match r.location.as_deref() {
            Some(l) => l.to_owned(),
            None => best_location(&read.places, &r.channel)
                .unwrap_or_default()
                .to_owned(),
        };
        // Decided from what was read: committed state before the lock (a refusal then waits
        // for nobody), or the SKU as this transaction holds it.
        check_sale(
            &read.places,
            read.buffer,
            &r.channel,
            &r.sku,
            r.location.as_deref().or(Some(location.as_str())),
            r.qty,
        )?;
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
        // One writer: the SKU's row (unless held), then, if nobody changed the SKU since the
        // read, the place, the hold and the ledger row.
        let sold = direct::write(&engine::SALE_TABLES, |w| {
            if !under_lock {
                match engine::take_sku(w, &r.sku, CAUSE)? {
                    None => return Err(Failure::unknown(format!("unknown SKU {}", q(&r.sku)))),
                    Some(version) if version == read.version => {}
                    Some(_) => return Ok(None),
                }
            }
            engine::write_sale(w, &sale, place, &options, !under_lock)
        })?;
        if let Some((id, written)) = sold {
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
        read = read_for_reserve(&r.sku, &r.channel, Some(&r.reference))?
            .ok_or_else(|| Failure::internal("inventory_truth: the SKU went away"))?;
    }
    Err(Failure::internal(
        "inventory_truth: the SKU kept changing under its lock",
    ))
}

static HOLD_BY_KEY: Sql = Sql {
    text: "SELECT id, status, qty, location FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// A retry (same channel, ref, SKU and qty) of a hold still open gets it back; anything else
/// under that reference is a conflict, including a retry after the hold ended: its units are no
/// longer held, and saying otherwise would promise them twice. Decided under the SKU's lock, so
/// a first call still in flight has committed or rolled back.
fn retry(
    client: &mut SpiClient<'_>,
    r: &Reservation,
    seen: &(i64, HoldStatus, i64, String),
    locked: bool,
) -> Outcome<i64> {
    let (id, status, qty, location) = if locked {
        seen.clone()
    } else {
        engine::lock_sku(client, &r.sku, false, false, "")?;
        let rows = spi::run(
            client,
            &HOLD_BY_KEY,
            &[
                r.reference.as_str().into(),
                r.sku.as_str().into(),
                r.channel.as_str().into(),
            ],
        )?;
        let row = rows.first();
        let status: String = spi::value(&row, 2)?;
        (
            spi::value(&row, 1)?,
            HoldStatus::parse(&status).unwrap_or(HoldStatus::Open),
            spi::value(&row, 3)?,
            spi::value(&row, 4)?,
        )
    };
    if status == HoldStatus::Open
        && qty == r.qty
        && r.location.as_deref().is_none_or(|l| l == location)
    {
        return Ok(id);
    }
    let ended = if status == HoldStatus::Open {
        String::new()
    } else {
        format!(" and has ended ({})", status.label())
    };
    Err(Failure::conflict(format!(
        "hold {} of channel {} for SKU {} already exists with {} at location {}{}",
        q(&r.reference),
        q(&r.channel),
        q(&r.sku),
        units(qty),
        q(&location),
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
    .hint(if status == HoldStatus::Open {
        "Release it first, or reserve under another reference."
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
    text:
        "SELECT sku FROM inventory_truth.hold WHERE ref = $1 AND channel = $2 AND status = 'open'",
    args: &[oid::TEXT, oid::TEXT],
};
static OPEN_HOLD: Sql = Sql {
    text: "SELECT location, open_qty, expires_at <= pg_catalog.now() FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND status = 'open'",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// release(channel, ref, occurred_at) RETURNS int: every open hold of the order, committed ->
/// available, each SKU under its own lock, in SKU order.
fn release_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let released = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?.to_owned();
        let reference: String = fcinfo.required(1, "ref")?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(2, "occurred_at")?;
        if spi::run(
            client,
            &ANY_HOLD,
            &[reference.as_str().into(), channel.as_str().into()],
        )?
        .is_empty()
        {
            check_code("reference", Some(&reference))?;
            return Err(Failure::unknown(format!(
                "no hold {} for channel {}",
                q(&reference),
                q(&channel)
            )));
        }
        let mut skus: Vec<String> = Vec::new();
        let rows = spi::run(
            client,
            &OPEN_HOLDS_OF_ORDER,
            &[reference.as_str().into(), channel.as_str().into()],
        )?;
        for row in rows {
            skus.push(spi::value(&row, 1)?);
        }
        skus.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
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

/// Releases one open hold under its SKU's lock (taken here, before the hold is read again: it
/// may have been picked or released meanwhile). With `due_only`, only a hold past its expiry.
/// Returns whether it released one.
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
    engine::lock_sku(client, sku, true, false, "committed->available")?;
    let rows = spi::run(
        client,
        &OPEN_HOLD,
        &[reference.into(), sku.into(), channel.into()],
    )?;
    if rows.is_empty() {
        return Ok(false); // picked or lost meanwhile
    }
    let row = rows.first();
    let location: String = spi::value(&row, 1)?;
    let open_qty: i64 = spi::value(&row, 2)?;
    let due: Option<bool> = spi::get(&row, 3)?;
    if expiry && due != Some(true) {
        return Ok(false);
    }
    let mut record = Record::new(
        sku,
        &location,
        Some(Stage::committed),
        Some(Stage::available),
        open_qty,
        Some(reference),
        reason,
        occurred_at,
    )
    .for_channel(Some(channel));
    record.expiry = expiry;
    crate::ledger::move_stock(client, &[record], &Options::default(), None)?;
    Ok(true)
}

static TRY_LOCK_SKU: Sql = Sql {
    text: "SELECT version FROM inventory_truth.sku WHERE code = $1 FOR NO KEY UPDATE SKIP LOCKED",
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
        if skip_busy
            && xact::held(&sku).is_none()
            && spi::run(client, &TRY_LOCK_SKU, &[sku.as_str().into()])?.is_empty()
        {
            return Ok(false);
        }
        if skip_busy && xact::held(&sku).is_none() {
            xact::note_held(&sku, false);
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

static HOLD_LINE: Sql = Sql {
    text: "SELECT id, location, status, qty - released_qty, open_qty FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

/// `resize_hold(channel, ref, sku, qty, occurred_at) RETURNS bigint`: sets what a hold asks
/// for, its quantity less what was released, to `qty`, under the SKU's lock: growing is a
/// reservation of the difference at the hold's location (checked as `reserve` checks), shrinking
/// a release of it (back to the buckets the units came from, the fence first). The same call
/// again changes nothing, so a retry is safe whatever came in between (a pick included).
fn resize_hold_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let reference: Option<String> = fcinfo.arg(1);
    let sku: Option<String> = fcinfo.arg(2);
    let qty: Option<i64> = fcinfo.arg(3);
    let occurred_at: Option<TimestampWithTimeZone> = fcinfo.arg(4);
    let id = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?;
        let reference = check_code("reference", reference.as_deref())?;
        let sku = known_sku(sku.as_deref())?;
        let qty = qty.ok_or_else(|| Failure::null("qty"))?;
        let occurred_at = occurred_at.ok_or_else(|| Failure::null("occurred_at"))?;
        if qty < 0 {
            return Err(Failure::invalid(format!(
                "a hold's quantity cannot be negative: {} of SKU {}",
                units(qty),
                q(sku)
            )));
        }
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
        if !occurred_at.is_finite() {
            return Err(Failure::invalid("occurred_at must be a real time"));
        }
        // The SKU first (the lock order), then the hold as it is under that lock.
        engine::lock_sku(client, sku, false, false, "")?;
        let rows = spi::run(
            client,
            &HOLD_LINE,
            &[reference.into(), sku.into(), channel.into()],
        )?;
        if rows.is_empty() {
            return Err(Failure::unknown(format!(
                "no hold {} of channel {} for SKU {}",
                q(reference),
                q(channel),
                q(sku)
            ))
            .hint("Reserve it first."));
        }
        let row = rows.first();
        let id: i64 = spi::value(&row, 1)?;
        let location: String = spi::value(&row, 2)?;
        let status: String = spi::value(&row, 3)?;
        let asked: i64 = spi::value(&row, 4)?;
        let open_qty: i64 = spi::value(&row, 5)?;
        let change = qty - asked;
        if change == 0 {
            return Ok(id);
        }
        if HoldStatus::parse(&status) != Some(HoldStatus::Open) {
            return Err(Failure::conflict(format!(
                "hold {} of channel {} for SKU {} has ended ({}): it cannot change",
                q(reference),
                q(channel),
                q(sku),
                status
            ))
            .hint("Reserve under another reference."));
        }
        let record = if change > 0 {
            let (places, buffer) = load_sale_places(client, sku, channel)?;
            check_sale(&places, buffer, channel, sku, Some(&location), change)?;
            Record::new(
                sku,
                &location,
                Some(Stage::available),
                Some(Stage::committed),
                change,
                Some(reference),
                "hold grown",
                occurred_at,
            )
        } else {
            if -change > open_qty {
                return Err(Failure::invalid(format!(
                    "hold {} of channel {} for SKU {} cannot shrink to {}, below the {} picked or lost",
                    q(reference),
                    q(channel),
                    q(sku),
                    units(qty),
                    units(asked - open_qty)
                ))
                .hint("A hold keeps the units it no longer holds open; shrink it to at least those."));
            }
            Record::new(
                sku,
                &location,
                Some(Stage::committed),
                Some(Stage::available),
                -change,
                Some(reference),
                "hold reduced",
                occurred_at,
            )
        };
        crate::ledger::move_stock(
            client,
            &[record.for_channel(Some(channel))],
            &Options::default(),
            None,
        )?;
        Ok(id)
    })?;
    Ok(pg_sys::Datum::from(id))
}
sql_function!(
    inventory_truth_resize_hold,
    pg_finfo_inventory_truth_resize_hold,
    resize_hold_call
);

static SET_EXPIRY: Sql = Sql {
    text: "UPDATE inventory_truth.hold SET expires_at = $4
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND status = 'open' RETURNING true",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT, oid::TIMESTAMPTZ],
};

/// `extend_hold(channel, ref, ttl) RETURNS int`: every open hold of the order expires `ttl`
/// from now (never, for NULL). Each under its SKU's lock, in SKU order, as expiry takes them: an
/// expiry that waited for the lock reads the new time and leaves the hold.
fn extend_hold_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let reference: Option<String> = fcinfo.arg(1);
    let ttl: Option<Interval> = fcinfo.arg(2);
    let extended = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?;
        let reference = check_code("reference", reference.as_deref())?;
        let expires_at = check_ttl(client, ttl)?;
        if spi::run(client, &ANY_HOLD, &[reference.into(), channel.into()])?.is_empty() {
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
        let mut extended = 0i32;
        for sku in &skus {
            engine::lock_sku(client, sku, false, false, "")?;
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

#[cfg(test)]
mod rules {
    use super::*;

    fn place(location: &str, available: i64, fences: &[(&str, i64)]) -> StoredPlace {
        let mut buckets = [0; 11];
        buckets[Stage::available as usize] = available;
        StoredPlace {
            location: location.into(),
            buckets,
            fence_channels: fences.iter().map(|(c, _)| (*c).into()).collect(),
            fence_qty: fences.iter().map(|(_, q)| *q).collect(),
            fence_held: fences.iter().map(|_| 0).collect(),
            exists: true,
        }
    }

    #[test]
    fn a_sale_is_checked_against_atp_and_the_location() {
        // 10 at DC1 (Amazon fenced 4), 3 at DC2; the web's buffer is 1.
        let places = [place("DC1", 10, &[("amazon", 4)]), place("DC2", 3, &[])];
        assert!(check_sale(&places, 1, "web", "TEE", Some("DC1"), 6).is_ok());
        let err = check_sale(&places, 1, "web", "TEE", Some("DC1"), 9).unwrap_err();
        assert_eq!(
            err.message,
            "insufficient stock: channel \"web\" can promise 8 units of SKU \"TEE\", 9 asked"
        );
        let err = check_sale(&places, 1, "web", "TEE", Some("DC1"), 7).unwrap_err();
        assert!(
            err.message.contains("at location \"DC1\", 7 asked"),
            "{}",
            err.message
        );
        // Amazon sells its fence too.
        assert!(check_sale(&places, 0, "amazon", "TEE", Some("DC1"), 10).is_ok());
    }

    #[test]
    fn a_reservation_goes_where_the_channel_can_sell_the_most() {
        let places = [
            place("DC1", 10, &[("amazon", 8)]),
            place("DC2", 3, &[]),
            place("DC3", 3, &[]),
        ];
        assert_eq!(best_location(&places, "web"), Some("DC2"));
        assert_eq!(best_location(&places, "amazon"), Some("DC1"));
        assert_eq!(best_location(&[], "web"), None);
    }
}

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

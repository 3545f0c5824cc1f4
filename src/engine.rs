//! Applying movements: the one implementation behind every function that moves stock and every
//! row an ERP inserts into the ledger directly (the ledger's statement trigger calls
//! [`apply`]). For each SKU in code order it takes the SKU's row (creating the SKU when a row
//! introduces it, advancing its version when the rows touch available stock), loads the places
//! the rows touch, replays the rows there (`place::replay`, the rules), and writes back what
//! changed: the place's `stock` row, the holds, the expected receipts.
//!
//! Lock order: a statement takes its SKUs' rows in code order (byte order, whatever the
//! database's collation), each before anything else of that SKU. Every writer of a SKU's stock,
//! holds or receipts holds that row first, so nothing of a SKU is locked by two transactions at
//! once and no further lock order is needed below it.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::collections::{BTreeMap, HashMap};

use crate::direct::{self, Key};
use crate::error::{describe, q, units, Failure, Outcome, SqlState};
use crate::fence::{Percent, Rule};
use crate::place::{
    self, sort_fences, Buckets, Fence, Hold, HoldStatus, Holds, Place, Receipt, Row, MAX_UNITS,
};
use crate::spi::{self, oid, Sql};
use crate::stage::Stage;
use crate::xact;

/// A ledger row to apply: the place it is of, and the row as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    pub sku: String,
    pub location: String,
    pub row: Row,
}

/// How a caller wants its rows applied.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// A function's call: a source bucket that the rows would drive below zero is refused at
    /// once (`IT001`), and sales were checked by the caller. Direct inserts are judged at
    /// commit instead (a later statement may still bring the units).
    pub strict: bool,
    /// When a new hold created by these rows expires (`reserve`'s ttl), as a timestamptz.
    pub expires_at: Option<pgrx::datum::TimestampWithTimeZone>,
    /// What the version change records as its cause (the first row's movement otherwise).
    pub cause: Option<String>,
}

/// What applying rows did that a caller may want to know.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Holds written, by (channel, ref, sku, location): their ids.
    pub holds: HashMap<(String, String, String, String), i64>,
}

/// Where a row version is stored, comparable (for StoredPlace's derives).
#[derive(Clone, Copy, Debug)]
pub struct Tid(pub direct::Tid);

impl PartialEq for Tid {
    fn eq(&self, other: &Tid) -> bool {
        let (a, b) = (self.0, other.0);
        a.ip_blkid.bi_hi == b.ip_blkid.bi_hi
            && a.ip_blkid.bi_lo == b.ip_blkid.bi_lo
            && a.ip_posid == b.ip_posid
    }
}
impl Eq for Tid {}

/// A `stock` row as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPlace {
    pub location: String,
    pub buckets: Buckets,
    pub fence_channels: Vec<String>,
    pub fence_qty: Vec<i64>,
    pub fence_held: Vec<i64>,
    /// The row exists (else it is created).
    pub exists: bool,
    /// Where the version read is stored, when read by a reader that knew (a hint for the
    /// write: direct::Writer::modify_at).
    pub tid: Option<Tid>,
}

impl StoredPlace {
    fn empty(location: &str) -> StoredPlace {
        StoredPlace {
            location: location.to_owned(),
            buckets: [0; 11],
            fence_channels: vec![],
            fence_qty: vec![],
            fence_held: vec![],
            exists: false,
            tid: None,
        }
    }

    /// What `channel` may sell here before its buffer: its fence plus the pool.
    pub fn sellable(&self, channel: &str) -> i64 {
        let available = self.buckets[Stage::available as usize];
        let others: i64 = self
            .fence_channels
            .iter()
            .zip(&self.fence_qty)
            .filter(|(c, _)| c.as_str() != channel)
            .map(|(_, q)| q)
            .sum();
        available - others
    }

    /// Units `channel` has fenced here.
    pub fn fenced(&self, channel: &str) -> i64 {
        self.fence_channels
            .iter()
            .zip(&self.fence_qty)
            .find(|(c, _)| c.as_str() == channel)
            .map_or(0, |(_, q)| *q)
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

static CREATE_SKU: Sql = Sql {
    text: "INSERT INTO inventory_truth.sku (code) VALUES ($1) ON CONFLICT DO NOTHING",
    args: &[oid::TEXT],
};
/// What a channel's sale at a place is judged against: the place's available units, its fenced
/// units (all, and other channels'), the channel's buffer for the SKU and what the channel may
/// sell of it at every location (its fences plus the pools).
static SALE_LIMITS: Sql = Sql {
    text: "SELECT coalesce((SELECT s.available FROM inventory_truth.stock s
                             WHERE s.sku = $1 AND s.location = $2), 0),
                  coalesce((SELECT pg_catalog.sum(f.qty) FROM inventory_truth.stock s,
                                   unnest(s.fence_channels, s.fence_qty) AS f(channel, qty)
                             WHERE s.sku = $1 AND s.location = $2), 0)::bigint,
                  coalesce((SELECT pg_catalog.sum(f.qty) FROM inventory_truth.stock s,
                                   unnest(s.fence_channels, s.fence_qty) AS f(channel, qty)
                             WHERE s.sku = $1 AND s.location = $2 AND f.channel <> $3), 0)::bigint,
                  coalesce((SELECT b.units FROM inventory_truth.sku_buffer b
                             WHERE b.channel = $3 AND b.sku = $1),
                            (SELECT c.buffer FROM inventory_truth.channel c WHERE c.code = $3), 0),
                  coalesce((SELECT pg_catalog.sum(s.available
                                   - coalesce((SELECT pg_catalog.sum(f.qty) FROM unnest(s.fence_channels, s.fence_qty) AS f(channel, qty)
                                                WHERE f.channel <> $3), 0))
                              FROM inventory_truth.stock s WHERE s.sku = $1), 0)::bigint",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};

// ---------------------------------------------------------------------------------------------
// The SKU's row

/// Takes `sku`'s row for this transaction, first of anything of the SKU (unless this
/// transaction holds it already), advancing its version when `advance` (the SKU's ATP may
/// change). With `create`, a SKU that does not exist is created first. Returns false when the
/// SKU does not exist (and was not created).
pub fn lock_sku(
    client: &mut SpiClient<'_>,
    sku: &str,
    advance: bool,
    create: bool,
    cause: &str,
) -> Outcome<bool> {
    Ok(!matches!(
        take_row(client, sku, advance, create, cause)?,
        Taken::Missing
    ))
}

/// What [`take_row`] found.
enum Taken {
    Missing,
    /// Held already (its version advanced already if asked).
    Held,
    /// Its version advanced now: the version it will have.
    Advanced(i64),
}

/// [`lock_sku`], saying whether the version advanced now, and to what.
fn take_row(
    client: &mut SpiClient<'_>,
    sku: &str,
    advance: bool,
    create: bool,
    cause: &str,
) -> Outcome<Taken> {
    match xact::held(sku) {
        Some(advanced) if advanced || !advance => {
            if advance {
                xact::changed(sku);
            }
            if xact::lent(sku) {
                // This transaction holds the row with the parts lent out (an exact sale lent
                // the pool again, or a sale from a fence left them out): what comes next
                // changes the SKU, so the parts are emptied first (after a lend they are locked
                // by this transaction; after a fence's sale the fold waits for their holders).
                crate::escrow::fold(client, sku)?;
            }
            return Ok(Taken::Held);
        }
        _ => {}
    }
    for attempt in 0..2 {
        let found = direct::write(&[direct::SKU], |w| {
            if advance {
                return Ok(advance_version(w, 0, sku, cause, None)?
                    .map(|(version, escrow)| (Taken::Advanced(version + 1), escrow)));
            }
            match w.lock(0, &direct::SKU_CODE, &[Key::Text(sku)], &["escrow_parts"])? {
                Some(row) => Ok(Some((Taken::Held, spi::value::<i32>(&row, 1)? > 0))),
                None => Ok(None),
            }
        })?;
        if let Some((taken, escrow)) = found {
            xact::note_held(sku, advance);
            if advance {
                xact::changed(sku);
            }
            if escrow {
                // What its parts sold becomes stock again before anything reads it.
                crate::escrow::fold(client, sku)?;
            }
            return Ok(taken);
        }
        if !create || attempt > 0 {
            break;
        }
        spi::run(client, &CREATE_SKU, &[sku.into()])?;
    }
    Ok(Taken::Missing)
}

/// A SKU's state for publishing (`notify::AtpInputs`) from all its places as they will be
/// committed.
pub fn committed_state<'a>(
    places: impl Iterator<Item = &'a StoredPlace>,
    version: i64,
) -> crate::notify::AtpInputs {
    let mut available = 0;
    let mut fenced: Vec<(String, i64)> = Vec::new();
    for place in places {
        available += place.buckets[Stage::available as usize];
        for (channel, qty) in place.fence_channels.iter().zip(&place.fence_qty) {
            match fenced.iter_mut().find(|(c, _)| c == channel) {
                Some((_, units)) => *units += qty,
                None => fenced.push((channel.clone(), *qty)),
            }
        }
    }
    crate::notify::AtpInputs {
        version,
        available,
        fenced,
    }
}

/// Takes `sku`'s row (table `table` of the writer is sku) by advancing its version, with the
/// time and cause of the change (looking first at `at`, where a read found the row); returns the version it had and whether it is escrowed
/// (`None`: no such SKU).
fn advance_version(
    w: &mut direct::Writer,
    table: usize,
    sku: &str,
    cause: &str,
    at: Option<direct::Tid>,
) -> Outcome<Option<(i64, bool)>> {
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let modified = w.modify_at(
        table,
        &direct::SKU_CODE,
        &[Key::Text(sku)],
        &["version", "escrow_parts"],
        at,
        |row| {
            let version: i64 = spi::value(row, 1)?;
            let escrow = spi::value::<i32>(row, 2)? > 0;
            let changes = vec![
                ("version", (version + 1).into_datum()),
                ("changed_at", Some(pg_sys::Datum::from(now))),
                ("change_cause", cause.into_datum()),
            ];
            Ok(Some((changes, (version, escrow))))
        },
    )?;
    Ok(match modified {
        direct::Modified::Done(version) => Some(version),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// Loading

fn buckets_of(row: &impl spi::Columns, first: usize) -> Outcome<Buckets> {
    let mut buckets = [0i64; 11];
    for (i, bucket) in buckets.iter_mut().enumerate() {
        *bucket = spi::value(row, first + i)?;
    }
    Ok(buckets)
}

/// The columns of a `stock` row as [`stored_place`] reads them.
pub const PLACE_COLUMNS: [&str; 15] = [
    "location",
    "inbound",
    "receiving",
    "quality_control",
    "available",
    "committed",
    "picked",
    "shipped",
    "quarantine",
    "damaged",
    "missing",
    "written_off",
    "fence_channels",
    "fence_qty",
    "fence_held",
];

/// Reads a `stock` row (location, the eleven stages in stage order, fence_channels, fence_qty,
/// fence_held) from column `first` on.
pub fn stored_place(row: &impl spi::Columns, first: usize) -> Outcome<StoredPlace> {
    Ok(StoredPlace {
        location: spi::value(row, first)?,
        buckets: buckets_of(row, first + 1)?,
        fence_channels: spi::value(row, first + 12)?,
        fence_qty: spi::value(row, first + 13)?,
        fence_held: spi::value(row, first + 14)?,
        exists: true,
        tid: None,
    })
}

/// [`stored_place`] of a row a direct reader found, with where it is stored.
pub fn read_place(row: &direct::Selected, first: usize) -> Outcome<StoredPlace> {
    Ok(StoredPlace {
        tid: Some(Tid(row.tid())),
        ..stored_place(row, first)?
    })
}

fn load_places(sku: &str, locations: &[&str]) -> Outcome<Vec<StoredPlace>> {
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        // The transaction's snapshot may predate a change another transaction committed under
        // the SKU's row without a new version (a pick, a receipt): taking each place's row is a
        // serialization failure (40001) if it changed since the snapshot, as an UPDATE of it
        // would be, rather than a decision made on what the snapshot shows.
        direct::write(&[direct::STOCK], |w| {
            for location in locations {
                w.lock(
                    0,
                    &direct::STOCK_PLACE,
                    &[Key::Text(sku), Key::Text(location)],
                    &[],
                )?;
            }
            Ok(())
        })?;
    }
    direct::read(|reader| {
        let mut places = Vec::with_capacity(locations.len());
        for location in locations {
            let mut found = None;
            reader.rows(
                &direct::STOCK_PLACE,
                &[Key::Text(sku), Key::Text(location)],
                &PLACE_COLUMNS,
                |row| {
                    found = Some(read_place(row, 1)?);
                    Ok(())
                },
            )?;
            places.push(found.unwrap_or_else(|| StoredPlace::empty(location)));
        }
        Ok(places)
    })
}

/// Every place of `sku` (read committed: the caller holds the SKU's row).
fn load_all_places(sku: &str) -> Outcome<Vec<StoredPlace>> {
    direct::read(|reader| {
        let mut places = Vec::new();
        reader.rows(
            &direct::STOCK_PLACE,
            &[Key::Text(sku)],
            &PLACE_COLUMNS,
            |row| {
                places.push(read_place(row, 1)?);
                Ok(())
            },
        )?;
        Ok(places)
    })
}

/// Each channel's rule for one SKU (its own rule, else the every-SKU rule).
fn load_rules(sku: &str) -> Outcome<HashMap<String, Rule>> {
    let mut own: HashMap<String, Rule> = HashMap::new();
    let mut every: HashMap<String, Rule> = HashMap::new();
    direct::read(|reader| {
        for (key, rules) in [(Key::Text(sku), &mut own), (Key::Null, &mut every)] {
            reader.rows(
                &direct::RINGFENCE_SKU,
                &[key],
                &["channel", "units", "percent"],
                |row| {
                    let channel: String = spi::value(row, 1)?;
                    let units: Option<i64> = spi::get(row, 2)?;
                    let percent: Option<pgrx::AnyNumeric> = spi::get(row, 3)?;
                    let rule = match (units, percent) {
                        (Some(units), _) => Rule::Units(units),
                        (None, Some(percent)) => {
                            let text = percent.to_string();
                            Rule::Percent(Percent::parse(&text).ok_or_else(|| {
                                Failure::internal(format!(
                                    "a ringfence percent that is not a percent: {text}"
                                ))
                            })?)
                        }
                        (None, None) => return Ok(()),
                    };
                    rules.insert(channel, rule);
                    Ok(())
                },
            )?;
        }
        Ok(())
    })?;
    for (channel, rule) in own {
        every.insert(channel, rule);
    }
    Ok(every)
}

/// The channels' priorities, read at most once per statement (`cache`).
fn loaded_priorities(cache: &mut Option<HashMap<String, i32>>) -> Outcome<&HashMap<String, i32>> {
    if cache.is_none() {
        *cache = Some(load_channel_priorities()?);
    }
    cache
        .as_ref()
        .ok_or_else(|| Failure::internal("inventory_truth: channel priorities not loaded"))
}

fn load_channel_priorities() -> Outcome<HashMap<String, i32>> {
    let mut priorities = HashMap::new();
    direct::read(|reader| {
        reader.all(direct::CHANNEL, &["code", "priority"], |row| {
            priorities.insert(spi::value::<String>(row, 1)?, spi::value::<i32>(row, 2)?);
            Ok(())
        })
    })?;
    Ok(priorities)
}

/// A hold's columns as [`hold_of`] reads them.
const HOLD_COLUMNS: [&str; 14] = [
    "id",
    "channel",
    "ref",
    "location",
    "qty",
    "open_qty",
    "fence_qty",
    "picked_qty",
    "released_qty",
    "lost_qty",
    "status",
    "expires_at",
    "preorder_qty",
    "preorder_broken",
];

/// Reads a hold laid out as `HOLD_COLUMNS`.
fn hold_of(row: &impl spi::Columns) -> Outcome<Hold> {
    let status: String = spi::value(row, 11)?;
    Ok(Hold {
        id: Some(spi::value(row, 1)?),
        channel: spi::value(row, 2)?,
        reference: spi::value(row, 3)?,
        location: spi::value(row, 4)?,
        qty: spi::value(row, 5)?,
        open_qty: spi::value(row, 6)?,
        fence_qty: spi::value(row, 7)?,
        picked_qty: spi::value(row, 8)?,
        released_qty: spi::value(row, 9)?,
        lost_qty: spi::value(row, 10)?,
        status: HoldStatus::parse(&status)
            .ok_or_else(|| Failure::internal(format!("a hold with status {status}")))?,
        expires_at: spi::get::<pgrx::datum::TimestampWithTimeZone>(row, 12)?.map(i64::from),
        preorder_qty: spi::get(row, 13)?,
        preorder_broken: spi::get(row, 14)?,
        clears_expiry: false,
        reopened: false,
        ended: false,
        changed: false,
    })
}

/// The holds of `sku` that these references name (any channel, any location).
pub fn load_named_holds(sku: &str, references: &[&str], holds: &mut Holds) -> Outcome<()> {
    direct::read(|reader| {
        for reference in references {
            reader.rows(
                &direct::HOLD_KEY,
                &[Key::Text(reference), Key::Text(sku)],
                &HOLD_COLUMNS,
                |row| {
                    let hold = hold_of(row)?;
                    holds
                        .entry(place::hold_key(
                            &hold.channel,
                            &hold.reference,
                            &hold.location,
                        ))
                        .or_insert(hold);
                    Ok(())
                },
            )?;
        }
        Ok(())
    })
}

/// The open holds of a place, and the order they lose units in when a loss out of committed
/// names none: lowest-priority channel first (of equal priorities, the code that sorts last),
/// newest hold first.
fn load_open_holds(
    sku: &str,
    location: &str,
    priorities: &HashMap<String, i32>,
    holds: &mut Holds,
) -> Outcome<Vec<place::HoldKey>> {
    let mut found: Vec<(i32, String, i64, place::HoldKey)> = Vec::new();
    direct::read(|reader| {
        reader.rows(
            &direct::HOLD_OPEN_AT,
            &[Key::Text(sku), Key::Text(location)],
            &HOLD_COLUMNS,
            |row| {
                let hold = hold_of(row)?;
                if hold.status != HoldStatus::Open {
                    return Ok(());
                }
                let key = place::hold_key(&hold.channel, &hold.reference, &hold.location);
                let priority = priorities.get(&hold.channel).copied().unwrap_or(i32::MAX);
                found.push((
                    priority,
                    hold.channel.clone(),
                    hold.id.unwrap_or(0),
                    key.clone(),
                ));
                holds.entry(key).or_insert(hold);
                Ok(())
            },
        )
    })?;
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
    Ok(found.into_iter().map(|(_, _, _, key)| key).collect())
}

/// The open preorders of a place still awaiting units (src/preorder.rs), loaded into `holds`;
/// their keys.
fn load_awaiting(sku: &str, location: &str, holds: &mut Holds) -> Outcome<Vec<place::HoldKey>> {
    let mut keys = Vec::new();
    for hold in direct::read(|reader| awaiting_holds(reader, sku, Some(location)))? {
        let key = place::hold_key(&hold.channel, &hold.reference, &hold.location);
        keys.push(key.clone());
        holds.entry(key).or_insert(hold);
    }
    Ok(keys)
}

/// The open preorders of `sku` still awaiting units (src/preorder.rs), at one location or at
/// every one, in id order (oldest first): the holds `hold_awaiting` indexes, read without a plan.
pub fn awaiting_holds(
    reader: &direct::Reader,
    sku: &str,
    location: Option<&str>,
) -> Outcome<Vec<Hold>> {
    let mut found = Vec::new();
    let key = match location {
        Some(location) => vec![Key::Text(sku), Key::Text(location)],
        None => vec![Key::Text(sku)],
    };
    reader.rows(&direct::HOLD_AWAITING, &key, &HOLD_COLUMNS, |row| {
        let hold = hold_of(row)?;
        if hold.status == HoldStatus::Open && hold.awaits() {
            found.push(hold);
        }
        Ok(())
    })?;
    found.sort_by_key(|h| h.id);
    Ok(found)
}

/// Whether a row takes stock on its way (inbound, receiving, QC) anywhere but on to the shelf:
/// a cancelled or short receipt, damage or loss before put-away. Preorders there may break.
fn leaves_incoming(row: &Row) -> bool {
    let incoming = |stage: Option<Stage>| {
        matches!(
            stage,
            Some(Stage::inbound) | Some(Stage::receiving) | Some(Stage::quality_control)
        )
    };
    incoming(row.from) && !incoming(row.to) && row.to != Some(Stage::available)
}

/// An expected receipt's columns as [`receipt_of`] reads them.
const RECEIPT_COLUMNS: [&str; 6] = ["id", "ref", "eta", "expected", "open_qty", "first_movement"];

fn receipt_of(row: &impl spi::Columns) -> Outcome<Receipt> {
    let eta: Option<pgrx::datum::Date> = spi::get(row, 3)?;
    Ok(Receipt {
        id: Some(spi::value(row, 1)?),
        reference: spi::value(row, 2)?,
        eta: eta.map(|d| d.to_pg_epoch_days()),
        expected: spi::value(row, 4)?,
        open_qty: spi::value(row, 5)?,
        first_movement: spi::get(row, 6)?,
        changed: false,
    })
}

/// The expected receipts of a place that `references` name, and every open one with
/// `every_open`, in the order they were created.
fn load_receipts(
    sku: &str,
    location: &str,
    references: &[&str],
    every_open: bool,
) -> Outcome<Vec<Receipt>> {
    let mut receipts: Vec<Receipt> = Vec::new();
    direct::read(|reader| {
        let mut add = |row: &direct::Selected| -> Outcome<()> {
            let receipt = receipt_of(row)?;
            if !receipts.iter().any(|r| r.id == receipt.id) {
                receipts.push(receipt);
            }
            Ok(())
        };
        for reference in references {
            reader.rows(
                &direct::RECEIPT_KEY,
                &[Key::Text(reference), Key::Text(sku), Key::Text(location)],
                &RECEIPT_COLUMNS,
                &mut add,
            )?;
        }
        if every_open {
            reader.rows(
                &direct::RECEIPT_OPEN,
                &[Key::Text(sku), Key::Text(location)],
                &RECEIPT_COLUMNS,
                |row| {
                    if spi::value::<i64>(row, 5)? > 0 {
                        add(row)?;
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    })?;
    receipts.sort_by_key(|r| r.id);
    Ok(receipts)
}

// ---------------------------------------------------------------------------------------------
// Applying

/// Whether the rows need the SKU's fence rules and the channels' priorities: inflows fill
/// fences against targets, losses take the lowest priority first, releases return to a fence
/// only while a rule fences the channel. A sale needs neither (its channel's own fence first).
pub fn needs_rules(rows: &[Row]) -> bool {
    rows.iter().any(|r| {
        r.to == Some(Stage::available)
            || (r.from == Some(Stage::available)
                && !(r.to == Some(Stage::committed)
                    || (r.to == Some(Stage::picked) && r.channel.is_some())))
    })
}

/// Whether the rows may change the SKU's ATP: anything into or out of available.
pub fn changes_atp(rows: &[Row]) -> bool {
    rows.iter()
        .any(|r| r.from == Some(Stage::available) || r.to == Some(Stage::available))
}

/// Whether the rows may change what may be preordered of the SKU: stock on its way (inbound,
/// receiving, QC) moves. It matters only while a channel takes preorders.
fn changes_incoming(rows: &[Row]) -> bool {
    let incoming = |stage: Option<Stage>| {
        matches!(
            stage,
            Some(Stage::inbound) | Some(Stage::receiving) | Some(Stage::quality_control)
        )
    };
    rows.iter().any(|r| incoming(r.from) || incoming(r.to))
}

/// Whether any channel takes preorders (a read of the few channels).
fn preorders_taken() -> Outcome<bool> {
    let mut taken = false;
    direct::read(|reader| {
        reader.all(direct::CHANNEL, &["preorders"], |row| {
            taken |= spi::value::<bool>(row, 1)?;
            Ok(())
        })
    })?;
    Ok(taken)
}

/// Whether a row brings units of a SKU into the system for the first time: an expected receipt,
/// an arrival or a count gain creates an unknown SKU.
pub fn introduces(row: &Row) -> bool {
    row.from.is_none()
        && matches!(
            row.to,
            Some(Stage::inbound) | Some(Stage::receiving) | Some(Stage::available)
        )
}

/// The first movement that changed what storefronts see: into or out of available, else of
/// stock on its way (what may be preordered).
fn cause_of(rows: &[Row]) -> String {
    let touches_available =
        |r: &&Row| r.from == Some(Stage::available) || r.to == Some(Stage::available);
    rows.iter()
        .filter(touches_available)
        .min_by_key(|r| r.id)
        .or_else(|| rows.iter().min_by_key(|r| r.id))
        .map(|r| {
            format!(
                "{}->{}",
                r.from.map_or("outside", Stage::label),
                r.to.map_or("outside", Stage::label)
            )
        })
        .unwrap_or_default()
}

/// Applies rows of any number of SKUs and locations: per SKU in code order, everything the rows
/// touch of it. Rows must be valid on their own (see `ledger::validate_row` and
/// `validate_references`). The SKUs must exist or be introduced by a row of theirs.
pub fn apply(
    client: &mut SpiClient<'_>,
    rows: Vec<Movement>,
    options: &Options,
) -> Outcome<Applied> {
    let mut by_sku: BTreeMap<Vec<u8>, (String, Vec<Movement>)> = BTreeMap::new();
    for movement in rows {
        by_sku
            .entry(movement.sku.as_bytes().to_vec())
            .or_insert_with(|| (movement.sku.clone(), Vec::new()))
            .1
            .push(movement);
    }
    if by_sku.len() > 1 {
        // An unknown SKU is refused before anything is locked, whichever SKU it is.
        let skus: Vec<&str> = by_sku.values().map(|(sku, _)| sku.as_str()).collect();
        let mut known = std::collections::HashSet::new();
        direct::read(|reader| {
            for sku in &skus {
                if reader.exists(&direct::SKU_CODE, &[Key::Text(sku)])? {
                    known.insert(sku.to_string());
                }
            }
            Ok(())
        })?;
        for (sku, movements) in by_sku.values() {
            if !known.contains(sku) && !movements.iter().any(|m| introduces(&m.row)) {
                return Err(unknown_sku(sku));
            }
        }
    }
    let mut applied = Applied::default();
    let mut priorities: Option<HashMap<String, i32>> = None;
    for (_, (sku, movements)) in by_sku {
        apply_sku(
            client,
            &sku,
            &movements,
            options,
            &mut priorities,
            &mut applied,
        )?;
    }
    Ok(applied)
}

pub fn unknown_sku(sku: &str) -> Failure {
    Failure::unknown(format!("unknown SKU {}", q(sku)))
        .hint("Only an expected receipt, an arrival or a count gain introduces a SKU.")
}

/// Applies one SKU's rows: takes the SKU's row, loads what the rows touch, replays them and
/// writes the result.
pub fn apply_sku(
    client: &mut SpiClient<'_>,
    sku: &str,
    movements: &[Movement],
    options: &Options,
    priorities: &mut Option<HashMap<String, i32>>,
    applied: &mut Applied,
) -> Outcome<()> {
    let rows: Vec<Row> = movements.iter().map(|m| m.row.clone()).collect();
    // Storefronts hear of ATP, and while a channel takes preorders, of stock on its way.
    let advance = changes_atp(&rows) || (changes_incoming(&rows) && preorders_taken()?);
    let create = rows.iter().any(introduces);
    let cause = options.cause.clone().unwrap_or_else(|| cause_of(&rows));
    let taken = take_row(client, sku, advance, create, &cause)?;
    // A version advanced now, in relay mode, read committed: every place of the SKU is read, so
    // that its whole state as committed is handed to the relay, which then need not read it.
    let hand_over = match taken {
        Taken::Missing => return Err(unknown_sku(sku)),
        Taken::Held => None,
        Taken::Advanced(version) => (xact::notify_mode() == crate::guc::NotifyMode::Relay
            && unsafe { pg_sys::XactIsoLevel } < pg_sys::XACT_REPEATABLE_READ as i32)
            .then_some(version),
    };

    // Everything below reads under one snapshot, taken now that the SKU's row is held.
    direct::with_snapshot(|| {
        // The places, in code order.
        let mut locations: Vec<&str> = Vec::new();
        for m in movements {
            if !locations.contains(&m.location.as_str()) {
                locations.push(m.location.as_str());
            }
        }
        locations.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let stored = if hand_over.is_some() {
            load_all_places(sku)?
        } else {
            load_places(sku, &locations)?
        };
        let mut written_places: Vec<StoredPlace> = Vec::with_capacity(locations.len());
        let mut holds = Holds::new();
        let named: Vec<&str> = {
            let mut refs: Vec<&str> = movements
                .iter()
                .filter(|m| {
                    m.row.channel.is_some()
                        && (m.row.to == Some(Stage::committed)
                            || m.row.from == Some(Stage::committed))
                })
                .filter_map(|m| m.row.reference.as_deref())
                .collect();
            refs.sort_unstable();
            refs.dedup();
            refs
        };
        if !named.is_empty() {
            load_named_holds(sku, &named, &mut holds)?;
        }
        let rules = if needs_rules(&rows) {
            let rules = load_rules(sku)?;
            // Priorities order fences; a SKU with neither rules nor fences has none to order.
            let fenced = !rules.is_empty() || stored.iter().any(|p| !p.fence_channels.is_empty());
            if fenced {
                loaded_priorities(priorities)?;
            }
            Some(rules)
        } else {
            None
        };

        for location in &locations {
            let place_rows: Vec<Row> = movements
                .iter()
                .filter(|m| m.location == *location)
                .map(|m| m.row.clone())
                .collect();
            let stored_place = stored
                .iter()
                .find(|p| p.location == *location)
                .cloned()
                .unwrap_or_else(|| StoredPlace::empty(location));
            let loss_order = if place_rows
                .iter()
                .any(|r| r.from == Some(Stage::committed) && r.channel.is_none())
            {
                load_open_holds(sku, location, loaded_priorities(priorities)?, &mut holds)?
            } else {
                Vec::new()
            };
            let awaiting = if place_rows.iter().any(leaves_incoming) {
                load_awaiting(sku, location, &mut holds)?
            } else {
                Vec::new()
            };
            let receipts = {
                let inbound: Vec<&Row> = place_rows
                    .iter()
                    .filter(|r| r.to == Some(Stage::inbound) || r.from == Some(Stage::inbound))
                    .collect();
                if inbound.is_empty() && awaiting.is_empty() {
                    Vec::new()
                } else {
                    let mut refs: Vec<&str> = inbound
                        .iter()
                        .filter_map(|r| r.reference.as_deref())
                        .collect();
                    refs.sort_unstable();
                    refs.dedup();
                    // Breaking preorders weighs every open receipt of the place.
                    let every_open = !awaiting.is_empty()
                        || inbound
                            .iter()
                            .any(|r| r.from == Some(Stage::inbound) && r.reference.is_none());
                    load_receipts(sku, location, &refs, every_open)?
                }
            };
            let mut place = Place {
                sku: sku.to_owned(),
                location: (*location).to_owned(),
                buckets: stored_place.buckets,
                fences: fences_of(&stored_place, rules.as_ref(), priorities.as_ref()),
                receipts,
            };
            let before = place.buckets;
            let replayed = place::replay(&mut place, &place_rows, &mut holds, &loss_order)?;
            if !awaiting.is_empty() {
                place::break_preorders(&place, &mut holds, &awaiting);
            }

            if options.strict {
                check_sources(&place, &before, &place_rows)?;
            }
            if place_rows.iter().any(|r| r.from.is_none()) && place.total() > i128::from(MAX_UNITS)
            {
                return Err(Failure::invalid(format!(
                    "{} would hold more than {} units",
                    describe(sku, location),
                    MAX_UNITS
                ))
                .detail("A location holds at most that many units of one SKU, over all stages."));
            }
            let written = direct::write(&[direct::STOCK, direct::RECEIPT], |w| {
                if !write_place(w, 0, sku, &place, &before, &stored_place, false)? {
                    return Ok(false);
                }
                write_receipts(w, 1, sku, location, &place.receipts)?;
                Ok(true)
            })?;
            if !written {
                return Err(Failure::internal(format!(
                    "inventory_truth: the fences of {} changed under the SKU's lock",
                    describe(sku, location)
                )));
            }
            if hand_over.is_some() {
                let (fence_channels, fence_qty, fence_held) =
                    fence_arrays(&place.fences, &stored_place);
                written_places.push(StoredPlace {
                    location: place.location.clone(),
                    buckets: place.buckets,
                    fence_channels,
                    fence_qty,
                    fence_held,
                    exists: true,
                    tid: None,
                });
            }
            if !options.strict && place.buckets.iter().any(|&q| q < 0) {
                crate::xact::went_negative(sku, location);
            }
            if !options.strict {
                for channel in &replayed.sold {
                    if sale_breach(client, sku, location, channel)?.is_some() {
                        crate::xact::breached(sku, location, channel);
                    }
                }
            }
        }
        place::end_expiry_of_picked(&mut holds);
        if holds.values().any(|h| h.changed) {
            direct::write(&[direct::HOLD], |w| {
                write_holds(w, 0, sku, &mut holds, options, applied)
            })?;
        }
        if let Some(version) = hand_over {
            let untouched = stored
                .iter()
                .filter(|p| !locations.contains(&p.location.as_str()));
            let state = committed_state(untouched.chain(&written_places), version);
            xact::changed_to(sku, state);
        }
        Ok(())
    })
}

/// The fences of a place: every channel with fenced units here (stored), and, when the rules
/// are loaded, every channel with a rule for the SKU, in fill order.
fn fences_of(
    stored: &StoredPlace,
    rules: Option<&HashMap<String, Rule>>,
    priorities: Option<&HashMap<String, i32>>,
) -> Vec<Fence> {
    let mut fences: Vec<Fence> = stored
        .fence_channels
        .iter()
        .enumerate()
        .map(|(i, channel)| Fence {
            channel: channel.clone(),
            qty: stored.fence_qty.get(i).copied().unwrap_or(0),
            held: stored.fence_held.get(i).copied().unwrap_or(0),
            priority: 0,
            rule: None,
        })
        .collect();
    if let Some(rules) = rules {
        for (channel, rule) in rules {
            match fences.iter_mut().find(|f| &f.channel == channel) {
                Some(f) => f.rule = Some(rule.clone()),
                None => fences.push(Fence {
                    channel: channel.clone(),
                    qty: 0,
                    held: 0,
                    priority: 0,
                    rule: Some(rule.clone()),
                }),
            }
        }
    }
    if let Some(priorities) = priorities {
        for f in &mut fences {
            f.priority = priorities.get(&f.channel).copied().unwrap_or(i32::MAX);
        }
        sort_fences(&mut fences);
    }
    fences
}

/// A function's rows may not take more out of a stage than it holds: each row, in ledger order,
/// against what the stage holds then.
fn check_sources(place: &Place, before: &Buckets, rows: &[Row]) -> Outcome<()> {
    let mut buckets = *before;
    let mut ordered: Vec<&Row> = rows.iter().collect();
    ordered.sort_by_key(|r| r.id);
    for row in ordered {
        if let Some(from) = row.from {
            let had = buckets[from as usize];
            if had < row.qty {
                return Err(Failure::insufficient(format!(
                    "insufficient stock: {} has {} in stage {}, {} asked",
                    describe(&place.sku, &place.location),
                    units(had),
                    from.label(),
                    row.qty
                )));
            }
            buckets[from as usize] -= row.qty;
        }
        if let Some(to) = row.to {
            buckets[to as usize] += row.qty;
        }
    }
    Ok(())
}

/// A place's fences as stored: those with units fenced or held, and every one stored before (a
/// fence, once made, stays, at 0 if need be), in code order.
fn fence_arrays(fences: &[Fence], stored: &StoredPlace) -> (Vec<String>, Vec<i64>, Vec<i64>) {
    let mut kept: Vec<&Fence> = fences
        .iter()
        .filter(|f| f.qty != 0 || f.held != 0 || stored.fence_channels.contains(&f.channel))
        .collect();
    kept.sort_by(|a, b| a.channel.as_bytes().cmp(b.channel.as_bytes()));
    (
        kept.iter().map(|f| f.channel.clone()).collect(),
        kept.iter().map(|f| f.qty).collect(),
        kept.iter().map(|f| f.held).collect(),
    )
}

/// Writes a place back: its buckets by difference, its fences whole. False (nothing written)
/// when its fences changed since `stored` was read.
fn write_place(
    w: &mut direct::Writer,
    table: usize,
    sku: &str,
    place: &Place,
    before: &Buckets,
    stored: &StoredPlace,
    check_fences: bool,
) -> Outcome<bool> {
    let (channels, quantities, held) = fence_arrays(&place.fences, stored);
    let fences_changed = channels != stored.fence_channels
        || quantities != stored.fence_qty
        || held != stored.fence_held;
    let moved = place.buckets != *before;
    if !stored.exists {
        let mut values: Vec<direct::Value> = vec![
            ("sku", sku.into_datum()),
            ("location", place.location.as_str().into_datum()),
        ];
        for (i, units) in place.buckets.iter().enumerate() {
            values.push((PLACE_COLUMNS[i + 1], units.into_datum()));
        }
        values.push(("fence_channels", channels.into_datum()));
        values.push(("fence_qty", quantities.into_datum()));
        values.push(("fence_held", held.into_datum()));
        w.insert(table, &values)?;
        return Ok(true);
    }
    if !moved && !fences_changed && !check_fences {
        return Ok(true);
    }
    // Fences are written whole, so only over the fences they were computed from: a caller that
    // read them before taking the SKU's row (reserve) may have missed a pick or a loss against a
    // hold, which changes what a fence counts as held without moving the SKU's version. Then
    // nothing is written, and the caller reads again. Buckets by difference, from the row as it
    // is now.
    let modified = w.modify_at(
        table,
        &direct::STOCK_PLACE,
        &[Key::Text(sku), Key::Text(&place.location)],
        &PLACE_COLUMNS,
        stored.tid.map(|t| t.0),
        |row| {
            let current = stored_place(row, 1)?;
            if (fences_changed || check_fences)
                && (current.fence_channels != stored.fence_channels
                    || current.fence_qty != stored.fence_qty
                    || current.fence_held != stored.fence_held)
            {
                return Ok(None);
            }
            let mut changes: Vec<direct::Value> = Vec::new();
            for (i, (after, was)) in place.buckets.iter().zip(before).enumerate() {
                if after != was {
                    changes.push((
                        PLACE_COLUMNS[i + 1],
                        (current.buckets[i] + (after - was)).into_datum(),
                    ));
                }
            }
            if fences_changed {
                changes.push(("fence_channels", channels.clone().into_datum()));
                changes.push(("fence_qty", quantities.clone().into_datum()));
                changes.push(("fence_held", held.clone().into_datum()));
            }
            Ok(Some((changes, ())))
        },
    )?;
    match modified {
        direct::Modified::Done(()) => Ok(true),
        direct::Modified::Declined => Ok(false),
        direct::Modified::Missing => Err(Failure::internal(format!(
            "inventory_truth: the stock of {} went away",
            describe(sku, &place.location)
        ))),
    }
}

fn write_receipts(
    w: &mut direct::Writer,
    table: usize,
    sku: &str,
    location: &str,
    receipts: &[Receipt],
) -> Outcome<()> {
    for line in receipts.iter().filter(|r| r.changed) {
        let eta = line.eta.map(pg_sys::Datum::from);
        match line.id {
            Some(id) => {
                let changes = vec![
                    ("expected", line.expected.into_datum()),
                    ("open_qty", line.open_qty.into_datum()),
                    ("first_movement", line.first_movement.into_datum()),
                ];
                let written =
                    w.modify(table, &direct::RECEIPT_ID, &[Key::Int8(id)], &[], |_| {
                        Ok(Some((changes.clone(), ())))
                    })?;
                if !matches!(written, direct::Modified::Done(())) {
                    return Err(Failure::internal(
                        "inventory_truth: an expected receipt went away",
                    ));
                }
            }
            None => {
                let id = direct::next_id(c"expected_receipt_id_seq")?;
                let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
                w.insert(
                    table,
                    &[
                        ("id", id.into_datum()),
                        ("ref", line.reference.as_str().into_datum()),
                        ("sku", sku.into_datum()),
                        ("location", location.into_datum()),
                        ("eta", eta),
                        ("expected", line.expected.into_datum()),
                        ("open_qty", line.open_qty.into_datum()),
                        ("first_movement", line.first_movement.into_datum()),
                        ("created_at", Some(pg_sys::Datum::from(now))),
                    ],
                )?;
            }
        }
    }
    Ok(())
}

fn write_holds(
    w: &mut direct::Writer,
    table: usize,
    sku: &str,
    holds: &mut Holds,
    options: &Options,
    applied: &mut Applied,
) -> Outcome<()> {
    let mut changed: Vec<&mut Hold> = holds.values_mut().filter(|h| h.changed).collect();
    changed.sort_by(|a, b| {
        (&a.channel, &a.reference, &a.location).cmp(&(&b.channel, &b.reference, &b.location))
    });
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    for hold in changed {
        let id = match hold.id {
            None => insert_hold(w, table, sku, hold, options)?,
            Some(id) => {
                let mut changes: Vec<direct::Value> = hold_units(hold).to_vec();
                if hold.preorder_qty.is_some() {
                    changes.push(("preorder_qty", hold.preorder_qty.into_datum()));
                    changes.push(("preorder_broken", hold.preorder_broken.into_datum()));
                }
                if hold.clears_expiry {
                    changes.push(("expires_at", None));
                }
                if hold.ended {
                    changes.push(("ended_at", Some(pg_sys::Datum::from(now))));
                } else if hold.reopened {
                    changes.push(("ended_at", None));
                }
                let key = [
                    Key::Text(&hold.reference),
                    Key::Text(sku),
                    Key::Text(&hold.channel),
                    Key::Text(&hold.location),
                ];
                let written = w.modify(table, &direct::HOLD_KEY, &key, &[], |_| {
                    Ok(Some((changes.clone(), ())))
                })?;
                if !matches!(written, direct::Modified::Done(())) {
                    return Err(Failure::internal("inventory_truth: a hold went away"));
                }
                id
            }
        };
        hold.id = Some(id);
        hold.changed = false;
        applied.holds.insert(
            (
                hold.channel.clone(),
                hold.reference.clone(),
                sku.to_owned(),
                hold.location.clone(),
            ),
            id,
        );
    }
    Ok(())
}

/// Writes a new hold, with its id from the table's sequence; returns the id.
fn insert_hold(
    w: &mut direct::Writer,
    table: usize,
    sku: &str,
    hold: &Hold,
    options: &Options,
) -> Outcome<i64> {
    let id = direct::next_id(c"hold_id_seq")?;
    // A new part of an open reservation expires with it (a direct row names no ttl).
    let expires_at = if hold.clears_expiry {
        None
    } else {
        options.expires_at.or_else(|| {
            hold.expires_at
                .and_then(|t| pgrx::datum::TimestampWithTimeZone::try_from(t).ok())
        })
    };
    let created_at = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    let ended_at = hold
        .ended
        .then(|| pg_sys::Datum::from(unsafe { pg_sys::GetCurrentTimestamp() }));
    let mut values: Vec<direct::Value> = vec![
        ("id", id.into_datum()),
        ("channel", hold.channel.as_str().into_datum()),
        ("ref", hold.reference.as_str().into_datum()),
        ("sku", sku.into_datum()),
        ("location", hold.location.as_str().into_datum()),
    ];
    values.extend(hold_units(hold));
    values.extend([
        ("expires_at", expires_at.into_datum()),
        ("created_at", Some(pg_sys::Datum::from(created_at))),
        ("ended_at", ended_at),
    ]);
    w.insert(table, &values)?;
    Ok(id)
}

/// A hold's units and status, as its row stores them.
fn hold_units(hold: &Hold) -> [direct::Value<'static>; 7] {
    [
        ("qty", hold.qty.into_datum()),
        ("open_qty", hold.open_qty.into_datum()),
        ("fence_qty", hold.fence_qty.into_datum()),
        ("picked_qty", hold.picked_qty.into_datum()),
        ("released_qty", hold.released_qty.into_datum()),
        ("lost_qty", hold.lost_qty.into_datum()),
        ("status", hold.status.label().into_datum()),
    ]
}

/// Whether a sale of `channel` at this place now breaches: takes other channels' fenced units
/// (the place's available units below its fenced units) or leaves the channel below its buffer
/// (its fences and the pools at every location). A direct sale in breach when written is judged
/// again at commit (a later statement may still bring units): the failure is IT003 then.
pub fn sale_breach(
    client: &mut SpiClient<'_>,
    sku: &str,
    location: &str,
    channel: &str,
) -> Outcome<Option<Failure>> {
    let row = spi::run(
        client,
        &SALE_LIMITS,
        &[sku.into(), location.into(), channel.into()],
    )?
    .first();
    let available: i64 = spi::value(&row, 1)?;
    let fenced: i64 = spi::value(&row, 2)?;
    let others: i64 = spi::value(&row, 3)?;
    let buffer: i64 = spi::value(&row, 4)?;
    let sellable: i64 = spi::value(&row, 5)?;
    if available < fenced {
        return Ok(Some(
            Failure::new(
                SqlState::FENCE_OR_BUFFER_BREACHED,
                format!(
                    "ringfence breached: this transaction sells {} of other channels' fenced units of {} to channel {}",
                    units(fenced - available),
                    describe(sku, location),
                    q(channel)
                ),
            )
            .detail(format!(
                "{} available there; fenced: {} for other channels, {} for {}.",
                units(available),
                units(others),
                units(fenced - others),
                q(channel)
            ))
            .hint("A channel sells from its own fence and the shared pool only."),
        ));
    }
    if sellable < buffer {
        return Ok(Some(
            Failure::new(
                SqlState::FENCE_OR_BUFFER_BREACHED,
                format!(
                    "safety buffer breached: this transaction leaves channel {} with {} of SKU {}, below its buffer of {}",
                    q(channel),
                    units(sellable),
                    q(sku),
                    units(buffer)
                ),
            )
            .hint("A channel may sell only down to its buffer; see inventory_truth.atp()."),
        ));
    }
    Ok(None)
}

/// `_breached(sku, channel) RETURNS boolean`: whether a direct sale of this transaction
/// breached a fence or a buffer of `sku` (NULL: any) for `channel` (NULL: any), to be judged at
/// commit; changing those rules first would hide it. Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _breached(sku: Option<&str>, channel: Option<&str>) -> bool {
    crate::xact::breached_in_transaction(sku, channel)
}

static ALL_PLACES: Sql = Sql {
    text: "SELECT location, inbound, receiving, quality_control, available, committed, picked,
                  shipped, quarantine, damaged, missing, written_off, fence_channels, fence_qty, fence_held
             FROM inventory_truth.stock WHERE sku = $1",
    args: &[oid::TEXT],
};
static WRITE_FENCES: Sql = Sql {
    text: "UPDATE inventory_truth.stock SET fence_channels = $3, fence_qty = $4, fence_held = $5
            WHERE sku = $1 AND location = $2",
    args: &[
        oid::TEXT,
        oid::TEXT,
        oid::TEXT_ARRAY,
        oid::INT8_ARRAY,
        oid::INT8_ARRAY,
    ],
};

/// Recomputes a SKU's fences at every location from its rules (a rule change, `rebalance()`):
/// the available units go to the fences in priority order, each up to its target (less what
/// its channel holds from it), the rest to the pool; holds keep their units. Returns the number
/// of locations whose fences changed; the SKU's version advances if any did.
pub fn rebalance_sku(client: &mut SpiClient<'_>, sku: &str) -> Outcome<i32> {
    if !lock_sku(client, sku, false, false, "")? {
        return Err(unknown_sku(sku));
    }
    let mut places = Vec::new();
    let rows = spi::run(client, &ALL_PLACES, &[sku.into()])?;
    for row in rows {
        places.push(stored_place(&row, 1)?);
    }
    places.sort_by(|a, b| a.location.as_bytes().cmp(b.location.as_bytes()));
    let rules = load_rules(sku)?;
    let priorities = load_channel_priorities()?;
    let mut changed = 0;
    for stored in &places {
        let mut fences = fences_of(stored, Some(&rules), Some(&priorities));
        if fences.is_empty() {
            continue;
        }
        let available = stored.buckets[Stage::available as usize];
        let place_rules: Vec<Option<Rule>> = fences.iter().map(|f| f.rule.clone()).collect();
        let held: Vec<i64> = fences.iter().map(|f| f.held).collect();
        let after = crate::fence::allocate(
            available,
            &crate::fence::targets(available, &place_rules, &held),
        );
        for (fence, qty) in fences.iter_mut().zip(after) {
            fence.qty = qty;
        }
        if fences.iter().any(|f| f.qty != stored.fenced(&f.channel)) {
            changed += 1;
            let (channels, quantities, held) = fence_arrays(&fences, stored);
            spi::run(
                client,
                &WRITE_FENCES,
                &[
                    sku.into(),
                    stored.location.as_str().into(),
                    channels.into(),
                    quantities.into(),
                    held.into(),
                ],
            )?;
        }
    }
    if changed > 0 {
        lock_sku(client, sku, true, false, "rebalance")?;
    }
    Ok(changed)
}

/// `_rebalance_sku(sku) RETURNS int`: see [`rebalance_sku`]. The caller has refused a rule
/// change that would hide a breach of this transaction (`_refuse_after_breach`). Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _rebalance_sku(sku: &str) -> i32 {
    match spi::connect(|client| rebalance_sku(client, sku)) {
        Ok(changed) => changed,
        Err(failure) => error!("{}", failure.message),
    }
}

// ---------------------------------------------------------------------------------------------
// A sale decided before the SKU's lock, written in one statement

/// The tables a sale writes, in the order [`take_sku`] and [`write_sale`] name them.
pub const SALE_TABLES: [direct::Table; 4] =
    [direct::SKU, direct::STOCK, direct::HOLD, direct::MOVEMENT];
const SALE_SKU: usize = 0;
const SALE_STOCK: usize = 1;
const SALE_HOLD: usize = 2;
const SALE_LEDGER: usize = 3;

/// Takes `sku`'s row through a writer on [`SALE_TABLES`] (first of anything of the SKU, waiting
/// for a transaction that holds it) and advances its version; returns the version it had and
/// whether the SKU is escrowed (then the caller folds its parts, `escrow::fold`, before it
/// reads the SKU), or `None` for an unknown SKU. The caller does not hold the row yet; `at` is
/// where its read found it, if it knows.
pub fn take_sku(
    w: &mut direct::Writer,
    sku: &str,
    cause: &str,
    at: Option<direct::Tid>,
) -> Outcome<Option<(i64, bool)>> {
    let taken = advance_version(w, SALE_SKU, sku, cause, at)?;
    if taken.is_some() {
        xact::note_held(sku, true);
        xact::changed(sku);
    }
    Ok(taken)
}

/// A sale into a new hold (a reservation: available -> committed for a channel and ref) at the
/// place `stored`, through a writer on [`SALE_TABLES`], under the SKU's row (held, its version
/// advanced): replayed here, then the place, the hold and the ledger row written. The caller
/// checked the sale against ATP on what it read. With `read_before_lock`, `stored` was read
/// before the SKU's row was taken: the place's fences are written only if they are still as
/// read (a pick or a loss against a hold changes what a fence counts as held without a new
/// version), and `None` (nothing written) says to read again. Returns the hold's id and the
/// place as written.
pub fn write_sale(
    w: &mut direct::Writer,
    sale: &crate::ledger::Record<'_>,
    stored: &StoredPlace,
    options: &Options,
    read_before_lock: bool,
) -> Outcome<Option<(i64, StoredPlace)>> {
    let row = sale.movement(0).row;
    let rows = std::slice::from_ref(&row);
    let reservation = row.from == Some(Stage::available)
        && row.to == Some(Stage::committed)
        && row.channel.is_some()
        && row.reference.is_some();
    if needs_rules(rows) || !reservation || !stored.exists {
        return Err(Failure::internal(
            "inventory_truth: write_sale is for sales into a new hold",
        ));
    }
    let (place, before, hold) = replay_sale(sale, rows, stored)?;
    if !write_place(
        w,
        SALE_STOCK,
        sale.sku,
        &place,
        &before,
        stored,
        read_before_lock,
    )? {
        return Ok(None);
    }
    let hold_id = insert_hold(w, SALE_HOLD, sale.sku, &hold, options)?;
    crate::ledger::insert_applied(w, SALE_LEDGER, sale)?;
    let (fence_channels, fence_qty, fence_held) = fence_arrays(&place.fences, stored);
    let written = StoredPlace {
        location: place.location,
        buckets: place.buckets,
        fence_channels,
        fence_qty,
        fence_held,
        exists: true,
        tid: None,
    };
    Ok(Some((hold_id, written)))
}

/// A sale's rows (its one movement) replayed on the place `stored` (their sources checked):
/// the place after it, its buckets before, and the new hold it made.
fn replay_sale(
    sale: &crate::ledger::Record<'_>,
    rows: &[Row],
    stored: &StoredPlace,
) -> Outcome<(Place, Buckets, Hold)> {
    let mut place = Place {
        sku: sale.sku.to_owned(),
        location: sale.location.to_owned(),
        buckets: stored.buckets,
        fences: fences_of(stored, None, None),
        receipts: Vec::new(),
    };
    let before = place.buckets;
    let mut holds = Holds::new();
    place::replay(&mut place, rows, &mut holds, &[])?;
    check_sources(&place, &before, rows)?;
    let hold = holds
        .into_values()
        .find(|h| h.changed && h.id.is_none())
        .ok_or_else(|| Failure::internal("inventory_truth: the sale made no hold"))?;
    Ok((place, before, hold))
}

/// The tables a sale from an escrow part writes: the part (`escrow::claim`), the hold and the
/// ledger row; the SKU's row and its stock stay as they are.
pub const PART_SALE_TABLES: [direct::Table; 3] =
    [direct::STOCK_PART, direct::HOLD, direct::MOVEMENT];

/// A sale into a new hold from an escrow part of the pool at the place `now` (as it is, the
/// parts' sales applied), through a writer on [`PART_SALE_TABLES`] that took a part for it:
/// replayed on that place to
/// make the hold, which must take nothing from a fence, then the hold and the ledger row
/// written. Returns the hold's id.
pub fn write_part_sale(
    w: &mut direct::Writer,
    sale: &crate::ledger::Record<'_>,
    now: &StoredPlace,
    options: &Options,
) -> Outcome<i64> {
    let row = sale.movement(0).row;
    let (_, _, hold) = replay_sale(sale, std::slice::from_ref(&row), now)?;
    if hold.fence_qty != 0 {
        return Err(Failure::internal(
            "inventory_truth: a sale from an escrow part took from a fence",
        ));
    }
    let hold_id = insert_hold(w, 1, sale.sku, &hold, options)?;
    crate::ledger::insert_applied(w, 2, sale)?;
    Ok(hold_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(from: Option<Stage>, to: Option<Stage>, channel: Option<&str>) -> Row {
        Row {
            id: 1,
            from,
            to,
            qty: 1,
            channel: channel.map(str::to_owned),
            reference: None,
            expiry: false,
            eta: None,
            preorder: false,
        }
    }

    #[test]
    fn a_place_has_a_column_per_stage_in_stage_order() {
        let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(PLACE_COLUMNS[1..=Stage::ALL.len()], stages[..]);
    }

    #[test]
    fn a_sale_needs_no_rules_but_inflows_losses_and_releases_do() {
        use Stage::*;
        assert!(!needs_rules(&[r(
            Some(available),
            Some(committed),
            Some("web")
        )]));
        assert!(!needs_rules(&[r(
            Some(available),
            Some(picked),
            Some("web")
        )]));
        assert!(needs_rules(&[r(Some(available), Some(picked), None)]));
        assert!(needs_rules(&[r(
            Some(committed),
            Some(available),
            Some("web")
        )]));
        assert!(needs_rules(&[r(Some(receiving), Some(available), None)]));
        assert!(needs_rules(&[r(Some(available), Some(damaged), None)]));
        assert!(!needs_rules(&[r(
            Some(receiving),
            Some(quality_control),
            None
        )]));
    }

    #[test]
    fn only_arrivals_from_outside_introduce_a_sku() {
        use Stage::*;
        assert!(introduces(&r(None, Some(inbound), None)));
        assert!(introduces(&r(None, Some(receiving), None)));
        assert!(introduces(&r(None, Some(available), None)));
        assert!(!introduces(&r(None, Some(quarantine), None)));
        assert!(!introduces(&r(Some(inbound), Some(receiving), None)));
    }

    #[test]
    fn a_stored_place_sells_its_fence_and_the_pool() {
        let mut p = StoredPlace::empty("DC1");
        p.buckets[Stage::available as usize] = 10;
        p.fence_channels = vec!["amazon".into(), "wholesale".into()];
        p.fence_qty = vec![4, 3];
        p.fence_held = vec![0, 0];
        assert_eq!(p.sellable("amazon"), 7);
        assert_eq!(p.sellable("web"), 3);
        assert_eq!(p.fenced("wholesale"), 3);
    }
}

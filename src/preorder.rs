//! Preorders (docs/design.md §11): a channel that takes preorders may hold units that are on
//! their way, expected receipts with an ETA and stock in receiving and QC, before they are on
//! the shelf. A preorder is a hold whose units are still awaited (`hold.preorder_qty`), at the
//! location they arrive at; a put-away there (`put_away`, `qc_pass`) moves them into the hold
//! (available -> committed) before the fences fill, oldest preorder first, and the hold is then
//! an ordinary one. When a location's incoming stock falls below what its preorders await (a
//! receipt cancelled or short, damage before put-away), the newest preorders there lose the
//! difference (`hold.preorder_broken`, the `broken_preorders` view).
//!
//! The rules here are plain functions: what a location can still promise by a day, where a
//! preorder is served from and when, which preorders a put-away fills and which a shortfall
//! breaks. `preorder.rs`'s SQL side (below the rules) reads the tables and writes the holds.

use pgrx::datum::{Date, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use std::collections::BTreeMap;

use crate::direct::{self, Key};
use crate::engine;
use crate::error::{q, units, Failure, Outcome, SqlState};
use crate::ledger::{check_code, known_channel, known_location, known_sku};
use crate::spi::{self, oid, Sql};
use crate::sql_function;
use crate::sqlfn::Call;

extension_sql_file!(
    "../sql/preorders.sql",
    name = "preorders",
    requires = ["notify", "reading"]
);

/// A location's stock on its way to the shelf, and what preorders already await of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub location: String,
    /// Units by the day they arrive (days since 2000-01-01), in day order: stock in receiving
    /// and QC, and receipts already due, on the first day; later receipts on their ETA.
    pub arrivals: Vec<(i32, i64)>,
    /// Units the open preorders here await.
    pub claimed: i64,
}

impl Incoming {
    /// Every unit on its way here.
    pub fn claimable(&self) -> i64 {
        self.arrivals.iter().map(|&(_, qty)| qty).sum()
    }

    /// Units on their way here by the end of `day` (every unit: `None`) that no preorder
    /// awaits yet: preorders are served in the order they were taken, from the first arrivals.
    pub fn free_by(&self, day: Option<i32>) -> i64 {
        let arrived: i64 = self
            .arrivals
            .iter()
            .filter(|&&(d, _)| day.is_none_or(|day| d <= day))
            .map(|&(_, qty)| qty)
            .sum();
        (arrived - self.claimed).max(0)
    }

    /// The arrivals no preorder awaits: preorders take the first arrivals.
    pub fn unclaimed(&self) -> Vec<(i32, i64)> {
        let mut claimed = self.claimed;
        let mut left = Vec::new();
        for &(day, qty) in &self.arrivals {
            let taken = qty.min(claimed);
            claimed -= taken;
            if qty > taken {
                left.push((day, qty - taken));
            }
        }
        left
    }

    /// The day the `nth` unit on its way here arrives (1 = the first).
    pub fn day_of_unit(&self, nth: i64) -> Option<i32> {
        let mut arrived = 0;
        for &(day, qty) in &self.arrivals {
            arrived += qty;
            if arrived >= nth {
                return Some(day);
            }
        }
        None
    }
}

/// One location's share of a preorder: the units and the day the last of them arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub location: String,
    pub qty: i64,
    pub eta: i32,
}

/// Where a preorder of `qty` units is served from: the location that can serve it whole
/// soonest (then the one with the most still free, then the code); else, over several
/// locations, those whose first free unit arrives soonest first. `Err` holds what the locations
/// can still promise altogether, when that is less than `qty`.
pub fn plan(places: &[Incoming], qty: i64) -> Result<Vec<Part>, i64> {
    let whole = places
        .iter()
        .filter(|p| p.free_by(None) >= qty)
        .filter_map(|p| p.day_of_unit(p.claimed + qty).map(|day| (day, p)))
        .min_by(|(da, a), (db, b)| {
            da.cmp(db)
                .then(b.free_by(None).cmp(&a.free_by(None)))
                .then(a.location.as_bytes().cmp(b.location.as_bytes()))
        });
    if let Some((eta, place)) = whole {
        return Ok(vec![Part {
            location: place.location.clone(),
            qty,
            eta,
        }]);
    }
    let free: i64 = places.iter().map(|p| p.free_by(None)).sum();
    if free < qty {
        return Err(free);
    }
    let mut order: Vec<(i32, &Incoming)> = places
        .iter()
        .filter(|p| p.free_by(None) > 0)
        .filter_map(|p| p.day_of_unit(p.claimed + 1).map(|day| (day, p)))
        .collect();
    order.sort_by(|(da, a), (db, b)| {
        da.cmp(db)
            .then(a.location.as_bytes().cmp(b.location.as_bytes()))
    });
    let mut left = qty;
    let mut parts = Vec::new();
    for (_, place) in order {
        if left == 0 {
            break;
        }
        let taken = place.free_by(None).min(left);
        let eta = place.day_of_unit(place.claimed + taken).unwrap_or_default();
        parts.push(Part {
            location: place.location.clone(),
            qty: taken,
            eta,
        });
        left -= taken;
    }
    Ok(parts)
}

/// What a channel that takes preorders may still preorder of stock arriving by `day` (all of
/// it: `None`), over every location.
pub fn preorderable(places: &[Incoming], day: Option<i32>) -> i64 {
    places.iter().map(|p| p.free_by(day)).sum()
}

/// The preorders a put-away of `units` fills, oldest first: `(id, units)` for each, from
/// `awaiting`, the open preorders of the location as `(id, units awaited)`.
pub fn fills(units: i64, awaiting: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut order: Vec<(i64, i64)> = awaiting.iter().copied().filter(|p| p.1 > 0).collect();
    order.sort_by_key(|&(id, _)| id);
    let mut left = units;
    let mut filled = Vec::new();
    for (id, awaited) in order {
        if left == 0 {
            break;
        }
        let taken = awaited.min(left);
        filled.push((id, taken));
        left -= taken;
    }
    filled
}

/// The preorders a location can no longer serve when only `claimable` units are on their way
/// there: the newest first lose units until the rest fit. `(id, units lost)` for each.
pub fn breaks(claimable: i64, awaiting: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut order: Vec<(i64, i64)> = awaiting.iter().copied().filter(|p| p.1 > 0).collect();
    order.sort_by_key(|&(id, _)| std::cmp::Reverse(id));
    let mut excess = order.iter().map(|p| p.1).sum::<i64>() - claimable.max(0);
    let mut broken = Vec::new();
    for (id, awaited) in order {
        if excess <= 0 {
            break;
        }
        let lost = awaited.min(excess);
        broken.push((id, lost));
        excess -= lost;
    }
    broken
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Every location's incoming stock of `sku` and what its preorders await, read without a plan
/// (src/direct.rs: three index ranges, read-only, so a hot standby answers too), in a new
/// snapshot: under the SKU's row, the state the next change starts from. Days are PostgreSQL
/// dates; a receipt already due or overdue arrives today, one without an ETA is left out.
pub fn load_incoming(sku: &str) -> Outcome<Vec<Incoming>> {
    let today: i32 = unsafe { pg_sys::GetSQLCurrentDate() };
    // By location code in byte order (the lock order, and a stable one for plan()).
    let mut places: BTreeMap<Vec<u8>, Incoming> = BTreeMap::new();
    let mut add = |location: String, day: Option<i32>, qty: i64, claimed: i64| {
        let place = places
            .entry(location.as_bytes().to_vec())
            .or_insert_with(|| Incoming {
                location,
                arrivals: Vec::new(),
                claimed: 0,
            });
        if let Some(day) = day {
            place.arrivals.push((day, qty));
        }
        place.claimed += claimed;
    };
    direct::read(|reader| {
        reader.rows(
            &direct::RECEIPT_OPEN,
            &[Key::Text(sku)],
            &["location", "eta", "open_qty"],
            |row| {
                let eta: Option<Date> = spi::get(row, 2)?;
                let open: i64 = spi::value(row, 3)?;
                if let (Some(eta), true) = (eta.filter(|d| d.is_finite()), open > 0) {
                    add(
                        spi::value(row, 1)?,
                        Some(eta.to_pg_epoch_days().max(today)),
                        open,
                        0,
                    );
                }
                Ok(())
            },
        )?;
        reader.rows(
            &direct::STOCK_PLACE,
            &[Key::Text(sku)],
            &["location", "receiving", "quality_control"],
            |row| {
                let here = spi::value::<i64>(row, 2)? + spi::value::<i64>(row, 3)?;
                if here > 0 {
                    add(spi::value(row, 1)?, Some(today), here, 0);
                }
                Ok(())
            },
        )?;
        for hold in engine::awaiting_holds(reader, sku, None)? {
            add(hold.location, None, 0, hold.preorder_qty.unwrap_or(0));
        }
        Ok(())
    })?;
    Ok(places
        .into_values()
        .map(|mut place| {
            place.arrivals.sort_unstable();
            let mut merged: Vec<(i32, i64)> = Vec::with_capacity(place.arrivals.len());
            for (day, qty) in place.arrivals {
                match merged.last_mut() {
                    Some(last) if last.0 == day => last.1 += qty,
                    _ => merged.push((day, qty)),
                }
            }
            place.arrivals = merged;
            place
        })
        .collect())
}

/// Whether `channel` (known) takes preorders.
fn takes_preorders(channel: &str) -> Outcome<bool> {
    let mut takes = false;
    direct::read(|reader| {
        reader.rows(
            &direct::CHANNEL_CODE,
            &[Key::Text(channel)],
            &["preorders"],
            |row| {
                takes = spi::value(row, 1)?;
                Ok(())
            },
        )
    })?;
    Ok(takes)
}

fn days_since_2000(date: Date) -> i32 {
    date.to_pg_epoch_days()
}

/// `preorderable(sku, channel, through) RETURNS bigint`: what `channel` may still preorder of
/// `sku` from stock arriving by `through` (NULL: all of it); 0 for a channel that does not
/// take preorders.
fn preorderable_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let sku: Option<String> = fcinfo.arg(0);
    let channel: Option<String> = fcinfo.arg(1);
    let through: Option<Date> = fcinfo.arg(2);
    let units = {
        let sku = known_sku(sku.as_deref())?;
        let channel = known_channel(channel.as_deref())?;
        if let Some(day) = through {
            if !day.is_finite() {
                return Err(Failure::invalid(format!(
                    "through must be a real date, not {day}"
                )));
            }
        }
        if takes_preorders(channel)? {
            preorderable(&load_incoming(sku)?, through.map(days_since_2000))
        } else {
            0
        }
    };
    Ok(pg_sys::Datum::from(units))
}
sql_function!(
    inventory_truth_preorderable,
    pg_finfo_inventory_truth_preorderable,
    preorderable_call
);

/// `_unclaimed_arrivals(sku)`: each location's stock on its way by the day it arrives, less
/// what preorders await of it (they take the first arrivals): what `atp_timeline` projects
/// onto the shelf. Internal.
#[pg_extern(stable, parallel_safe)]
fn _unclaimed_arrivals(
    sku: &str,
) -> TableIterator<'static, (name!(location, String), name!(day, Date), name!(qty, i64))> {
    let places = match load_incoming(sku) {
        Ok(places) => places,
        Err(failure) => crate::error::report(failure),
    };
    let rows: Vec<(String, Date, i64)> = places
        .iter()
        .flat_map(|p| {
            p.unclaimed()
                .into_iter()
                .map(|(day, qty)| (p.location.clone(), Date::saturating_from_raw(day), qty))
        })
        .collect();
    TableIterator::new(rows)
}

/// What a SKU's preorders can still take, for the notifications (notify.rs).
pub fn preorderable_now(sku: &str) -> Outcome<i64> {
    Ok(preorderable(&load_incoming(sku)?, None))
}

// ---------------------------------------------------------------------------------------------
// Taking a preorder

static HOLDS_OF_REFERENCE: Sql = Sql {
    text: "SELECT h.id, h.channel, h.qty, h.preorder_qty, h.preorder_broken
             FROM inventory_truth.hold h
            WHERE h.ref = $1 AND h.sku = $2
            ORDER BY h.id",
    args: &[oid::TEXT, oid::TEXT],
};

static INSERT_PREORDER: Sql = Sql {
    text: "INSERT INTO inventory_truth.hold
                  (channel, ref, sku, location, preorder_qty, preorder_broken, preorder_eta, created_at)
           VALUES ($1, $2, $3, $4, $5, 0, DATE '2000-01-01' + $6, $7)
           RETURNING id",
    args: &[
        oid::TEXT,
        oid::TEXT,
        oid::TEXT,
        oid::TEXT,
        oid::INT8,
        oid::INT4,
        oid::TIMESTAMPTZ,
    ],
};

/// `55000` for a channel that does not take preorders.
fn no_preorders(channel: &str) -> Failure {
    Failure::new(
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("channel {} does not take preorders", q(channel)),
    )
    .hint(format!(
        "A manager allows them with allow_preorders('{}').",
        channel.replace('\'', "''")
    ))
}

/// `_preorder(channel, sku, qty, ref, location, occurred_at) RETURNS bigint[]`: the holds of a
/// new preorder (or of the same preorder again), by id. See `preorder` in sql/preorders.sql.
fn preorder_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    let sku: Option<String> = fcinfo.arg(1);
    let qty: Option<i64> = fcinfo.arg(2);
    let reference: Option<String> = fcinfo.arg(3);
    let location: Option<String> = fcinfo.arg(4);
    let occurred_at: Option<TimestampWithTimeZone> = fcinfo.arg(5);
    let ids = spi::connect(|client| {
        let channel = known_channel(channel.as_deref())?.to_owned();
        let sku = known_sku(sku.as_deref())?.to_owned();
        let qty = qty.ok_or_else(|| Failure::null("qty"))?;
        let reference = check_code("reference", reference.as_deref())?.to_owned();
        let occurred_at = occurred_at.ok_or_else(|| Failure::null("occurred_at"))?;
        crate::hold::check_hold_qty(qty, &sku)?;
        crate::hold::check_real_time(occurred_at)?;
        if let Some(l) = location.as_deref() {
            known_location(Some(l))?;
        }
        if !takes_preorders(&channel)? {
            return Err(no_preorders(&channel));
        }
        engine::lock_sku(client, &sku, true, false, "preorder")?;
        if let Some(ids) = same_preorder(client, &channel, &sku, &reference, qty)? {
            return Ok(ids);
        }
        let mut places = load_incoming(&sku)?;
        if let Some(l) = location.as_deref() {
            places.retain(|p| p.location == l);
        }
        let parts = plan(&places, qty).map_err(|free| {
            Failure::insufficient(format!(
                "insufficient stock: channel {} can preorder {} of SKU {}{}, {} asked",
                q(&channel),
                units(free),
                q(&sku),
                location
                    .as_deref()
                    .map(|l| format!(" at location {}", q(l)))
                    .unwrap_or_default(),
                qty
            ))
            .detail("Preorders take units on their way (expected receipts with an ETA, stock in receiving and QC) that no other preorder awaits.")
        })?;
        let mut ids = Vec::with_capacity(parts.len());
        for part in &parts {
            let rows = spi::run(
                client,
                &INSERT_PREORDER,
                &[
                    channel.as_str().into(),
                    reference.as_str().into(),
                    sku.as_str().into(),
                    part.location.as_str().into(),
                    part.qty.into(),
                    part.eta.into(),
                    occurred_at.into(),
                ],
            )?;
            ids.push(spi::value::<i64>(&rows.first(), 1)?);
        }
        Ok(ids)
    })?;
    Ok(ids.into_datum().unwrap_or(pg_sys::Datum::from(0)))
}
sql_function!(
    inventory_truth_preorder,
    pg_finfo_inventory_truth_preorder,
    preorder_call
);

/// The holds of `reference` for `sku`: `Some(ids)` when they are this channel's preorder of
/// `qty` units (a retry), `None` when there are none; `IT004` for anything else under the
/// reference.
fn same_preorder(
    client: &mut SpiClient<'_>,
    channel: &str,
    sku: &str,
    reference: &str,
    qty: i64,
) -> Outcome<Option<Vec<i64>>> {
    let rows = spi::run(client, &HOLDS_OF_REFERENCE, &[reference.into(), sku.into()])?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut ids = Vec::new();
    let mut ordered = 0i64;
    let mut same = true;
    for row in rows {
        let held_by: String = spi::value(&row, 2)?;
        let awaited: Option<i64> = spi::get(&row, 4)?;
        same &= held_by == channel && awaited.is_some();
        ordered += spi::value::<i64>(&row, 3)?
            + awaited.unwrap_or(0)
            + spi::get::<i64>(&row, 5)?.unwrap_or(0);
        ids.push(spi::value(&row, 1)?);
    }
    if same && ordered == qty {
        return Ok(Some(ids));
    }
    Err(Failure::conflict(format!(
        "reference {} already holds SKU {} ({})",
        q(reference),
        q(sku),
        if same {
            format!("a preorder of {}", units(ordered))
        } else {
            "not this channel's preorder".to_owned()
        }
    ))
    .hint("Preorder under another reference."))
}

#[cfg(test)]
mod rules {
    use super::*;

    fn at(location: &str, arrivals: &[(i32, i64)], claimed: i64) -> Incoming {
        Incoming {
            location: location.into(),
            arrivals: arrivals.to_vec(),
            claimed,
        }
    }

    #[test]
    fn what_is_free_counts_preorders_against_the_first_arrivals() {
        // 3 in receiving today (day 0), 10 due on day 5, 10 on day 9; preorders await 5.
        let dc = at("DC1", &[(0, 3), (5, 10), (9, 10)], 5);
        assert_eq!(dc.claimable(), 23);
        assert_eq!(dc.free_by(Some(0)), 0);
        assert_eq!(dc.free_by(Some(5)), 8);
        assert_eq!(dc.free_by(None), 18);
        assert_eq!(dc.day_of_unit(6), Some(5));
        assert_eq!(dc.day_of_unit(14), Some(9));
        assert_eq!(dc.day_of_unit(24), None);
    }

    #[test]
    fn preorders_take_the_first_arrivals() {
        let dc = at("DC1", &[(0, 3), (5, 10), (9, 10)], 5);
        assert_eq!(dc.unclaimed(), vec![(5, 8), (9, 10)]);
        assert_eq!(at("DC2", &[(4, 2)], 3).unclaimed(), vec![]);
    }

    #[test]
    fn a_preorder_is_served_whole_from_the_location_that_has_it_soonest() {
        let places = [at("DC1", &[(9, 10)], 0), at("DC2", &[(4, 2), (6, 8)], 0)];
        let parts = plan(&places, 5).unwrap();
        assert_eq!(
            parts,
            vec![Part {
                location: "DC2".into(),
                qty: 5,
                eta: 6
            }]
        );
    }

    #[test]
    fn a_preorder_no_location_can_serve_whole_is_split_soonest_first() {
        let places = [at("DC1", &[(9, 10)], 4), at("DC2", &[(4, 5)], 0)];
        let parts = plan(&places, 8).unwrap();
        assert_eq!(
            parts,
            vec![
                Part {
                    location: "DC2".into(),
                    qty: 5,
                    eta: 4
                },
                Part {
                    location: "DC1".into(),
                    qty: 3,
                    eta: 9
                },
            ]
        );
        assert_eq!(plan(&places, 12), Err(11));
    }

    #[test]
    fn preorderable_units_grow_with_each_arrival_day() {
        let places = [at("DC1", &[(0, 2), (5, 10)], 4), at("DC2", &[(3, 1)], 0)];
        assert_eq!(preorderable(&places, Some(0)), 0);
        assert_eq!(preorderable(&places, Some(3)), 1);
        assert_eq!(preorderable(&places, Some(5)), 9);
        assert_eq!(preorderable(&places, None), 9);
    }

    #[test]
    fn a_put_away_fills_the_oldest_preorders_first() {
        let awaiting = [(12, 2), (7, 3), (20, 5)];
        assert_eq!(fills(4, &awaiting), vec![(7, 3), (12, 1)]);
        assert_eq!(fills(20, &awaiting), vec![(7, 3), (12, 2), (20, 5)]);
    }

    #[test]
    fn a_shortfall_breaks_the_newest_preorders_first() {
        let awaiting = [(12, 2), (7, 3), (20, 5)];
        assert_eq!(breaks(10, &awaiting), vec![]);
        assert_eq!(breaks(4, &awaiting), vec![(20, 5), (12, 1)]);
        assert_eq!(breaks(0, &awaiting), vec![(20, 5), (12, 2), (7, 3)]);
    }
}

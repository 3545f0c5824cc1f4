//! Escrow for a hot SKU (docs/design.md §12, sql/escrow.sql): a SKU's pool at a location lent
//! to independently locked parts (`stock_part`), after O'Neil's escrow method (ACM TODS 11(4),
//! 1986): sales commute, so buyers that each take a different part of the pool need not wait
//! for one another's commits.
//!
//! A reservation that may sell from the pool (no fence of its channel where it sells, notified
//! by the relay or not at all, at READ COMMITTED) takes a part no other transaction holds with
//! the units ([`claim`]), and writes that part, its hold and its ledger row; nothing of the SKU's
//! row or its stock, so such sales commit side by side. A sale from the channel's own fence that
//! covers it and the channel's buffer takes the SKU's row and leaves the parts out (they never
//! lend fenced units; `hold::reserve`). Everything else takes the SKU's row as without
//! escrow, and the engine folds the parts back into stock first ([`fold`]); the exact sale that
//! found no part with the units lends the pool out again after it ([`lend`]). Until a fold, the
//! truth of a place is its stock less what its parts sold: readers apply [`PartSales`].

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::direct::{self, Key};
use crate::engine::StoredPlace;
use crate::error::Outcome;
use crate::spi::{self, oid, Sql};
use crate::stage::Stage;

extension_sql_file!(
    "../sql/escrow.sql",
    name = "escrow",
    requires = ["channels", ledger::_lock_sku, ledger::_known_sku]
);

/// What a SKU's parts sold since they were last folded, per location, how many sales that was
/// (each advanced the SKU's ATP version) and when the last was recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartSales {
    /// (location, units sold) for locations whose parts sold something.
    pub sold: Vec<(String, i64)>,
    pub sales: i64,
    /// When the latest of those sales was recorded (`stock_part.sold_at`), if any.
    pub last_sold_at: Option<pg_sys::TimestampTz>,
}

impl PartSales {
    /// Records a part's sales, the last of them recorded at `sold_at` (a part's `sold_at`
    /// outlives a fold, so it counts only with sales).
    pub fn add(
        &mut self,
        location: &str,
        sold: i64,
        sales: i64,
        sold_at: Option<pg_sys::TimestampTz>,
    ) {
        self.sales += sales;
        if sales > 0 {
            self.last_sold_at = self.last_sold_at.max(sold_at);
        }
        if sold == 0 {
            return;
        }
        match self.sold.iter_mut().find(|(l, _)| l == location) {
            Some((_, units)) => *units += sold,
            None => self.sold.push((location.to_owned(), sold)),
        }
    }

    /// The places as they are: what the parts sold out of available and into committed.
    pub fn apply(&self, places: &mut [StoredPlace]) {
        for (location, sold) in &self.sold {
            if let Some(place) = places.iter_mut().find(|p| &p.location == location) {
                place.buckets[Stage::available as usize] -= sold;
                place.buckets[Stage::committed as usize] += sold;
            }
        }
    }

    /// Units sold from parts, at every location.
    pub fn units(&self) -> i64 {
        self.sold.iter().map(|(_, q)| q).sum()
    }
}

/// What `sku`'s parts sold, as the reader's snapshot sees them (one index range).
pub fn part_sales(reader: &direct::Reader, sku: &str) -> Outcome<PartSales> {
    let mut sales = PartSales::default();
    reader.rows(
        &direct::STOCK_PART_KEY,
        &[Key::Text(sku)],
        &["location", "sold", "sales", "sold_at"],
        |row| {
            let location: String = spi::value(row, 1)?;
            let sold_at: Option<TimestampWithTimeZone> = spi::get(row, 4)?;
            sales.add(
                &location,
                spi::value(row, 2)?,
                spi::value(row, 3)?,
                sold_at.map(i64::from),
            );
            Ok(())
        },
    )?;
    Ok(sales)
}

/// What every escrowed SKU's parts sold, in SKU order (one pass over the parts).
pub fn all_part_sales(
    reader: &direct::Reader,
) -> Outcome<std::collections::HashMap<String, PartSales>> {
    let mut all: std::collections::HashMap<String, PartSales> = std::collections::HashMap::new();
    reader.rows(
        &direct::STOCK_PART_KEY,
        &[],
        &["sku", "location", "sold", "sales", "sold_at"],
        |row| {
            let sku: String = spi::value(row, 1)?;
            let location: String = spi::value(row, 2)?;
            let sold_at: Option<TimestampWithTimeZone> = spi::get(row, 5)?;
            all.entry(sku).or_default().add(
                &location,
                spi::value(row, 3)?,
                spi::value(row, 4)?,
                sold_at.map(i64::from),
            );
            Ok(())
        },
    )?;
    Ok(all)
}

static FOLD: Sql = Sql {
    text: "SELECT inventory_truth._escrow_fold($1)",
    args: &[oid::TEXT],
};
static LEND: Sql = Sql {
    text: "SELECT inventory_truth._escrow_lend($1)",
    args: &[oid::TEXT],
};
/// Folds `sku`'s parts back into its stock and version and empties them, waiting for the
/// buyers holding them. The caller has just taken the SKU's row.
pub fn fold(client: &mut SpiClient<'_>, sku: &str) -> Outcome<()> {
    spi::run(client, &FOLD, &[sku.into()])?;
    Ok(())
}

/// Lends `sku`'s pool to its parts again (after a fold, under the SKU's row); the units lent.
/// Any later change of the SKU in this transaction folds them again first (`engine::take_row`).
pub fn lend(client: &mut SpiClient<'_>, sku: &str) -> Outcome<i64> {
    let lent = spi::get(&spi::run(client, &LEND, &[sku.into()])?.first(), 1)?.unwrap_or(0);
    crate::xact::note_lent(sku);
    Ok(lent)
}

/// What [`claim`] found.
pub enum Claim {
    /// A part, sold from.
    Taken,
    /// Every part with the units is held by another transaction: one of them.
    Busy(pg_sys::TransactionId),
    /// No part has the units (or their holders cannot be told).
    NoPart,
}

/// Takes a part of `sku`'s pool at `location` with `qty` units left that no other transaction
/// holds, through a writer on `engine::PART_SALE_TABLES` (the part is its table 0), and sells
/// them from it (the caller writes the hold and the ledger row). Each reservation starts at a
/// part of its own (by a hash of its channel and reference: buyers seldom try the same one,
/// and a test's buyers always try the same ones); a part is taken as committed now and only if
/// nobody changed it since (`Writer::try_take`), so a buyer that finds none holds no part while
/// it goes on to wait. When every part with the units is held (a buyer's sale in flight, or a
/// fold or a lend, which keep every part locked to their commit), the caller waits for a holder
/// ([`wait_for`]) and reads again, rather than join the queue for the SKU's row: there each
/// buyer in turn would fold the parts and lend them again, locking them for the next.
pub fn claim(
    w: &mut direct::Writer,
    sku: &str,
    location: &str,
    qty: i64,
    parts: i32,
    (channel, reference): (&str, &str),
) -> Outcome<Claim> {
    let parts = i64::from(parts.max(1));
    let start = (key_hash(&[channel, reference]) % parts as u64) as i64;
    let mut busy = None;
    for i in 0..parts {
        let part = (start + i) % parts + 1;
        let taken = w.try_take(
            0,
            &direct::STOCK_PART_KEY,
            &[Key::Text(sku), Key::Text(location), Key::Int8(part)],
            &["lent", "sold", "sales"],
            |row| Ok(spi::value::<i64>(row, 1)? - spi::value::<i64>(row, 2)? >= qty),
        )?;
        match taken {
            direct::Take::Taken(locked) => {
                let sold: i64 = spi::value(&locked, 2)?;
                let sales: i64 = spi::value(&locked, 3)?;
                // When, as a change of the SKU's row records it (engine::advance_version).
                let now = unsafe { pg_sys::GetCurrentTimestamp() };
                w.update(
                    &locked,
                    &[
                        ("sold", (sold + qty).into_datum()),
                        ("sales", (sales + 1).into_datum()),
                        ("sold_at", Some(pg_sys::Datum::from(now))),
                    ],
                )?;
                return Ok(Claim::Taken);
            }
            direct::Take::Busy(Some(holder)) => {
                busy.get_or_insert(holder);
            }
            direct::Take::Busy(None) | direct::Take::Passed => {}
        }
    }
    Ok(busy.map_or(Claim::NoPart, Claim::Busy))
}

/// Waits for transaction `holder` (another's: `Writer::try_take` names only those) to end.
pub fn wait_for(holder: pg_sys::TransactionId) {
    unsafe {
        pg_sys::XactLockTableWait(
            holder,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            pg_sys::XLTW_Oper::XLTW_None,
        );
    }
}

/// FNV-1a (64 bits) of the parts, each followed by a 0 byte: every backend, of any build,
/// hashes a key alike (std's hashers may change between Rust releases).
fn key_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(std::iter::once(&0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Takes this transaction's lock on a reservation's key (channel, reference, SKU), released at
/// its end. A sale from a part does not take the SKU's row, which is what makes a second call
/// with the same key wait for the first and then get its hold (`reserve`'s retry): under
/// escrow the calls of one key meet here instead. An advisory lock of the extension's own
/// (`locktag_field4` 0x4954, where a user's advisory locks have 1 or 2), keyed by a hash of
/// the key: two keys with one hash only wait for each other.
pub fn lock_reservation(channel: &str, reference: &str, sku: &str) {
    let hash = key_hash(&[channel, reference, sku]);
    let tag = pg_sys::LOCKTAG {
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: (hash >> 32) as u32,
        locktag_field3: hash as u32,
        locktag_field4: 0x4954,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    };
    unsafe {
        pg_sys::LockAcquire(
            &tag,
            pg_sys::ExclusiveLock as pg_sys::LOCKMODE,
            false,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(location: &str, available: i64, committed: i64) -> StoredPlace {
        let mut p = StoredPlace {
            location: location.into(),
            buckets: [0; 11],
            fence_channels: vec![],
            fence_qty: vec![],
            fence_held: vec![],
            exists: true,
            tid: None,
        };
        p.buckets[Stage::available as usize] = available;
        p.buckets[Stage::committed as usize] = committed;
        p
    }

    #[test]
    fn a_key_hashes_alike_everywhere_and_its_parts_stay_apart() {
        // FNV-1a's published value for "a" (no separator): the algorithm, not a std hasher.
        let mut fnv_a: u64 = 0xcbf2_9ce4_8422_2325;
        fnv_a ^= u64::from(b'a');
        fnv_a = fnv_a.wrapping_mul(0x0000_0100_0000_01b3);
        assert_eq!(fnv_a, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            key_hash(&["web", "O-1", "SKU"]),
            key_hash(&["web", "O-1", "SKU"])
        );
        assert_ne!(
            key_hash(&["web", "O-1", "SKU"]),
            key_hash(&["web", "O-1S", "KU"])
        );
    }

    #[test]
    fn part_sales_move_units_from_available_to_committed_where_they_were_sold() {
        let mut sales = PartSales::default();
        sales.add("DC1", 3, 2, Some(20));
        sales.add("DC2", 0, 0, Some(30));
        sales.add("DC1", 1, 1, Some(10));
        assert_eq!(sales.sales, 3);
        assert_eq!(sales.units(), 4);
        // The latest sale's time; a part with no sales since its fold keeps an older one.
        assert_eq!(sales.last_sold_at, Some(20));
        let mut places = vec![place("DC1", 10, 2), place("DC2", 5, 0)];
        sales.apply(&mut places);
        assert_eq!(places[0].buckets[Stage::available as usize], 6);
        assert_eq!(places[0].buckets[Stage::committed as usize], 6);
        assert_eq!(places[1].buckets[Stage::available as usize], 5);
    }
}

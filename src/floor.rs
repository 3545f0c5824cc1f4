//! The floor and ERP functions that decide their movements from what is there: expected
//! receipts (`expect`, `cancel_expected`, `receive`), returns (`receive_return`) and pick scans
//! (`pick`). Each checks its arguments in a fixed order, takes the SKU's row, decides its rows
//! under it and applies them with the engine (`ledger::move_stock`). The one-line functions
//! (`put_away`, `ship`, ...) are in `ledger.rs`.

use pgrx::datum::{Date, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::engine::{self, Options};
use crate::error::{describe, q, units, Failure, Outcome};
use crate::hold::load_sale_places;
use crate::ledger::{
    check_code, check_qty, known_channel, known_location, known_sku, missing_sku, move_stock,
    sku_exists, Record,
};
use crate::plan::check_sale;
use crate::spi::{self, oid, Sql};
use crate::sql_function;
use crate::sqlfn::{set_returned, Call, SetResult};
use crate::stage::Stage;

static RECEIPT_LINE: Sql = Sql {
    text: "SELECT expected, open_qty, first_movement, eta - DATE '2000-01-01', eta::pg_catalog.text
             FROM inventory_truth.expected_receipt WHERE ref = $1 AND sku = $2 AND location = $3",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};
static OPEN_RECEIPTS: Sql = Sql {
    text: "SELECT ref, open_qty FROM inventory_truth.expected_receipt
            WHERE sku = $1 AND location = $2 AND open_qty > 0 AND ($3::pg_catalog.text IS NULL OR ref = $3)
            ORDER BY eta NULLS LAST, id",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};
static MOVEMENT_BY_ID: Sql = Sql {
    text: "SELECT * FROM inventory_truth.movement WHERE id = $1",
    args: &[oid::INT8],
};
static SHIPPED_HERE: Sql = Sql {
    text: "SELECT shipped FROM inventory_truth.stock WHERE sku = $1 AND location = $2",
    args: &[oid::TEXT, oid::TEXT],
};
static ORDER_CHANNELS: Sql = Sql {
    text: "SELECT DISTINCT channel FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND ($3::pg_catalog.text IS NULL OR channel = $3)",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT],
};
static ORDER_HOLDS_HERE: Sql = Sql {
    text: "SELECT open_qty FROM inventory_truth.hold
            WHERE ref = $1 AND sku = $2 AND channel = $3 AND location = $4 AND status = 'open'
              AND open_qty > 0
            ORDER BY id",
    args: &[oid::TEXT, oid::TEXT, oid::TEXT, oid::TEXT],
};

struct ReceiptLine {
    expected: i64,
    open_qty: i64,
    first_movement: Option<i64>,
    eta: Option<i32>,
    eta_text: Option<String>,
}

fn receipt_line(
    client: &mut SpiClient<'_>,
    reference: &str,
    sku: &str,
    location: &str,
) -> Outcome<Option<ReceiptLine>> {
    let rows = spi::run(
        client,
        &RECEIPT_LINE,
        &[reference.into(), sku.into(), location.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    Ok(Some(ReceiptLine {
        expected: spi::value(&row, 1)?,
        open_qty: spi::value(&row, 2)?,
        first_movement: spi::get(&row, 3)?,
        eta: spi::get(&row, 4)?,
        eta_text: spi::get(&row, 5)?,
    }))
}

fn no_receipt(reference: &str, sku: &str, location: &str) -> Failure {
    Failure::unknown(format!(
        "no expected receipt {} for {}",
        q(reference),
        describe(sku, location)
    ))
}

/// An ETA: present and a real date.
fn check_eta(eta: Option<Date>) -> Outcome<Date> {
    let eta = eta.ok_or_else(|| Failure::null("eta"))?;
    if eta.is_infinity() {
        return Err(Failure::invalid("eta must be a real date, not infinity"));
    }
    if eta.is_neg_infinity() {
        return Err(Failure::invalid("eta must be a real date, not -infinity"));
    }
    Ok(eta)
}

/// expect(sku, location, qty, ref, eta, occurred_at)
fn expect_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    let reference: Option<String> = fcinfo.arg(3);
    spi::connect(|client| {
        let sku = check_code("SKU", sku.as_deref())?;
        let location = known_location(location.as_deref())?;
        let qty = check_qty(fcinfo.arg(2), sku, location)?;
        let reference = check_code("reference", reference.as_deref())?;
        let eta = check_eta(fcinfo.arg(4))?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(5, "occurred_at")?;
        engine::lock_sku(client, sku, false, true, "")?;
        let eta_days = i32::from(eta);
        match receipt_line(client, reference, sku, location)? {
            None => {
                let mut record = Record::new(
                    sku,
                    location,
                    None,
                    Some(Stage::inbound),
                    qty,
                    Some(reference),
                    "expected receipt",
                    occurred_at,
                );
                record.eta = Some(eta_days);
                move_stock(client, &[record], &Options::default(), Some(&result))?;
                Ok(())
            }
            // A retried call returns the original movement; other content under the same
            // reference is a conflict.
            Some(line) if line.expected == qty && line.eta == Some(eta_days) => {
                if let Some(id) = line.first_movement {
                    spi::run(client, &MOVEMENT_BY_ID, &[id.into()])?;
                    unsafe {
                        let table = pg_sys::SPI_tuptable;
                        for i in 0..(*table).numvals as usize {
                            result.push_tuple(*(*table).vals.add(i));
                        }
                    }
                }
                Ok(())
            }
            Some(line) => {
                let asked_eta = spi::run(client, &DATE_TEXT, &[eta.into()])?.first();
                let asked_eta: String = spi::value(&asked_eta, 1)?;
                Err(Failure::conflict(format!(
                    "expected receipt {} for {} already exists with {} due {}",
                    q(reference),
                    describe(sku, location),
                    units(line.expected),
                    line.eta_text.as_deref().unwrap_or("(unknown)")
                ))
                .detail(format!(
                    "This call asked for {} due {}.",
                    units(qty),
                    asked_eta
                ))
                .hint(if line.expected == qty {
                    "To move the ETA, use inventory_truth.set_eta()."
                } else {
                    "Cancel the open units with cancel_expected() and expect them under a new reference."
                }))
            }
        }
    })?;
    Ok(set_returned())
}
sql_function!(
    inventory_truth_expect,
    pg_finfo_inventory_truth_expect,
    expect_call
);

static DATE_TEXT: Sql = Sql {
    text: "SELECT $1::pg_catalog.text",
    args: &[oid::DATE],
};

/// cancel_expected(sku, location, ref, qty, occurred_at)
fn cancel_expected_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    spi::connect(|client| {
        let sku = known_sku(sku.as_deref())?;
        let location = known_location(location.as_deref())?;
        let reference: String = fcinfo.required(2, "ref")?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(4, "occurred_at")?;
        let qty: Option<i64> = fcinfo.arg(3);
        if qty.is_some() {
            check_qty(qty, sku, location)?;
        }
        engine::lock_sku(client, sku, false, false, "")?;
        let line = receipt_line(client, &reference, sku, location)?
            .ok_or_else(|| no_receipt(&reference, sku, location))?;
        if qty.is_none() && line.open_qty == 0 {
            return Ok(()); // nothing left open: cancelling everything is done
        }
        move_stock(
            client,
            &[Record::new(
                sku,
                location,
                Some(Stage::inbound),
                None,
                qty.unwrap_or(line.open_qty),
                Some(&reference),
                "expected receipt cancelled",
                occurred_at,
            )],
            &Options::default(),
            Some(&result),
        )?;
        Ok(())
    })?;
    Ok(set_returned())
}
sql_function!(
    inventory_truth_cancel_expected,
    pg_finfo_inventory_truth_cancel_expected,
    cancel_expected_call
);

/// receive(sku, location, qty, ref, occurred_at): expected units (the receipt named by ref,
/// else open receipts in ETA order) move inbound -> receiving, one movement per receipt; any
/// more arrive unplanned.
fn receive_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    let reference: Option<String> = fcinfo.arg(3);
    spi::connect(|client| {
        let sku = check_code("SKU", sku.as_deref())?;
        let location = known_location(location.as_deref())?;
        let qty = check_qty(fcinfo.arg(2), sku, location)?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(4, "occurred_at")?;
        if let Some(reference) = reference.as_deref() {
            if receipt_line(client, reference, sku, location)?.is_none() {
                check_code("reference", Some(reference))?;
                return Err(no_receipt(reference, sku, location)
                    .hint("Leave ref out for an unplanned arrival."));
            }
        }
        engine::lock_sku(client, sku, false, true, "")?;
        let mut lines: Vec<(String, i64)> = Vec::new();
        let rows = spi::run(
            client,
            &OPEN_RECEIPTS,
            &[sku.into(), location.into(), reference.as_deref().into()],
        )?;
        for row in rows {
            lines.push((spi::value(&row, 1)?, spi::value(&row, 2)?));
        }
        let mut unplanned = qty;
        let mut records = Vec::new();
        for (line_ref, open) in &lines {
            if unplanned == 0 {
                break;
            }
            let drawn = (*open).min(unplanned);
            records.push(Record::new(
                sku,
                location,
                Some(Stage::inbound),
                Some(Stage::receiving),
                drawn,
                Some(line_ref),
                "arrival (planned)",
                occurred_at,
            ));
            unplanned -= drawn;
        }
        // The rest arrived all the same: the dock has it.
        if unplanned > 0 {
            records.push(Record::new(
                sku,
                location,
                None,
                Some(Stage::receiving),
                unplanned,
                reference.as_deref(),
                "arrival (unplanned)",
                occurred_at,
            ));
        }
        move_stock(client, &records, &Options::default(), Some(&result))?;
        Ok(())
    })?;
    Ok(set_returned())
}
sql_function!(
    inventory_truth_receive,
    pg_finfo_inventory_truth_receive,
    receive_call
);

/// receive_return(sku, location, qty, ref, occurred_at): shipped -> quarantine for units this
/// location shipped, outside -> quarantine for the rest.
fn receive_return_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    let reference: Option<String> = fcinfo.arg(3);
    spi::connect(|client| {
        let sku = known_sku(sku.as_deref())?;
        let location = known_location(location.as_deref())?;
        let qty = check_qty(fcinfo.arg(2), sku, location)?;
        let occurred_at: TimestampWithTimeZone = fcinfo.required(4, "occurred_at")?;
        engine::lock_sku(client, sku, false, false, "")?;
        let shipped: i64 = {
            let rows = spi::run(client, &SHIPPED_HERE, &[sku.into(), location.into()])?;
            if rows.is_empty() {
                0
            } else {
                spi::value(&rows.first(), 1)?
            }
        };
        let from_shipped = shipped.min(qty).max(0);
        let mut records = Vec::new();
        if from_shipped > 0 {
            records.push(Record::new(
                sku,
                location,
                Some(Stage::shipped),
                Some(Stage::quarantine),
                from_shipped,
                reference.as_deref(),
                "customer return",
                occurred_at,
            ));
        }
        if qty > from_shipped {
            records.push(Record::new(
                sku,
                location,
                None,
                Some(Stage::quarantine),
                qty - from_shipped,
                reference.as_deref(),
                "customer return",
                occurred_at,
            ));
        }
        move_stock(client, &records, &Options::default(), Some(&result))?;
        Ok(())
    })?;
    Ok(set_returned())
}
sql_function!(
    inventory_truth_receive_return,
    pg_finfo_inventory_truth_receive_return,
    receive_return_call
);

/// pick(sku, location, qty, ref, occurred_at, channel): for an order whose holds name a channel
/// (or with the channel given), its open holds here move committed -> picked, and units beyond
/// them are a sale for the channel, checked like a reservation; otherwise available -> picked,
/// a loss to available stock.
fn pick_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let result = fcinfo.set_result();
    let sku: Option<String> = fcinfo.arg(0);
    let location: Option<String> = fcinfo.arg(1);
    let reference: Option<String> = fcinfo.arg(3);
    let channel: Option<String> = fcinfo.arg(5);
    spi::connect(|client| {
        // Whether the SKU exists is found as its row is taken (a lookup fewer on every scan);
        // when another argument is wrong, an unknown SKU is still the error, as when the
        // arguments are checked in order.
        let sku = sku.as_deref().ok_or_else(|| Failure::null("sku"))?;
        let arguments = (|| {
            let location = known_location(location.as_deref())?;
            let qty = check_qty(fcinfo.arg(2), sku, location)?;
            let occurred_at: TimestampWithTimeZone = fcinfo.required(4, "occurred_at")?;
            if channel.is_some() {
                known_channel(channel.as_deref())?;
            }
            Ok((location, qty, occurred_at))
        })();
        let (location, qty, occurred_at) = match arguments {
            Ok(arguments) => arguments,
            Err(failure) => {
                known_sku(Some(sku))?;
                return Err(failure);
            }
        };
        let mut sale_channel = channel.clone();
        if let Some(reference) = reference.as_deref() {
            // The order's channel: given, or the one whose holds of this SKU carry the reference.
            let mut channels: Vec<String> = Vec::new();
            let rows = spi::run(
                client,
                &ORDER_CHANNELS,
                &[reference.into(), sku.into(), channel.as_deref().into()],
            )?;
            for row in rows {
                channels.push(spi::value(&row, 1)?);
            }
            channels.sort();
            if channels.len() > 1 {
                return Err(Failure::invalid(format!(
                    "reference {} names holds of SKU {} for channels {}",
                    q(reference),
                    q(sku),
                    channels.join(", ")
                ))
                .hint("Name the order's channel: pick(..., channel => ...)."));
            }
            if sale_channel.is_none() {
                sale_channel = channels.into_iter().next();
            }
        }
        let Some(sale_channel) = sale_channel else {
            // A scan for no channel: units off the shelf, a loss to available stock.
            let moved = move_stock(
                client,
                &[Record::new(
                    sku,
                    location,
                    Some(Stage::available),
                    Some(Stage::picked),
                    qty,
                    reference.as_deref(),
                    "pick scan",
                    occurred_at,
                )],
                &Options::default(),
                Some(&result),
            );
            return match moved {
                Err(_) if !sku_exists(sku)? => Err(missing_sku(sku)),
                other => other.map(|_| ()),
            };
        };
        pick_for_channel(
            client,
            sku,
            location,
            qty,
            reference.as_deref(),
            &sale_channel,
            occurred_at,
            &result,
        )
    })?;
    Ok(set_returned())
}
sql_function!(
    inventory_truth_pick,
    pg_finfo_inventory_truth_pick,
    pick_call
);

#[allow(clippy::too_many_arguments)]
fn pick_for_channel(
    client: &mut SpiClient<'_>,
    sku: &str,
    location: &str,
    qty: i64,
    reference: Option<&str>,
    channel: &str,
    occurred_at: TimestampWithTimeZone,
    result: &SetResult,
) -> Outcome<()> {
    // A pick for a channel may sell (units beyond its holds): sales of a SKU take turns on its
    // row, and the holds are read under it.
    if !engine::lock_sku(client, sku, false, false, "")? {
        return Err(missing_sku(sku));
    }
    let mut open: Vec<i64> = Vec::new();
    if let Some(reference) = reference {
        let rows = spi::run(
            client,
            &ORDER_HOLDS_HERE,
            &[
                reference.into(),
                sku.into(),
                channel.into(),
                location.into(),
            ],
        )?;
        for row in rows {
            open.push(spi::value(&row, 1)?);
        }
    }
    let mut left = qty;
    let mut records = Vec::new();
    for open_qty in open {
        if left == 0 {
            break;
        }
        let drawn = open_qty.min(left);
        records.push(
            Record::new(
                sku,
                location,
                Some(Stage::committed),
                Some(Stage::picked),
                drawn,
                reference,
                "pick scan",
                occurred_at,
            )
            .for_channel(Some(channel)),
        );
        left -= drawn;
    }
    // Units scanned for the channel beyond its holds (none left, or they ended) are a sale for
    // it, checked like a reservation: never from another channel's fence.
    if left > 0 {
        let (places, buffer) = load_sale_places(client, sku, channel)?;
        check_sale(&places, buffer, channel, sku, Some(location), left)?;
        records.push(
            Record::new(
                sku,
                location,
                Some(Stage::available),
                Some(Stage::picked),
                left,
                reference,
                if left == qty {
                    "pick scan"
                } else {
                    "pick scan beyond the hold"
                },
                occurred_at,
            )
            .for_channel(Some(channel)),
        );
    }
    move_stock(client, &records, &Options::default(), Some(result))?;
    Ok(())
}

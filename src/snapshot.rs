//! `atp_snapshot()`, the read of the resync protocol (docs/design.md §6): every SKU's ATP for one channel
//! or every channel, with its version. One pass over the SKUs, their places and their buffers in
//! key order (src/direct.rs), under one snapshot, instead of a plan that aggregated and sorted
//! them: 1.4 s for 100,000 SKUs x 3 channels with it (BENCHMARKS.md), with merge joins chosen
//! without statistics once minutes.

use pgrx::prelude::*;
use std::collections::HashMap;

use crate::direct;
use crate::error::Outcome;
use crate::ledger::known_channel;
use crate::spi;
use crate::sql_function;
use crate::sqlfn::{set_returned, Call};

/// What a snapshot needs of one SKU's places, summed over them.
#[derive(Default)]
struct Stocked {
    available: i64,
    fenced: i64,
    /// Fenced units per channel (its index in the channel list).
    own: Vec<(usize, i64)>,
}

/// A SKU as a snapshot needs it: its code, version, places' sums and own buffers (by channel
/// index).
type SkuState = (String, i64, Stocked, Vec<(usize, i64)>);

/// What a snapshot reads, under one snapshot: the channels (code, default buffer) in key order,
/// the indexes of those wanted, and every SKU in key order.
struct Snapshot {
    channels: Vec<(String, i64)>,
    wanted: Vec<usize>,
    skus: Vec<SkuState>,
}

/// `channel`'s ATP (its index in the channel list) of a SKU, as `atp()` computes it.
fn atp_of((_, _, sums, buffers): &SkuState, channel: usize, default_buffer: i64) -> i64 {
    let own = sums
        .own
        .iter()
        .find(|(i, _)| *i == channel)
        .map_or(0, |(_, q)| *q);
    let buffer = buffers
        .iter()
        .find(|(i, _)| *i == channel)
        .map_or(default_buffer, |(_, units)| *units);
    crate::fence::atp(sums.available, sums.fenced, own, buffer)
}

/// Every SKU and channel of `channel` (every channel for `None`).
fn read(channel: Option<&str>) -> Outcome<Snapshot> {
    direct::read(|reader| {
        let mut channels: Vec<(String, i64)> = Vec::new();
        reader.rows(&direct::CHANNEL_CODE, &[], &["code", "buffer"], |row| {
            channels.push((spi::value(row, 1)?, spi::value(row, 2)?));
            Ok(())
        })?;
        let index: HashMap<String, usize> = channels
            .iter()
            .enumerate()
            .map(|(i, (code, _))| (code.clone(), i))
            .collect();
        // A SKU's places, summed; in key order, the SKUs' order too.
        let mut stocked: Vec<(String, Stocked)> = Vec::new();
        reader.rows(
            &direct::STOCK_PLACE,
            &[],
            &["sku", "available", "fence_channels", "fence_qty"],
            |row| {
                let sku: String = spi::value(row, 1)?;
                if stocked.last().is_none_or(|(last, _)| *last != sku) {
                    stocked.push((sku, Stocked::default()));
                }
                let Some((_, entry)) = stocked.last_mut() else {
                    return Ok(());
                };
                entry.available += spi::value::<i64>(row, 2)?;
                let fence_qty: Vec<i64> = spi::value(row, 4)?;
                if fence_qty.is_empty() {
                    return Ok(());
                }
                let fence_channels: Vec<String> = spi::value(row, 3)?;
                for (fenced, qty) in fence_channels.iter().zip(fence_qty) {
                    entry.fenced += qty;
                    if let Some(&i) = index.get(fenced) {
                        match entry.own.iter_mut().find(|(c, _)| *c == i) {
                            Some((_, units)) => *units += qty,
                            None => entry.own.push((i, qty)),
                        }
                    }
                }
                Ok(())
            },
        )?;
        let mut buffers: HashMap<String, Vec<(usize, i64)>> = HashMap::new();
        reader.rows(
            &direct::SKU_BUFFER_KEY,
            &[],
            &["sku", "channel", "units"],
            |row| {
                let channel: String = spi::value(row, 2)?;
                if let Some(&i) = index.get(&channel) {
                    buffers
                        .entry(spi::value(row, 1)?)
                        .or_default()
                        .push((i, spi::value(row, 3)?));
                }
                Ok(())
            },
        )?;
        // Every SKU with its places' sums: stock's key order is the SKUs' (both the SKU code
        // under the same collation), so the two meet by walking both, without a lookup. Every
        // place's SKU exists (the engine creates it first).
        let mut skus: Vec<SkuState> = Vec::new();
        let mut places = stocked.into_iter().peekable();
        // Escrowed SKUs' parts sold what their stock does not show yet (src/escrow.rs).
        let mut part_sales = crate::escrow::all_part_sales(reader)?;
        reader.rows(&direct::SKU_CODE, &[], &["code", "version"], |row| {
            let code: String = spi::value(row, 1)?;
            let mut sums = match places.peek() {
                Some((sku, _)) if *sku == code => places.next().map(|(_, s)| s).unwrap_or_default(),
                _ => Stocked::default(),
            };
            let mut version: i64 = spi::value(row, 2)?;
            if let Some(sales) = part_sales.remove(&code) {
                sums.available -= sales.units();
                version += sales.sales;
            }
            let own_buffers = if buffers.is_empty() {
                Vec::new()
            } else {
                buffers.remove(&code).unwrap_or_default()
            };
            skus.push((code, version, sums, own_buffers));
            Ok(())
        })?;
        let wanted: Vec<usize> = (0..channels.len())
            .filter(|&i| channel.is_none_or(|c| channels[i].0 == c))
            .collect();
        Ok(Snapshot {
            channels,
            wanted,
            skus,
        })
    })
}

/// `atp_snapshot(channel) RETURNS SETOF channel_atp`: every SKU's ATP for the channel (every
/// channel for NULL) with its version, ordered by channel and SKU, into the query's tuplestore;
/// a SKU's code is made a text datum once for all channels.
fn atp_snapshot_call(fcinfo: Call) -> Outcome<pg_sys::Datum> {
    let channel: Option<String> = fcinfo.arg(0);
    if channel.is_some() {
        known_channel(channel.as_deref())?;
    }
    let snapshot = read(channel.as_deref())?;
    let result = fcinfo.set_result();
    let codes: Vec<pg_sys::Datum> = snapshot
        .skus
        .iter()
        .map(|(code, ..)| code.as_str().into_datum().unwrap_or(pg_sys::Datum::from(0)))
        .collect();
    let mut nulls = [false; 4];
    for &c in &snapshot.wanted {
        let (code, default_buffer) = &snapshot.channels[c];
        let channel_datum = code.as_str().into_datum().unwrap_or(pg_sys::Datum::from(0));
        for (sku, sku_datum) in snapshot.skus.iter().zip(&codes) {
            let mut values = [
                *sku_datum,
                channel_datum,
                pg_sys::Datum::from(atp_of(sku, c, *default_buffer)),
                pg_sys::Datum::from(sku.1),
            ];
            result.push(&mut values, &mut nulls)?;
        }
    }
    Ok(set_returned())
}
sql_function!(
    inventory_truth_atp_snapshot,
    pg_finfo_inventory_truth_atp_snapshot,
    atp_snapshot_call
);

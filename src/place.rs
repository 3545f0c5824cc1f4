//! What a statement's movements do to one place (a SKU at a location): its stage buckets, its
//! channel fences, the holds the movements name, its expected receipts. Pure rules, no
//! PostgreSQL: the engine (`engine.rs`) loads a place, replays the rows here, and writes back
//! what changed. Every path that moves stock (the functions and direct ledger inserts alike)
//! comes through [`replay`], so the rules live here once.
//!
//! The rows of one statement apply per place in a fixed order, whatever their order in the
//! statement (docs/reference.md, "The ledger"): rows into inbound, then out of it (receipts);
//! for fences and holds, rows into available (inflows, releases), into committed
//! (reservations), out of committed (picks and losses against holds), out of available (sales
//! and losses), each in ledger (id) order.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::error::{describe, q, units, Failure, Outcome};
use crate::fence::{fill, take_loss, targets, Rule};
use crate::stage::Stage;

/// Units per stage, indexed by `Stage as usize` (the enum's order).
pub type Buckets = [i64; 11];

/// The most units a movement, count, buffer or fence may name, and the most one location may
/// hold of one SKU over all stages: far beyond any store, and far enough below `i64::MAX` that
/// no sum over locations, stages or channels overflows.
pub const MAX_UNITS: i64 = 1_000_000_000_000;

/// One channel's share of a place's available units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub channel: String,
    /// Units fenced for the channel now.
    pub qty: i64,
    /// Units the channel's open holds here took from this fence (their `fence_qty`): still the
    /// channel's, only promised. They count against the target.
    pub held: i64,
    /// Its place in the fill order: channel priority, then code.
    pub priority: i32,
    /// The rule that sets its target here, if any (a SKU's own rule, else the every-SKU rule).
    pub rule: Option<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    Open,
    Picked,
    Released,
    Expired,
    Lost,
}

impl HoldStatus {
    pub fn label(self) -> &'static str {
        match self {
            HoldStatus::Open => "open",
            HoldStatus::Picked => "picked",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
            HoldStatus::Lost => "lost",
        }
    }

    pub fn parse(label: &str) -> Option<HoldStatus> {
        Some(match label {
            "open" => HoldStatus::Open,
            "picked" => HoldStatus::Picked,
            "released" => HoldStatus::Released,
            "expired" => HoldStatus::Expired,
            "lost" => HoldStatus::Lost,
            _ => return None,
        })
    }
}

/// A hold (docs/design.md §4) as the replay sees it: one SKU at one location for one (channel, ref).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// `None` for a hold this replay creates.
    pub id: Option<i64>,
    pub channel: String,
    pub reference: String,
    pub location: String,
    pub qty: i64,
    pub open_qty: i64,
    pub fence_qty: i64,
    pub picked_qty: i64,
    pub released_qty: i64,
    pub lost_qty: i64,
    pub status: HoldStatus,
    /// When it expires (a PostgreSQL timestamptz), if it does.
    pub expires_at: Option<i64>,
    /// A preorder's units still on their way (`None`: never a preorder; src/preorder.rs).
    pub preorder_qty: Option<i64>,
    /// A preorder's units that the stock on its way fell short of.
    pub preorder_broken: Option<i64>,
    /// A pick scan ends the expiry (of every part of the reservation).
    pub clears_expiry: bool,
    /// It had ended and takes units again: a part of a reservation that is still open.
    pub reopened: bool,
    /// The hold ended in this replay (its `ended_at` is set when written).
    pub ended: bool,
    /// Something changed: the engine writes it back.
    pub changed: bool,
}

impl Hold {
    fn new(channel: &str, reference: &str, location: &str) -> Hold {
        Hold {
            id: None,
            channel: channel.to_owned(),
            reference: reference.to_owned(),
            location: location.to_owned(),
            qty: 0,
            open_qty: 0,
            fence_qty: 0,
            picked_qty: 0,
            released_qty: 0,
            lost_qty: 0,
            status: HoldStatus::Open,
            expires_at: None,
            preorder_qty: None,
            preorder_broken: None,
            clears_expiry: false,
            reopened: false,
            ended: false,
            changed: true,
        }
    }

    /// A preorder still awaiting units: it stays open while they are on their way.
    pub fn awaits(&self) -> bool {
        self.preorder_qty.is_some_and(|q| q > 0)
    }

    /// Takes `taken` units out of the hold for good (picked, or lost): the pool units go
    /// first, so what stays held keeps its claim on the fence. Returns the change in its
    /// fenced units.
    fn consume(&mut self, taken: i64, picked: bool) -> i64 {
        let fence_before = self.fence_qty;
        self.open_qty -= taken;
        self.fence_qty = self.fence_qty.min(self.open_qty);
        if picked {
            self.picked_qty += taken;
            self.clears_expiry = true;
        } else {
            self.lost_qty += taken;
        }
        if self.open_qty == 0 && !self.awaits() {
            self.status = if picked {
                HoldStatus::Picked
            } else {
                HoldStatus::Lost
            };
            self.ended = true;
        }
        self.changed = true;
        self.fence_qty - fence_before
    }
}

/// A hold's key within one SKU: (channel, ref, location). A reservation served from several
/// locations is one hold per location under the same channel and ref.
pub type HoldKey = (String, String, String);

/// The key of `channel`'s hold for order `reference` at `location`.
pub fn hold_key(channel: &str, reference: &str, location: &str) -> HoldKey {
    (
        channel.to_owned(),
        reference.to_owned(),
        location.to_owned(),
    )
}

/// The holds a statement names or may take from, for one SKU. A key that is absent was looked
/// up and does not exist.
pub type Holds = HashMap<HoldKey, Hold>;

/// An expected receipt (PO/ASN line) of the place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// `None` for a line this replay creates.
    pub id: Option<i64>,
    pub reference: String,
    /// Days since 2000-01-01 (PostgreSQL's `date`), or none yet.
    pub eta: Option<i32>,
    pub expected: i64,
    pub open_qty: i64,
    pub first_movement: Option<i64>,
    pub changed: bool,
}

/// One ledger row, as far as the rules care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub from: Option<Stage>,
    pub to: Option<Stage>,
    pub qty: i64,
    pub channel: Option<String>,
    pub reference: Option<String>,
    /// A release that is a hold's expiry (`expire_holds`): the hold ends as `expired`.
    pub expiry: bool,
    /// The ETA of an expected receipt this row creates (`expect`); direct rows have none.
    pub eta: Option<i32>,
    /// Units a put-away in the same statement brings into the preorder the row names
    /// (available -> committed): they go to the hold before the fences fill, never from a
    /// fence (src/preorder.rs).
    pub preorder: bool,
}

impl Row {
    /// The order of the fence and hold replay: into available, into committed, out of
    /// committed, out of available (and everything else).
    fn class(&self) -> u8 {
        if self.to == Some(Stage::available) {
            0
        } else if self.to == Some(Stage::committed) {
            1
        } else if self.from == Some(Stage::committed) {
            2
        } else {
            3
        }
    }

    /// A sale for a channel: into committed (a reservation), or picked with a channel.
    fn is_sale(&self) -> bool {
        self.from == Some(Stage::available)
            && (self.to == Some(Stage::committed)
                || (self.to == Some(Stage::picked) && self.channel.is_some()))
    }
}

/// A place as loaded, and as the replay leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub sku: String,
    pub location: String,
    pub buckets: Buckets,
    /// Every channel with a rule for the SKU or fenced units here, in fill order.
    pub fences: Vec<Fence>,
    /// Expected receipts here: those the rows name, and every open one when a row draws
    /// without a reference.
    pub receipts: Vec<Receipt>,
}

/// What a replay found that the engine must act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Channels whose sales this statement made here (direct writes are judged against fences
    /// and buffers after the replay).
    pub sold: Vec<String>,
    /// Fences changed (qty or held).
    pub fences_changed: bool,
}

impl Place {
    pub fn available(&self) -> i64 {
        self.buckets[Stage::available as usize]
    }

    /// Units of available stock no channel has fenced. Below zero only while a direct sale
    /// waits for its judgement at commit.
    pub fn pool(&self) -> i64 {
        self.available() - self.fences.iter().map(|f| f.qty).sum::<i64>()
    }

    /// What `channel` may sell here before its buffer: its fence plus the pool.
    pub fn sellable(&self, channel: &str) -> i64 {
        self.pool() + self.fence(channel).map_or(0, |f| f.qty)
    }

    pub fn fence(&self, channel: &str) -> Option<&Fence> {
        self.fences.iter().find(|f| f.channel == channel)
    }

    fn fence_index(&self, channel: &str) -> Option<usize> {
        self.fences.iter().position(|f| f.channel == channel)
    }

    /// Units of every stage together.
    pub fn total(&self) -> i128 {
        self.buckets.iter().map(|&q| i128::from(q)).sum()
    }

    fn fence_targets(&self) -> Vec<i64> {
        let rules: Vec<Option<Rule>> = self.fences.iter().map(|f| f.rule.clone()).collect();
        let held: Vec<i64> = self.fences.iter().map(|f| f.held).collect();
        targets(self.available(), &rules, &held)
    }

    fn set_fences(&mut self, quantities: &[i64]) {
        for (fence, &qty) in self.fences.iter_mut().zip(quantities) {
            fence.qty = qty;
        }
    }

    fn add_held(&mut self, channel: &str, delta: i64) {
        if delta != 0 {
            if let Some(i) = self.fence_index(channel) {
                self.fences[i].held += delta;
            }
        }
    }
}

/// Sorts fences into fill order: priority, then code (so equal priorities fill in code order
/// and lose in the reverse order).
pub fn sort_fences(fences: &mut [Fence]) {
    fences.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.channel.cmp(&b.channel))
    });
}

/// Applies a statement's rows to one place: receipts, buckets, then fences and holds.
///
/// `holds` holds every hold the rows name (an absent key does not exist) and, when a row
/// takes committed units without naming a hold, the open holds of the place; `loss_order`
/// lists those open holds' keys in the order they lose units (lowest-priority channel first,
/// newest hold first). Rows must all be of this place, and valid on their own (stage rules,
/// quantities, a channel and ref where committed needs them).
pub fn replay(
    place: &mut Place,
    rows: &[Row],
    holds: &mut Holds,
    loss_order: &[HoldKey],
) -> Outcome<Replayed> {
    track_receipts(place, rows)?;
    // A row into committed creates the hold it names (open, empty) before anything applies,
    // as the hold it adds to: a release in the same statement finds it empty.
    for row in rows.iter().filter(|r| r.to == Some(Stage::committed)) {
        if let (Some(channel), Some(reference)) = (&row.channel, &row.reference) {
            open_part(place, holds, channel, reference)?;
        }
    }

    let mut ordered: Vec<&Row> = rows.iter().collect();
    ordered.sort_by(|a, b| a.class().cmp(&b.class()).then(a.id.cmp(&b.id)));

    // Buckets first: each stage's net change (the deferred check, or the function, judges a
    // bucket below zero). The fence replay then follows available from its value before.
    let mut available = place.available();
    for row in rows {
        if let Some(from) = row.from {
            place.buckets[from as usize] -= row.qty;
        }
        if let Some(to) = row.to {
            place.buckets[to as usize] += row.qty;
        }
    }
    let available_after = place.available();
    place.buckets[Stage::available as usize] = available;

    let fences_before: Vec<(i64, i64)> = place.fences.iter().map(|f| (f.qty, f.held)).collect();
    let mut replayed = Replayed::default();
    // Units the statement's put-aways bring straight into preorders: they pass the fences by.
    let preorder_units: i64 = rows.iter().filter(|r| r.preorder).map(|r| r.qty).sum();
    let mut for_preorders = preorder_units;
    for row in ordered {
        let channel = row.channel.as_deref();
        if row.from == Some(Stage::committed) {
            if let (Some(channel), Some(reference)) = (channel, row.reference.as_deref()) {
                available += named_hold_out(place, holds, row, channel, reference)?;
            } else {
                unnamed_committed_loss(place, holds, loss_order, row)?;
            }
        } else if row.to == Some(Stage::available) {
            available += row.qty;
            let passing = row.qty.min(for_preorders);
            for_preorders -= passing;
            if !place.fences.is_empty() && row.qty > passing {
                // Targets on what stays on the shelf once the preorders have their units.
                place.buckets[Stage::available as usize] = available - preorder_units;
                let fenced: Vec<i64> = place.fences.iter().map(|f| f.qty).collect();
                let after = fill(row.qty - passing, &place.fence_targets(), &fenced);
                place.set_fences(&after);
            }
            place.buckets[Stage::available as usize] = available;
        } else if row.is_sale() {
            let channel = channel.unwrap_or_default();
            let from_fence = match place.fence_index(channel).filter(|_| !row.preorder) {
                Some(i) => {
                    let taken = row.qty.min(place.fences[i].qty).max(0);
                    place.fences[i].qty -= taken;
                    taken
                }
                None => 0,
            };
            available -= row.qty;
            if !replayed.sold.iter().any(|c| c == channel) {
                replayed.sold.push(channel.to_owned());
            }
            if row.to == Some(Stage::committed) {
                let reference = row.reference.as_deref().unwrap_or_default();
                reserve_into_hold(place, holds, row, channel, reference, from_fence)?;
            }
        } else if row.from == Some(Stage::available) {
            // A loss: the pool first, then the fences, lowest priority first.
            if !place.fences.is_empty() {
                let fenced: Vec<i64> = place.fences.iter().map(|f| f.qty).collect();
                let pool = available - fenced.iter().sum::<i64>();
                place.set_fences(&take_loss(row.qty, pool, &fenced));
            }
            available -= row.qty;
        }
        place.buckets[Stage::available as usize] = available;
    }
    debug_assert_eq!(available, available_after);
    replayed.fences_changed = place
        .fences
        .iter()
        .zip(&fences_before)
        .any(|(f, &(qty, held))| f.qty != qty || f.held != held);
    Ok(replayed)
}

/// A row out of committed that names its hold: a release back to available (returns the units
/// to where they came from), or a pick or loss against it. Returns the units it adds to
/// available.
fn named_hold_out(
    place: &mut Place,
    holds: &mut Holds,
    row: &Row,
    channel: &str,
    reference: &str,
) -> Outcome<i64> {
    let key = hold_key(channel, reference, &place.location);
    let hold = match holds.get_mut(&key) {
        Some(h) if h.status == HoldStatus::Open => h,
        _ => {
            return Err(Failure::unknown(format!(
                "no open hold {} of channel {} for {}",
                q(reference),
                q(channel),
                describe(&place.sku, &place.location)
            )))
        }
    };
    if hold.open_qty < row.qty {
        return Err(Failure::insufficient(format!(
            "insufficient stock: hold {} of channel {} has {} of {} open, {} asked",
            q(reference),
            q(channel),
            units(hold.open_qty),
            q(&place.sku),
            row.qty
        )));
    }
    if row.to == Some(Stage::available) {
        // Back to the buckets the units came from: the fence part to the fence while the
        // channel is fenced here (it was not refilled meanwhile: held units count against its
        // target), the rest to the pool.
        let fenced = place
            .fence_index(channel)
            .filter(|&i| place.fences[i].rule.is_some());
        let to_fence = if fenced.is_some() {
            row.qty.min(hold.fence_qty)
        } else {
            0
        };
        let fence_before = hold.fence_qty;
        hold.open_qty -= row.qty;
        hold.fence_qty = (hold.fence_qty - to_fence).min(hold.open_qty);
        hold.released_qty += row.qty;
        if hold.open_qty == 0 && !hold.awaits() {
            hold.status = if row.expiry {
                HoldStatus::Expired
            } else {
                HoldStatus::Released
            };
            hold.ended = true;
        }
        hold.changed = true;
        let held_delta = hold.fence_qty - fence_before;
        if let Some(i) = fenced {
            place.fences[i].qty += to_fence;
        }
        place.add_held(channel, held_delta);
        Ok(row.qty)
    } else {
        let held_delta = hold.consume(row.qty, row.to == Some(Stage::picked));
        place.add_held(channel, held_delta);
        Ok(0)
    }
}

/// A loss out of committed that names no hold (damage found in a tote): it breaks open holds of
/// the place in loss order.
fn unnamed_committed_loss(
    place: &mut Place,
    holds: &mut Holds,
    loss_order: &[HoldKey],
    row: &Row,
) -> Outcome<()> {
    let mut left = row.qty;
    for key in loss_order {
        if left == 0 {
            break;
        }
        let Some(hold) = holds.get_mut(key) else {
            continue;
        };
        if hold.status != HoldStatus::Open || hold.open_qty <= 0 || hold.location != place.location
        {
            continue;
        }
        let taken = hold.open_qty.min(left);
        let held_delta = hold.consume(taken, false);
        let channel = hold.channel.clone();
        place.add_held(&channel, held_delta);
        left -= taken;
    }
    if left > 0 {
        return Err(Failure::insufficient(format!(
            "insufficient stock: the open holds of {} cover {} of the {} asked",
            describe(&place.sku, &place.location),
            units(row.qty - left),
            row.qty
        ))
        .hint("Holds made after this statement began are not counted: retry."));
    }
    Ok(())
}

/// Makes the hold that a row into committed names at this place ready to take units: a new
/// one, or the one here. A reservation is one hold per location it is served from (its parts),
/// and it has ended when none of them is open: then it takes nothing more (`IT004`, anywhere).
/// While one part is open, a part that ended takes units again, and a new part starts with the
/// reservation's expiry.
fn open_part(place: &Place, holds: &mut Holds, channel: &str, reference: &str) -> Outcome<()> {
    let key = hold_key(channel, reference, &place.location);
    let here = holds.get(&key);
    if here.is_some_and(|h| h.status == HoldStatus::Open) {
        return Ok(());
    }
    let elsewhere = || {
        holds
            .values()
            .filter(move |h| h.channel == channel && h.reference == reference)
            .filter(|h| h.location != place.location)
    };
    let open_elsewhere = elsewhere().find(|h| h.status == HoldStatus::Open);
    if open_elsewhere.is_none() && (here.is_some() || elsewhere().next().is_some()) {
        let ended = here.or_else(|| elsewhere().next());
        let (qty, status) = ended.map_or((0, HoldStatus::Released), |h| (h.qty, h.status));
        return Err(Failure::conflict(format!(
            "hold {} of channel {} for SKU {} has ended ({}, {})",
            q(reference),
            q(channel),
            q(&place.sku),
            units(qty),
            status.label()
        ))
        .hint("Reserve under another reference."));
    }
    let inherited = open_elsewhere.and_then(|h| h.expires_at);
    let hold = holds.entry(key).or_insert_with(|| {
        let mut hold = Hold::new(channel, reference, &place.location);
        hold.expires_at = inherited;
        hold
    });
    if hold.status != HoldStatus::Open {
        hold.status = HoldStatus::Open;
        hold.ended = false;
        hold.reopened = true;
        hold.changed = true;
    }
    Ok(())
}

/// A reservation's units into the hold it names at this place (see [`open_part`]).
fn reserve_into_hold(
    place: &mut Place,
    holds: &mut Holds,
    row: &Row,
    channel: &str,
    reference: &str,
    from_fence: i64,
) -> Outcome<()> {
    open_part(place, holds, channel, reference)?;
    let hold = holds
        .get_mut(&hold_key(channel, reference, &place.location))
        .ok_or_else(|| Failure::internal("inventory_truth: an opened hold went missing"))?;
    if row.preorder {
        let awaited = hold.preorder_qty.unwrap_or(0);
        if awaited < row.qty {
            return Err(Failure::internal(format!(
                "inventory_truth: a put-away brings {} into preorder {} of channel {}, which awaits {}",
                units(row.qty),
                q(reference),
                q(channel),
                units(awaited)
            )));
        }
        hold.preorder_qty = Some(awaited - row.qty);
    }
    hold.qty += row.qty;
    hold.open_qty += row.qty;
    hold.fence_qty += from_fence;
    hold.changed = true;
    place.add_held(channel, from_fence);
    Ok(())
}

/// Units on their way to the place: open receipts with an ETA, and stock in receiving and QC
/// (`place.receipts` must hold every open receipt of the place).
pub fn incoming(place: &Place) -> i64 {
    let expected: i64 = place
        .receipts
        .iter()
        .filter(|r| r.eta.is_some())
        .map(|r| r.open_qty)
        .sum();
    expected
        + place.buckets[Stage::receiving as usize]
        + place.buckets[Stage::quality_control as usize]
}

/// Breaks the preorders of the place that its incoming stock can no longer serve, newest
/// first (src/preorder.rs): `awaiting` are the keys of its open preorders, loaded into `holds`.
/// A preorder left with nothing awaited or held ends as lost.
pub fn break_preorders(place: &Place, holds: &mut Holds, awaiting: &[HoldKey]) {
    let claims: Vec<(i64, i64)> = awaiting
        .iter()
        .filter_map(|key| holds.get(key))
        .filter_map(|h| Some((h.id?, h.preorder_qty.unwrap_or(0))))
        .collect();
    for (id, lost) in crate::preorder::breaks(incoming(place), &claims) {
        let Some(hold) = holds.values_mut().find(|h| h.id == Some(id)) else {
            continue;
        };
        hold.preorder_qty = Some(hold.preorder_qty.unwrap_or(0) - lost);
        hold.preorder_broken = Some(hold.preorder_broken.unwrap_or(0) + lost);
        if hold.preorder_qty == Some(0) && hold.open_qty == 0 && hold.status == HoldStatus::Open {
            hold.status = HoldStatus::Lost;
            hold.ended = true;
        }
        hold.changed = true;
    }
}

/// A pick scan ends a reservation's expiry: every part of a reservation that a pick scanned
/// stops expiring (they expire together, or not at all).
pub fn end_expiry_of_picked(holds: &mut Holds) {
    let picked: Vec<(String, String)> = holds
        .values()
        .filter(|h| h.clears_expiry)
        .map(|h| (h.channel.clone(), h.reference.clone()))
        .collect();
    for hold in holds.values_mut() {
        if !hold.clears_expiry
            && hold.expires_at.is_some()
            && picked
                .iter()
                .any(|(c, r)| *c == hold.channel && *r == hold.reference)
        {
            hold.clears_expiry = true;
            hold.changed = true;
        }
    }
}

/// Keeps expected receipts in step with the rows into and out of inbound: into inbound first,
/// then out of it, each in ledger order (a row may draw from a receipt a later row of the same
/// statement creates). Open receipts always add up to the inbound bucket.
fn track_receipts(place: &mut Place, rows: &[Row]) -> Outcome<()> {
    let mut inbound: Vec<&Row> = rows
        .iter()
        .filter(|r| r.to == Some(Stage::inbound) || r.from == Some(Stage::inbound))
        .collect();
    inbound.sort_by(|a, b| {
        let into = |r: &Row| r.to != Some(Stage::inbound);
        into(a).cmp(&into(b)).then(a.id.cmp(&b.id))
    });
    for row in inbound {
        if row.to == Some(Stage::inbound) {
            let reference = row.reference.as_deref().unwrap_or_default();
            match place.receipts.iter_mut().find(|r| r.reference == reference) {
                Some(line) => {
                    line.expected += row.qty;
                    line.open_qty += row.qty;
                    line.first_movement = line.first_movement.or(Some(row.id));
                    line.changed = true;
                }
                None => place.receipts.push(Receipt {
                    id: None,
                    reference: reference.to_owned(),
                    eta: row.eta,
                    expected: row.qty,
                    open_qty: row.qty,
                    first_movement: Some(row.id),
                    changed: true,
                }),
            }
        } else if let Some(reference) = row.reference.as_deref() {
            let (sku, location) = (place.sku.clone(), place.location.clone());
            let Some(line) = place.receipts.iter_mut().find(|r| r.reference == reference) else {
                return Err(Failure::unknown(format!(
                    "no expected receipt {} for {}",
                    q(reference),
                    describe(&sku, &location)
                )));
            };
            if line.open_qty < row.qty {
                return Err(Failure::insufficient(format!(
                    "insufficient stock: expected receipt {} for {} has {} open, {} asked",
                    q(reference),
                    describe(&sku, &location),
                    units(line.open_qty),
                    row.qty
                )));
            }
            line.open_qty -= row.qty;
            line.changed = true;
        } else {
            // Without a reference: the open receipts in ETA order (none last), then id order
            // (lines created by this statement last).
            let mut order: Vec<usize> = (0..place.receipts.len())
                .filter(|&i| place.receipts[i].open_qty > 0)
                .collect();
            order.sort_by(|&a, &b| eta_order(&place.receipts[a], &place.receipts[b]));
            let mut left = row.qty;
            for i in order {
                if left == 0 {
                    break;
                }
                let line = &mut place.receipts[i];
                let drawn = line.open_qty.min(left);
                line.open_qty -= drawn;
                line.changed = true;
                left -= drawn;
            }
            if left > 0 {
                return Err(Failure::insufficient(format!(
                    "insufficient stock: the expected receipts of {} have {} open, {} asked",
                    describe(&place.sku, &place.location),
                    units(row.qty - left),
                    row.qty
                )));
            }
        }
    }
    Ok(())
}

fn eta_order(a: &Receipt, b: &Receipt) -> Ordering {
    let eta = |r: &Receipt| (r.eta.is_none(), r.eta);
    let id = |r: &Receipt| (r.id.is_none(), r.id);
    eta(a).cmp(&eta(b)).then(id(a).cmp(&id(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fence::Percent;
    use Stage::*;

    fn place(units: i64, fences: Vec<Fence>) -> Place {
        let mut buckets = [0; 11];
        buckets[Stage::available as usize] = units;
        Place {
            sku: "TEE".into(),
            location: "DC1".into(),
            buckets,
            fences,
            receipts: vec![],
        }
    }

    fn fence(channel: &str, priority: i32, qty: i64, rule: Option<Rule>) -> Fence {
        Fence {
            channel: channel.into(),
            qty,
            held: 0,
            priority,
            rule,
        }
    }

    fn row(id: i64, from: Option<Stage>, to: Option<Stage>, qty: i64) -> Row {
        Row {
            id,
            from,
            to,
            qty,
            channel: None,
            reference: None,
            expiry: false,
            eta: None,
            preorder: false,
        }
    }

    fn named(mut r: Row, channel: &str, reference: &str) -> Row {
        r.channel = Some(channel.into());
        r.reference = Some(reference.into());
        r
    }

    fn run(p: &mut Place, rows: &[Row], holds: &mut Holds) -> Outcome<Replayed> {
        replay(p, rows, holds, &[])
    }

    fn key(channel: &str, reference: &str) -> HoldKey {
        hold_key(channel, reference, "DC1")
    }

    #[test]
    fn a_reservation_takes_the_channels_fence_then_the_pool() {
        // 10 on the shelf, Amazon fenced 4: a hold of 6 takes the 4, then 2 of the pool.
        let mut p = place(10, vec![fence("amazon", 10, 4, Some(Rule::Units(4)))]);
        let mut holds = Holds::new();
        let rows = [named(
            row(1, Some(available), Some(committed), 6),
            "amazon",
            "A-1",
        )];
        let r = run(&mut p, &rows, &mut holds).expect("reserved");
        assert_eq!(r.sold, vec!["amazon".to_string()]);
        assert_eq!(p.buckets[available as usize], 4);
        assert_eq!(p.buckets[committed as usize], 6);
        assert_eq!((p.fences[0].qty, p.fences[0].held), (0, 4));
        let h = &holds[&key("amazon", "A-1")];
        assert_eq!((h.qty, h.open_qty, h.fence_qty, h.id), (6, 6, 4, None));
    }

    #[test]
    fn a_release_returns_units_to_the_fence_they_came_from() {
        let mut p = place(10, vec![fence("amazon", 10, 4, Some(Rule::Units(4)))]);
        let mut holds = Holds::new();
        run(
            &mut p,
            &[named(
                row(1, Some(available), Some(committed), 6),
                "amazon",
                "A-1",
            )],
            &mut holds,
        )
        .expect("reserved");
        run(
            &mut p,
            &[named(
                row(2, Some(committed), Some(available), 6),
                "amazon",
                "A-1",
            )],
            &mut holds,
        )
        .expect("released");
        assert_eq!((p.fences[0].qty, p.fences[0].held), (4, 0));
        assert_eq!(p.pool(), 6);
        let h = &holds[&key("amazon", "A-1")];
        assert_eq!(
            (h.open_qty, h.released_qty, h.status),
            (0, 6, HoldStatus::Released)
        );
        assert!(h.ended);
    }

    #[test]
    fn a_partial_pick_gives_up_pool_units_first() {
        let mut p = place(10, vec![fence("amazon", 10, 4, Some(Rule::Units(4)))]);
        let mut holds = Holds::new();
        run(
            &mut p,
            &[named(
                row(1, Some(available), Some(committed), 6),
                "amazon",
                "A-1",
            )],
            &mut holds,
        )
        .expect("reserved");
        run(
            &mut p,
            &[named(
                row(2, Some(committed), Some(picked), 3),
                "amazon",
                "A-1",
            )],
            &mut holds,
        )
        .expect("picked");
        let h = &holds[&key("amazon", "A-1")];
        assert_eq!((h.open_qty, h.fence_qty, h.picked_qty), (3, 3, 3));
        assert!(h.clears_expiry);
        assert_eq!(p.fences[0].held, 3);
    }

    #[test]
    fn an_inflow_fills_fences_against_targets_less_what_is_held() {
        // Amazon 50%, holding 2 of its fence: 10 arrive on an empty shelf, target 5 - 2 = 3.
        let mut f = fence(
            "amazon",
            10,
            0,
            Some(Rule::Percent(Percent::parse("50").unwrap())),
        );
        f.held = 2;
        let mut p = place(0, vec![f]);
        run(
            &mut p,
            &[row(1, Some(receiving), Some(available), 10)],
            &mut Holds::new(),
        )
        .expect("put away");
        assert_eq!(p.fences[0].qty, 3);
        assert_eq!(p.pool(), 7);
    }

    #[test]
    fn a_put_away_fills_preorders_before_fences() {
        // 10 available, wholesale fenced 50% (5). 6 are put away, 4 of them into preorder P.
        let mut p = place(
            10,
            vec![fence(
                "wholesale",
                30,
                5,
                Some(Rule::Percent(Percent::parse("50").unwrap())),
            )],
        );
        let mut holds = Holds::new();
        let mut preorder = Hold::new("web", "P", "DC1");
        preorder.id = Some(7);
        preorder.preorder_qty = Some(4);
        preorder.changed = false;
        holds.insert(key("web", "P"), preorder);
        let mut into = named(
            row(2, Some(Stage::available), Some(Stage::committed), 4),
            "web",
            "P",
        );
        into.preorder = true;
        run(
            &mut p,
            &[
                row(1, Some(Stage::receiving), Some(Stage::available), 6),
                into,
            ],
            &mut holds,
        )
        .unwrap();
        // 12 stay on the shelf: the fence's target is 6, the pool 6; the preorder holds 4.
        assert_eq!(p.available(), 12);
        assert_eq!(p.fence("wholesale").unwrap().qty, 6);
        let held = &holds[&key("web", "P")];
        assert_eq!(
            (held.open_qty, held.preorder_qty, held.fence_qty),
            (4, Some(0), 0)
        );
    }

    #[test]
    fn a_shortfall_breaks_the_newest_preorders_and_ends_the_empty_ones() {
        // 2 on the dock and a receipt of 3 due; preorders await 3 (id 4) and 2 (id 9).
        let mut p = place(0, vec![]);
        p.buckets[Stage::receiving as usize] = 2;
        p.receipts.push(Receipt {
            id: Some(1),
            reference: "PO-1".into(),
            eta: Some(9000),
            expected: 3,
            open_qty: 1,
            first_movement: Some(1),
            changed: true,
        });
        let mut holds = Holds::new();
        for (id, reference, awaited) in [(4, "OLD", 3), (9, "NEW", 2)] {
            let mut h = Hold::new("web", reference, "DC1");
            h.id = Some(id);
            h.preorder_qty = Some(awaited);
            holds.insert(key("web", reference), h);
        }
        let awaiting = vec![key("web", "OLD"), key("web", "NEW")];
        // 3 are coming (the receipt's open 1 and the 2 on the dock), 5 awaited: NEW loses both.
        break_preorders(&p, &mut holds, &awaiting);
        let new = &holds[&key("web", "NEW")];
        assert_eq!((new.preorder_qty, new.preorder_broken), (Some(0), Some(2)));
        assert_eq!(new.status, HoldStatus::Lost);
        assert_eq!(holds[&key("web", "OLD")].preorder_broken, None);
        // The dock's units are damaged: OLD loses 2 of its 3, and stays open for the last one.
        p.buckets[Stage::receiving as usize] = 0;
        break_preorders(&p, &mut holds, &awaiting);
        let old = &holds[&key("web", "OLD")];
        assert_eq!((old.preorder_qty, old.preorder_broken), (Some(1), Some(2)));
        assert_eq!(old.status, HoldStatus::Open);
    }

    #[test]
    fn a_loss_takes_the_pool_then_the_lowest_priority_fence() {
        let mut p = place(
            10,
            vec![
                fence("amazon", 10, 3, Some(Rule::Units(3))),
                fence("wholesale", 30, 3, Some(Rule::Units(3))),
            ],
        );
        run(
            &mut p,
            &[row(1, Some(available), Some(damaged), 6)],
            &mut Holds::new(),
        )
        .expect("damage");
        assert_eq!(p.pool(), 0);
        assert_eq!((p.fences[0].qty, p.fences[1].qty), (3, 1));
    }

    #[test]
    fn a_statement_applies_releases_before_reservations_whatever_the_row_order() {
        let mut p = place(0, vec![]);
        let mut holds = Holds::new();
        p.buckets[committed as usize] = 2;
        let mut old = Hold::new("web", "W-1", "DC1");
        (old.qty, old.open_qty, old.id, old.changed) = (2, 2, Some(7), false);
        holds.insert(key("web", "W-1"), old);
        let rows = [
            named(row(1, Some(available), Some(committed), 2), "web", "W-2"),
            named(row(2, Some(committed), Some(available), 2), "web", "W-1"),
        ];
        run(&mut p, &rows, &mut holds).expect("both apply");
        assert_eq!(holds[&key("web", "W-1")].status, HoldStatus::Released);
        assert_eq!(holds[&key("web", "W-2")].open_qty, 2);
        assert_eq!(p.buckets[committed as usize], 2);
        assert_eq!(p.available(), 0);
    }

    #[test]
    fn a_release_cannot_take_what_the_same_statement_reserves() {
        let mut p = place(5, vec![]);
        let rows = [
            named(row(1, Some(available), Some(committed), 2), "web", "W-7"),
            named(row(2, Some(committed), Some(available), 2), "web", "W-7"),
        ];
        let err = run(&mut p, &rows, &mut Holds::new()).expect_err("refused");
        assert_eq!(err.state.as_str(), "IT001");
        assert!(
            err.message.contains("has 0 units of \"TEE\" open"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_hold_ended_here_is_a_conflict_and_one_elsewhere_a_part_of_the_same_order() {
        let mut holds = Holds::new();
        let mut elsewhere = Hold::new("web", "W-1", "DC2");
        (
            elsewhere.qty,
            elsewhere.open_qty,
            elsewhere.id,
            elsewhere.changed,
        ) = (2, 2, Some(3), false);
        holds.insert(hold_key("web", "W-1", "DC2"), elsewhere);
        let into = |qty| named(row(1, Some(available), Some(committed), qty), "web", "W-1");
        run(&mut place(5, vec![]), &[into(1)], &mut holds).expect("a part at DC1");
        assert_eq!(holds[&key("web", "W-1")].open_qty, 1);
        assert_eq!(holds[&hold_key("web", "W-1", "DC2")].open_qty, 2);

        let mut ended = Hold::new("web", "W-2", "DC1");
        (ended.qty, ended.status, ended.id, ended.changed) =
            (1, HoldStatus::Released, Some(4), false);
        holds.insert(key("web", "W-2"), ended);
        let err = run(
            &mut place(5, vec![]),
            &[named(
                row(2, Some(available), Some(committed), 1),
                "web",
                "W-2",
            )],
            &mut holds,
        )
        .expect_err("conflict");
        assert_eq!(err.state.as_str(), "IT004");
    }

    #[test]
    fn damage_in_a_tote_breaks_holds_in_loss_order() {
        let mut p = place(0, vec![]);
        p.buckets[committed as usize] = 5;
        let mut holds = Holds::new();
        for (channel, reference, qty, id) in [("web", "W", 3, 1), ("amazon", "A", 2, 2)] {
            let mut h = Hold::new(channel, reference, "DC1");
            (h.qty, h.open_qty, h.id, h.changed) = (qty, qty, Some(id), false);
            holds.insert(key(channel, reference), h);
        }
        // web is the lowest priority: it loses first.
        let order = [key("web", "W"), key("amazon", "A")];
        replay(
            &mut p,
            &[row(1, Some(committed), Some(damaged), 4)],
            &mut holds,
            &order,
        )
        .expect("damage");
        assert_eq!(holds[&key("web", "W")].status, HoldStatus::Lost);
        assert_eq!(holds[&key("amazon", "A")].open_qty, 1);
        let err = replay(
            &mut p,
            &[row(2, Some(committed), Some(damaged), 2)],
            &mut holds,
            &order,
        )
        .expect_err("only 1 left");
        assert_eq!(err.state.as_str(), "IT001");
    }

    #[test]
    fn receipts_draw_by_reference_or_in_eta_order() {
        let mut p = place(0, vec![]);
        let line = |id, reference: &str, eta, open| Receipt {
            id: Some(id),
            reference: reference.into(),
            eta,
            expected: open,
            open_qty: open,
            first_movement: None,
            changed: false,
        };
        p.receipts = vec![
            line(1, "PO-1", Some(20), 5),
            line(2, "PO-2", Some(10), 5),
            line(3, "PO-3", None, 5),
        ];
        p.buckets[inbound as usize] = 15;
        // Without a reference: PO-2 (earliest ETA) first, then PO-1.
        run(
            &mut p,
            &[row(1, Some(inbound), Some(receiving), 7)],
            &mut Holds::new(),
        )
        .expect("arrival");
        let open: Vec<i64> = p.receipts.iter().map(|r| r.open_qty).collect();
        assert_eq!(open, vec![3, 0, 5]);
        let err = run(
            &mut p,
            &[named(
                row(2, Some(inbound), Some(receiving), 4),
                "x",
                "PO-1",
            )],
            &mut Holds::new(),
        )
        .expect_err("3 open");
        assert_eq!(err.state.as_str(), "IT001");
        // Into inbound before out of it, whatever the order: a new line can be drawn from.
        let mut with_ref = row(3, Some(inbound), None, 2);
        with_ref.reference = Some("PO-9".into());
        let mut into = row(4, None, Some(inbound), 2);
        into.reference = Some("PO-9".into());
        run(&mut p, &[with_ref, into], &mut Holds::new()).expect("created, then cancelled");
        let po9 = p.receipts.iter().find(|r| r.reference == "PO-9").unwrap();
        assert_eq!(
            (po9.expected, po9.open_qty, po9.first_movement),
            (2, 0, Some(4))
        );
    }
}

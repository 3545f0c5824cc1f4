//! A randomized workload for the fault tests: clients issuing a random mix of every operation
//! of the public API (and direct ledger writes), each in an explicit transaction, counting what
//! the server acknowledged. A unit counts as created or destroyed only by movements from or to
//! outside the system; each client adds up, per SKU, the units its acknowledged calls brought
//! in and took out, so that after the run the stock on the books can be checked against what
//! clients were told, independently of the ledger.
//!
//! When the server goes away mid-call (a crash), the client stops and records the call it had
//! in flight: its outcome is unknown, so the checks allow either.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, Row};

use crate::{connect, Lcg};

pub const LOCATIONS: [&str; 2] = ["DC1", "DC2"];
pub const CHANNELS: [&str; 3] = ["web", "amazon", "wholesale"];
pub const SKUS: [&str; 6] = ["HOT", "T1", "T2", "T3", "T4", "T5"];
/// Units put away per SKU and location before the load.
pub const INITIAL_STOCK: i64 = 40;

/// The store every fault test starts from: two locations, three channels (Amazon ringfenced
/// 30%, wholesale walled off at 2 units per SKU, web with a buffer), stock at both locations.
pub async fn set_up_store(db: &Client) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('web', 10, 1), inventory_truth.add_channel('amazon', 20),
                inventory_truth.add_channel('wholesale', 30, 0, 'wholesale');
         SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 30);
         SELECT inventory_truth.set_ringfence('wholesale', NULL, units => 2);",
    )
    .await?;
    for sku in SKUS {
        for location in LOCATIONS {
            crate::shelve(db, sku, location, INITIAL_STOCK).await?;
        }
    }
    // The hot SKU escrowed from the start (docs/design.md §12; 0.2.0 on: the upgrade test loads
    // a released version first); the mix turns escrow on and off.
    db.batch_execute(
        "DO $$ BEGIN
             IF pg_catalog.to_regproc('inventory_truth.set_escrow') IS NOT NULL THEN
                 PERFORM inventory_truth.set_escrow('HOT', 4);
             END IF;
         END $$",
    )
    .await?;
    Ok(())
}

/// Per SKU: the least and most units a call may have brought in (negative: sent out).
pub type Bounds = Vec<(String, i64, i64)>;
/// A call whose connection died before its outcome was known: its name and bounds.
pub type InFlight = (&'static str, Bounds);

/// A movement as its call returned it: (sku, location, from stage, to stage, qty).
pub type MovementRow = (String, String, Option<String>, Option<String>, i64);

/// What one client was told by the server.
#[derive(Default, Debug)]
pub struct Tally {
    /// Movements from or to outside that committed calls returned: id -> (SKU, units in, or
    /// out when negative). By id: an idempotent retry (a count submitted twice with the same
    /// number) returns the movements of the first call again.
    pub crossings: HashMap<i64, (String, i64)>,
    /// Holds whose reservation committed: (channel, ref, sku, hold id).
    pub holds: Vec<(String, String, String, i64)>,
    /// Every movement a committed call returned: id -> (sku, location, from, to, qty).
    pub movements: HashMap<i64, MovementRow>,
    /// Calls cut off before their COMMIT was sent (so certainly not committed) that carried a
    /// reference of their own: nothing may carry it after recovery.
    pub not_committed: Vec<(&'static str, String)>,
    /// Calls that found nothing to act on (no open hold to release or pick, no open task).
    pub idle: BTreeMap<&'static str, u64>,
    /// Single-SKU reservations whose outcome the client never learned (the connection died):
    /// (channel, ref, sku, qty), for a retry after recovery, as a checkout would.
    pub unanswered_reserves: Vec<(String, String, String, i64)>,
    /// Reservations this client rolled back itself: (channel, ref).
    pub rolled_back: Vec<(String, String)>,
    /// The call in flight when the connection died: its name and, per SKU, the least and most
    /// it may have added to `net` had it committed.
    pub in_flight: Option<InFlight>,
    /// Committed calls per operation.
    pub done: BTreeMap<&'static str, u64>,
    /// Refusals per operation and SQLSTATE.
    pub refused: BTreeMap<(&'static str, String), u64>,
    /// Errors that no refusal rule allows: (operation, error). The tests require none.
    pub unexpected: Vec<(&'static str, String)>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.crossings.extend(other.crossings);
        self.holds.extend(other.holds);
        self.movements.extend(other.movements);
        self.not_committed.extend(other.not_committed);
        self.unanswered_reserves.extend(other.unanswered_reserves);
        for (op, n) in other.idle {
            *self.idle.entry(op).or_default() += n;
        }
        self.rolled_back.extend(other.rolled_back);
        for (op, n) in other.done {
            *self.done.entry(op).or_default() += n;
        }
        for (key, n) in other.refused {
            *self.refused.entry(key).or_default() += n;
        }
        self.unexpected.extend(other.unexpected);
    }
}

/// Whether an error means the server or the connection went away (the call's fate is unknown)
/// rather than a refusal.
pub fn is_lost_connection(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // admin_shutdown, crash_shutdown, cannot_connect_now, and connection exceptions
        Some(code) => {
            matches!(code.code(), "57P01" | "57P02" | "57P03") || code.code().starts_with("08")
        }
        None => true,
    }
}

/// One call: the SQL, how to read its rows, and which SQLSTATEs are legitimate refusals.
struct Call {
    op: &'static str,
    sql: String,
    params: Vec<Param>,
    /// The SQLSTATEs that refuse this call without anything being wrong (not enough stock, a
    /// breached fence, a count that a concurrent pick made impossible, ...).
    refusals: &'static [&'static str],
    /// A reference only this call uses: if the call is cut off before its COMMIT, nothing may
    /// carry it after recovery.
    unique_ref: Option<String>,
    /// Whether the call picks its target (an open hold, an open task) and does nothing when
    /// there is none: then it counts as idle, not committed.
    needs_rows: bool,
    effect: Effect,
}

enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bool(bool),
}

enum Effect {
    /// Rows (sku, from outside, to outside, qty) of the movements the call recorded.
    Movements,
    /// A reservation: rows (hold, sku) of (channel, ref); rolled back instead when `keep` is false.
    Reserve {
        channel: String,
        reference: String,
        keep: bool,
        /// The units and SKU of a single-SKU reservation (0 and empty for an order): a later
        /// call may retry it.
        qty: i64,
        sku: String,
    },
    /// A retry of a committed reservation with the same quantity: the same hold must come back.
    Retry { hold: i64 },
    /// Nothing the tally follows.
    Other,
}

/// What a movement-returning function's rows are read as.
fn movements_of(call: &str) -> String {
    format!(
        "SELECT m.id, m.sku, m.from_stage IS NULL, m.to_stage IS NULL, m.qty, m.location,
                m.from_stage::text, m.to_stage::text FROM {call} m"
    )
}

fn text(s: &str) -> Param {
    Param::Text(s.to_owned())
}

fn random_call(
    rng: &mut Lcg,
    client: u64,
    n: u64,
    receipts: &mut Vec<(String, String, String)>,
    reserved: &[(String, String, String, i64, i64)],
    changes_holds: bool,
) -> Call {
    let sku = SKUS[if rng.next(3) == 0 {
        0
    } else {
        rng.next(SKUS.len() as u64) as usize
    }]
    .to_owned();
    let location = LOCATIONS[rng.next(2) as usize].to_owned();
    let channel = CHANNELS[rng.next(3) as usize].to_owned();
    let reference = format!("c{client}-{n}");
    let qty = 1 + rng.next(3) as i64;
    let none = |op, sql: String, params, refusals| Call {
        op,
        sql,
        params,
        refusals,
        unique_ref: None,
        needs_rows: false,
        effect: Effect::Other,
    };
    let moves = |op, call: &str, params, refusals, unique_ref| Call {
        op,
        sql: movements_of(call),
        params,
        refusals,
        unique_ref,
        needs_rows: false,
        effect: Effect::Movements,
    };
    match rng.next(116) {
        0..=29 => {
            let ttl = if rng.next(3) == 0 { Some("1 second".to_owned()) } else { None };
            let keep = rng.next(10) != 0;
            // From 0.2.0 on, any way of splitting over the locations.
            let (sql, mut params) = (
                "SELECT inventory_truth.reserve($1, $2, $3, $4, $5::text::interval), $2".to_owned(),
                vec![text(&channel), text(&sku), Param::Int(qty), text(&reference), Param::OptText(ttl)],
            );
            let sql = if changes_holds {
                params.push(text(["most_stock", "priority", "none"][rng.next(3) as usize]));
                "SELECT inventory_truth.reserve($1, $2, $3, $4, $5::text::interval, split => $6), $2".to_owned()
            } else {
                sql
            };
            Call {
                op: "reserve",
                sql,
                params,
                                refusals: &["IT001"],
                unique_ref: Some(reference.clone()),
                needs_rows: false,
                effect: Effect::Reserve { channel, reference, keep, qty, sku: sku.clone() },
            }
        }
        30..=34 => {
            let other = SKUS[rng.next(SKUS.len() as u64) as usize];
            let lines = format!(r#"[{{"sku": "{sku}", "qty": {qty}}}, {{"sku": "{other}", "qty": 1}}]"#);
            Call {
                op: "reserve_order",
                sql: "SELECT hold, sku FROM inventory_truth.reserve_order($1, $2, $3::text::jsonb)".to_owned(),
                params: vec![text(&channel), text(&reference), Param::Text(lines)],
                // 22023: the random basket named one SKU twice.
                                refusals: &["IT001", "22023"],
                unique_ref: Some(reference.clone()),
                needs_rows: false,
                effect: Effect::Reserve { channel, reference, keep: true, qty: 0, sku: String::new() },
            }
        }
                35..=41 => Call { needs_rows: true, ..none(
            "release",
            // One of the store's open holds, whoever made it: a checkout abandoned.
            "SELECT inventory_truth.release(h.channel, h.ref)
               FROM (SELECT channel, ref FROM inventory_truth.hold WHERE status = 'open'
                      ORDER BY id DESC LIMIT 1 OFFSET $1) h"
                .to_owned(),
                        vec![Param::Int(rng.next(20) as i64)],
            &[],
        ) },
        42..=49 => Call { needs_rows: true, ..moves(
            "pick (order)",
            "(SELECT h.* FROM inventory_truth.hold h WHERE h.status = 'open' AND h.open_qty > 0
                ORDER BY h.id LIMIT 1 OFFSET $1) h,
             inventory_truth.pick(h.sku, h.location, h.open_qty, h.ref, channel => h.channel)",
            vec![Param::Int(rng.next(20) as i64)],
            // IT001: the hold ended between the read and the scan, and the channel cannot
            // promise the units as a new sale.
                        &["IT001"],
            None,
        ) },
        50..=51 => moves(
            "pick (unplanned)",
            "inventory_truth.pick($1, $2, $3)",
            vec![text(&sku), text(&location), Param::Int(1)],
            &["IT001"],
            None,
        ),
        52..=56 => moves(
            "ship",
            "inventory_truth.ship($1, $2, $3)",
            vec![text(&sku), text(&location), Param::Int(qty)],
            &["IT001"],
            None,
        ),
        57 => moves(
            "put_back",
            "inventory_truth.put_back($1, $2, 1)",
            vec![text(&sku), text(&location)],
            &["IT001"],
            None,
        ),
        58..=59 => {
            let from = ["available", "committed", "picked"][rng.next(3) as usize];
            moves(
                "report_damage",
                "inventory_truth.report_damage($1, $2, 1, $3::text::inventory_truth.stage)",
                vec![text(&sku), text(&location), text(from)],
                &["IT001"],
                None,
            )
        }
        60..=61 => moves(
            "receive_return",
            "inventory_truth.receive_return($1, $2, $3, $4)",
                        vec![text(&sku), text(&location), Param::Int(qty), text(&reference)],
            &[],
            Some(reference.clone()),
        ),
        62..=63 => moves(
            "inspect_return",
            "inventory_truth.inspect_return($1, $2, 1, $3)",
            vec![text(&sku), text(&location), Param::Bool(rng.next(3) != 0)],
            &["IT001"],
            None,
        ),
        64 => moves(
            "write_off",
            "inventory_truth.write_off($1, $2, 1)",
            vec![text(&sku), text(&location)],
            &["IT001"],
            None,
        ),
        65..=67 => {
            receipts.push((sku.clone(), location.clone(), reference.clone()));
            let units = 5 + rng.next(10) as i64;
            moves(
                "expect",
                "inventory_truth.expect($1, $2, $3, $4, current_date + $5::bigint::int)",
                vec![text(&sku), text(&location), Param::Int(units), text(&reference), Param::Int(rng.next(20) as i64)],
                                &[],
                Some(reference.clone()),
            )
        }
        68..=71 if !receipts.is_empty() => {
            let (sku, location, reference) = receipts[rng.next(receipts.len() as u64) as usize].clone();
            let units = 1 + rng.next(8) as i64;
            moves(
                "receive",
                "inventory_truth.receive($1, $2, $3, $4)",
                vec![text(&sku), text(&location), Param::Int(units), text(&reference)],
                &[],
                                // Beyond what is still expected, units arrive unplanned: from outside.
                None,
            )
        }
        72..=75 => moves(
            "put_away",
            "inventory_truth.put_away($1, $2, $3, $4)",
            vec![text(&sku), text(&location), Param::Int(qty), Param::Bool(rng.next(4) == 0)],
            &["IT001"],
            None,
        ),
        76 => moves(
            "qc_pass",
            "inventory_truth.qc_pass($1, $2, 1)",
            vec![text(&sku), text(&location)],
            &["IT001"],
            None,
        ),
        77 => moves(
            "qc_fail",
            "inventory_truth.qc_fail($1, $2, 1)",
            vec![text(&sku), text(&location)],
            &["IT001"],
            None,
        ),
        78 if !receipts.is_empty() => {
            let (sku, location, reference) = receipts.swap_remove(rng.next(receipts.len() as u64) as usize);
            moves(
                "cancel_expected",
                "inventory_truth.cancel_expected($1, $2, $3)",
                vec![text(&sku), text(&location), text(&reference)],
                // IT001: nothing left open (received in full, or cancelled already).
                                &["IT001"],
                None,
            )
        }
                79..=80 => Call {
            unique_ref: Some(reference.clone()),
            ..none(
                "short_pick",
                "SELECT inventory_truth.short_pick($1, $2, $3, $4)".to_owned(),
                vec![text(&sku), text(&location), Param::Int(rng.next(3) as i64), text(&reference)],
                // 22023: the bin holds no more than was found (nothing is short).
                &["22023"],
            )
        },
        81 => none(
            "plan_cycle_counts",
            "SELECT count(*) FROM inventory_truth.plan_cycle_counts(2)".to_owned(),
            Vec::new(),
            &[],
        ),
        82..=84 => Call {
            op: "submit_count",
            // The bin as the system sees it, give or take a unit.
            sql: movements_of(
                "(SELECT t.id, t.sku, t.location FROM inventory_truth.count_task t
                   WHERE t.status = 'open' ORDER BY t.id LIMIT 1 OFFSET $1) t,
                 LATERAL (SELECT coalesce(sum(b.qty), 0)::bigint AS qty FROM inventory_truth.balance b
                           WHERE b.sku = t.sku AND b.location = t.location
                             AND b.stage IN ('available', 'committed')) bin,
                 inventory_truth.submit_count(t.id, greatest(bin.qty + $2, 0))",
            ),
            params: vec![Param::Int(rng.next(3) as i64), Param::Int(rng.next(3) as i64 - 1)],
            // 22023: units left the bin after the task was made, more than the count found;
            // IT004: another client counted the task first, with another number.
                        refusals: &["22023", "IT004"],
            unique_ref: None,
            needs_rows: true,
            effect: Effect::Movements,
        },
        85 => none(
            "set_buffer",
            "SELECT inventory_truth.set_buffer('web', $1, $2)".to_owned(),
            vec![text(&sku), Param::Int(rng.next(4) as i64)],
            &[],
        ),
        86 => none(
            "set_ringfence",
            "SELECT inventory_truth.set_ringfence('amazon', $1, percent => $2::bigint::numeric)".to_owned(),
            vec![text(&sku), Param::Int(10 + rng.next(40) as i64)],
            &[],
        ),
        87 => none(
            "clear_ringfence",
            "SELECT inventory_truth.clear_ringfence('amazon', $1)".to_owned(),
            vec![text(&sku)],
            &[],
        ),
        88 => none(
            "rebalance",
            "SELECT inventory_truth.rebalance($1)".to_owned(),
            vec![text(&sku)],
            &[],
        ),
        89 => none("expire_holds", "SELECT inventory_truth.expire_holds()".to_owned(), Vec::new(), &[]),
        90..=95 => Call {
            op: "direct sale",
            sql: "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref)
                  VALUES ($1, $2, 'available', 'committed', $3, $4, $5)
                  RETURNING id, sku, false, false, qty, location, from_stage::text, to_stage::text"
                .to_owned(),
            params: vec![text(&sku), text(&location), Param::Int(qty), text(&channel), text(&reference)],
            // IT003: the sale would take units fenced for another channel, or the buffer.
                        refusals: &["IT001", "IT003"],
            unique_ref: Some(reference.clone()),
            needs_rows: false,
            effect: Effect::Movements,
        },
                100 if rng.next(4) == 0 => none(
            // A new channel: every SKU's version moves (all SKU rows locked, in code order).
            "add_channel",
            "SELECT inventory_truth.add_channel($1, 60)".to_owned(),
            vec![Param::Text(format!("pos-{client}-{n}"))],
            &[],
        ),
        101 => none(
            "set_buffer (every SKU)",
            "SELECT inventory_truth.set_buffer('web', NULL, $1)".to_owned(),
            vec![Param::Int(rng.next(3) as i64)],
            &[],
        ),
        102 => none(
            "set_ringfence (every SKU, units)",
            "SELECT inventory_truth.set_ringfence('wholesale', NULL, units => $1)".to_owned(),
            vec![Param::Int(1 + rng.next(3) as i64)],
            &[],
        ),
        103..=105 => Call {
            op: "reserve (location)",
            sql: "SELECT inventory_truth.reserve($1, $2, $3, $4, location => $5), $2".to_owned(),
            params: vec![text(&channel), text(&sku), Param::Int(qty), text(&reference), text(&location)],
            refusals: &["IT001"],
            unique_ref: Some(reference.clone()),
            needs_rows: false,
            effect: Effect::Reserve { channel, reference, keep: true, qty, sku: sku.clone() },
        },
        106..=107 if !reserved.is_empty() => {
            // A checkout retrying a reservation it made (the same quantity): the same hold while
            // it is open, IT004 once it has ended.
            let (channel, reference, sku, qty, hold) = reserved[rng.next(reserved.len() as u64) as usize].clone();
            Call {
                op: "reserve (retry)",
                sql: "SELECT inventory_truth.reserve($1, $2, $3, $4), $2".to_owned(),
                params: vec![text(&channel), text(&sku), Param::Int(qty), text(&reference)],
                refusals: &["IT004"],
                unique_ref: None,
                needs_rows: false,
                effect: Effect::Retry { hold },
            }
        }
        108 => moves(
            "write_off (available)",
            "inventory_truth.write_off($1, $2, 1, 'available')",
            vec![text(&sku), text(&location)],
            &["IT001"],
            None,
        ),
        109 if !receipts.is_empty() => {
            let (sku, location, reference) = receipts[rng.next(receipts.len() as u64) as usize].clone();
            none(
                "set_eta",
                "SELECT inventory_truth.set_eta($1, $2, $3, current_date + $4::bigint::int)".to_owned(),
                vec![text(&sku), text(&location), text(&reference), Param::Int(rng.next(10) as i64)],
                &[],
            )
        }
        110 if !receipts.is_empty() => {
            let (sku, location, reference) = receipts[rng.next(receipts.len() as u64) as usize].clone();
            moves(
                "cancel_expected (1 unit)",
                "inventory_truth.cancel_expected($1, $2, $3, 1)",
                vec![text(&sku), text(&location), text(&reference)],
                &["IT001"],
                None,
            )
        }
        // Escrow on and off for a SKU (docs/design.md §12): its buyers take parts meanwhile.
        111 if changes_holds && rng.next(3) == 0 => none(
            "clear_escrow",
            "SELECT inventory_truth.clear_escrow($1)".to_owned(),
            vec![text(&sku)],
            &[],
        ),
        111 if changes_holds => none(
            "set_escrow",
            "SELECT inventory_truth.set_escrow($1, $2::bigint::int)".to_owned(),
            vec![text(&sku), Param::Int(1 + rng.next(8) as i64)],
            &[],
        ),
        100..=111 => none(
            // What storefronts and planners read under the load.
            "reads",
            "SELECT (SELECT count(*) FROM inventory_truth.atp_timeline($1, $2))
                  + inventory_truth.atp($1, $2, $3) + (SELECT count(*) FROM inventory_truth.stock($1))"
                .to_owned(),
            vec![text(&sku), text(&channel), text(&location)],
            &[],
        ),
        112..=113 if changes_holds => Call { needs_rows: true, ..none(
            "resize_hold",
            // One of the store's open holds grows or shrinks by a unit: a buyer changing the
            // cart (never below what it picked or lost).
            "SELECT inventory_truth.resize_hold(h.channel, h.ref, h.sku,
                        greatest(h.asked + $2, h.asked - h.open_qty))
               FROM (SELECT channel, ref, sku, qty - released_qty AS asked, open_qty
                       FROM inventory_truth.hold WHERE status = 'open'
                      ORDER BY id DESC LIMIT 1 OFFSET $1) h"
                .to_owned(),
            vec![Param::Int(rng.next(20) as i64), Param::Int(if rng.next(2) == 0 { 1 } else { -1 })],
            // IT001: no unit to grow by; IT004: the hold ended between the read and the call;
            // 22023: a pick meanwhile left less to shrink.
            &["IT001", "IT004", "22023"],
        ) },
        114..=115 if changes_holds => Call { needs_rows: true, ..none(
            "extend_hold",
            // A checkout that needs more time (or a hold that should no longer expire).
            "SELECT inventory_truth.extend_hold(h.channel, h.ref, $2::text::interval)
               FROM (SELECT channel, ref FROM inventory_truth.hold WHERE status = 'open'
                      ORDER BY id DESC LIMIT 1 OFFSET $1) h"
                .to_owned(),
            vec![
                Param::Int(rng.next(20) as i64),
                Param::OptText(if rng.next(2) == 0 { Some("1 second".to_owned()) } else { None }),
            ],
            &[],
        ) },
        _ => Call {
            op: "direct damage",
            sql: "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, reason)
                  VALUES ($1, $2, 'available', 'damaged', 1, 'dropped')
                  RETURNING id, sku, false, false, qty, location, from_stage::text, to_stage::text"
                .to_owned(),
            params: vec![text(&sku), text(&location)],
                        refusals: &["IT001"],
            unique_ref: None,
            needs_rows: false,
            effect: Effect::Movements,
        },
    }
}

/// Runs one client until `until`, or until its connection dies (then the call in flight is
/// recorded). `seed` makes a run repeatable.
pub async fn client(dsn: String, client: u64, seed: u64, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut db = match connect(&dsn).await {
        Ok(db) => db,
        Err(e) => {
            tally.unexpected.push(("connect", e.to_string()));
            return tally;
        }
    };
    let mut rng = Lcg(seed.wrapping_mul(7919).wrapping_add(client));
    let mut receipts = Vec::new();
    // Whether the extension has resize_hold and extend_hold (0.2.0 on, escrow too): a load at a
    // released version before them (the upgrade test) sends direct damage or reads instead.
    let changes_holds = match db
        .query_one(
            "SELECT to_regproc('inventory_truth.resize_hold') IS NOT NULL",
            &[],
        )
        .await
    {
        Ok(row) => row.get::<_, bool>(0),
        Err(e) => {
            tally.unexpected.push(("connect", e.to_string()));
            return tally;
        }
    };
    // This client's committed single-SKU reservations, for retries: (channel, ref, sku, qty, hold).
    let mut reserved: Vec<(String, String, String, i64, i64)> = Vec::new();
    for n in 0.. {
        if Instant::now() >= until {
            break;
        }
        let call = random_call(&mut rng, client, n, &mut receipts, &reserved, changes_holds);
        let tx = match db.transaction().await {
            Ok(tx) => tx,
            Err(e) => {
                if !is_lost_connection(&e) {
                    tally.unexpected.push(("BEGIN", e.to_string()));
                }
                break;
            }
        };
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = call
            .params
            .iter()
            .map(|p| match p {
                Param::Text(s) => s as &(dyn tokio_postgres::types::ToSql + Sync),
                Param::OptText(s) => s as _,
                Param::Int(i) => i as _,
                Param::Bool(b) => b as _,
            })
            .collect();
        let rows: Vec<Row> = match tx.query(&call.sql, &params).await {
            Ok(rows) => rows,
            Err(e) => {
                if is_lost_connection(&e) {
                    if let Effect::Reserve {
                        channel,
                        reference,
                        qty,
                        sku,
                        ..
                    } = &call.effect
                    {
                        if *qty > 0 {
                            tally.unanswered_reserves.push((
                                channel.clone(),
                                reference.clone(),
                                sku.clone(),
                                *qty,
                            ));
                        }
                    }
                    // Cut off before COMMIT was sent: it did not commit, whatever it did.
                    if let Some(reference) = call.unique_ref {
                        tally.not_committed.push((call.op, reference));
                    }
                    tally.in_flight = Some((call.op, Vec::new()));
                    break;
                }
                let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
                if call.refusals.contains(&code.as_str()) {
                    *tally.refused.entry((call.op, code)).or_default() += 1;
                } else {
                    tally.unexpected.push((call.op, format!("{e:?}")));
                }
                // Dropping the transaction rolls it back.
                continue;
            }
        };
        // What the call did, once committed.
        let mut net: Vec<(i64, String, i64)> = Vec::new();
        let mut returned: Vec<(i64, MovementRow)> = Vec::new();
        match &call.effect {
            Effect::Movements => {
                for row in &rows {
                    let (id, sku, from_outside, to_outside, qty): (i64, String, bool, bool, i64) =
                        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
                    returned.push((id, (sku.clone(), row.get(5), row.get(6), row.get(7), qty)));
                    if from_outside {
                        net.push((id, sku, qty));
                    } else if to_outside {
                        net.push((id, sku, -qty));
                    }
                }
            }
            Effect::Retry { hold } => {
                let got: i64 = rows[0].get(0);
                if got != *hold {
                    tally
                        .unexpected
                        .push((call.op, format!("a retry returned hold {got}, not {hold}")));
                }
            }
            Effect::Reserve {
                keep: false,
                channel,
                reference,
                ..
            } => {
                if let Err(e) = tx.rollback().await {
                    if is_lost_connection(&e) {
                        break;
                    }
                    tally.unexpected.push(("ROLLBACK", e.to_string()));
                }
                tally.rolled_back.push((channel.clone(), reference.clone()));
                continue;
            }
            _ => {}
        }
        match tx.commit().await {
            Ok(()) => {
                for (id, sku, n) in net {
                    tally.crossings.insert(id, (sku, n));
                }
                tally.movements.extend(returned);
                if let Effect::Reserve {
                    channel,
                    reference,
                    qty,
                    ..
                } = &call.effect
                {
                    for row in &rows {
                        let (hold, sku): (i64, String) = (row.get(0), row.get(1));
                        if *qty > 0 {
                            reserved.push((
                                channel.clone(),
                                reference.clone(),
                                sku.clone(),
                                *qty,
                                hold,
                            ));
                        }
                        tally
                            .holds
                            .push((channel.clone(), reference.clone(), sku, hold));
                    }
                }
                if call.needs_rows && rows.is_empty() {
                    *tally.idle.entry(call.op).or_default() += 1;
                } else {
                    *tally.done.entry(call.op).or_default() += 1;
                }
            }
            Err(e) if is_lost_connection(&e) => {
                if let Effect::Reserve {
                    channel,
                    reference,
                    qty,
                    sku,
                    ..
                } = &call.effect
                {
                    if *qty > 0 {
                        tally.unanswered_reserves.push((
                            channel.clone(),
                            reference.clone(),
                            sku.clone(),
                            *qty,
                        ));
                    }
                }
                // Committed or not: either outcome must be consistent.
                let mut bounds = Vec::new();
                for (_, sku, n) in net {
                    bounds.push((sku, n.min(0), n.max(0)));
                }
                tally.in_flight = Some((call.op, bounds));
                break;
            }
            Err(e) => {
                let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
                if call.refusals.contains(&code.as_str()) {
                    *tally.refused.entry((call.op, code)).or_default() += 1;
                } else {
                    tally
                        .unexpected
                        .push((call.op, format!("at commit: {e:?}")));
                }
            }
        }
    }
    tally
}

/// Runs `clients` clients for `duration` (each stops early if its connection dies) and adds up
/// what they were told. In-flight calls are returned per client.
pub async fn run(dsn: &str, clients: u64, seed: u64, duration: Duration) -> (Tally, Vec<InFlight>) {
    let until = Instant::now() + duration;
    let handles: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(client(dsn.to_owned(), c + seed * 1000, seed, until)))
        .collect();
    let mut total = Tally::default();
    let mut in_flight = Vec::new();
    for handle in handles {
        let mut tally = handle.await.expect("client task");
        if let Some(call) = tally.in_flight.take() {
            in_flight.push(call);
        }
        total.merge(tally);
    }
    (total, in_flight)
}

/// One line per operation: committed calls, calls that found nothing to do, and refusals by
/// SQLSTATE.
pub fn summary(tally: &Tally) -> String {
    let mut ops: Vec<&'static str> = tally
        .done
        .keys()
        .chain(tally.idle.keys())
        .chain(tally.refused.keys().map(|(op, _)| op))
        .copied()
        .collect();
    ops.sort();
    ops.dedup();
    let mut lines = Vec::new();
    for op in ops {
        let refused: Vec<String> = tally
            .refused
            .iter()
            .filter(|((o, _), _)| *o == op)
            .map(|((_, code), n)| format!("{n} x {code}"))
            .collect();
        let idle = tally.idle.get(op).copied().unwrap_or(0);
        lines.push(format!(
            "  {op:<32} {:>6} committed{}{}",
            tally.done.get(op).copied().unwrap_or(0),
            if idle > 0 {
                format!(", {idle} found nothing to do")
            } else {
                String::new()
            },
            if refused.is_empty() {
                String::new()
            } else {
                format!(", refused {}", refused.join(", "))
            }
        ));
    }
    lines.join("\n")
}

/// The invariants that hold whatever happened (docs/design.md §2, §4, §8), as a list of what is wrong
/// (empty: all hold):
/// - verify() finds nothing: balances equal the ledger, fences fit, open holds equal committed;
/// - no balance is negative;
/// - every hold adds up: qty = open + picked + released + lost, it is open exactly while units
///   are open, and an ended hold has its end time;
/// - atp() agrees with atp_snapshot() for every SKU and channel.
pub async fn broken_invariants(db: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut broken = Vec::new();
    for row in db
        .query(
            "SELECT format('verify(): %s %s %s ledger %s balance %s: %s', sku, location, stage, ledger_qty, balance_qty, problem)
               FROM inventory_truth.verify()",
            &[],
        )
        .await?
    {
        broken.push(row.get(0));
    }
    for row in db
        .query(
            "SELECT format('negative balance: %s %s %s = %s', sku, location, stage, qty)
               FROM inventory_truth.balance WHERE qty < 0",
            &[],
        )
        .await?
    {
        broken.push(row.get(0));
    }
    for row in db
        .query(
            "SELECT format('hold %s (%s %s %s) does not add up: %s', id, channel, ref, sku, to_jsonb(h)::text)
               FROM inventory_truth.hold h
                            WHERE qty <> open_qty + picked_qty + released_qty + lost_qty
                 OR least(open_qty, picked_qty, released_qty, lost_qty, fence_qty) < 0
                 OR (status = 'open') <> (open_qty > 0)
                 OR (status = 'open') = (ended_at IS NOT NULL)
                 OR (status = 'picked' AND picked_qty = 0)
                 OR (status = 'expired' AND ended_at < expires_at)
                 OR qty <= 0",
            &[],
        )
        .await?
    {
        broken.push(row.get(0));
    }
    for row in db
        .query(
            "SELECT format('atp(%s, %s) = %s but atp_snapshot() says %s', s.sku, s.channel,
                           inventory_truth.atp(s.sku, s.channel), s.atp)
               FROM inventory_truth.atp_snapshot() s
              WHERE inventory_truth.atp(s.sku, s.channel) <> s.atp",
            &[],
        )
        .await?
    {
        broken.push(row.get(0));
    }
    Ok(broken)
}

/// Units on the books per SKU, over every stage (shipped and written-off units stay there).
pub async fn units_on_books(db: &Client) -> Result<HashMap<String, i64>, tokio_postgres::Error> {
    Ok(db
        .query(
            "SELECT sku, sum(qty)::bigint FROM inventory_truth.balance GROUP BY sku",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// What is wrong with the books against what the clients were told: per SKU, the units on
/// the books must be the initial stock plus the acknowledged net, give or take what calls in
/// flight at a crash may have done.
pub fn conservation_problems(
    books: &HashMap<String, i64>,
    tally: &Tally,
    in_flight: &[InFlight],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut net: HashMap<&String, i64> = HashMap::new();
    for (sku, n) in tally.crossings.values() {
        *net.entry(sku).or_default() += n;
    }
    let mut skus: Vec<&String> = books.keys().chain(net.keys().copied()).collect();
    skus.sort();
    skus.dedup();
    for sku in skus {
        let initial = if SKUS.contains(&sku.as_str()) {
            INITIAL_STOCK * LOCATIONS.len() as i64
        } else {
            0
        };
        let told = initial + net.get(sku).copied().unwrap_or(0);
        let (mut low, mut high) = (told, told);
        for (_, bounds) in in_flight {
            for (s, lo, hi) in bounds {
                if s == sku {
                    low += lo;
                    high += hi;
                }
            }
        }
        let on_books = books.get(sku).copied().unwrap_or(0);
        if on_books < low || on_books > high {
            problems.push(format!(
                "{sku}: {on_books} units on the books, clients were told {told} (in-flight calls allow {low}..={high})"
            ));
        }
    }
    problems
}

/// Holds the clients were told about that are not there (or under another id); rolled-back
/// reservations, and calls cut off before their COMMIT, that left anything behind.
pub async fn hold_problems(
    db: &Client,
    tally: &Tally,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut problems = Vec::new();
    let rows = db
        .query(
            "SELECT channel, ref, sku, id FROM inventory_truth.hold",
            &[],
        )
        .await?;
    // A reservation served from several locations is a hold per location: every id it had.
    let mut present: HashMap<(String, String, String), Vec<i64>> = HashMap::new();
    for r in &rows {
        present
            .entry((r.get(0), r.get(1), r.get(2)))
            .or_default()
            .push(r.get(3));
    }
    for (channel, reference, sku, hold) in &tally.holds {
        match present.get(&(channel.clone(), reference.clone(), sku.clone())) {
            Some(ids) if ids.contains(hold) => {}
            Some(ids) => problems.push(format!(
                "committed hold {hold} ({channel} {reference} {sku}) is now holds {ids:?}"
            )),
            None => problems.push(format!(
                "committed hold missing: {hold} ({channel} {reference} {sku})"
            )),
        }
    }
    let hold_refs: std::collections::HashSet<(String, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let used_refs: std::collections::HashSet<String> = db
        .query(
            "SELECT ref FROM inventory_truth.movement WHERE ref IS NOT NULL
             UNION SELECT ref FROM inventory_truth.hold
             UNION SELECT ref FROM inventory_truth.short_pick WHERE ref IS NOT NULL",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (channel, reference) in &tally.rolled_back {
        if hold_refs.contains(&(channel.clone(), reference.clone()))
            || used_refs.contains(reference)
        {
            problems.push(format!(
                "rolled-back reservation visible: {channel} {reference}"
            ));
        }
    }
    for (op, reference) in &tally.not_committed {
        if used_refs.contains(reference) {
            problems.push(format!(
                "{op} {reference} was cut off before COMMIT, yet left rows behind"
            ));
        }
    }
    Ok(problems)
}

/// Retries, as a checkout would after a lost connection, every reservation whose outcome its
/// client never learned: one that had committed must come back as the same hold (the
/// reservation is idempotent by reference), one that had not is made now or refused for want of
/// stock. Returns what is wrong, and the holds made by the retries (channel, ref, sku, hold).
pub async fn retry_unanswered(
    db: &Client,
    tally: &Tally,
) -> Result<(Vec<String>, Vec<(String, String, String, i64)>), tokio_postgres::Error> {
    let mut problems = Vec::new();
    let mut made = Vec::new();
    for (channel, reference, sku, qty) in &tally.unanswered_reserves {
        let before: Option<i64> = db
            .query_opt(
                "SELECT id FROM inventory_truth.hold WHERE channel = $1 AND ref = $2 AND sku = $3",
                &[channel, reference, sku],
            )
            .await?
            .map(|r| r.get(0));
        match db
            .query_one(
                "SELECT inventory_truth.reserve($1, $2, $3, $4)",
                &[channel, sku, qty, reference],
            )
            .await
        {
            Ok(row) => {
                let hold: i64 = row.get(0);
                match before {
                    Some(id) if id != hold => problems.push(format!(
                        "retry of {channel} {reference} returned hold {hold}, but hold {id} was there"
                    )),
                    _ => made.push((channel.clone(), reference.clone(), sku.clone(), hold)),
                }
            }
            // IT001: it had not committed and the stock is gone now; IT004: it had committed
            // and the hold ended since (picked, released, expired).
            Err(e) if matches!(crate::sqlstate(&e).as_deref(), Some("IT001" | "IT004")) => {}
            Err(e) => problems.push(format!("retry of {channel} {reference}: {e}")),
        }
    }
    Ok((problems, made))
}

/// Every movement a committed call returned, compared with the ledger: missing or changed ones.
pub async fn movement_problems(
    db: &Client,
    tally: &Tally,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let ids: Vec<i64> = tally.movements.keys().copied().collect();
    let rows = db
        .query(
            "SELECT id, sku, location, from_stage::text, to_stage::text, qty
               FROM inventory_truth.movement WHERE id = ANY ($1)",
            &[&ids],
        )
        .await?;
    let ledger: HashMap<i64, MovementRow> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))))
        .collect();
    let mut problems = Vec::new();
    for (id, row) in &tally.movements {
        match ledger.get(id) {
            Some(found) if found == row => {}
            Some(found) => problems.push(format!(
                "movement {id} was {row:?}, the ledger says {found:?}"
            )),
            None => problems.push(format!("committed movement {id} {row:?} is missing")),
        }
    }
    Ok(problems)
}

/// Published state against the truth: (sku, channel) pairs whose last published ATP differs
/// from atp_snapshot(), and SKUs waiting to be published (their version moved past the last
/// publication).
pub async fn unpublished(db: &Client) -> Result<(i64, Vec<String>), tokio_postgres::Error> {
    let waiting: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth._relay_stale()", &[])
        .await?
        .get(0);
    let differ = db
        .query(
            "SELECT format('%s/%s published %s, atp %s', s.sku, s.channel, p.atp ->> s.channel, s.atp)
               FROM inventory_truth.atp_snapshot() s
               LEFT JOIN inventory_truth.atp_published p ON p.sku = s.sku
              WHERE coalesce((p.atp ->> s.channel)::bigint, 0) <> s.atp",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((waiting, differ))
}

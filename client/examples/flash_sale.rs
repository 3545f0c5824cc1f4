//! The flash sale of `make demo`: a small store, then many buyers on three channels hammering
//! one hot SKU and a long tail while pickers scan, a short pick happens, a return waits in
//! quarantine and damage is found; live ATP per channel as a storefront hears it (LISTEN, not
//! polling); then a report whose checks decide the exit status.
//!
//!   cargo run -p inventory_truth_client --example flash_sale -- "<libpq connection string>"
//!
//! The database must have the extension and nothing else (scripts/demo.sh makes it).
//! FLASH_SALE_SECONDS (default 60) bounds the sale; it normally ends sooner, sold out. Buyers
//! think 5 to 25 ms between attempts; FLASH_SALE_THINK_MS=0 makes them buy back to back (how
//! bench/suite.sh times the database rather than the buyers). On a terminal the view redraws in
//! place; otherwise (CI, a pipe) it prints a line every 2 s. The report ends with the same
//! rush on two SKUs alike, one escrowed (`set_escrow`), to show how much faster it sells out.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inventory_truth_client::storefront::{follow, snapshot, AtpView, Event};
use inventory_truth_client::{connect, sqlstate, Lcg};
use tokio::sync::mpsc;
use tokio_postgres::Client;

const CHANNELS: [&str; 3] = ["web", "amazon", "wholesale"];
const HOT: &str = "SNEAKER-HOT";
const HOODIE: &str = "HOODIE-DROP";
const TAIL: usize = 12;
const BUYERS: u64 = 16;

fn tail_sku(i: usize) -> String {
    format!("TEE-{:02}", i + 1)
}

/// The store, as a merchant would set it up: printed line by line.
const STORE: &[(&str, &str)] = &[
    ("two locations: the main warehouse and a city store",
     "SELECT inventory_truth.add_location('DC1', 'Main warehouse'), inventory_truth.add_location('DC2', 'City store')"),
    ("three channels: amazon (buffer 2), web (buffer 3), wholesale",
     "SELECT inventory_truth.add_channel('amazon', priority => 10, buffer => 2, kind => 'marketplace'),
             inventory_truth.add_channel('web', priority => 20, buffer => 3),
             inventory_truth.add_channel('wholesale', priority => 30, kind => 'wholesale')"),
    ("amazon ringfenced at 50% of every SKU; wholesale walled off with 10 units of each",
     "SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 50),
             inventory_truth.set_ringfence('wholesale', NULL, units => 10)"),
    ("purchase orders: 600 + 300 sneakers due today, 400 more due in 5 days; 240 hoodies",
     "SELECT count(*) FROM inventory_truth.expect('SNEAKER-HOT', 'DC1', 600, 'PO-1001', current_date);
      SELECT count(*) FROM inventory_truth.expect('SNEAKER-HOT', 'DC2', 300, 'PO-1002', current_date);
      SELECT count(*) FROM inventory_truth.expect('SNEAKER-HOT', 'DC1', 400, 'PO-1003', current_date + 5);
      SELECT count(*) FROM inventory_truth.expect('HOODIE-DROP', 'DC1', 240, 'PO-1004', current_date)"),
    ("the trucks arrive: sneakers and hoodies on the docks",
     "SELECT count(*) FROM inventory_truth.receive('SNEAKER-HOT', 'DC1', 600, 'PO-1001');
      SELECT count(*) FROM inventory_truth.receive('SNEAKER-HOT', 'DC2', 300, 'PO-1002');
      SELECT count(*) FROM inventory_truth.receive('HOODIE-DROP', 'DC1', 240, 'PO-1004')"),
    ("put away; 100 sneakers go through quality control first: 96 pass, 4 fail",
     "SELECT count(*) FROM inventory_truth.put_away('SNEAKER-HOT', 'DC1', 500);
      SELECT count(*) FROM inventory_truth.put_away('SNEAKER-HOT', 'DC1', 100, qc => true);
      SELECT count(*) FROM inventory_truth.qc_pass('SNEAKER-HOT', 'DC1', 96);
      SELECT count(*) FROM inventory_truth.qc_fail('SNEAKER-HOT', 'DC1', 4);
      SELECT count(*) FROM inventory_truth.put_away('SNEAKER-HOT', 'DC2', 300);
      SELECT count(*) FROM inventory_truth.put_away('HOODIE-DROP', 'DC1', 240)"),
];

/// What the buyers, pickers and the director share with the screen and the report.
#[derive(Default)]
struct Sale {
    /// Units held per (SKU, channel) (reserved and not given back), as the buyers were told.
    held: Mutex<BTreeMap<(String, String), i64>>,
    /// Per SKU: how the warehouse's events changed the shelf (units found, less units damaged
    /// or missing from available), from the movements those calls recorded.
    shelf_changes: Mutex<HashMap<String, i64>>,
    /// How many of the warehouse events (damage, short pick, return, count) happened.
    events_done: AtomicI64,
    sales: AtomicI64,
    refusals: AtomicI64,
    events: Mutex<Vec<String>>,
    problems: Mutex<Vec<String>>,
    notifications: AtomicI64,
    over: AtomicBool,
    /// When the last reservation that held units committed.
    last_sale: Mutex<Option<Instant>>,
    /// Abandoned checkouts whose release has not returned yet: their units come back on sale.
    releasing: AtomicI64,
    /// Abandoned checkouts so far.
    abandoned: AtomicI64,
}

impl Sale {
    fn event(&self, text: String) {
        self.events.lock().expect("events").push(text);
    }
    fn problem(&self, text: String) {
        self.problems.lock().expect("problems").push(text);
    }
    fn hold(&self, sku: &str, channel: &str, units: i64) {
        *self
            .held
            .lock()
            .expect("held")
            .entry((sku.to_owned(), channel.to_owned()))
            .or_default() += units;
    }
    fn units_held(&self) -> i64 {
        self.held.lock().expect("held").values().sum()
    }
    fn held_by_channel(&self) -> BTreeMap<String, i64> {
        let mut by = BTreeMap::new();
        for ((_, channel), units) in self.held.lock().expect("held").iter() {
            *by.entry(channel.clone()).or_default() += units;
        }
        by
    }
    /// Units there were to sell: on the shelf at the start, changed by the events since.
    fn sellable(&self, at_start: &HashMap<String, i64>) -> i64 {
        at_start.values().sum::<i64>()
            + self
                .shelf_changes
                .lock()
                .expect("shelf")
                .values()
                .sum::<i64>()
    }
}

/// What the movements `sql` selects did to the shelf (available), per SKU: units in, less out.
async fn shelf_effect(db: &Client, sql: &str) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    let rows = db
        .query(
            &format!(
                "SELECT m.sku, sum(CASE WHEN m.to_stage = 'available' THEN m.qty ELSE 0 END
                                 - CASE WHEN m.from_stage = 'available' THEN m.qty ELSE 0 END)::bigint
                   FROM ({sql}) m GROUP BY m.sku"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn run_store_setup(db: &Client) -> Result<(), tokio_postgres::Error> {
    println!("== A small store");
    for (what, sql) in STORE {
        db.batch_execute(sql).await?;
        println!("   {what}");
    }
    let mut rng = Lcg(7);
    for i in 0..TAIL {
        let units = 8 + rng.next(20) as i64;
        let location = if i % 2 == 0 { "DC1" } else { "DC2" };
        inventory_truth_client::shelve(db, &tail_sku(i), location, units).await?;
    }
    println!("   a long tail: {TAIL} T-shirts, 8 to 27 units each, unplanned arrivals put away");
    Ok(())
}

/// A buyer: reserves on its channel until the sale is over; one in ten abandons the checkout.
async fn buyer(dsn: String, n: u64, sale: Arc<Sale>, picking: mpsc::UnboundedSender<i64>) {
    let Ok(db) = connect(&dsn).await else {
        sale.problem(format!("buyer {n} could not connect"));
        return;
    };
    let mut rng = Lcg(n * 31 + 5);
    let channel = match n % 10 {
        0..=4 => "web",
        5..=8 => "amazon",
        _ => "wholesale",
    };
    for i in 0.. {
        if sale.over.load(Ordering::Relaxed) {
            break;
        }
        let sku = match rng.next(10) {
            0..=4 => HOT.to_owned(),
            5..=6 => HOODIE.to_owned(),
            _ => tail_sku(rng.next(TAIL as u64) as usize),
        };
        let mut qty: i64 = if channel == "wholesale" {
            3
        } else {
            1 + (rng.next(5) == 0) as i64
        };
        let reference = format!("{channel}-{n}-{i}");
        let mut attempt = db
            .query_one(
                "SELECT inventory_truth.reserve($1, $2, $3, $4, ttl => '10 minutes')",
                &[&channel, &sku, &qty, &reference],
            )
            .await;
        if qty > 1 && attempt.as_ref().err().and_then(sqlstate).as_deref() == Some("IT001") {
            // Not that many left: the buyer takes one.
            qty = 1;
            attempt = db
                .query_one(
                    "SELECT inventory_truth.reserve($1, $2, 1, $3, ttl => '10 minutes')",
                    &[&channel, &sku, &reference],
                )
                .await;
        }
        match attempt {
            Ok(row) => {
                let hold: i64 = row.get(0);
                sale.hold(&sku, channel, qty);
                sale.sales.fetch_add(1, Ordering::Relaxed);
                *sale.last_sale.lock().expect("last sale") = Some(Instant::now());
                if rng.next(10) == 0 {
                    // Abandoned checkout: the units go back where they came from.
                    sale.releasing.fetch_add(1, Ordering::SeqCst);
                    sale.abandoned.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    match db
                        .execute(
                            "SELECT inventory_truth.release($1, $2)",
                            &[&channel, &reference],
                        )
                        .await
                    {
                        Ok(_) => sale.hold(&sku, channel, -qty),
                        Err(e) => sale.problem(format!("release {reference}: {e}")),
                    }
                    sale.releasing.fetch_sub(1, Ordering::SeqCst);
                } else {
                    let _ = picking.send(hold);
                }
            }
            Err(e) if sqlstate(&e).as_deref() == Some("IT001") => {
                sale.refusals.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => sale.problem(format!("reserve {reference}: {e}")),
        }
        match think_ms() {
            None => tokio::time::sleep(Duration::from_millis(5 + rng.next(20))).await,
            Some(0) => tokio::task::yield_now().await,
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
        }
    }
}

/// FLASH_SALE_THINK_MS: a buyer's pause between attempts, if set.
fn think_ms() -> Option<u64> {
    std::env::var("FLASH_SALE_THINK_MS")
        .ok()
        .and_then(|s| s.parse().ok())
}

/// A picker: scans every hold it is given (committed -> picked).
async fn picker(
    dsn: String,
    sale: Arc<Sale>,
    holds: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<i64>>>,
) {
    let Ok(db) = connect(&dsn).await else {
        sale.problem("a picker could not connect".to_owned());
        return;
    };
    loop {
        let next = { holds.lock().await.recv().await };
        let Some(hold) = next else { break };
        if let Err(e) = db
            .execute(
                "SELECT count(*) FROM inventory_truth.hold h,
                        inventory_truth.pick(h.sku, h.location, h.open_qty, h.ref, channel => h.channel) m
                  WHERE h.id = $1 AND h.status = 'open' AND h.open_qty > 0",
                &[&hold],
            )
            .await
        {
                        // The scan takes what the hold still has open (the short pick may have taken some):
            // nothing may refuse it.
            sale.problem(format!("pick of hold {hold}: {e}"));
        }
    }
}

/// The warehouse's own events, at points of the sale; what they did is read from the
/// movements they recorded.
async fn director(dsn: String, sale: Arc<Sale>, at_start: HashMap<String, i64>) {
    let Ok(db) = connect(&dsn).await else {
        sale.problem("the director could not connect".to_owned());
        return;
    };
    let mut done = [false; 4];
    let mut task: Option<i64> = None;
    let record = |sale: &Sale, effect: &[(String, i64)]| {
        let mut shelf = sale.shelf_changes.lock().expect("shelf");
        for (sku, units) in effect {
            *shelf.entry(sku.clone()).or_default() += units;
        }
    };
    while !sale.over.load(Ordering::Relaxed) {
        let progress = sale.units_held() * 100 / sale.sellable(&at_start).max(1);
        if progress >= 15 && !done[0] {
            done[0] = true;
            // Found now, happened three minutes ago: the lag shows in lag_stats() and readiness().
            match shelf_effect(
                &db,
                "SELECT * FROM inventory_truth.report_damage('SNEAKER-HOT', 'DC1', 4,
                     occurred_at => now() - interval '3 minutes')",
            )
            .await
            {
                Ok(effect) => {
                    record(&sale, &effect);
                    let units: i64 = -effect.iter().map(|e| e.1).sum::<i64>();
                    sale.events_done.fetch_add(1, Ordering::Relaxed);
                    sale.event(format!(
                        "damage found: {units} crushed SNEAKER-HOT at DC1 (3 minutes ago), out of ATP at this commit"
                    ));
                }
                Err(e) => sale.problem(format!("damage: {e}")),
            }
        }
        if progress >= 30 && !done[1] {
            done[1] = true;
            // The picker at DC2 finds 5 fewer sneakers in the bin than the books say.
            let short = db
                .query_one(
                    "SELECT inventory_truth.short_pick('SNEAKER-HOT', 'DC2',
                         greatest((SELECT sum(qty) FROM inventory_truth.balance
                                    WHERE sku = 'SNEAKER-HOT' AND location = 'DC2'
                                      AND stage IN ('available', 'committed'))::bigint - 5, 0),
                         ref => 'PICK-SHORT-1')",
                    &[],
                )
                .await;
            let effect = match short {
                Ok(row) => {
                    task = Some(row.get(0));
                    shelf_effect(
                        &db,
                        "SELECT m.* FROM inventory_truth.movement m
                           JOIN inventory_truth.short_pick s ON m.id = ANY (s.movements)
                          WHERE s.ref = 'PICK-SHORT-1'",
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match effect {
                Ok(effect) => {
                    record(&sale, &effect);
                    let (missing, broken): (i64, i64) = db
                        .query_one(
                            "SELECT (SELECT missing FROM inventory_truth.short_pick WHERE ref = 'PICK-SHORT-1'),
                                    (SELECT count(*) FROM inventory_truth.broken_holds)",
                            &[],
                        )
                        .await
                        .map(|r| (r.get(0), r.get(1)))
                        .unwrap_or((-1, -1));
                    let from_shelf: i64 = -effect.iter().map(|e| e.1).sum::<i64>();
                    sale.events_done.fetch_add(1, Ordering::Relaxed);
                    let from_orders = if missing > from_shelf {
                        format!(
                            ", {} from {broken} sold orders: see broken_holds",
                            missing - from_shelf
                        )
                    } else {
                        String::new()
                    };
                    sale.event(format!(
                        "short pick at DC2: {missing} SNEAKER-HOT not in the bin, missing at once ({from_shelf} off the shelf{from_orders}); blind count opened"
                    ));
                }
                Err(e) => sale.problem(format!("short pick: {e}")),
            }
        }
        if progress >= 45 && !done[2] {
            done[2] = true;
            match db
                .batch_execute(
                    "SELECT count(*) FROM inventory_truth.receive_return('HOODIE-DROP', 'DC1', 1, 'RMA-501')",
                )
                .await
            {
                Ok(()) => {
                    sale.events_done.fetch_add(1, Ordering::Relaxed);
                    sale.event("a customer return (of an order shipped before today): 1 HOODIE-DROP waits in quarantine for a manager; ATP unchanged".into());
                }
                Err(e) => sale.problem(format!("return: {e}")),
            }
        }
        if progress >= 60 && !done[3] {
            if let Some(task) = task {
                done[3] = true;
                // The blind count finds 2 more than the books now hold at the bin.
                let effect = shelf_effect(
                    &db,
                    &format!(
                        "SELECT * FROM inventory_truth.submit_count({task},
                             (SELECT sum(qty) FROM inventory_truth.balance
                               WHERE sku = 'SNEAKER-HOT' AND location = 'DC2'
                                 AND stage IN ('available', 'committed'))::bigint + 2)"
                    ),
                )
                .await;
                match effect {
                    Ok(effect) => {
                        record(&sale, &effect);
                        let found: i64 = effect.iter().map(|e| e.1).sum();
                        let written_off: i64 = db
                            .query_one(
                                "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.movement
                                  WHERE sku = 'SNEAKER-HOT' AND location = 'DC2'
                                    AND from_stage = 'missing' AND to_stage = 'written_off'",
                                &[],
                            )
                            .await
                            .map(|r| r.get(0))
                            .unwrap_or(-1);
                        sale.events_done.fetch_add(1, Ordering::Relaxed);
                        sale.event(format!(
                            "blind count at DC2: {found} SNEAKER-HOT found (back on sale), {written_off} written off"
                        ));
                    }
                    Err(e) => sale.problem(format!("count: {e}")),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// The lines of the live view.
fn screen(view: &AtpView, sale: &Sale, sellable: i64, started: Instant, rate: f64) -> Vec<String> {
    let atp = |sku: &str, channel: &str| {
        view.atp
            .get(&(sku.to_owned(), channel.to_owned()))
            .map(|v| v.0)
            .unwrap_or(0)
    };
    let mut lines = vec![
        format!("live ATP per channel, as a storefront hears it (LISTEN inventory_truth): {} notifications", sale.notifications.load(Ordering::Relaxed)),
        format!("  {:<16} {:>8} {:>8} {:>10}", "", "web", "amazon", "wholesale"),
    ];
    for sku in [HOT, HOODIE] {
        lines.push(format!(
            "  {:<16} {:>8} {:>8} {:>10}",
            sku,
            atp(sku, "web"),
            atp(sku, "amazon"),
            atp(sku, "wholesale")
        ));
    }
    let tail: Vec<i64> = CHANNELS
        .iter()
        .map(|c| (0..TAIL).map(|i| atp(&tail_sku(i), c)).sum())
        .collect();
    lines.push(format!(
        "  {:<16} {:>8} {:>8} {:>10}",
        format!("{TAIL} T-shirts"),
        tail[0],
        tail[1],
        tail[2]
    ));
    let held = sale.held_by_channel();
    let sold: i64 = held.values().sum();
    lines.push(format!(
        "  sold  web {:>5}  amazon {:>5}  wholesale {:>5}   {:>5.0} sales/s   refused {:>6}",
        held.get("web").unwrap_or(&0),
        held.get("amazon").unwrap_or(&0),
        held.get("wholesale").unwrap_or(&0),
        rate,
        sale.refusals.load(Ordering::Relaxed)
    ));
    lines.push(format!(
        "  {} {:>3}% sold of {} units on the shelf   {:>5.1} s",
        bar(sold as f64 / sellable.max(1) as f64, 40),
        sold * 100 / sellable.max(1),
        sellable,
        started.elapsed().as_secs_f64()
    ));
    let events = sale.events.lock().expect("events");
    for e in events.iter().rev().take(4).rev() {
        lines.push(format!("  * {e}"));
    }
    lines
}

/// Every (SKU, channel) ATP the storefront holds is 0: nothing is left to sell.
fn sold_out(view: &AtpView) -> bool {
    !view.atp.is_empty() && view.atp.values().all(|&(atp, _)| atp == 0)
}

async fn query_rows(db: &Client, sql: &str) -> Vec<tokio_postgres::Row> {
    db.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::main]
async fn main() {
    let Some(dsn) = std::env::args().nth(1) else {
        eprintln!(
            "usage: flash_sale \"<libpq connection string of a database with the extension>\""
        );
        std::process::exit(2);
    };
    let limit = Duration::from_secs(
        std::env::var("FLASH_SALE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let db = connect(&dsn).await.unwrap_or_else(|e| {
        eprintln!("cannot connect: {e}");
        std::process::exit(2);
    });
    let movements: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.movement", &[])
        .await
        .unwrap_or_else(|e| {
            eprintln!("no inventory_truth here ({e}): CREATE EXTENSION inventory_truth first");
            std::process::exit(2);
        })
        .get(0);
    if movements > 0 {
        eprintln!("the database has a ledger already: the flash sale needs a fresh one (make demo makes it)");
        std::process::exit(2);
    }
    if let Err(e) = run_store_setup(&db).await {
        eprintln!("setting up the store failed: {e}");
        std::process::exit(1);
    }
    // Escrow (docs/design.md §12), when the extension has it (bench/suite.sh also runs this sale
    // against an older build), is shown by the rush after the report, not in this sale: here
    // the pickers scan every hold within milliseconds and a tenth of checkouts are abandoned,
    // and each pick or release of an escrowed SKU folds its parts (measured: the sale took 2 to
    // 3 x as long with the hot sneaker escrowed; BENCHMARKS.md).
    let escrow = db
        .query_one(
            "SELECT pg_catalog.to_regprocedure('inventory_truth.set_escrow(text,integer)') IS NOT NULL",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    // What is on the shelf, per SKU, as the sale begins.
    let at_start: HashMap<String, i64> = query_rows(
        &db,
        "SELECT sku, sum(qty)::bigint FROM inventory_truth.balance WHERE stage = 'available' GROUP BY sku",
    )
    .await
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let sellable: i64 = at_start.values().sum();

    // The storefront: LISTEN, snapshot, newer versions only.
    let sale = Arc::new(Sale::default());
    let view = Arc::new(Mutex::new(AtpView::default()));
    let storefront = {
        let (view, sale, dsn) = (view.clone(), sale.clone(), dsn.clone());
        tokio::spawn(async move {
            follow(&dsn, None, "inventory_truth", |event| {
                match event {
                    Event::Resynced { view: v, .. } => *view.lock().expect("view") = v.clone(),
                    Event::Changed { view: v, .. } => {
                        sale.notifications.fetch_add(1, Ordering::Relaxed);
                        *view.lock().expect("view") = v.clone();
                    }
                    Event::Disconnected { error, .. } => {
                        sale.event(format!("storefront reconnecting: {error}"))
                    }
                }
                true
            })
            .await
        })
    };
    println!("\n== The flash sale: {BUYERS} buyers (web, amazon, wholesale) on {sellable} sellable units; 2 pickers scanning");
    let (to_pickers, from_buyers) = mpsc::unbounded_channel();
    let from_buyers = Arc::new(tokio::sync::Mutex::new(from_buyers));
    let buyers: Vec<_> = (0..BUYERS)
        .map(|n| tokio::spawn(buyer(dsn.clone(), n, sale.clone(), to_pickers.clone())))
        .collect();
    drop(to_pickers);
    let pickers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(picker(dsn.clone(), sale.clone(), from_buyers.clone())))
        .collect();
    let director = tokio::spawn(director(dsn.clone(), sale.clone(), at_start.clone()));

    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let mut sold_out_after: Option<Duration> = None;
    let mut drawn = 0;
    let mut last_print = Instant::now();
    let mut window: Vec<(Instant, i64)> = vec![(started, 0)];
    let mut printed_events = 0;
    let mut quiet_before: Option<i64> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sales = sale.sales.load(Ordering::Relaxed);
        window.push((Instant::now(), sales));
        window.retain(|(t, _)| t.elapsed() < Duration::from_secs(2));
        let rate = match (window.first(), window.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64(),
            _ => 0.0,
        };
        let current = view.lock().expect("view").clone();
        let lines = screen(&current, &sale, sale.sellable(&at_start), started, rate);
        let mut out = std::io::stdout().lock();
        if tty {
            if drawn > 0 {
                let _ = write!(out, "\x1b[{drawn}A");
            }
            for line in &lines {
                let _ = writeln!(out, "\x1b[2K{line}");
            }
            drawn = lines.len();
        } else {
            let events = sale.events.lock().expect("events").clone();
            for e in &events[printed_events..] {
                let _ = writeln!(out, "  * {e}");
            }
            printed_events = events.len();
            if last_print.elapsed() >= Duration::from_secs(2) {
                last_print = Instant::now();
                for line in &lines[..lines.len().min(7)] {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = out.flush();
        drop(out);
        // Sold out: every channel's ATP 0 on two looks in a row with no abandoned checkout's
        // release in flight between them (a release puts units back on sale, and its
        // notification arrives a moment after it returns).
        let abandoned = sale.abandoned.load(Ordering::SeqCst);
        let quiet = sold_out(&current) && sale.releasing.load(Ordering::SeqCst) == 0;
        let finished =
            quiet && quiet_before == Some(abandoned) && started.elapsed() > Duration::from_secs(2);
        quiet_before = quiet.then_some(abandoned);
        if finished || started.elapsed() >= limit {
            sale.over.store(true, Ordering::Relaxed);
            if finished {
                // Sold out when the last unit was held (a release puts units back on sale).
                let last = *sale.last_sale.lock().expect("last sale");
                sold_out_after = last.map(|t| t.saturating_duration_since(started));
            } else {
                sale.event(format!("time is up ({} s)", limit.as_secs()));
            }
            break;
        }
    }
    for b in buyers {
        let _ = b.await;
    }
    let _ = director.await;
    for p in pickers {
        let _ = p.await;
    }

    // The storefront must end where the database is: wait for the last notifications.
    let deadline = Instant::now() + Duration::from_secs(20);
    let live_matches = loop {
        let truth: HashMap<(String, String), i64> = snapshot(&db, None)
            .await
            .expect("snapshot")
            .into_iter()
            .map(|(s, c, a, _)| ((s, c), a))
            .collect();
        if view.lock().expect("view").values() == truth {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    storefront.abort();
    let final_view = view.lock().expect("view").clone();
    let lines = screen(&final_view, &sale, sale.sellable(&at_start), started, 0.0);
    if !tty {
        for line in &lines[..lines.len().min(7)] {
            println!("{line}");
        }
    }
    if let Some(after) = sold_out_after {
        println!("\nsold out after {:.2} s", after.as_secs_f64());
    }
    let mut ok = report(&db, &sale, &at_start, live_matches, sold_out(&final_view)).await;
    if escrow {
        ok &= rush(&dsn, &db).await;
    }
    println!(
        "\nThe demo cluster is still running. Look around:\n    scripts/cluster.sh psql demo -d inventory_truth_demo\n\
         e.g. SELECT * FROM inventory_truth.stock('SNEAKER-HOT');  SELECT * FROM inventory_truth.broken_holds;\n\
         Stop it with: make stop"
    );
    std::process::exit(if ok { 0 } else { 1 });
}

/// Units of each rush SKU.
const RUSH_UNITS: i64 = 400;

/// The same rush on two SKUs alike but for escrow: BUYERS web buyers reserving one unit after
/// another without a pause until refused, first on the SKU without escrow, then on the one with
/// it. Prints how fast each sold out for the web; true when both sold exactly what the web could
/// promise and `verify()` is clean.
async fn rush(dsn: &str, db: &Client) -> bool {
    println!("\n== The hot SKU with escrow and without: the same rush on two SKUs alike");
    let setup = format!(
        "SELECT count(*) FROM inventory_truth.receive('RUSH-PLAIN', 'DC1', {RUSH_UNITS});
         SELECT count(*) FROM inventory_truth.put_away('RUSH-PLAIN', 'DC1', {RUSH_UNITS});
         SELECT count(*) FROM inventory_truth.receive('RUSH-ESCROW', 'DC1', {RUSH_UNITS});
         SELECT count(*) FROM inventory_truth.put_away('RUSH-ESCROW', 'DC1', {RUSH_UNITS});
         SELECT inventory_truth.set_escrow('RUSH-ESCROW', {BUYERS})"
    );
    if let Err(e) = db.batch_execute(&setup).await {
        println!("  FAIL setting up the rush: {e}");
        return false;
    }
    let mut ok = true;
    let mut times = Vec::new();
    for sku in ["RUSH-PLAIN", "RUSH-ESCROW"] {
        let promised: i64 = match db
            .query_one("SELECT inventory_truth.atp($1, 'web')", &[&sku])
            .await
        {
            Ok(r) => r.get(0),
            Err(e) => {
                println!("  FAIL atp({sku}): {e}");
                return false;
            }
        };
        let mut buyers = Vec::new();
        for _ in 0..BUYERS {
            match connect(dsn).await {
                Ok(c) => buyers.push(c),
                Err(e) => {
                    println!("  FAIL a rush buyer could not connect: {e}");
                    return false;
                }
            }
        }
        let started = Instant::now();
        let tasks: Vec<_> = buyers
            .into_iter()
            .enumerate()
            .map(|(n, buyer)| {
                let sku = sku.to_owned();
                tokio::spawn(async move {
                    let mut sold = 0i64;
                    for i in 0.. {
                        let reference = format!("{sku}-{n}-{i}");
                        match buyer
                            .query_one(
                                "SELECT inventory_truth.reserve('web', $1, 1, $2)",
                                &[&sku, &reference],
                            )
                            .await
                        {
                            Ok(_) => sold += 1,
                            Err(e) if sqlstate(&e).as_deref() == Some("IT001") => break,
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    Ok(sold)
                })
            })
            .collect();
        let mut sold = 0;
        for task in tasks {
            match task.await {
                Ok(Ok(n)) => sold += n,
                Ok(Err(e)) => {
                    println!("  FAIL a rush buyer: {e}");
                    ok = false;
                }
                Err(e) => {
                    println!("  FAIL a rush buyer: {e}");
                    ok = false;
                }
            }
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "  {} {sku}: {sold} of the {promised} units the web could promise, sold out in {took:.3} s ({:.0} reservations/s)",
            if sold == promised { "ok  " } else { "FAIL" },
            sold as f64 / took
        );
        ok &= sold == promised;
        times.push(took);
    }
    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1);
    println!(
        "  {} verify() after the rush: {problems} problems",
        if problems == 0 { "ok  " } else { "FAIL" }
    );
    ok &= problems == 0;
    if let [plain, escrowed] = times[..] {
        println!(
            "  with escrow ({BUYERS} parts) it sold out {:.1} x as fast as without (relay mode; docs/design.md §12)",
            plain / escrowed
        );
    }
    ok
}

/// The report; true when every check holds.
async fn report(
    db: &Client,
    sale: &Sale,
    at_start: &HashMap<String, i64>,
    live_matches: bool,
    sold_out: bool,
) -> bool {
    let mut ok = true;
    let mut check = |holds: bool, text: String| {
        println!("  {} {text}", if holds { "ok  " } else { "FAIL" });
        ok &= holds;
    };
    println!("\n== What was sold");
    // Sellable, from what the demo itself saw: what was on the shelf at the start, changed by
    // the warehouse's events (their movements). Sold: what the buyers were told they hold. Left
    // over: what the database has on the shelf now. A unit sold twice would show as sold + left
    // over above sellable (or as a negative balance, checked below).
    let item = |sku: &str| {
        if sku.starts_with("TEE-") {
            "T-shirts".to_owned()
        } else {
            sku.to_owned()
        }
    };
    let mut sellable: BTreeMap<String, i64> = BTreeMap::new();
    for (sku, units) in at_start {
        *sellable.entry(item(sku)).or_default() += units;
    }
    for (sku, units) in sale.shelf_changes.lock().expect("shelf").iter() {
        *sellable.entry(item(sku)).or_default() += units;
    }
    let held = sale.held.lock().expect("held").clone();
    let mut sold: BTreeMap<(String, String), i64> = BTreeMap::new();
    for ((sku, channel), units) in &held {
        *sold.entry((item(sku), channel.clone())).or_default() += units;
    }
    let mut left: BTreeMap<String, i64> = BTreeMap::new();
    let mut lost: BTreeMap<String, i64> = BTreeMap::new();
    for r in query_rows(
        db,
        "SELECT s.code,
                (SELECT coalesce(sum(b.qty), 0)::bigint FROM inventory_truth.balance b
                  WHERE b.sku = s.code AND b.stage = 'available'),
                (SELECT coalesce(sum(h.lost_qty), 0)::bigint FROM inventory_truth.hold h WHERE h.sku = s.code)
           FROM inventory_truth.sku s",
    )
    .await
    {
        let sku: String = r.get(0);
        *left.entry(item(&sku)).or_default() += r.get::<_, i64>(1);
        *lost.entry(item(&sku)).or_default() += r.get::<_, i64>(2);
    }
    println!(
        "  {:<12} {:>9} {:>6} {:>7} {:>10} {:>6} {:>10} {:>9}   of the sold, lost in the short pick",
        "",
        "sellable",
        "web",
        "amazon",
        "wholesale",
        "sold",
        "left over",
                "oversold",
    );
    let (mut books_agree, mut oversold_total) = (true, 0);
    for (name, units) in &sellable {
        let by = |c: &str| {
            sold.get(&(name.clone(), c.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let total = by("web") + by("amazon") + by("wholesale");
        let on_shelf = left.get(name).copied().unwrap_or(0);
        let oversold = (total - units).max(0);
        oversold_total += oversold;
        books_agree &= total + on_shelf == *units;
        println!(
            "  {name:<12} {units:>9} {:>6} {:>7} {:>10} {total:>6} {on_shelf:>10} {oversold:>9}   {}",
            by("web"),
            by("amazon"),
            by("wholesale"),
            lost.get(name).copied().unwrap_or(0)
        );
    }
    check(
        oversold_total == 0,
        format!("{oversold_total} units oversold: no SKU sold more than it had"),
    );
    check(
        sold_out,
        "sold out: every channel's ATP of every SKU is 0, so every sellable unit a channel could promise was sold".into(),
    );
    check(
        books_agree,
        "the database agrees: sold + left on the shelf = sellable, for every SKU".into(),
    );
    let in_database: BTreeMap<(String, String), i64> = query_rows(
        db,
        "SELECT sku, channel, sum(qty - released_qty)::bigint FROM inventory_truth.hold GROUP BY sku, channel",
    )
    .await
    .iter()
    .map(|r| ((r.get(0), r.get(1)), r.get(2)))
    .collect();
    let held_nonzero: BTreeMap<(String, String), i64> =
        held.into_iter().filter(|(_, units)| *units != 0).collect();
    let in_database: BTreeMap<(String, String), i64> = in_database
        .into_iter()
        .filter(|(_, units)| *units != 0)
        .collect();
    check(
        held_nonzero == in_database,
        format!(
            "what each buyer was told it holds is what the database holds, per SKU and channel: {:?}",
            sale.held_by_channel()
        ),
    );
    let left_over = query_rows(
        db,
        "SELECT coalesce(string_agg(format('%s units fenced for %s', q, channel), ', ' ORDER BY channel), 'none')
           FROM (SELECT channel, sum(qty) AS q FROM inventory_truth.fence WHERE qty > 0 GROUP BY channel) f",
    )
    .await;
    if let Some(text) = left_over.first().map(|r| r.get::<_, String>(0)) {
        println!("  left over: {text}, the rest in the shared pool; no channel may promise them: each channel's safety buffer hides what it could take");
    }
    let done = sale.events_done.load(Ordering::Relaxed);
    check(
        done == 4,
        format!("{done} of 4 warehouse events happened (damage, short pick, return, blind count)"),
    );
    let negative: i64 = db
        .query_one(
            "SELECT count(*) FROM inventory_truth.balance WHERE qty < 0",
            &[],
        )
        .await
        .expect("balances")
        .get(0);
    check(negative == 0, "no balance is negative".into());
    let problems = query_rows(db, "SELECT format('%s %s %s: %s', sku, location, stage, problem) FROM inventory_truth.verify()").await;
    check(
        problems.is_empty(),
        "verify(): balances equal the ledger, fences fit, holds equal committed stock".into(),
    );
    for p in &problems {
        println!("       {}", p.get::<_, String>(0));
    }
    check(
        live_matches,
        "the storefront's live view (from notifications) equals atp_snapshot()".into(),
    );
    let errors = sale.problems.lock().expect("problems").clone();
    check(
        errors.is_empty(),
        format!(
            "no unexpected error ({} refusals were 'not enough stock', IT001)",
            sale.refusals.load(Ordering::Relaxed)
        ),
    );
    for e in errors.iter().take(10) {
        println!("       {e}");
    }

    println!("\n== Stock that is not for sale (yet)");
    for r in query_rows(
        db,
        "SELECT format('%s %s: %s %s', sku, location, qty, stage) FROM inventory_truth.balance
          WHERE stage IN ('inbound', 'quarantine', 'damaged', 'missing', 'written_off') AND qty > 0
            AND sku NOT LIKE 'TEE-%' ORDER BY sku, location, stage",
    )
    .await
    {
        println!("  {}", r.get::<_, String>(0));
    }
    for r in query_rows(
        db,
        "SELECT format('%s for the web, by date: %s', 'SNEAKER-HOT',
                       string_agg(format('%s %s', day, atp), ', ' ORDER BY day))
           FROM inventory_truth.atp_timeline('SNEAKER-HOT', 'web')",
    )
    .await
    {
        println!("  {}", r.get::<_, String>(0));
    }

    println!("\n== The readiness checklist (readiness())");
    for r in query_rows(
        db,
        "SELECT item, status, question, evidence FROM inventory_truth.readiness() ORDER BY item",
    )
    .await
    {
        println!(
            "  {}. [{}] {}\n       {}",
            r.get::<_, i32>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3)
        );
    }
    println!("\n== Warehouse lag: commit time minus the physical event's time (lag_stats())");
    println!("  {:<42} {:>5}", "event", "moves");
    for r in query_rows(
        db,
        "SELECT format('%-42s %5s  p50 %8s s  p95 %8s s  max %8s s', event, movements,
                       round(extract(epoch FROM p50), 3), round(extract(epoch FROM p95), 3),
                       round(extract(epoch FROM max), 3))
           FROM inventory_truth.lag_stats('1 hour') ORDER BY movements DESC",
    )
    .await
    {
        println!("  {}", r.get::<_, String>(0));
    }
    println!(
        "\n{}",
        if ok {
            "All checks hold."
        } else {
            "SOME CHECKS FAILED."
        }
    );
    ok
}

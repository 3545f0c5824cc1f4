//! Many buyers on three channels at once, over real connections and real commits, with demand
//! far above the stock (docs/design.md §3, §4).
//!
//! Sixteen clients (a third each on amazon, web and wholesale) reserve single SKUs and
//! two-SKU baskets in random line order, release and pick their holds, and sell directly
//! through the ledger, mostly on one hot SKU split over two locations, with Amazon fenced at
//! 50%, every SKU fenced 2 units for wholesale and a web buffer of 2; one SKU at two locations
//! is bought by web buyers only. Then every client buys
//! until refused: the sell-out. The only refusals allowed are IT001 (not enough to promise) and,
//! for direct ledger sales, IT003 (a fence or buffer breached); a deadlock or any other error
//! fails the test. Afterwards:
//! - verify() is clean: balances equal the ledger, fences fit in available stock, open holds
//!   equal committed stock; no balance is negative;
//! - no unit was created or lost: every SKU's units still add up to what was put away;
//! - exactly what the clients were told they hold, or picked, is committed, or picked;
//! - the stock sold out: no channel can promise another unit of any SKU, and the web-only SKU
//!   has exactly the web's buffer left unfenced.

use inventory_truth_client::{connect, fresh_database, shelve, sqlstate, Lcg};
use std::collections::HashMap;

const CLIENTS: u64 = 16;
const OPERATIONS_PER_CLIENT: u64 = 80;
const CHANNELS: [&str; 3] = ["amazon", "web", "wholesale"];
/// What is put away before the sale: (SKU, location, units).
const STOCK: [(&str, &str, i64); 8] = [
    ("HOT", "DC1", 30),
    ("HOT", "DC2", 12),
    ("TAIL-1", "DC1", 4),
    ("TAIL-2", "DC1", 4),
    ("TAIL-3", "DC2", 5),
    ("TAIL-4", "DC2", 3),
    ("WEB-ONLY", "DC1", 7),
    ("WEB-ONLY", "DC2", 7),
];
const SKUS: [&str; 6] = ["HOT", "TAIL-1", "TAIL-2", "TAIL-3", "TAIL-4", "WEB-ONLY"];
/// Only web buyers buy it: once sold out, exactly the web's buffer is left in the pool.
const WEB_ONLY: &str = "WEB-ONLY";
const WEB_BUFFER: i64 = 2;

/// What one client was told: its holds still open, and the units it picked.
#[derive(Default, Debug)]
struct Ledger {
    open: Vec<(i64, String, i64)>, // (hold id, sku, qty)
    picked: HashMap<String, i64>,
    refused: u64,
}

impl Ledger {
    fn refuse(&mut self, e: &tokio_postgres::Error, allowed: &[&str]) {
        let code = sqlstate(e);
        assert!(
            code.as_deref().is_some_and(|c| allowed.contains(&c)),
            "only {allowed:?} may refuse this call, got {e:?}"
        );
        self.refused += 1;
    }
}

fn pick_sku(rng: &mut Lcg, channel: &str) -> &'static str {
    // The hot SKU most of the time, the long tail otherwise; web buyers also buy their own.
    match rng.next(10) {
        0..=5 => "HOT",
        6 if channel == "web" => WEB_ONLY,
        _ => SKUS[1 + rng.next(4) as usize],
    }
}

async fn buyer(dsn: String, client: u64) -> Ledger {
    let db = connect(&dsn).await.expect("connect");
    let channel = CHANNELS[(client % 3) as usize];
    let mut rng = Lcg(client * 7919 + 1);
    let mut mine = Ledger::default();
    for op in 0..OPERATIONS_PER_CLIENT {
        let reference = format!("C{client}-{op}");
        match rng.next(10) {
            0..=4 => {
                let sku = pick_sku(&mut rng, channel);
                let qty = 1 + rng.next(3) as i64;
                match db
                    .query_one(
                        "SELECT inventory_truth.reserve($1, $2, $3, $4)",
                        &[&channel, &sku, &qty, &reference],
                    )
                    .await
                {
                    Ok(_) => {
                        // One hold per location it is served from (a split reservation).
                        let parts = db
                            .query(
                                "SELECT id, qty FROM inventory_truth.hold
                                  WHERE ref = $1 AND sku = $2 AND channel = $3",
                                &[&reference, &sku, &channel],
                            )
                            .await
                            .expect("the reservation's holds");
                        for part in parts {
                            mine.open.push((part.get(0), sku.to_string(), part.get(1)));
                        }
                    }
                    Err(e) => mine.refuse(&e, &["IT001"]),
                }
            }
            5 => {
                // A basket of the hot SKU and a tail SKU, lines in random order.
                let tail = SKUS[1 + rng.next(4) as usize];
                let (first, second) = if rng.next(2) == 0 {
                    ("HOT", tail)
                } else {
                    (tail, "HOT")
                };
                let lines = format!(
                    r#"[{{"sku": "{first}", "qty": {}}}, {{"sku": "{second}", "qty": 1}}]"#,
                    1 + rng.next(2)
                );
                match db
                    .query(
                        "SELECT hold, sku, qty FROM inventory_truth.reserve_order($1, $2, $3::text::jsonb)",
                        &[&channel, &reference, &lines],
                    )
                    .await
                {
                    Ok(rows) => {
                        for row in rows {
                            mine.open.push((row.get(0), row.get(1), row.get(2)));
                        }
                    }
                    Err(e) => mine.refuse(&e, &["IT001"]),
                }
            }
            6 if !mine.open.is_empty() => {
                // Release one of this client's orders (all its lines).
                let index = rng.next(mine.open.len() as u64) as usize;
                let id = mine.open[index].0;
                let released: i32 = db
                    .query_one(
                        "SELECT inventory_truth.release($1, h.ref) FROM inventory_truth.hold h WHERE h.id = $2",
                        &[&channel, &id],
                    )
                    .await
                    .expect("release my own order")
                    .get(0);
                assert!(released >= 1, "my order had an open hold");
                let order: String = db
                    .query_one("SELECT ref FROM inventory_truth.hold WHERE id = $1", &[&id])
                    .await
                    .unwrap()
                    .get(0);
                let ids: Vec<i64> = db
                    .query(
                        "SELECT id FROM inventory_truth.hold WHERE ref = $1",
                        &[&order],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                mine.open.retain(|(hold, _, _)| !ids.contains(hold));
            }
            7 if !mine.open.is_empty() => {
                // The picker scans one of this client's holds, all of it.
                let index = rng.next(mine.open.len() as u64) as usize;
                let (id, sku, qty) = mine.open.swap_remove(index);
                let picked: i64 = db
                    .query_one(
                        "SELECT (SELECT sum(p.qty) FROM inventory_truth.pick(h.sku, h.location, h.open_qty, h.ref) p
                                  WHERE p.from_stage = 'committed')::bigint
                           FROM inventory_truth.hold h WHERE h.id = $1",
                        &[&id],
                    )
                    .await
                    .expect("pick my own hold")
                    .get(0);
                assert_eq!(picked, qty, "the pick took the whole hold from committed");
                *mine.picked.entry(sku).or_default() += qty;
            }
            _ => {
                // An ERP's direct ledger sale at a random location: checked at commit.
                let sku = pick_sku(&mut rng, channel);
                let location = if rng.next(2) == 0 { "DC1" } else { "DC2" };
                let qty = 1 + rng.next(2) as i64;
                match db
                    .execute(
                        "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty, channel, ref)
                         VALUES ($1, $2, 'available', 'committed', $3, $4, $5)",
                        &[&sku, &location, &qty, &channel, &reference],
                    )
                    .await
                {
                    Ok(_) => {
                        let id: i64 = db
                            .query_one(
                                "SELECT id FROM inventory_truth.hold WHERE channel = $1 AND ref = $2 AND sku = $3",
                                &[&channel, &reference, &sku],
                            )
                            .await
                            .expect("the direct sale made a hold")
                            .get(0);
                        mine.open.push((id, sku.to_string(), qty));
                    }
                    Err(e) => mine.refuse(&e, &["IT001", "IT003"]),
                }
            }
        }
    }
    // The sell-out: buy one unit of every SKU until this channel can promise no more.
    for (n, sku) in SKUS.iter().enumerate() {
        if *sku == WEB_ONLY && channel != "web" {
            continue;
        }
        for attempt in 0.. {
            let reference = format!("C{client}-end-{n}-{attempt}");
            match db
                .query_one(
                    "SELECT inventory_truth.reserve($1, $2, 1, $3)",
                    &[&channel, sku, &reference],
                )
                .await
            {
                Ok(row) => mine.open.push((row.get(0), sku.to_string(), 1)),
                Err(e) => {
                    mine.refuse(&e, &["IT001"]);
                    break;
                }
            }
        }
    }
    mine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buyers_on_every_channel_never_oversell() {
    stress("client_reserve_stress", false).await;
}

/// The same with the hot SKU and the web's SKU escrowed (docs/design.md §12) and buyers that do
/// not notify, so that reservations from the pool take parts while holds are picked, released
/// and changed, baskets are reserved and channels with fences sell beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buyers_on_every_channel_never_oversell_with_escrow() {
    stress("client_reserve_stress_escrow", true).await;
}

async fn stress(database: &str, escrow: bool) {
    let dsn = fresh_database(database).await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('amazon', 10, kind => 'marketplace'),
                inventory_truth.add_channel('web', 20, buffer => 2),  -- WEB_BUFFER
                inventory_truth.add_channel('wholesale', 30, kind => 'wholesale');
         SELECT inventory_truth.set_ringfence('wholesale', NULL, units => 2);",
    )
    .await
    .unwrap();
    for (sku, location, units) in STOCK {
        shelve(&db, sku, location, units).await.unwrap();
    }
    db.execute(
        "SELECT inventory_truth.set_ringfence('amazon', 'HOT', percent => 50)",
        &[],
    )
    .await
    .unwrap();

    let buyers_dsn = if escrow {
        let lent: i64 = db
            .query_one(
                "SELECT inventory_truth.set_escrow('HOT', 4) + inventory_truth.set_escrow($1, 4)",
                &[&WEB_ONLY],
            )
            .await
            .unwrap()
            .get(0);
        assert!(lent > 0, "escrow lent nothing");
        format!("{dsn} options='-c inventory_truth.notify_mode=off'")
    } else {
        dsn.clone()
    };
    let runs: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(buyer(buyers_dsn.clone(), client)))
        .collect();
    let mut open: HashMap<String, i64> = HashMap::new();
    let mut picked: HashMap<String, i64> = HashMap::new();
    let mut refused = 0;
    for run in runs {
        let mine = run.await.expect("client task");
        for (_, sku, qty) in mine.open {
            *open.entry(sku).or_default() += qty;
        }
        for (sku, qty) in mine.picked {
            *picked.entry(sku).or_default() += qty;
        }
        refused += mine.refused;
    }
    assert!(refused > CLIENTS, "demand was far above the stock");

    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(problems, 0, "verify() found discrepancies");
    let negative: i64 = db
        .query_one(
            "SELECT count(*) FROM inventory_truth.balance WHERE qty < 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(negative, 0, "a balance went negative");

    for sku in SKUS {
        let row = db
            .query_one(
                "SELECT coalesce(sum(qty), 0)::bigint,
                        coalesce(sum(qty) FILTER (WHERE stage = 'committed'), 0)::bigint,
                        coalesce(sum(qty) FILTER (WHERE stage = 'picked'), 0)::bigint
                   FROM inventory_truth.balance WHERE sku = $1",
                &[&sku],
            )
            .await
            .unwrap();
        let (total, committed, on_carts): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let put_away: i64 = STOCK
            .iter()
            .filter(|(s, _, _)| *s == sku)
            .map(|(_, _, q)| q)
            .sum();
        assert_eq!(total, put_away, "{sku}: units were created or lost");
        assert_eq!(
            committed,
            open.get(sku).copied().unwrap_or(0),
            "{sku}: committed stock is exactly what the buyers were told they hold"
        );
        assert_eq!(
            on_carts,
            picked.get(sku).copied().unwrap_or(0),
            "{sku}: picked stock is exactly what the buyers picked"
        );
    }

    // The buffer held across both locations: the web sold its SKU down to exactly 2 unfenced
    // units, never below.
    let left_for_web: i64 = db
        .query_one(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.stock($1)
              WHERE stage = 'available' AND channel IS NULL",
            &[&WEB_ONLY],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left_for_web, WEB_BUFFER,
        "the web sold into its safety buffer, or not all it could"
    );

    let unsold: Vec<(String, String, i64)> = db
        .query(
            // Other channels never bought the web's SKU: they may still see it.
            "SELECT sku, channel, atp FROM inventory_truth.atp_snapshot()
              WHERE atp <> 0 AND (sku <> $1 OR channel = 'web')",
            &[&WEB_ONLY],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        unsold.is_empty(),
        "after the sell-out a channel could still promise units: {unsold:?}"
    );
}

/// Baskets of the same SKUs in every line order, many at once, with stock to spare: none may
/// deadlock, because reserve_order locks SKUs in code order whatever the basket's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn baskets_in_any_line_order_never_deadlock() {
    const BASKET_SKUS: [&str; 4] = ["A", "B", "C", "D"];
    const BASKETS_PER_CLIENT: u64 = 40;
    let dsn = fresh_database("client_reserve_baskets").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1');
         SELECT inventory_truth.add_channel('web');",
    )
    .await
    .unwrap();
    for sku in BASKET_SKUS {
        shelve(&db, sku, "DC1", 100000).await.unwrap();
    }
    let runs: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let dsn = dsn.clone();
            tokio::spawn(async move {
                let db = connect(&dsn).await.expect("connect");
                let mut rng = Lcg(client * 104729 + 3);
                let mut held = 0i64;
                for basket in 0..BASKETS_PER_CLIENT {
                    // Three of the four SKUs, shuffled.
                    let mut skus = BASKET_SKUS.to_vec();
                    skus.remove(rng.next(4) as usize);
                    for i in (1..skus.len()).rev() {
                        skus.swap(i, rng.next(i as u64 + 1) as usize);
                    }
                    let lines: Vec<String> = skus
                        .iter()
                        .map(|s| format!(r#"{{"sku": "{s}", "qty": 1}}"#))
                        .collect();
                    let reference = format!("C{client}-{basket}");
                    let rows = db
                        .query(
                            "SELECT hold FROM inventory_truth.reserve_order('web', $1, $2::text::jsonb)",
                            &[&reference, &format!("[{}]", lines.join(", "))],
                        )
                        .await
                        .unwrap_or_else(|e| panic!("basket {reference} {skus:?} refused: {e:?}"));
                    held += rows.len() as i64;
                }
                held
            })
        })
        .collect();
    let mut held = 0;
    for run in runs {
        held += run.await.expect("client task");
    }
    assert_eq!(held, (CLIENTS * BASKETS_PER_CLIENT * 3) as i64);
    let committed: i64 = db
        .query_one(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.balance WHERE stage = 'committed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(committed, held, "every basket line is held");
    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(problems, 0, "verify() found discrepancies");
}

/// Reservations, releases, pick scans, expiry and damage found among committed units, all at
/// once on a few SKUs: the paths that take committed units without naming a hold (damage) or
/// lock holds one by one (release, expiry) must never deadlock, and the holds must stay equal
/// to committed stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damage_and_expiry_against_holds_never_deadlock() {
    const SKUS: [&str; 3] = ["X", "Y", "Z"];
    const OPERATIONS: u64 = 60;
    let dsn = fresh_database("client_hold_damage").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('amazon', 10), inventory_truth.add_channel('web', 20);
         SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 30);",
    )
    .await
    .unwrap();
    for sku in SKUS {
        for location in ["DC1", "DC2"] {
            shelve(&db, sku, location, 400).await.unwrap();
        }
    }
    let runs: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let dsn = dsn.clone();
            tokio::spawn(async move {
                let db = connect(&dsn).await.expect("connect");
                let mut rng = Lcg(client * 31337 + 5);
                let channel = if client % 2 == 0 { "amazon" } else { "web" };
                let mut refs: Vec<String> = Vec::new();
                for op in 0..OPERATIONS {
                    let sku = SKUS[rng.next(3) as usize];
                    let location = if rng.next(2) == 0 { "DC1" } else { "DC2" };
                    let result = match rng.next(6) {
                        0 | 1 => {
                            let reference = format!("C{client}-{op}");
                            let ttl = if rng.next(2) == 0 { "1 millisecond" } else { "1 hour" };
                            let r = db
                                .execute(
                                    "SELECT inventory_truth.reserve($1, $2, 2, $3, $4::text::interval, $5)",
                                    &[&channel, &sku, &reference, &ttl, &location],
                                )
                                .await;
                            if r.is_ok() {
                                refs.push(reference);
                            }
                            r
                        }
                        2 if !refs.is_empty() => {
                            let reference = refs.swap_remove(rng.next(refs.len() as u64) as usize);
                            db.execute("SELECT inventory_truth.release($1, $2)", &[&channel, &reference])
                                .await
                        }
                        3 if !refs.is_empty() => {
                            let reference = refs[rng.next(refs.len() as u64) as usize].clone();
                            db.execute(
                                "SELECT count(*) FROM inventory_truth.hold h,
                                        inventory_truth.pick(h.sku, h.location, 1, h.ref, channel => h.channel)
                                  WHERE h.channel = $1 AND h.ref = $2 AND h.status = 'open'",
                                &[&channel, &reference],
                            )
                            .await
                        }
                        4 => {
                            db.execute(
                                "SELECT count(*) FROM inventory_truth.report_damage($1, $2, 1, from_stage => 'committed')",
                                &[&sku, &location],
                            )
                            .await
                        }
                        _ => db.execute("SELECT inventory_truth.expire_holds()", &[]).await,
                    };
                    if let Err(e) = result {
                        assert_eq!(
                            sqlstate(&e).as_deref(),
                            Some("IT001"),
                            "only IT001 may refuse these calls, got {e:?}"
                        );
                    }
                }
            })
        })
        .collect();
    for run in runs {
        run.await.expect("client task");
    }
    let problems: Vec<String> = db
        .query(
            "SELECT format('%s', v) FROM inventory_truth.verify() v",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(problems.is_empty(), "verify() found: {problems:?}");
}

/// reserve() applies its own ledger row; a manager's direct INSERT of the same movement goes
/// through the ledger's general trigger. Side by side on two SKUs set up alike (two locations,
/// a percent fence and a unit fence on every SKU, a web buffer), every step of a random mix
/// (reservations with and without a location, releases, arrivals, damage) must leave both in
/// the same state: balances, fences, holds and ATP.
#[tokio::test]
async fn reserve_applies_its_row_exactly_as_the_ledger_trigger_would() {
    let dsn = fresh_database("it_reserve_as_trigger")
        .await
        .expect("database");
    let db = connect(&dsn).await.expect("connect");
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('amazon', 10, 0, 'marketplace'),
                inventory_truth.add_channel('web', 20, 1),
                inventory_truth.add_channel('wholesale', 30, 0, 'wholesale');
         SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 25);
         SELECT inventory_truth.set_ringfence('wholesale', NULL, units => 2);",
    )
    .await
    .expect("store");
    for sku in ["A", "B"] {
        shelve(&db, sku, "DC1", 12).await.expect("stock");
        shelve(&db, sku, "DC2", 5).await.expect("stock");
    }
    let state = "SELECT
        (SELECT string_agg(format('%s %s %s', location, stage, qty), ', ' ORDER BY location, stage)
           FROM inventory_truth.balance WHERE sku = $1),
        (SELECT string_agg(format('%s %s %s', location, channel, qty), ', ' ORDER BY location, channel)
           FROM inventory_truth.fence WHERE sku = $1),
        (SELECT string_agg(format('%s %s %s %s/%s/%s/%s', channel, ref, location, qty, open_qty,
                                  fence_qty, status), ', ' ORDER BY channel, ref)
           FROM inventory_truth.hold WHERE sku = $1),
        (SELECT string_agg(format('%s %s', channel, atp), ', ' ORDER BY channel)
           FROM inventory_truth.atp_snapshot() WHERE sku = $1)";
    let mut rng = Lcg(11);
    let mut reserved = 0;
    for step in 0..150 {
        let channel = CHANNELS[rng.next(3) as usize];
        let qty = 1 + rng.next(3) as i64;
        let reference = format!("R{step}");
        match rng.next(5) {
            0..=2 => {
                let location = match rng.next(3) {
                    0 => Some("DC1"),
                    1 => Some("DC2"),
                    _ => None,
                };
                let held = db
                    .query_one(
                        "SELECT inventory_truth.reserve($1, 'A', $2, $3, NULL, $4)",
                        &[&channel, &qty, &reference, &location],
                    )
                    .await;
                let held = match held {
                    Ok(row) => {
                        let id: i64 = row.get(0);
                        Ok(db
                            .query_one(
                                "SELECT location FROM inventory_truth.hold WHERE id = $1",
                                &[&id],
                            )
                            .await
                            .expect("the new hold"))
                    }
                    Err(e) => Err(e),
                };
                match held {
                    Ok(row) => {
                        let at: String = row.get(0);
                        db.execute(
                            "INSERT INTO inventory_truth.movement
                                 (sku, location, from_stage, to_stage, qty, channel, ref)
                             VALUES ('B', $1, 'available', 'committed', $2, $3, $4)",
                            &[&at, &qty, &channel, &reference],
                        )
                        .await
                        .unwrap_or_else(|e| {
                            panic!("step {step}: the direct row was refused: {e:?}")
                        });
                        reserved += 1;
                    }
                    Err(e) => {
                        assert_eq!(sqlstate(&e).as_deref(), Some("IT001"), "step {step}: {e:?}")
                    }
                }
            }
            3 => {
                // Release an open order (its holds of both SKUs), or put more away.
                let open = db
                    .query_opt(
                        "SELECT channel, ref FROM inventory_truth.hold WHERE status = 'open'
                          ORDER BY id LIMIT 1 OFFSET $1",
                        &[&(rng.next(4) as i64)],
                    )
                    .await
                    .expect("holds");
                if let Some(row) = open {
                    let (c, r): (String, String) = (row.get(0), row.get(1));
                    db.execute("SELECT inventory_truth.release($1, $2)", &[&c, &r])
                        .await
                        .expect("release");
                } else {
                    for sku in ["A", "B"] {
                        shelve(&db, sku, "DC2", qty).await.expect("stock");
                    }
                }
            }
            _ => {
                for sku in ["A", "B"] {
                    db.execute(
                        "SELECT count(*) FROM inventory_truth.report_damage($1, 'DC1', 1)",
                        &[&sku],
                    )
                    .await
                    .ok();
                }
            }
        }
        let a = db.query_one(state, &[&"A"]).await.expect("state of A");
        let b = db.query_one(state, &[&"B"]).await.expect("state of B");
        for column in 0..4 {
            let (x, y): (Option<String>, Option<String>) = (a.get(column), b.get(column));
            assert_eq!(x, y, "step {step}: reserve() and the ledger trigger differ");
        }
    }
    assert!(
        reserved > 30,
        "enough reservations went through ({reserved})"
    );
    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .expect("verify")
        .get(0);
    assert_eq!(problems, 0, "verify() is clean");
}

//! Many sessions moving the same units at once, over real connections and real commits.
//!
//! Eight clients pick from and put back to one hot SKU, through the functions and through
//! direct ledger inserts, with demand far above the stock. The only refusal allowed is IT001
//! (not enough units); a deadlock or any other error fails the test. Afterwards the ledger
//! must equal the balances, nothing may be negative, and every unit must be accounted for.
//! A second test does the same for expected receipts: expecting, receiving (with and without
//! a reference), cancelling and re-dating one SKU's purchase orders at once.
//! A third sends multi-row inserts over four SKUs in random orders: none may deadlock.

use inventory_truth_client::{connect, fresh_database, sqlstate, Lcg};

const CLIENTS: u64 = 8;
const OPERATIONS_PER_CLIENT: u64 = 150;
const STOCK: i64 = 20;

#[derive(Default, Debug)]
struct Tally {
    picked: i64,
    put_back: i64,
    refused: u64,
}

/// How many discrepancies verify() reports: none, when balances equal the ledger.
async fn verify_problems(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .expect("run verify()")
        .get(0)
}

async fn client_run(dsn: String, seed: u64) -> Tally {
    let db = connect(&dsn).await.expect("connect");
    let mut rng = Lcg(seed);
    let mut tally = Tally::default();
    for _ in 0..OPERATIONS_PER_CLIENT {
        let qty = 1 + rng.next(3) as i64;
        let (sql, picking) = match rng.next(4) {
            0 => (
                "SELECT count(*) FROM inventory_truth.pick('HOT', 'DC1', $1)",
                true,
            ),
            1 => (
                "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
                 VALUES ('HOT', 'DC1', 'available', 'picked', $1)",
                true,
            ),
            2 => (
                "SELECT count(*) FROM inventory_truth.put_back('HOT', 'DC1', $1)",
                false,
            ),
            _ => (
                "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
                 VALUES ('HOT', 'DC1', 'picked', 'available', $1)",
                false,
            ),
        };
        match db.execute(sql, &[&qty]).await {
            Ok(_) if picking => tally.picked += qty,
            Ok(_) => tally.put_back += qty,
            Err(e) => {
                assert_eq!(
                    sqlstate(&e).as_deref(),
                    Some("IT001"),
                    "only 'insufficient stock' may refuse a movement, got {e:?}"
                );
                tally.refused += 1;
            }
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_picks_and_put_backs_keep_the_ledger_true() {
    let dsn = fresh_database("client_ledger_concurrency").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(&format!(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1');
         SELECT count(*) FROM inventory_truth.receive('HOT', 'DC1', {STOCK});
         SELECT count(*) FROM inventory_truth.put_away('HOT', 'DC1', {STOCK});"
    ))
    .await
    .unwrap();

    let runs: Vec<_> = (0..CLIENTS)
        .map(|seed| tokio::spawn(client_run(dsn.clone(), seed + 1)))
        .collect();
    let mut total = Tally::default();
    for run in runs {
        let tally = run.await.expect("client task");
        total.picked += tally.picked;
        total.put_back += tally.put_back;
        total.refused += tally.refused;
    }
    // Demand far above the stock: the refusals really happened.
    assert!(total.refused > 0, "{total:?}");
    assert!(total.picked > STOCK, "{total:?}");

    assert_eq!(
        verify_problems(&db).await,
        0,
        "verify() found discrepancies"
    );
    let row = db
        .query_one(
            "SELECT coalesce(sum(qty) FILTER (WHERE stage = 'available'), 0)::bigint,
                    coalesce(sum(qty) FILTER (WHERE stage = 'picked'), 0)::bigint,
                    count(*) FILTER (WHERE qty < 0)
               FROM inventory_truth.balance WHERE sku = 'HOT'",
            &[],
        )
        .await
        .unwrap();
    let (available, picked, negative): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(negative, 0, "a balance went negative");
    assert_eq!(
        available + picked,
        STOCK,
        "units were created or lost: {total:?}"
    );
    assert_eq!(
        picked,
        total.picked - total.put_back,
        "the cart holds exactly what the clients were told they picked and did not put back"
    );
}

async fn receipts_run(dsn: String, seed: u64) -> u64 {
    let db = connect(&dsn).await.expect("connect");
    let mut rng = Lcg(seed);
    let mut refused = 0;
    for _ in 0..OPERATIONS_PER_CLIENT {
        // A few purchase orders, each expected with a fixed quantity, so retries are idempotent.
        let po = format!("PO-{}", rng.next(6));
        let qty = 1 + rng.next(3) as i64;
        let result = match rng.next(6) {
            0 => {
                db.execute(
                    // Later orders are due earlier: ETA order is not the order of creation.
                    "SELECT count(*) FROM inventory_truth.expect('INB', 'DC1', 10, $1,
                            DATE '2027-01-01' - substr($1, 4)::int)",
                    &[&po],
                )
                .await
            }
            1 => {
                db.execute(
                    "SELECT count(*) FROM inventory_truth.receive('INB', 'DC1', $1)",
                    &[&qty],
                )
                .await
            }
            2 => {
                db.execute(
                    "SELECT count(*) FROM inventory_truth.receive('INB', 'DC1', $1, $2)",
                    &[&qty, &po],
                )
                .await
            }
            3 => {
                db.execute(
                    "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
                     VALUES ('INB', 'DC1', 'inbound', 'receiving', $1)",
                    &[&qty],
                )
                .await
            }
            4 => {
                db.execute(
                    "SELECT count(*) FROM inventory_truth.cancel_expected('INB', 'DC1', $1)",
                    &[&po],
                )
                .await
            }
            _ => {
                // The supplier moves the date: ETA order changes under everyone's feet.
                let days = rng.next(30) as i32;
                db.execute(
                    "SELECT inventory_truth.set_eta('INB', 'DC1', $1, DATE '2027-01-01' + $2::int)",
                    &[&po, &days],
                )
                .await
            }
        };
        if let Err(e) = result {
            // Not enough open units, a purchase order not expected (yet), or an expect() retry
            // after set_eta moved the date (IT004): nothing else, and never a deadlock.
            let code = sqlstate(&e);
            assert!(
                matches!(
                    code.as_deref(),
                    Some("IT001") | Some("42704") | Some("IT004")
                ),
                "unexpected refusal {e:?}"
            );
            refused += 1;
        }
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_receipts_keep_expected_receipts_and_inbound_equal() {
    let dsn = fresh_database("client_receipts_concurrency").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1');",
    )
    .await
    .unwrap();

    let runs: Vec<_> = (0..CLIENTS)
        .map(|seed| tokio::spawn(receipts_run(dsn.clone(), seed + 100)))
        .collect();
    for run in runs {
        run.await.expect("client task");
    }

    assert_eq!(
        verify_problems(&db).await,
        0,
        "verify() found discrepancies"
    );
    let row = db
        .query_one(
            "SELECT (SELECT coalesce(sum(open_qty), 0)::bigint FROM inventory_truth.expected_receipt),
                    (SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.balance
                      WHERE stage = 'inbound'),
                    (SELECT count(*) FROM inventory_truth.movement WHERE from_stage = 'inbound')",
            &[],
        )
        .await
        .unwrap();
    let (open, inbound, received): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        open, inbound,
        "open expected receipts differ from inbound stock"
    );
    assert!(
        received > 0,
        "no expected units were ever received or cancelled"
    );
}

/// One multi-row INSERT of movements for several SKUs, in the order given.
fn multi_row_insert(skus: &[&str], from: &str, to: &str) -> String {
    let rows: Vec<String> = skus
        .iter()
        .map(|sku| format!("('{sku}', 'DC1', '{from}', '{to}', 1)"))
        .collect();
    format!(
        "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty) VALUES {}",
        rows.join(", ")
    )
}

async fn multi_row_run(dsn: String, seed: u64) -> (u64, u64) {
    let db = connect(&dsn).await.expect("connect");
    let mut rng = Lcg(seed);
    let (mut applied, mut refused) = (0, 0);
    for _ in 0..OPERATIONS_PER_CLIENT {
        // The same four SKUs in a random order, so concurrent statements disagree on order.
        let mut skus = vec!["A", "B", "C", "D"];
        for i in (1..skus.len()).rev() {
            skus.swap(i, rng.next(i as u64 + 1) as usize);
        }
        let sql = if rng.next(2) == 0 {
            multi_row_insert(&skus, "available", "picked")
        } else {
            multi_row_insert(&skus, "picked", "available")
        };
        match db.batch_execute(&sql).await {
            Ok(()) => applied += 1,
            Err(e) => {
                assert_eq!(
                    sqlstate(&e).as_deref(),
                    Some("IT001"),
                    "only 'insufficient stock' may refuse a statement, got {e:?}"
                );
                refused += 1;
            }
        }
    }
    (applied, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_multi_row_inserts_in_any_order_do_not_deadlock() {
    let dsn = fresh_database("client_multi_row_concurrency")
        .await
        .unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute(
        "CREATE EXTENSION inventory_truth; SELECT inventory_truth.add_location('DC1');",
    )
    .await
    .unwrap();
    for sku in ["A", "B", "C", "D"] {
        db.execute(
            "SELECT count(*) FROM inventory_truth.receive($1, 'DC1', 3)",
            &[&sku],
        )
        .await
        .unwrap();
        db.execute(
            "SELECT count(*) FROM inventory_truth.put_away($1, 'DC1', 3)",
            &[&sku],
        )
        .await
        .unwrap();
    }

    let runs: Vec<_> = (0..CLIENTS)
        .map(|seed| tokio::spawn(multi_row_run(dsn.clone(), seed + 200)))
        .collect();
    let (mut applied, mut refused) = (0, 0);
    for run in runs {
        let (a, r) = run.await.expect("client task");
        applied += a;
        refused += r;
    }
    assert!(
        applied > 0 && refused > 0,
        "applied {applied}, refused {refused}"
    );

    assert_eq!(
        verify_problems(&db).await,
        0,
        "verify() found discrepancies"
    );
    // Every statement moves one unit of each SKU, so all four always hold the same split.
    let splits: i64 = db
        .query_one(
            "SELECT count(DISTINCT (available, picked)) FROM (
                 SELECT sku, sum(qty) FILTER (WHERE stage = 'available') AS available,
                             sum(qty) FILTER (WHERE stage = 'picked') AS picked
                   FROM inventory_truth.balance GROUP BY sku) s",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        splits, 1,
        "a statement was applied to some SKUs and not others"
    );
}

//! Many sessions moving the same units at once, over real connections and real commits.
//!
//! Eight clients pick from and put back to one hot SKU, through the functions and through
//! direct ledger inserts, with demand far above the stock. The only refusal allowed is IT001
//! (not enough units); a deadlock or any other error fails the test. Afterwards the ledger
//! must equal the balances, nothing may be negative, and every unit must be accounted for.
//! A second test does the same for expected receipts: expecting, receiving (with and without
//! a reference) and cancelling one SKU's purchase orders at once.

use inventory_truth_client::{connect, fresh_database};

const CLIENTS: u64 = 8;
const OPERATIONS_PER_CLIENT: u64 = 150;
const STOCK: i64 = 20;

/// A small deterministic generator, so a failing run can be repeated.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[derive(Default, Debug)]
struct Tally {
    picked: i64,
    put_back: i64,
    refused: u64,
}

/// The SQLSTATE of a failed call, for the assertions.
fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.code().map(|c| c.code().to_string())
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

    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(problems, 0, "verify() found discrepancies");
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
        let result = match rng.next(5) {
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
            _ => {
                db.execute(
                    "SELECT count(*) FROM inventory_truth.cancel_expected('INB', 'DC1', $1)",
                    &[&po],
                )
                .await
            }
        };
        if let Err(e) = result {
            // Not enough open units, or a purchase order not expected (yet): nothing else.
            let code = sqlstate(&e);
            assert!(
                matches!(code.as_deref(), Some("IT001") | Some("42704")),
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

    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(problems, 0, "verify() found discrepancies");
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

//! Many sessions moving the same units at once, over real connections and real commits.
//!
//! Eight clients pick from and put back to one hot SKU, through the functions and through
//! direct ledger inserts, with demand far above the stock. The only refusal allowed is IT001
//! (not enough units); a deadlock or any other error fails the test. Afterwards the ledger
//! must equal the balances, nothing may be negative, and every unit must be accounted for.

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
                let code = e.code().map(|c| c.code().to_string());
                assert_eq!(
                    code.as_deref(),
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

//! Storefronts that read from a hot standby (issue 19; docs/storefront-guide.md, "Reading from
//! a replica"). PostgreSQL does not replicate NOTIFY: a storefront LISTENs on the primary, notes
//! the primary's WAL position, and reads its snapshot from the replica once the replica has
//! replayed that far (`wait_for_replay`). `make test` makes the replica a streaming standby of
//! the relay's cluster (`scripts/cluster.sh standby replica relay`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inventory_truth_client::storefront::{follow_replica, snapshot, AtpView, Event, Replica};
use inventory_truth_client::{
    connect, fresh_database_on, relay_cluster_dsn, replica_cluster_dsn, shelve, sqlstate,
};
use tokio_postgres::Client;

const SKUS: [&str; 5] = ["LAMP", "MUG", "TEE", "CAP", "VASE"];

/// The primary's connection string for `database`, and the replica's, as `role`.
fn dsns(database: &str, role: &str) -> (String, String) {
    (
        format!("{} dbname={database} user={role}", relay_cluster_dsn()),
        format!("{} dbname={database} user={role}", replica_cluster_dsn()),
    )
}

/// Waits until the replica has replayed everything the primary has written now.
async fn replica_caught_up(primary: &Client, replica_dsn: &str) -> Client {
    let lsn: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("the primary's position")
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The database itself arrives by replay: connecting fails until then.
        if let Ok(replica) = connect(replica_dsn).await {
            if let Ok(row) = replica
                .query_one(
                    "SELECT inventory_truth.wait_for_replay($1::text::pg_lsn, '10 seconds')",
                    &[&lsn],
                )
                .await
            {
                if row.get::<_, bool>(0) {
                    return replica;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the replica never replayed up to {lsn}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The primary's ATP per (sku, channel), as atp_snapshot() gives it.
async fn truth(db: &Client) -> HashMap<(String, String), i64> {
    snapshot(db, None)
        .await
        .expect("snapshot")
        .into_iter()
        .map(|(s, c, a, _)| ((s, c), a))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storefront_reading_from_a_replica_ends_equal_to_the_primary() {
    let primary_admin_dsn = fresh_database_on(&relay_cluster_dsn(), "it_replica_follow")
        .await
        .expect("database");
    let db = connect(&primary_admin_dsn).await.expect("connect");
    db.batch_execute(
        "CREATE EXTENSION inventory_truth;
         SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('web', 20, 1), inventory_truth.add_channel('amazon', 10);
         SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 30);
         DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'it_shop_replica') THEN
                 CREATE ROLE it_shop_replica LOGIN;
             END IF;
         END $$;
         GRANT inventory_truth_storefront TO it_shop_replica;",
    )
    .await
    .expect("a store and a storefront role");
    for sku in SKUS {
        shelve(&db, sku, "DC1", 30).await.expect("shelve");
        shelve(&db, sku, "DC2", 20).await.expect("shelve");
    }
    let (primary_dsn, replica_dsn) = dsns("it_replica_follow", "it_shop_replica");

    // Every read a storefront makes works on the replica, at the storefront level, and agrees
    // with the primary once the replica has replayed.
    let shop_replica = replica_caught_up(&db, &replica_dsn).await;
    let on_replica = truth(&shop_replica).await;
    assert_eq!(
        on_replica,
        truth(&db).await,
        "the replica's snapshot is the primary's"
    );
    for sql in [
        "SELECT inventory_truth.atp('LAMP', 'web')::text",
        "SELECT count(*)::text FROM inventory_truth.stock('LAMP')",
        "SELECT count(*)::text FROM inventory_truth.atp_timeline('LAMP', 'web')",
        "SELECT inventory_truth.preorderable('LAMP', 'web')::text",
        "SELECT count(*)::text FROM inventory_truth.check_order('web', '[{\"sku\": \"LAMP\", \"qty\": 2}]')",
        "SELECT mode FROM inventory_truth.notify_status()",
    ] {
        shop_replica
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql} on the replica: {e}"));
    }
    let atp: String = shop_replica
        .query_one("SELECT inventory_truth.atp('LAMP', 'web')::text", &[])
        .await
        .expect("atp on the replica")
        .get(0);
    assert_eq!(
        atp.parse::<i64>().expect("a number"),
        on_replica[&("LAMP".to_string(), "web".to_string())]
    );

    // The storefront follows: LISTEN on the primary, snapshots from the replica.
    let view = Arc::new(Mutex::new(AtpView::default()));
    let resyncs = Arc::new(Mutex::new(0u32));
    let follower = {
        let (view, resyncs) = (view.clone(), resyncs.clone());
        let (primary_dsn, replica_dsn) = (primary_dsn.clone(), replica_dsn.clone());
        tokio::spawn(async move {
            follow_replica(
                &primary_dsn,
                Replica {
                    dsn: &replica_dsn,
                    patience: Duration::from_secs(10),
                },
                None,
                "inventory_truth",
                |event| {
                    match event {
                        Event::Resynced { view: v, .. } => {
                            *view.lock().unwrap() = v.clone();
                            *resyncs.lock().unwrap() += 1;
                        }
                        Event::Changed { view: v, .. } => *view.lock().unwrap() = v.clone(),
                        Event::Disconnected { .. } => {}
                    }
                    true
                },
            )
            .await
        })
    };

    // Buyers on the primary for a few seconds; mid-stream, the replica's connection and then
    // the primary's listener are killed.
    let buyers = {
        let dsn = primary_admin_dsn.clone();
        tokio::spawn(async move {
            let db = connect(&dsn).await.expect("buyer");
            for n in 0..300 {
                let sku = SKUS[n % SKUS.len()];
                let channel = if n % 3 == 0 { "amazon" } else { "web" };
                let reference = format!("B-{n}");
                if db
                    .execute(
                        "SELECT inventory_truth.reserve($1, $2, 1, $3)",
                        &[&channel, &sku, &reference],
                    )
                    .await
                    .is_ok()
                    && n % 4 == 0
                {
                    db.execute(
                        "SELECT inventory_truth.release($1, $2)",
                        &[&channel, &reference],
                    )
                    .await
                    .expect("release");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let replica_admin = connect(&format!(
        "{} dbname=it_replica_follow",
        replica_cluster_dsn()
    ))
    .await
    .expect("the replica as a superuser");
    // Writes are the primary's: even a superuser's is refused on the replica (read-only).
    let refused = replica_admin
        .execute(
            "SELECT inventory_truth.reserve('web', 'LAMP', 1, 'R-1')",
            &[],
        )
        .await
        .expect_err("no writes on a replica");
    assert_eq!(sqlstate(&refused).as_deref(), Some("25006"), "{refused}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed: i64 = replica_admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE usename = 'it_shop_replica' AND pid <> pg_backend_pid()) k",
            &[],
        )
        .await
        .expect("kill the storefront's replica connections")
        .get(0);
    assert!(
        killed >= 1,
        "the storefront kept a connection to the replica"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let killed: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE usename = 'it_shop_replica' AND datname = current_database()) k",
            &[],
        )
        .await
        .expect("kill the storefront's listener")
        .get(0);
    assert!(killed >= 1, "the storefront was listening on the primary");
    buyers.await.expect("buyers");

    // Once the relay has published, the storefront holds what the primary holds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let expected = truth(&db).await;
        let held = view.lock().unwrap().values();
        if held == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the storefront never caught up: it holds {} values, {} differ",
            held.len(),
            expected
                .iter()
                .filter(|(k, v)| held.get(*k) != Some(v))
                .count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        *resyncs.lock().unwrap() >= 2,
        "the killed listener made it resync from the replica"
    );
    follower.abort();
}

//! A database created at a released version, with a store and a random mix of every operation
//! behind it, is updated with ALTER EXTENSION inventory_truth UPDATE: every invariant holds,
//! the units equal what clients were told, and a second load on the updated extension keeps it
//! so. Run by tests/scripts/upgrade.sh (part of `make test`), which installs the released
//! version's install script and names it in INVENTORY_TRUTH_UPGRADE_FROM.

use std::time::Duration;

use inventory_truth_client::chaos;
use inventory_truth_client::{cluster_dsn, connect, fresh_database_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run by tests/scripts/upgrade.sh (part of make test), which installs the released version"]
async fn an_updated_database_keeps_its_truth_and_carries_on_under_load() {
    let from = std::env::var("INVENTORY_TRUTH_UPGRADE_FROM")
        .expect("INVENTORY_TRUTH_UPGRADE_FROM names the released version to update from");
    let dsn = fresh_database_on(&cluster_dsn(), "it_upgrade_load")
        .await
        .expect("database");
    let db = connect(&dsn).await.expect("connect");
    db.batch_execute(&format!(
        "CREATE EXTENSION inventory_truth VERSION '{}'",
        from.replace('\'', "''")
    ))
    .await
    .expect("the released version installs");
    chaos::set_up_store(&db).await.expect("store");
    println!("at {from}: 6 clients, a random mix of every operation for 4 s");
    let (mut tally, cut) = chaos::run(&dsn, 6, 7, Duration::from_secs(4)).await;
    println!("{}", chaos::summary(&tally));
    assert!(tally.unexpected.is_empty(), "{:?}", tally.unexpected);
    assert!(cut.is_empty());

    db.batch_execute("ALTER EXTENSION inventory_truth UPDATE")
        .await
        .expect("update");
    let version: String = db
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'inventory_truth'",
            &[],
        )
        .await
        .expect("version")
        .get(0);
    println!("updated from {from} to {version}");
    for round in ["after the update", "after a load on the updated extension"] {
        let broken = chaos::broken_invariants(&db).await.expect("invariants");
        assert!(broken.is_empty(), "{round}: {}", broken.join("\n"));
        let books = chaos::units_on_books(&db).await.expect("books");
        let lost = chaos::conservation_problems(&books, &tally, &[]);
        assert!(lost.is_empty(), "{round}: {}", lost.join("\n"));
        let holds = chaos::hold_problems(&db, &tally).await.expect("holds");
        assert!(holds.is_empty(), "{round}: {}", holds.join("\n"));
        println!(
            "  {round}: verify() clean, holds add up, {} committed holds there, no unit created or lost",
            tally.holds.len()
        );
        if round.starts_with("after the update") {
            let (more, cut) = chaos::run(&dsn, 6, 8, Duration::from_secs(4)).await;
            assert!(more.unexpected.is_empty(), "{:?}", more.unexpected);
            assert!(cut.is_empty());
            println!("{}", chaos::summary(&more));
            tally.merge(more);
        }
    }
}

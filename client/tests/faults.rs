//! Faults (issue 8): a randomized mix of every operation from many clients, a kill -9 of the
//! postmaster and of the relay in the middle of it, and a listener that holds the notify queue
//! in a long transaction. After each: every invariant of `chaos::broken_invariants`, no unit
//! created or lost against what clients were told, every committed hold there and no
//! rolled-back one, the relay publishing again and a storefront that resyncs to the truth.
//!
//! They crash a cluster, so they run on a scratch cluster of their own that `scripts/test.sh
//! faults` starts (preloaded, so the relay runs), one at a time, and print what they did and
//! what held. `pg_amcheck` checks that cluster after them (test.sh).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inventory_truth_client::chaos::{self, InFlight, Tally};
use inventory_truth_client::storefront::{follow, snapshot, AtpView, Event};
use inventory_truth_client::{connect, fresh_database_on, storefront::listen};
use tokio_postgres::Client;

/// One fault test at a time: they crash the cluster they share.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn fault_cluster() -> (String, String) {
    let name = std::env::var("INVENTORY_TRUTH_FAULT_CLUSTER").unwrap_or_else(|_| {
        panic!("INVENTORY_TRUTH_FAULT_CLUSTER is not set: run the fault tests with `scripts/test.sh faults`")
    });
    let dsn = std::env::var("INVENTORY_TRUTH_FAULT_TEST_DSN")
        .expect("INVENTORY_TRUTH_FAULT_TEST_DSN is set with the cluster name");
    (name, dsn)
}

/// How long the load runs before and after a fault (`INVENTORY_TRUTH_STRESS_SECONDS`, default 20
/// for the plain stress run; fault runs use a third of it before the crash).
fn stress_seconds() -> u64 {
    std::env::var("INVENTORY_TRUTH_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn cluster_script(args: &[&str], preload: bool) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/cluster.sh");
    let mut command = Command::new(script);
    command.args(args);
    if preload {
        command.env("IT_PRELOAD", "1");
    }
    let status = command.status().expect("run scripts/cluster.sh");
    assert!(status.success(), "scripts/cluster.sh {args:?} failed");
}

/// A fresh database with the extension and the chaos store.
async fn store(cluster_dsn: &str, name: &str) -> (String, Client) {
    let dsn = fresh_database_on(cluster_dsn, name)
        .await
        .expect("database");
    let db = connect(&dsn).await.expect("connect");
    db.batch_execute("CREATE EXTENSION inventory_truth")
        .await
        .expect("extension");
    // The queue test lowers the relay's queue limit; a failure there must not leak into others.
    db.batch_execute("ALTER SYSTEM RESET inventory_truth.relay_queue_limit")
        .await
        .expect("reset");
    db.batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    chaos::set_up_store(&db).await.expect("store");
    (dsn, db)
}

/// Connects once the server accepts connections again (after a crash and recovery).
async fn reconnect(dsn: &str, patience: Duration) -> Client {
    let deadline = Instant::now() + patience;
    loop {
        match connect(dsn).await {
            Ok(db) => {
                if db.simple_query("SELECT 1").await.is_ok() {
                    return db;
                }
            }
            Err(e) => assert!(Instant::now() < deadline, "the server never came back: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn relay_pid(db: &Client, patience: Duration) -> i32 {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(row) = db
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                  WHERE backend_type = 'inventory_truth relay' AND datname = current_database()",
                &[],
            )
            .await
            .expect("pg_stat_activity")
        {
            return row.get(0);
        }
        assert!(Instant::now() < deadline, "no relay serves the database");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A storefront following every channel with the resync protocol; its view is shared.
fn storefront(
    dsn: &str,
) -> (
    Arc<Mutex<AtpView>>,
    Arc<Mutex<u32>>,
    tokio::task::JoinHandle<()>,
) {
    let view = Arc::new(Mutex::new(AtpView::default()));
    let resyncs = Arc::new(Mutex::new(0u32));
    let task = {
        let (view, resyncs, dsn) = (view.clone(), resyncs.clone(), dsn.to_owned());
        tokio::spawn(async move {
            follow(&dsn, None, "inventory_truth", |event| {
                match event {
                    Event::Resynced { view: v, .. } => {
                        *view.lock().expect("view") = v.clone();
                        *resyncs.lock().expect("resyncs") += 1;
                    }
                    Event::Changed { view: v, .. } => *view.lock().expect("view") = v.clone(),
                    Event::Disconnected { .. } => {}
                }
                true
            })
            .await
        })
    };
    (view, resyncs, task)
}

/// Waits until the relay has published everything (nothing waiting, every published value equal
/// to atp_snapshot()) and the storefront's view equals atp_snapshot().
async fn published_and_resynced(db: &Client, view: &Arc<Mutex<AtpView>>, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let (waiting, differ) = chaos::unpublished(db).await.expect("published state");
        // A (SKU, channel) never published counts as 0 (reference: Live ATP notifications): a
        // channel added during the load whose ATP of a SKU is 0 is heard of only once it sells.
        let truth: HashMap<(String, String), i64> = snapshot(db, None)
            .await
            .expect("snapshot")
            .into_iter()
            .filter(|(_, _, a, _)| *a != 0)
            .map(|(s, c, a, _)| ((s, c), a))
            .collect();
        let mut held = view.lock().expect("view").values();
        held.retain(|_, atp| *atp != 0);
        if waiting == 0 && differ.is_empty() && held == truth {
            println!("  published ATP equals atp() for every (SKU, channel), as does the storefront's view ({} pairs above 0)", truth.len());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never settled: {waiting} SKUs waiting, published differs: {differ:?}, storefront differs: {:?}",
                        truth.iter().filter(|(k, v)| held.get(*k) != Some(v))
                .chain(held.iter().filter(|(k, v)| truth.get(*k) != Some(v)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every check that does not depend on notifications.
async fn assert_truth_holds(db: &Client, tally: &Tally, in_flight: &[InFlight]) {
    let broken = chaos::broken_invariants(db).await.expect("invariants");
    assert!(
        broken.is_empty(),
        "invariants broken:\n{}",
        broken.join("\n")
    );
    println!("  verify() clean, no negative balance, every hold adds up, atp() = atp_snapshot()");
    let books = chaos::units_on_books(db).await.expect("books");
    let problems = chaos::conservation_problems(&books, tally, in_flight);
    assert!(
        problems.is_empty(),
        "units created or lost:\n{}",
        problems.join("\n")
    );
    let mut books: Vec<_> = books.into_iter().collect();
    books.sort();
    println!("  no unit created or lost: units on the books per SKU {books:?} = initial stock + what clients were told");
    let problems = chaos::hold_problems(db, tally).await.expect("holds");
    assert!(problems.is_empty(), "holds:\n{}", problems.join("\n"));
    let problems = chaos::movement_problems(db, tally)
        .await
        .expect("movements");
    assert!(problems.is_empty(), "movements:\n{}", problems.join("\n"));
    println!(
        "  all {} movements that committed calls returned are in the ledger, unchanged; none of the {} calls cut off before COMMIT left a row",
        tally.movements.len(),
        tally.not_committed.len()
    );
    println!(
        "  all {} committed holds are there; none of the {} rolled-back reservations is",
        tally.holds.len(),
        tally.rolled_back.len()
    );
}

fn assert_no_unexpected_errors(tally: &Tally) {
    assert!(
        tally.unexpected.is_empty(),
        "errors no refusal rule allows:\n{}",
        tally
            .unexpected
            .iter()
            .map(|(op, e)| format!("{op}: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn a_random_mix_of_every_operation_keeps_every_invariant() {
    let _serial = SERIAL.lock().await;
    let (_, cluster) = fault_cluster();
    let (dsn, db) = store(&cluster, "it_faults_stress").await;
    relay_pid(&db, Duration::from_secs(30)).await;
    let (view, resyncs, follower) = storefront(&dsn);
    let seconds = stress_seconds();
    println!(
        "stress: 12 clients, a random mix of every operation for {seconds} s, storefront listening"
    );
    let (tally, in_flight) = chaos::run(&dsn, 12, 1, Duration::from_secs(seconds)).await;
    println!("{}", chaos::summary(&tally));
    assert_no_unexpected_errors(&tally);
    assert!(
        in_flight.is_empty(),
        "no call may be cut off without a fault: {in_flight:?}"
    );
    let attempted =
        |op: &str| tally.done.contains_key(op) || tally.refused.keys().any(|(o, _)| *o == op);
    for op in [
        "reserve",
        "reserve (location)",
        "reserve (retry)",
        "reserve_order",
        "release",
        "resize_hold",
        "extend_hold",
        "pick (order)",
        "pick (unplanned)",
        "ship",
        "put_back",
        "write_off (available)",
        "set_eta",
        "cancel_expected (1 unit)",
        "reads",
        "add_channel",
        "set_buffer (every SKU)",
        "set_ringfence (every SKU, units)",
        "report_damage",
        "receive_return",
        "inspect_return",
        "write_off",
        "expect",
        "receive",
        "put_away",
        "qc_pass",
        "qc_fail",
        "cancel_expected",
        "short_pick",
        "plan_cycle_counts",
        "submit_count",
        "set_buffer",
        "set_ringfence",
        "clear_ringfence",
        "rebalance",
        "expire_holds",
        "direct sale",
        "direct damage",
    ] {
        assert!(attempted(op), "the mix never tried {op}");
    }
    for op in [
        "reserve",
        "release",
        "pick (order)",
        "ship",
        "expect",
        "receive",
        "put_away",
        "short_pick",
        "submit_count",
        "direct sale",
    ] {
        assert!(
            tally.done.contains_key(op),
            "no {op} ever committed: the load did not exercise it"
        );
    }
    assert_truth_holds(&db, &tally, &[]).await;
    published_and_resynced(&db, &view, Duration::from_secs(60)).await;
    assert_eq!(
        *resyncs.lock().expect("resyncs"),
        1,
        "the storefront never had to resync: every change reached it"
    );
    follower.abort();
}

/// A crash in the middle of the load, then recovery: `crash` kills and returns once the server
/// is gone or resetting; `recover` brings it back.
async fn crash_mid_load(
    name: &str,
    database: &str,
    crash: impl FnOnce(i32),
    recover: impl FnOnce(),
) {
    let (_, cluster) = fault_cluster();
    let (dsn, db) = store(&cluster, database).await;
    relay_pid(&db, Duration::from_secs(30)).await;
    let (view, resyncs, follower) = storefront(&dsn);
    let before = (stress_seconds() / 3).max(3);
    println!("{name}: 8 clients, a random mix of every operation; the fault after {before} s");
    let load = tokio::spawn({
        let dsn = dsn.clone();
        async move { chaos::run(&dsn, 8, 2, Duration::from_secs(600)).await }
    });
    tokio::time::sleep(Duration::from_secs(before)).await;
    // The relay of this moment (the launcher may have restarted it since).
    let relay_before = relay_pid(&db, Duration::from_secs(5)).await;
    drop(db);
    let crash_at = Instant::now();
    tokio::task::block_in_place(|| crash(relay_before));
    let (mut tally, in_flight) = tokio::time::timeout(Duration::from_secs(60), load)
        .await
        .expect("every client noticed the crash")
        .expect("load task");
    println!("{}", chaos::summary(&tally));
    println!(
        "  at the crash: {} calls in flight ({:?})",
        in_flight.len(),
        in_flight.iter().map(|(op, _)| *op).collect::<Vec<_>>()
    );
    assert_no_unexpected_errors(&tally);
    assert!(
        !in_flight.is_empty(),
        "the crash came in the middle of the load"
    );
    tokio::task::block_in_place(recover);
    let db = reconnect(&dsn, Duration::from_secs(120)).await;
    println!(
        "  the server accepts connections {:.1} s after the crash",
        crash_at.elapsed().as_secs_f64()
    );
    assert_truth_holds(&db, &tally, &in_flight).await;
    // The checkouts that never heard back retry, with the same reference.
    let (problems, made) = chaos::retry_unanswered(&db, &tally).await.expect("retries");
    assert!(problems.is_empty(), "retries:\n{}", problems.join("\n"));
    println!(
        "  {} reservations never answered were retried: each one that had committed came back as the same hold",
        tally.unanswered_reserves.len()
    );
    // A retried reservation that had not committed now exists, rightly.
    tally
        .not_committed
        .retain(|(_, reference)| !made.iter().any(|m| &m.1 == reference));
    tally.holds.extend(made);
    let relay_after = relay_pid(&db, Duration::from_secs(30)).await;
    assert_ne!(relay_after, relay_before, "a new relay serves the database");
    println!("  a new relay (pid {relay_after}) serves the database");
    // The store carries on.
    let (more, cut) = chaos::run(&dsn, 4, 3, Duration::from_secs(3)).await;
    assert_no_unexpected_errors(&more);
    assert!(cut.is_empty(), "no call cut off after recovery: {cut:?}");
    println!(
        "  the load carries on after recovery: {} calls committed in 3 s",
        more.done.values().sum::<u64>()
    );
    tally.merge(more);
    assert_truth_holds(&db, &tally, &in_flight).await;
    published_and_resynced(&db, &view, Duration::from_secs(60)).await;
    let resyncs = *resyncs.lock().expect("resyncs");
    assert!(
        resyncs >= 2,
        "the storefront read the snapshot again after the crash ({resyncs} snapshots)"
    );
    println!("  the storefront reconnected and resynced ({resyncs} snapshots read)");
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn kill_9_of_the_postmaster_mid_load_loses_nothing_committed() {
    let _serial = SERIAL.lock().await;
    let (name, _) = fault_cluster();
    crash_mid_load(
        "kill -9 of the postmaster",
        "it_faults_postmaster",
        |_| cluster_script(&["crash", &name], false),
        || cluster_script(&["start", &name], true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn kill_9_of_the_relay_mid_load_loses_nothing_committed() {
    let _serial = SERIAL.lock().await;
    let (name, _) = fault_cluster();
    // PostgreSQL answers a server process killed by a signal by resetting every process of the
    // cluster and recovering from the WAL: the same as a crash of the whole server.
    crash_mid_load(
        "kill -9 of the relay",
        "it_faults_relay",
        |relay| cluster_script(&["crash", &name, &relay.to_string()], false),
        || {},
    )
    .await;
}

/// A storefront that LISTENs and then sits in a transaction keeps every later notification in
/// PostgreSQL's queue; with another long transaction holding a snapshot. The queue is filled past
/// the relay's limit (`relay_queue_limit`, lowered here so that a test can reach it): buyers keep
/// buying, the relay pauses instead of failing, and once the listener's transaction ends it
/// publishes the final values. The relay is the same process throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn a_long_transaction_and_a_nearly_full_notify_queue_lose_nothing() {
    let _serial = SERIAL.lock().await;
    let (_, cluster) = fault_cluster();
    let (dsn, db) = store(&cluster, "it_faults_queue").await;
    let limit = 0.0002_f64;
    db.batch_execute(&format!(
        "ALTER SYSTEM SET inventory_truth.relay_queue_limit = {limit}"
    ))
    .await
    .expect("lower the limit");
    db.batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    let relay = relay_pid(&db, Duration::from_secs(30)).await;
    let (view, resyncs, follower) = storefront(&dsn);

    let stuck = listen(&dsn, "inventory_truth")
        .await
        .expect("stuck listener");
    stuck
        .client
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("stuck in a transaction");
    let long = connect(&dsn).await.expect("long transaction");
    long.batch_execute(
        "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM inventory_truth.movement",
    )
    .await
    .expect("a snapshot held open");
    // Another application's notifications fill the queue behind the stuck listener: about 500
    // pages of 8 kB, 2.5 times the limit.
    db.batch_execute(
        "SELECT pg_notify('another_app', lpad(i::text, 7900, '.')) FROM generate_series(1, 500) i",
    )
    .await
    .expect("fill the queue");
    let usage: f64 = db
        .query_one("SELECT pg_notification_queue_usage()", &[])
        .await
        .expect("usage")
        .get(0);
    println!(
        "notify queue: {:.4}% in use, relay_queue_limit {:.4}%; a listener and a snapshot held in open transactions",
        usage * 100.0,
        limit * 100.0
    );
    assert!(usage >= limit, "the queue is past the limit");

    let (mut tally, cut) = chaos::run(&dsn, 6, 4, Duration::from_secs(5)).await;
    println!("{}", chaos::summary(&tally));
    assert_no_unexpected_errors(&tally);
    assert!(cut.is_empty());
    assert!(
        tally.done.get("reserve").copied().unwrap_or(0) > 20,
        "buyers keep buying while the queue is full"
    );
    let (waiting, differ) = chaos::unpublished(&db).await.expect("published");
    assert!(
        waiting > 0 && !differ.is_empty(),
        "the relay paused: {waiting} changes waiting, {} pairs unpublished",
        differ.len()
    );
    println!("  buyers kept buying ({} calls committed); the relay paused with {waiting} changes waiting", tally.done.values().sum::<u64>());
    assert_truth_holds(&db, &tally, &[]).await;

    stuck
        .client
        .batch_execute("COMMIT")
        .await
        .expect("the listener's transaction ends");
    long.batch_execute("COMMIT")
        .await
        .expect("the snapshot is let go");
    published_and_resynced(&db, &view, Duration::from_secs(60)).await;
    let (more, cut) = chaos::run(&dsn, 4, 5, Duration::from_secs(2)).await;
    assert_no_unexpected_errors(&more);
    assert!(cut.is_empty());
    tally.merge(more);
    assert_truth_holds(&db, &tally, &[]).await;
    published_and_resynced(&db, &view, Duration::from_secs(60)).await;
    assert_eq!(
        relay_pid(&db, Duration::from_secs(5)).await,
        relay,
        "the relay paused; it did not fail"
    );
    assert_eq!(
        *resyncs.lock().expect("resyncs"),
        1,
        "the storefront kept its connection: no resync hid a lost notification"
    );
    println!("  the relay (same pid {relay}) caught up once the listener's transaction ended");
    db.batch_execute("ALTER SYSTEM RESET inventory_truth.relay_queue_limit")
        .await
        .expect("reset the limit");
    db.batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
    follower.abort();
}

/// pg_restore into a server where the relay runs: while pg_restore is connected, the tables are
/// half loaded, and the relay must neither release expired holds (its movements would collide
/// with the rows the restore loads) nor publish. A session named pg_restore stands for a long
/// restore; once it leaves, the relay expires the holds and publishes from the restored data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn the_relay_stays_out_of_a_database_pg_restore_is_loading() {
    let _serial = SERIAL.lock().await;
    let (_, cluster) = fault_cluster();
    let bindir = std::env::var("INVENTORY_TRUTH_PG_BINDIR").expect("INVENTORY_TRUTH_PG_BINDIR");
    let (source_dsn, source) = store(&cluster, "it_faults_restore_source").await;
    // Open holds that expire 2 s from now, dumped at once (before the source's relay ends them).
    source
        .batch_execute(
            "SELECT inventory_truth.reserve('web', 'T1', 1, 'R-' || i, ttl => '2 seconds')
               FROM generate_series(1, 5) i",
        )
        .await
        .expect("holds");
    let dump = std::env::temp_dir().join(format!("it_faults_restore_{}.dump", std::process::id()));
    let status = Command::new(format!("{bindir}/pg_dump"))
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(&source_dsn)
        .status()
        .expect("pg_dump");
    assert!(status.success(), "pg_dump");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let target_dsn = fresh_database_on(&cluster, "it_faults_restore_target")
        .await
        .expect("target");
    // A long restore: pg_restore's connection stays while the data loads.
    let restoring = connect(&format!("{target_dsn} application_name=pg_restore"))
        .await
        .expect("a restore session");
    let status = Command::new(format!("{bindir}/pg_restore"))
        .args(["--exit-on-error", "-d"])
        .arg(&target_dsn)
        .arg(&dump)
        .status()
        .expect("pg_restore");
    let _ = std::fs::remove_file(&dump);
    assert!(status.success(), "pg_restore");
    let target = connect(&target_dsn).await.expect("target");
    // Past the launcher's discovery interval (10 s): a relay would have started and expired.
    tokio::time::sleep(Duration::from_secs(13)).await;
    let open: i64 = target
        .query_one(
            "SELECT count(*) FROM inventory_truth.hold WHERE status = 'open' AND expires_at < now()",
            &[],
        )
        .await
        .expect("holds")
        .get(0);
    assert_eq!(
        open, 5,
        "while pg_restore is connected, no expired hold is released"
    );
    println!(
        "  while pg_restore was connected for 13 s, the relay released none of the 5 expired holds"
    );
    drop(restoring);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 = target
            .query_one(
                "SELECT count(*) FROM inventory_truth.hold WHERE status = 'open'",
                &[],
            )
            .await
            .expect("holds")
            .get(0);
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay never came back to expire the holds"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (view, _, follower) = storefront(&target_dsn);
    let broken = chaos::broken_invariants(&target).await.expect("invariants");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    published_and_resynced(&target, &view, Duration::from_secs(30)).await;
    println!("  once it left, the relay expired them; verify() clean; what it published is the restored truth");
    follower.abort();
}

/// The relay runs as a superuser in every database. A role that owns a database (any role with
/// CREATEDB) can set that database's search_path and plant functions and operators on it: the
/// relay must not run them (a reviewer made such a role superuser through the relay's first
/// query). And a role that names its session pg_restore must not stop the relay's work in a
/// database (only a superuser's restore counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "fault tests: `scripts/test.sh faults` (part of make test) starts the cluster they need"]
async fn no_role_below_superuser_can_steer_the_relay() {
    let _serial = SERIAL.lock().await;
    let (_, cluster) = fault_cluster();
    let admin = connect(&format!("{cluster} dbname=postgres"))
        .await
        .expect("admin");
    // One statement per call: DROP DATABASE cannot run in the implicit transaction of several.
    for statement in [
        "DROP DATABASE IF EXISTS it_faults_planted WITH (FORCE)",
        "DROP ROLE IF EXISTS it_planter",
        "CREATE ROLE it_planter LOGIN CREATEDB",
    ] {
        admin
            .batch_execute(statement)
            .await
            .expect("a role that may create databases");
    }
    let planter = connect(&format!("{cluster} dbname=postgres user=it_planter"))
        .await
        .expect("the planter");
    planter
        .batch_execute("CREATE DATABASE it_faults_planted")
        .await
        .expect("its database");
    let planted = connect(&format!(
        "{cluster} dbname=it_faults_planted user=it_planter"
    ))
    .await
    .expect("its database");
    // An `=` on oids that records who ran it and tries to make the planter superuser.
    planted
        .batch_execute(
            "CREATE TABLE public.ran (who text);
             GRANT INSERT ON public.ran TO PUBLIC;
             CREATE FUNCTION public.planted_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO public.ran VALUES (current_user);
                 BEGIN EXECUTE 'ALTER ROLE it_planter SUPERUSER'; EXCEPTION WHEN others THEN NULL; END;
                 RETURN $1 OPERATOR(pg_catalog.=) $2;
             END $$;
             CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.planted_eq);
             CREATE FUNCTION public.current_database() RETURNS name LANGUAGE sql
                 AS $$ INSERT INTO public.ran VALUES (current_user) RETURNING 'x'::name $$;
             ALTER DATABASE it_faults_planted SET search_path = public, pg_catalog;",
        )
        .await
        .expect("the planted objects");

    // A store where a role below superuser calls its session pg_restore, with holds that
    // expire in 1 s.
    let (store_dsn, store_db) = store(&cluster, "it_faults_fake_restore").await;
    store_db
        .batch_execute(
            "DROP ROLE IF EXISTS it_fake_restore;
             CREATE ROLE it_fake_restore LOGIN IN ROLE inventory_truth_storefront;",
        )
        .await
        .expect("a storefront role");
    let fake = connect(&format!(
        "{store_dsn} user=it_fake_restore application_name=pg_restore"
    ))
    .await
    .expect("a session named pg_restore");
    store_db
        .batch_execute(
            "SELECT inventory_truth.reserve('web', 'T1', 1, 'F-' || i, ttl => '1 second')
               FROM generate_series(1, 3) i",
        )
        .await
        .expect("holds");

    // Past the launcher's discovery interval (10 s): a relay has tried the planted database.
    tokio::time::sleep(Duration::from_secs(13)).await;
    let superuser: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = 'it_planter'",
            &[],
        )
        .await
        .expect("the role")
        .get(0);
    let ran: i64 = planted
        .query_one("SELECT count(*) FROM public.ran", &[])
        .await
        .expect("ran")
        .get(0);
    assert!(!superuser, "the planter became superuser through the relay");
    assert_eq!(
        ran, 0,
        "the relay ran code planted on a database's search_path"
    );
    println!("  13 s with a planted = operator and search_path: the relay ran none of it");
    let open: i64 = store_db
        .query_one(
            "SELECT count(*) FROM inventory_truth.hold WHERE status = 'open'",
            &[],
        )
        .await
        .expect("holds")
        .get(0);
    assert_eq!(
        open, 0,
        "a storefront session named pg_restore stopped the relay's expiry"
    );
    println!(
        "  a storefront role's session named pg_restore did not stop the relay: its holds expired"
    );
    drop(fake);
    drop(planted);
    drop(planter);
    for statement in [
        "DROP DATABASE it_faults_planted WITH (FORCE)",
        "DROP ROLE it_planter",
    ] {
        admin.batch_execute(statement).await.expect("clean up");
    }
}

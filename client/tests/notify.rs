//! Real-time delivery (docs/design.md §6) over real connections and real commits.
//!
//! Direct mode runs on the main test cluster (the library is not preloaded there, so `auto` is
//! `direct`); relay mode on a second cluster that preloads it. Each test listens like a
//! storefront and checks what arrives against `atp_snapshot()`.

use inventory_truth_client::storefront::{
    follow, listen, snapshot, AtpChange, AtpView, Event, Listener,
};
use inventory_truth_client::{
    cluster_dsn, connect, fresh_database_on, relay_cluster_dsn, shelve, sqlstate, Lcg,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// Web (buffer 1) and amazon (fenced 50%) sell TEE; 10 on the shelf at DC1.
async fn store(db: &Client) {
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1');
         SELECT inventory_truth.add_channel('web', 10, 1), inventory_truth.add_channel('amazon', 20);",
    )
    .await
    .expect("channels");
    shelve(db, "TEE", "DC1", 10).await.expect("stock");
    db.execute(
        "SELECT inventory_truth.set_ringfence('amazon', 'TEE', percent => 50)",
        &[],
    )
    .await
    .expect("fence");
}

/// Everything that arrives within `quiet` of the last message.
async fn drain(listener: &mut Listener, quiet: Duration) -> Vec<AtpChange> {
    let mut got = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(quiet, listener.messages.recv()).await {
        got.push(message.expect("the listener stays connected"));
    }
    got
}

fn by_channel(changes: &[AtpChange]) -> HashMap<String, AtpChange> {
    let mut map = HashMap::new();
    for c in changes {
        assert!(
            map.insert(c.channel.clone(), c.clone()).is_none(),
            "one notification per (SKU, channel) per transaction, got {changes:?}"
        );
    }
    map
}

#[tokio::test]
async fn direct_mode_notifies_final_values_once_per_transaction_at_commit() {
    // The test cluster does not preload the library: auto is direct there.
    let (dsn, db) = database_in_mode(&cluster_dsn(), "it_notify_direct", "direct").await;
    store(&db).await;
    let mut listener = listen(&dsn, "inventory_truth").await.expect("listen");
    let buyer_pid: i32 = db
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let (_, _, _, version_before) = snapshot(&db, Some("web")).await.expect("snapshot")[0].clone();

    // Rolled back: nothing.
    db.batch_execute("BEGIN; SELECT inventory_truth.reserve('web', 'TEE', 1, 'gone'); ROLLBACK;")
        .await
        .expect("rolled back reservation");
    assert_eq!(
        drain(&mut listener, Duration::from_millis(300)).await,
        vec![],
        "a rollback sends nothing"
    );

    // Two reservations in one transaction: one message per channel, with the final values.
    db.batch_execute(
        "BEGIN;
         SELECT inventory_truth.reserve('web', 'TEE', 1, 'o1');
         SELECT inventory_truth.reserve('web', 'TEE', 2, 'o2');
         COMMIT;",
    )
    .await
    .expect("two reservations");
    let got = drain(&mut listener, Duration::from_millis(300)).await;
    let got = by_channel(&got);
    assert_eq!(got.len(), 2, "web and amazon both changed: {got:?}");
    // 10 available, 5 fenced for amazon: web had 10 - 5 - 1 = 4, amazon 10; 3 sold from the pool.
    assert_eq!((got["web"].previous_atp, got["web"].atp), (4, 1));
    assert_eq!((got["amazon"].previous_atp, got["amazon"].atp), (10, 7));
    assert!(
        got.values().all(|c| c.sender_pid == buyer_pid),
        "direct mode: the buyer notifies"
    );
    assert!(got["web"].version > version_before, "the version moved on");
    assert_eq!(
        got["web"].version, got["amazon"].version,
        "one version per SKU change"
    );
    let after_two = got["web"].version;

    // A movement that does not touch available stock, and a rule that changes nothing: silent.
    db.batch_execute(
        "SELECT count(*) FROM inventory_truth.receive('TEE', 'DC1', 3);
         SELECT inventory_truth.set_buffer('web', 'TEE', 1);
         SELECT count(*) FROM inventory_truth.pick('TEE', 'DC1', 1, 'o1');",
    )
    .await
    .expect("movements that leave ATP alone");
    assert_eq!(
        drain(&mut listener, Duration::from_millis(300)).await,
        vec![],
        "unchanged ATP sends nothing"
    );

    // Changes within one transaction that end where they began: nothing either, though the
    // version moved (a reservation and its release, a buffer set and set back).
    db.batch_execute(
        "BEGIN;
         SELECT inventory_truth.reserve('web', 'TEE', 1, 'o3');
         SELECT inventory_truth.release('web', 'o3');
         COMMIT;
         BEGIN;
         SELECT inventory_truth.set_buffer('web', 'TEE', 2);
         SELECT inventory_truth.set_buffer('web', 'TEE', 1);
         COMMIT;",
    )
    .await
    .expect("changes undone in their transaction");
    assert_eq!(
        drain(&mut listener, Duration::from_millis(300)).await,
        vec![],
        "ATP that ends where it was sends nothing"
    );

    // The next change carries a higher version, and the values agree with the snapshot.
    db.batch_execute("SELECT count(*) FROM inventory_truth.put_away('TEE', 'DC1', 3)")
        .await
        .expect("put away");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert!(got["web"].version > after_two, "versions increase: {got:?}");
    for (sku, channel, atp, version) in snapshot(&db, None).await.expect("snapshot") {
        assert_eq!(
            (sku.as_str(), atp, version),
            ("TEE", got[&channel].atp, got[&channel].version)
        );
    }
}

#[tokio::test]
async fn a_short_pick_reaches_storefronts_at_the_pickers_commit() {
    let (dsn, db) = database_in_mode(&cluster_dsn(), "it_notify_short_pick", "direct").await;
    store(&db).await;
    let mut listener = listen(&dsn, "inventory_truth").await.expect("listen");

    // 10 on the shelf: amazon's fence 5, the pool 5 (web sees 4). The picker finds 4: the 6
    // missing units leave the pool, then amazon's fence; nothing is said before the commit.
    db.batch_execute("BEGIN; SELECT inventory_truth.short_pick('TEE', 'DC1', 4, ref => 'P-1');")
        .await
        .expect("short pick");
    assert_eq!(
        drain(&mut listener, Duration::from_millis(300)).await,
        vec![],
        "nothing before the commit"
    );
    db.batch_execute("COMMIT").await.expect("commit");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert_eq!((got["web"].previous_atp, got["web"].atp), (4, 0));
    assert_eq!((got["amazon"].previous_atp, got["amazon"].atp), (10, 4));
    assert_eq!(got["web"].cause, "available->missing");
    for (_, channel, atp, version) in snapshot(&db, None).await.expect("snapshot") {
        assert_eq!((atp, version), (got[&channel].atp, got[&channel].version));
    }

    // The blind count finds 2 of them. Amazon's fence (4) is above its target (50% of 6), so
    // they go to the pool: web 2 - 1 = 1, amazon 6; one message per channel.
    db.batch_execute(
        "SELECT count(*) FROM inventory_truth.submit_count(
             (SELECT min(id) FROM inventory_truth.count_task), 6)",
    )
    .await
    .expect("count");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert_eq!((got["web"].previous_atp, got["web"].atp), (0, 1));
    assert_eq!((got["amazon"].previous_atp, got["amazon"].atp), (4, 6));
}

/// A storefront that takes preorders hears what may be preordered beside ATP (issue 20): when
/// stock is expected, when a preorder takes some, and when a put-away brings the preorder its
/// units; a channel that takes no preorders hears nothing of it.
#[tokio::test]
async fn preorderable_units_reach_the_channels_that_take_preorders() {
    let (dsn, db) = database_in_mode(&cluster_dsn(), "it_notify_preorders", "direct").await;
    store(&db).await;
    db.execute("SELECT inventory_truth.allow_preorders('web')", &[])
        .await
        .expect("allow preorders");
    let mut listener = listen(&dsn, "inventory_truth").await.expect("listen");

    // 6 expected next week: ATP does not change, what may be preordered does (web only).
    db.execute(
        "SELECT count(*) FROM inventory_truth.expect('TEE', 'DC1', 6, 'PO-1', current_date + 7)",
        &[],
    )
    .await
    .expect("expect");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert_eq!(
        got.len(),
        1,
        "only the preorder channel hears of it: {got:?}"
    );
    assert_eq!((got["web"].atp, got["web"].preorderable), (4, Some(6)));
    assert_eq!(got["web"].cause, "outside->inbound");

    // A preorder of 4 leaves 2.
    db.execute(
        "SELECT count(*) FROM inventory_truth.preorder('web', 'TEE', 4, 'PRE-1')",
        &[],
    )
    .await
    .expect("preorder");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert_eq!(got["web"].preorderable, Some(2));
    assert_eq!(got["web"].cause, "preorder");

    // The delivery is put away: 4 go to the preorder, 2 to the shelf (amazon's fence first: it
    // holds 50% of what is available). Both channels hear the new ATP, web with nothing left to
    // preorder.
    db.batch_execute(
        "SELECT count(*) FROM inventory_truth.receive('TEE', 'DC1', 6, 'PO-1');
         SELECT count(*) FROM inventory_truth.put_away('TEE', 'DC1', 6);",
    )
    .await
    .expect("receive and put away");
    let got = by_channel(&drain(&mut listener, Duration::from_millis(300)).await);
    assert_eq!(got["web"].preorderable, Some(0));
    assert_eq!(got["amazon"].preorderable, None);
    let held: i64 = db
        .query_one(
            "SELECT open_qty FROM inventory_truth.hold WHERE ref = 'PRE-1'",
            &[],
        )
        .await
        .expect("hold")
        .get(0);
    assert_eq!(held, 4, "the preorder holds its units");
    for (_, channel, atp, version) in snapshot(&db, None).await.expect("snapshot") {
        assert_eq!((atp, version), (got[&channel].atp, got[&channel].version));
    }
}

/// A storefront backend logs in with a role that has only the storefront level: it LISTENs,
/// reads the snapshot and atp(), hears a buyer's commit, and every write it tries is refused
/// with 42501 (tests/pg_regress/security.sql covers every write path; these are a user's).
#[tokio::test]
async fn a_storefront_role_listens_and_reads_but_cannot_write() {
    let (dsn, db) = database_in_mode(&cluster_dsn(), "it_notify_storefront_role", "direct").await;
    store(&db).await;
    // Roles are cluster-wide: made once, kept for reruns.
    db.batch_execute(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'it_shop_backend') THEN
                 CREATE ROLE it_shop_backend LOGIN;
             END IF;
         END $$;
         GRANT inventory_truth_storefront TO it_shop_backend;",
    )
    .await
    .expect("a storefront login role");
    let shop_dsn = format!("{dsn} user=it_shop_backend");
    let mut listener = listen(&shop_dsn, "inventory_truth")
        .await
        .expect("the storefront role may LISTEN");
    let shop = connect(&shop_dsn)
        .await
        .expect("the storefront role connects");
    let rows = snapshot(&shop, Some("web"))
        .await
        .expect("the storefront role reads the snapshot");
    assert_eq!(rows.len(), 1);
    let web_atp: i64 = shop
        .query_one("SELECT inventory_truth.atp('TEE', 'web')", &[])
        .await
        .expect("the storefront role reads atp()")
        .get(0);
    assert_eq!(web_atp, rows[0].2);

    db.execute(
        "SELECT inventory_truth.reserve('web', 'TEE', 1, 'S-1')",
        &[],
    )
    .await
    .expect("a buyer reserves");
    let heard = drain(&mut listener, Duration::from_millis(300)).await;
    assert!(
        heard
            .iter()
            .any(|c| c.channel == "web" && c.atp == web_atp - 1),
        "the storefront role hears the commit: {heard:?}"
    );
    for write in [
        "SELECT inventory_truth.reserve('web', 'TEE', 1, 'S-2')",
        "SELECT inventory_truth.release('web', 'S-1')",
        "SELECT count(*) FROM inventory_truth.receive('TEE', 'DC1', 1)",
        "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
         VALUES ('TEE', 'DC1', 'available', 'picked', 1)",
        "UPDATE inventory_truth.stock SET available = 100",
        "SELECT nextval('inventory_truth.movement_id_seq')",
        "SELECT inventory_truth.set_buffer('web', 'TEE', 0)",
    ] {
        let error = shop.batch_execute(write).await.expect_err(write);
        assert_eq!(
            sqlstate(&error).as_deref(),
            Some("42501"),
            "{write}: {error}"
        );
    }
}

/// A fresh database with the extension on the cluster `cluster_dsn`, where `mode` is in force.
async fn database_in_mode(cluster_dsn: &str, name: &str, mode: &str) -> (String, Client) {
    let dsn = fresh_database_on(cluster_dsn, name)
        .await
        .expect("database");
    let db = connect(&dsn).await.expect("connect");
    db.batch_execute("CREATE EXTENSION inventory_truth")
        .await
        .expect("extension");
    let in_force: String = db
        .query_one("SELECT inventory_truth._notify_mode()", &[])
        .await
        .expect("mode")
        .get(0);
    assert_eq!(in_force, mode, "this cluster's notification mode");
    (dsn, db)
}

/// On the relay cluster, which preloads the library.
async fn relay_database(name: &str) -> (String, Client) {
    database_in_mode(&relay_cluster_dsn(), name, "relay").await
}

/// The relay of this (new) database: it starts without a restart once the extension is used.
async fn relay_pid(db: &Client) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = db
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                  WHERE backend_type = 'inventory_truth relay' AND datname = current_database()",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(
            Instant::now() < deadline,
            "no relay started for a database created after the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for this database's relay, then listens, once what the set-up changed is published.
async fn listen_once_published(dsn: &str, db: &Client) -> Listener {
    relay_pid(db).await;
    let mut listener = listen(dsn, "inventory_truth").await.expect("listen");
    drain(&mut listener, Duration::from_secs(1)).await;
    listener
}

/// Terminates this database's relay and waits for the launcher to start another.
async fn restart_relay(db: &Client) {
    let before = relay_pid(db).await;
    db.execute("SELECT pg_terminate_backend($1)", &[&before])
        .await
        .expect("terminate the relay");
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay_pid(db).await == before {
        assert!(Instant::now() < deadline, "no relay came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A SKU's version and each channel's ATP as committed now (`atp_snapshot()`).
async fn committed_state(db: &Client, sku: &str) -> (i64, HashMap<String, i64>) {
    let version: i64 = db
        .query_one(
            "SELECT version FROM inventory_truth.sku WHERE code = $1",
            &[&sku],
        )
        .await
        .expect("sku")
        .get(0);
    let truth = snapshot(db, None)
        .await
        .expect("snapshot")
        .into_iter()
        .filter(|(code, ..)| code == sku)
        .map(|(_, channel, atp, _)| (channel, atp))
        .collect();
    (version, truth)
}

/// Waits until what the listener built equals atp_snapshot() (the relay publishes shortly after
/// commit), or fails after `patience`.
async fn settles(db: &Client, view: &Arc<Mutex<AtpView>>, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let truth: HashMap<(String, String), i64> = snapshot(db, None)
            .await
            .expect("snapshot")
            .into_iter()
            .map(|(s, c, a, _)| ((s, c), a))
            .collect();
        let held = view.lock().expect("view").values();
        if held == truth {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the listener's view never matched atp_snapshot():\nheld  {held:?}\ntruth {truth:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const SKUS: [&str; 12] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "HOT"];

/// Thousands of concurrent reservations, with the relay terminated in the middle: a listener
/// that started from the snapshot ends equal to atp_snapshot(), nothing came from a buyer,
/// and versions only grew.
#[tokio::test]
async fn relay_delivers_every_final_value_after_a_burst_of_reservations() {
    let (dsn, db) = relay_database("it_notify_relay_burst").await;
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1');
         SELECT inventory_truth.add_channel('web', 10, 2), inventory_truth.add_channel('amazon', 20),
                inventory_truth.add_channel('wholesale', 30, 0, 'wholesale');
         SELECT inventory_truth.set_ringfence('amazon', NULL, percent => 30);",
    )
    .await
    .expect("channels");
    for sku in SKUS {
        shelve(&db, sku, "DC1", if sku == "HOT" { 2000 } else { 300 })
            .await
            .expect("stock");
    }
    let relay = relay_pid(&db).await;

    // The listener starts from the snapshot, then applies only newer versions.
    let mut listener = listen(&dsn, "inventory_truth").await.expect("listen");
    let mut view = AtpView::default();
    view.reset(snapshot(&listener.client, None).await.expect("snapshot"));
    let view = Arc::new(Mutex::new(view));
    let arrived = Arc::new(Mutex::new(Vec::<AtpChange>::new()));
    let collector = {
        let (view, arrived) = (view.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Some(message) = listener.messages.recv().await {
                let change = message.expect("the listener stays connected");
                view.lock().expect("view").apply(&change);
                arrived.lock().expect("arrived").push(change);
            }
        })
    };

    // 16 buyers, 250 reservations each (half on the hot SKU), some released again.
    let mut buyers = Vec::new();
    for b in 0..16u64 {
        let dsn = dsn.clone();
        buyers.push(tokio::spawn(async move {
            let db = connect(&dsn).await.expect("buyer connects");
            let pid: i32 = db
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .expect("pid")
                .get(0);
            let mut rng = Lcg(b + 1);
            let mut sold = 0;
            for i in 0..250 {
                let channel = ["web", "amazon", "wholesale"][rng.next(3) as usize];
                let sku = if rng.next(2) == 0 {
                    "HOT"
                } else {
                    SKUS[rng.next(11) as usize]
                };
                let reference = format!("b{b}-{i}");
                match db
                    .execute(
                        "SELECT inventory_truth.reserve($1, $2, 1, $3)",
                        &[&channel, &sku, &reference],
                    )
                    .await
                {
                    Ok(_) => sold += 1,
                    Err(e) => assert_eq!(sqlstate(&e).as_deref(), Some("IT001"), "{e:?}"),
                }
                if i % 10 == 0 {
                    db.execute(
                        "SELECT inventory_truth.release($1, $2)",
                        &[&channel, &reference],
                    )
                    .await
                    .ok();
                }
            }
            (sold, pid)
        }));
    }
    // Mid-burst the relay is terminated: a new one takes over and nothing is lost.
    tokio::time::sleep(Duration::from_millis(800)).await;
    db.execute("SELECT pg_terminate_backend($1)", &[&relay])
        .await
        .expect("terminate the relay");
    let mut sold = 0;
    let mut buyer_pids = Vec::new();
    for buyer in buyers {
        let (units, pid) = buyer.await.expect("buyer");
        sold += units;
        buyer_pids.push(pid);
    }
    assert!(
        sold > 2000,
        "the burst reserved thousands of units ({sold})"
    );

    settles(&db, &view, Duration::from_secs(30)).await;
    collector.abort();
    let arrived = std::mem::take(&mut *arrived.lock().expect("arrived"));
    assert!(!arrived.is_empty());
    assert!(
        arrived.iter().all(|c| !buyer_pids.contains(&c.sender_pid)),
        "in relay mode only the relay notifies; buyers never take the notify lock"
    );
    assert!(
        arrived.iter().any(|c| c.sender_pid == relay),
        "the first relay published"
    );
    assert!(
        arrived.iter().any(|c| c.sender_pid != relay),
        "a new relay took over after the first was terminated"
    );
    // Per (SKU, channel), versions strictly increase in arrival order.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for c in arrived.iter() {
        let key = (c.sku.clone(), c.channel.clone());
        if let Some(&before) = last.get(&key) {
            assert!(
                c.version > before,
                "{key:?}: version {} after {before}",
                c.version
            );
        }
        last.insert(key, c.version);
    }
    let problems: i64 = db
        .query_one("SELECT count(*) FROM inventory_truth.verify()", &[])
        .await
        .expect("verify")
        .get(0);
    assert_eq!(problems, 0, "verify() is clean");
}

#[tokio::test]
async fn storefront_resyncs_after_its_connection_is_killed_mid_stream() {
    let (dsn, db) = relay_database("it_notify_relay_resync").await;
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1');
         SELECT inventory_truth.add_channel('web', 10, 1), inventory_truth.add_channel('amazon', 20);",
    )
    .await
    .expect("channels");
    for sku in ["A", "B", "C"] {
        shelve(&db, sku, "DC1", 500).await.expect("stock");
    }
    relay_pid(&db).await;

    let view = Arc::new(Mutex::new(AtpView::default()));
    let resyncs = Arc::new(Mutex::new(0u32));
    let storefront = {
        let (view, resyncs) = (view.clone(), resyncs.clone());
        let dsn = format!("{dsn} application_name=it_storefront");
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
    while *resyncs.lock().expect("resyncs") == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stock keeps changing while the storefront's connection is killed twice.
    let seller = {
        let dsn = dsn.clone();
        tokio::spawn(async move {
            let db = connect(&dsn).await.expect("seller connects");
            let mut rng = Lcg(7);
            for i in 0..600 {
                let sku = ["A", "B", "C"][rng.next(3) as usize];
                let channel = ["web", "amazon"][rng.next(2) as usize];
                db.execute(
                    "SELECT inventory_truth.reserve($1, $2, 1, $3)",
                    &[&channel, &sku, &format!("s{i}")],
                )
                .await
                .expect("reserve");
                // Spread over the two kills below (600 reservations take well under 300 ms).
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed: i64 = db
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'it_storefront'",
                &[],
            )
            .await
            .expect("kill the storefront's backend")
            .get(0);
        assert_eq!(killed, 1, "the storefront was connected");
    }
    seller.await.expect("seller");
    // It reconnects with a backoff: give it time to, before comparing.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while *resyncs.lock().expect("resyncs") < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        *resyncs.lock().expect("resyncs") >= 3,
        "it reconnected and read the snapshot again each time"
    );
    settles(&db, &view, Duration::from_secs(30)).await;
    storefront.abort();
}

#[tokio::test]
async fn the_relay_expires_holds_and_publishes_the_units_coming_back() {
    let (dsn, db) = relay_database("it_notify_relay_expiry").await;
    store(&db).await;
    relay_pid(&db).await;
    let mut listener = listen(&dsn, "inventory_truth").await.expect("listen");
    drain(&mut listener, Duration::from_secs(1)).await; // the set-up's own changes
    db.execute(
        "SELECT inventory_truth.reserve('web', 'TEE', 4, 'cart', ttl => '1 second')",
        &[],
    )
    .await
    .expect("reserve with a ttl");
    let taken = by_channel(&drain(&mut listener, Duration::from_millis(500)).await);
    assert_eq!(taken["web"].atp, 0, "4 of web's 4 are held");
    // Nothing outside PostgreSQL is scheduled: the relay expires the hold within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let back = loop {
        let got = drain(&mut listener, Duration::from_millis(500)).await;
        if let Some(c) = got.iter().find(|c| c.channel == "web") {
            break c.clone();
        }
        assert!(Instant::now() < deadline, "the hold never expired");
    };
    assert_eq!((back.previous_atp, back.atp), (0, 4));
    let status: String = db
        .query_one(
            "SELECT status::text FROM inventory_truth.hold WHERE ref = 'cart'",
            &[],
        )
        .await
        .expect("hold")
        .get(0);
    assert_eq!(status, "expired");
}

/// A storefront checks who sends before it trusts its LISTEN: notify_status(), callable at the
/// storefront level, names the relay serving the database, and says it keeps up.
#[tokio::test]
async fn a_storefront_role_sees_which_relay_sends_and_that_it_keeps_up() {
    let (dsn, db) = relay_database("it_notify_status").await;
    store(&db).await;
    relay_pid(&db).await;
    db.batch_execute(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'it_shop_status') THEN
                 CREATE ROLE it_shop_status LOGIN;
             END IF;
         END $$;
         GRANT inventory_truth_storefront TO it_shop_status;",
    )
    .await
    .expect("a storefront login role");
    let shop = connect(&format!("{dsn} user=it_shop_status"))
        .await
        .expect("the storefront role connects");
    db.execute(
        "SELECT inventory_truth.reserve('web', 'TEE', 1, 'S-1')",
        &[],
    )
    .await
    .expect("a buyer reserves");
    // Within a few passes the relay has published it: nothing pending, nothing unread.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = shop
            .query_one(
                "SELECT setting, mode, channel, preloaded, relay_pid, relay_seen_at IS NOT NULL,
                        relay_pending, relay_behind, relay_paused
                   FROM inventory_truth.notify_status()",
                &[],
            )
            .await
            .expect("the storefront role may call notify_status()");
        let (setting, mode, channel, preloaded): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(
            (setting.as_str(), mode.as_str(), channel.as_str(), preloaded),
            ("auto", "relay", "inventory_truth", true)
        );
        // A relay shows in pg_stat_activity once connected, in notify_status() once it has
        // taken its slot a moment later; a launcher restarted meanwhile (another test) may
        // have started a second one that found the slot taken and left.
        let named = row.get::<_, Option<i32>>(4);
        if let Some(named) = named {
            let live: bool = db
                .query_one(
                    "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1
                                       AND backend_type = 'inventory_truth relay'
                                       AND datname = current_database())",
                    &[&named],
                )
                .await
                .expect("pg_stat_activity")
                .get(0);
            assert!(
                live,
                "notify_status() names {named}, not this database's relay"
            );
        }
        let caught_up = named.is_some()
            && row.get::<_, bool>(5)
            && row.get::<_, Option<i64>>(6) == Some(0)
            && row.get::<_, Option<i64>>(7) == Some(0)
            && row.get::<_, Option<bool>>(8) == Some(false);
        if caught_up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay never reported itself and catching up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The relay runs as a superuser in every database: a database without the extension, where a
/// role made its own schema called inventory_truth with functions of the relay's names, must
/// get nothing called.
#[tokio::test]
async fn the_relay_calls_nothing_the_extension_does_not_own() {
    let admin = connect(&relay_cluster_dsn()).await.expect("connect");
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS it_relay_tenant;
             CREATE ROLE it_relay_tenant LOGIN NOSUPERUSER",
        )
        .await
        .ok();
    let dsn = fresh_database_on(&relay_cluster_dsn(), "it_notify_relay_tenant")
        .await
        .expect("database");
    let db = connect(&dsn).await.expect("connect");
    db.batch_execute(
        "ALTER DATABASE it_notify_relay_tenant OWNER TO it_relay_tenant;
         SET ROLE it_relay_tenant;
         CREATE SCHEMA inventory_truth;
         CREATE FUNCTION inventory_truth._relay_publish(integer) RETURNS int
             LANGUAGE sql AS 'ALTER ROLE it_relay_tenant SUPERUSER; SELECT 0';
         CREATE FUNCTION inventory_truth._relay_resync() RETURNS int
             LANGUAGE sql AS 'ALTER ROLE it_relay_tenant SUPERUSER; SELECT 0';
         CREATE FUNCTION inventory_truth._expire_due_holds(integer) RETURNS int
             LANGUAGE sql AS 'ALTER ROLE it_relay_tenant SUPERUSER; SELECT 0';
         RESET ROLE;",
    )
    .await
    .expect("the tenant's look-alike schema");
    // Discovery visits every database within 10 s; give it two rounds.
    tokio::time::sleep(Duration::from_secs(21)).await;
    let superuser: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = 'it_relay_tenant'",
            &[],
        )
        .await
        .expect("role")
        .get(0);
    assert!(
        !superuser,
        "the relay ran a look-alike function as a superuser"
    );
    let relays: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE backend_type = 'inventory_truth relay' AND datname = current_database()",
            &[],
        )
        .await
        .expect("pg_stat_activity")
        .get(0);
    assert_eq!(
        relays, 0,
        "no relay stays in a database without the extension"
    );
}

/// A DBA's script that terminates every backend must not end relaying until a restart.
#[tokio::test]
async fn a_terminated_launcher_comes_back() {
    let (_dsn, db) = relay_database("it_notify_relay_launcher").await;
    relay_pid(&db).await;
    let launcher =
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'inventory_truth relay launcher'";
    let before: i32 = db
        .query_one(launcher, &[])
        .await
        .expect("a launcher runs")
        .get(0);
    db.execute("SELECT pg_terminate_backend($1)", &[&before])
        .await
        .expect("terminate");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(row) = db.query_opt(launcher, &[]).await.expect("pg_stat_activity") {
            let after: i32 = row.get(0);
            if after != before {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no launcher came back after pg_terminate_backend"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A storefront that reads its snapshot while the relay is behind holds a value that was never
/// published; when the SKU then goes back to the last published value, the relay must still
/// send the final value, or the storefront stays wrong until the next change.
#[tokio::test]
async fn a_snapshot_read_between_two_coalesced_commits_is_corrected() {
    let (dsn, db) = relay_database("it_notify_relay_between").await;
    store(&db).await;
    let _settled = listen_once_published(&dsn, &db).await;

    // Hold the relay back: it cannot write atp_published until this transaction ends.
    let blocker = connect(&dsn).await.expect("connect");
    blocker
        .batch_execute("BEGIN; LOCK TABLE inventory_truth.atp_published IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    db.execute(
        "SELECT inventory_truth.reserve('web', 'TEE', 2, 'between')",
        &[],
    )
    .await
    .expect("reserve");
    // The storefront starts now: LISTEN, then a snapshot showing the reservation.
    let mut storefront = listen(&dsn, "inventory_truth").await.expect("listen");
    let mut view = AtpView::default();
    view.reset(snapshot(&storefront.client, None).await.expect("snapshot"));
    assert_eq!(
        view.atp[&("TEE".to_owned(), "web".to_owned())].0,
        2,
        "4 - 2 reserved"
    );
    db.execute("SELECT inventory_truth.release('web', 'between')", &[])
        .await
        .expect("release");
    blocker
        .batch_execute("COMMIT")
        .await
        .expect("let the relay go");

    let deadline = Instant::now() + Duration::from_secs(10);
    let truth: HashMap<(String, String), i64> = snapshot(&db, None)
        .await
        .expect("snapshot")
        .into_iter()
        .map(|(s, c, a, _)| ((s, c), a))
        .collect();
    while view.values() != truth {
        assert!(
            Instant::now() < deadline,
            "the storefront stayed at {:?}, the truth is {truth:?}",
            view.values()
        );
        if let Ok(Some(Ok(change))) =
            tokio::time::timeout(Duration::from_millis(500), storefront.messages.recv()).await
        {
            view.apply(&change);
        }
    }
}

/// A reservation or a movement hands the relay its SKU's state as committed (version, cause,
/// available and fenced units over every location), so the relay does not read it; anything
/// else the transaction does to the SKU afterwards, a rolled-back savepoint, or a reservation
/// under a lock taken earlier makes the relay read it again. Each step's notifications must say exactly
/// what atp_snapshot() says after it, at the SKU's version, with its cause.
#[tokio::test]
async fn what_a_writer_hands_the_relay_is_what_it_committed() {
    let (dsn, db) = relay_database("it_notify_relay_handed").await;
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1'), inventory_truth.add_location('DC2');
         SELECT inventory_truth.add_channel('web', 10, 2), inventory_truth.add_channel('amazon', 20);",
    )
    .await
    .expect("channels");
    shelve(&db, "M", "DC1", 100).await.expect("stock");
    shelve(&db, "M", "DC2", 50).await.expect("stock");
    db.execute(
        "SELECT inventory_truth.set_ringfence('amazon', 'M', percent => 30)",
        &[],
    )
    .await
    .expect("fence");
    let mut listener = listen_once_published(&dsn, &db).await;

    async fn truth(db: &Client) -> HashMap<String, i64> {
        snapshot(db, None)
            .await
            .expect("snapshot")
            .into_iter()
            .filter(|(sku, ..)| sku == "M")
            .map(|(_, channel, atp, _)| (channel, atp))
            .collect()
    }
    let steps = [
        "SELECT inventory_truth.reserve('web', 'M', 3, 'r1')",
        "SELECT inventory_truth.reserve('amazon', 'M', 5, 'r2', location => 'DC2')",
        "BEGIN; SELECT inventory_truth.reserve('web', 'M', 1, 'r3');
                SELECT inventory_truth.release('web', 'r1'); COMMIT",
        "BEGIN; SAVEPOINT s; SELECT inventory_truth.reserve('web', 'M', 2, 'r4');
                ROLLBACK TO s; SELECT inventory_truth.reserve('web', 'M', 1, 'r5'); COMMIT",
        "BEGIN; SELECT inventory_truth.release('web', 'r3');
                SELECT inventory_truth.reserve('web', 'M', 4, 'r6'); COMMIT",
        "BEGIN; SELECT inventory_truth.reserve('amazon', 'M', 2, 'r7');
                SELECT inventory_truth.report_damage('M', 'DC1', 7); COMMIT",
        // Movements through the engine hand over the state too: all places are read then.
        "SELECT inventory_truth.release('amazon', 'r2')",
        "SELECT inventory_truth.report_damage('M', 'DC2', 4)",
        "BEGIN; SELECT inventory_truth.receive('M', 'DC2', 9);
                SELECT inventory_truth.put_away('M', 'DC2', 9); COMMIT",
        "SELECT inventory_truth.pick('M', 'DC1', 2)",
        "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
         VALUES ('M', 'DC2', 'available', 'damaged', 3)",
        "BEGIN; SELECT inventory_truth.report_damage('M', 'DC1', 1);
                SELECT inventory_truth.reserve('amazon', 'M', 1, 'r8'); COMMIT",
    ];
    let mut before = truth(&db).await;
    for step in steps {
        db.batch_execute(step).await.expect(step);
        let after = truth(&db).await;
        let (version, cause): (i64, String) = {
            let row = db
                .query_one(
                    "SELECT version, change_cause FROM inventory_truth.sku WHERE code = 'M'",
                    &[],
                )
                .await
                .expect("sku");
            (row.get(0), row.get(1))
        };
        let arrived = by_channel(&drain(&mut listener, Duration::from_millis(700)).await);
        for (channel, atp) in &after {
            match arrived.get(channel) {
                Some(change) => {
                    assert_eq!(
                        (
                            change.atp,
                            change.previous_atp,
                            change.version,
                            &change.cause
                        ),
                        (*atp, before[channel], version, &cause),
                        "{step}: {channel}"
                    );
                }
                None => assert_eq!(
                    before[channel], *atp,
                    "{step}: {channel} changed without a notification"
                ),
            }
        }
        before = after;
    }
}

/// A writer's hand-over may reach the relay after a later change of the SKU that handed over
/// nothing (another session in `off` or `direct` mode, a COMMIT PREPARED) or out of commit
/// order: the relay uses a handed-over state only when it is still the SKU's version, so every
/// notification says the version, cause and ATP of one committed state. Here the relay is held
/// back in the middle of publishing another SKU while a reservation of TEE hands over its state
/// and then a session with notifications off sets TEE's buffer.
#[tokio::test]
async fn a_handed_over_state_is_used_only_at_the_skus_version() {
    let (dsn, db) = relay_database("it_notify_relay_stale_state").await;
    store(&db).await;
    shelve(&db, "CAP", "DC1", 10).await.expect("stock");
    let mut listener = listen_once_published(&dsn, &db).await;

    let blocker = connect(&dsn).await.expect("connect");
    blocker
        .batch_execute("BEGIN; LOCK TABLE inventory_truth.atp_published IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    db.execute("SELECT inventory_truth.reserve('web', 'CAP', 1, 'c1')", &[])
        .await
        .expect("reserve another SKU");
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.execute("SELECT inventory_truth.reserve('web', 'TEE', 1, 't1')", &[])
        .await
        .expect("a reservation that hands over TEE's state");
    let quiet = connect(&dsn).await.expect("connect");
    quiet
        .batch_execute(
            "SET inventory_truth.notify_mode = off;
             SELECT inventory_truth.set_buffer('web', 'TEE', 0);",
        )
        .await
        .expect("a buffer set without notifications");
    blocker
        .batch_execute("COMMIT")
        .await
        .expect("let the relay go");

    let tee: Vec<AtpChange> = drain(&mut listener, Duration::from_secs(1))
        .await
        .into_iter()
        .filter(|c| c.sku == "TEE")
        .collect();
    let (version, cause): (i64, String) = {
        let row = db
            .query_one(
                "SELECT version, change_cause FROM inventory_truth.sku WHERE code = 'TEE'",
                &[],
            )
            .await
            .expect("sku");
        (row.get(0), row.get(1))
    };
    let truth: HashMap<String, i64> = snapshot(&db, None)
        .await
        .expect("snapshot")
        .into_iter()
        .filter(|(sku, ..)| sku == "TEE")
        .map(|(_, channel, atp, _)| (channel, atp))
        .collect();
    assert!(!tee.is_empty(), "TEE's change was published");
    for change in &tee {
        assert_eq!(
            (change.version, &change.cause, change.atp),
            (version, &cause, truth[&change.channel]),
            "{change:?}: one committed state's version, cause and ATP"
        );
    }
}

/// A transaction prepared before the relay started (the relay restarted, or the server) is
/// published once COMMIT PREPARED makes it visible: the relay looks for prepared transactions
/// whenever it looks by version, its first pass included, not only when a PREPARE hands one
/// over (a relay that started later knew nothing of it, and never published the commit).
#[tokio::test]
async fn a_transaction_prepared_before_the_relay_started_is_published_at_commit_prepared() {
    let (dsn, db) = relay_database("it_notify_relay_prepared").await;
    store(&db).await;
    let mut listener = listen_once_published(&dsn, &db).await;
    let buyer = connect(&dsn).await.expect("connect");
    buyer
        .batch_execute(
            "BEGIN;
             SELECT inventory_truth.reserve('web', 'TEE', 1, 'prepared');
             PREPARE TRANSACTION 'it_notify_relay_prepared';",
        )
        .await
        .expect("prepare");

    restart_relay(&db).await;
    // The new relay's first pass: nothing has changed yet.
    drain(&mut listener, Duration::from_millis(1500)).await;

    buyer
        .batch_execute("COMMIT PREPARED 'it_notify_relay_prepared'")
        .await
        .expect("commit prepared");
    let tee: Vec<AtpChange> = drain(&mut listener, Duration::from_secs(3))
        .await
        .into_iter()
        .filter(|c| c.sku == "TEE")
        .collect();
    let (version, truth) = committed_state(&db, "TEE").await;
    assert!(
        !tee.is_empty(),
        "the prepared reservation was published after COMMIT PREPARED"
    );
    for change in &tee {
        assert_eq!(
            (change.version, change.atp),
            (version, truth[&change.channel]),
            "{change:?}: the committed version and ATP"
        );
    }
}

/// A sale from an escrow part writes the part, its hold and its ledger row, not the SKU's row:
/// its notification names it all the same (a reservation, recorded when it was), not the SKU's
/// last change outside its parts.
#[tokio::test]
async fn a_sale_from_an_escrow_part_is_notified_as_the_reservation_it_is() {
    let (dsn, db) = relay_database("it_notify_relay_part_sale").await;
    db.batch_execute(
        "SELECT inventory_truth.add_location('DC1');
         SELECT inventory_truth.add_channel('web');",
    )
    .await
    .expect("channel");
    shelve(&db, "ESC", "DC1", 20).await.expect("stock");
    db.execute("SELECT inventory_truth.set_escrow('ESC', 4)", &[])
        .await
        .expect("escrow");
    let mut listener = listen_once_published(&dsn, &db).await;

    db.execute(
        "SELECT inventory_truth.reserve('web', 'ESC', 1, 'part-sale')",
        &[],
    )
    .await
    .expect("reserve");
    let sold_from_parts: i64 = db
        .query_one(
            "SELECT coalesce(sum(sales), 0)::bigint FROM inventory_truth.stock_part WHERE sku = 'ESC'",
            &[],
        )
        .await
        .expect("parts")
        .get(0);
    assert_eq!(sold_from_parts, 1, "the sale was made from a part");
    let esc: Vec<AtpChange> = drain(&mut listener, Duration::from_secs(1))
        .await
        .into_iter()
        .filter(|c| c.sku == "ESC")
        .collect();
    assert!(!esc.is_empty(), "the part sale was published");
    for change in &esc {
        assert_eq!(change.cause, "available->committed", "{change:?}");
        let after_the_rows_change: bool = db
            .query_one(
                "SELECT $1::text::timestamptz > changed_at FROM inventory_truth.sku WHERE code = 'ESC'",
                &[&change.changed_at],
            )
            .await
            .expect("changed_at is a time")
            .get(0);
        assert!(
            after_the_rows_change,
            "{change:?}: the sale's time, not that of the SKU row's last change"
        );
    }
}

/// After a crash the relay records the state the crash left as published, without notifying
/// (every listener lost its connection and resyncs); a change committed after the server came
/// back, before the relay's first pass, must still be published: a listener that resynced in
/// between holds the state before it. Here what a crash does to the unlogged atp_published is
/// done by hand (emptied), and the change is made with notifications off, so that it asks
/// nothing of the relay; then the relay starts again.
#[tokio::test]
async fn a_change_committed_before_the_relay_comes_back_after_a_crash_is_published() {
    let (dsn, db) = relay_database("it_notify_relay_baseline").await;
    store(&db).await;
    let mut listener = listen_once_published(&dsn, &db).await;
    let quiet = connect(&dsn).await.expect("connect");
    quiet
        .batch_execute(
            "SET inventory_truth.notify_mode = off;
             DELETE FROM inventory_truth.atp_published;
             SELECT inventory_truth.reserve('web', 'TEE', 1, 'while-down');",
        )
        .await
        .expect("what a crash leaves, and a change after it");
    restart_relay(&db).await;

    let tee: Vec<AtpChange> = drain(&mut listener, Duration::from_secs(3))
        .await
        .into_iter()
        .filter(|c| c.sku == "TEE")
        .collect();
    let (version, truth) = committed_state(&db, "TEE").await;
    let last: HashMap<String, &AtpChange> = tee.iter().map(|c| (c.channel.clone(), c)).collect();
    assert_eq!(
        last.len(),
        truth.len(),
        "every channel of TEE was published after the relay came back: {tee:?}"
    );
    for (channel, change) in last {
        assert_eq!(
            (change.version, change.atp),
            (version, truth[&channel]),
            "{change:?}: the state committed while the relay was down"
        );
    }
}

/// The relay finds a SKU's `atp_published` row where it last wrote it, without an index search,
/// and prunes its page as an index fetch would: a SKU published again and again keeps one page
/// of the table (without pruning, each update past a full page would move the row to a new
/// page, adding an index entry: the table and its key grew threefold in a minute of load).
#[tokio::test]
async fn a_sku_published_again_and_again_keeps_its_published_row_in_one_page() {
    let (dsn, db) = relay_database("it_notify_relay_prunes").await;
    store(&db).await;
    let mut listener = listen_once_published(&dsn, &db).await;
    // Nothing else reads TEE's row meanwhile (an index scan would prune the page itself).
    for i in 0..150 {
        let reference = format!("p{i}");
        db.execute(
            "SELECT inventory_truth.reserve('web', 'TEE', 1, $1)",
            &[&reference],
        )
        .await
        .expect("reserve");
        tokio::time::sleep(Duration::from_millis(6)).await;
        db.execute("SELECT inventory_truth.release('web', $1)", &[&reference])
            .await
            .expect("release");
        tokio::time::sleep(Duration::from_millis(6)).await;
    }
    let publications = drain(&mut listener, Duration::from_secs(1))
        .await
        .into_iter()
        .filter(|c| c.sku == "TEE" && c.channel == "web")
        .count();
    let pages: i64 = db
        .query_one(
            "SELECT pg_catalog.pg_relation_size('inventory_truth.atp_published')
                      / pg_catalog.current_setting('block_size')::bigint",
            &[],
        )
        .await
        .expect("size")
        .get(0);
    assert!(
        publications >= 200,
        "most of the 300 commits were published one by one ({publications} publications)"
    );
    assert_eq!(pages, 1, "TEE's published row stayed in one page");
}

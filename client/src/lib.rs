//! Helpers shared by the real-client tests: connecting to the scratch cluster the test scripts
//! start, and giving each test a database of its own.

use tokio_postgres::{Client, NoTls};

pub mod chaos;
pub mod storefront;

/// The environment variable holding the connection string of a second scratch cluster that
/// preloads the extension, so the relay runs (`make test` sets it).
pub const RELAY_DSN_VAR: &str = "INVENTORY_TRUTH_RELAY_TEST_DSN";

/// The relay cluster's connection string, or a panic explaining how to get one.
pub fn relay_cluster_dsn() -> String {
    std::env::var(RELAY_DSN_VAR).unwrap_or_else(|_| {
        panic!("{RELAY_DSN_VAR} is not set: run these tests through `make test`, which starts a scratch cluster with the relay")
    })
}

/// The environment variable holding the connection string of a hot standby of the relay's
/// cluster (`make test` makes one with `scripts/cluster.sh standby`).
pub const REPLICA_DSN_VAR: &str = "INVENTORY_TRUTH_REPLICA_TEST_DSN";

/// The standby's connection string, or a panic explaining how to get one.
pub fn replica_cluster_dsn() -> String {
    std::env::var(REPLICA_DSN_VAR).unwrap_or_else(|_| {
        panic!("{REPLICA_DSN_VAR} is not set: run these tests through `make test`, which starts a standby of the relay's cluster")
    })
}

/// The environment variable holding the scratch cluster's connection string
/// (`scripts/cluster.sh env` prints it; `make test` sets it).
pub const DSN_VAR: &str = "INVENTORY_TRUTH_TEST_DSN";

/// The scratch cluster's connection string, or a panic explaining how to get one: these tests
/// must never pass vacuously because no server was there.
pub fn cluster_dsn() -> String {
    std::env::var(DSN_VAR).unwrap_or_else(|_| {
        panic!("{DSN_VAR} is not set: run these tests through `make test`, which starts a scratch cluster")
    })
}

/// Connects with `dsn` and drives the connection on a background task.
pub async fn connect(dsn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await?;
    tokio::spawn(async move {
        // The connection ends with an error when the server goes away; the client's next
        // call reports it, so there is nothing more to do here.
        let _ = connection.await;
    });
    Ok(client)
}

/// Creates an empty database named `name` (dropping any left from an earlier run) and returns
/// a connection string for it.
pub async fn fresh_database(name: &str) -> Result<String, tokio_postgres::Error> {
    fresh_database_on(&cluster_dsn(), name).await
}

/// Like `fresh_database`, on the cluster `dsn` names.
pub async fn fresh_database_on(dsn: &str, name: &str) -> Result<String, tokio_postgres::Error> {
    let admin = connect(dsn).await?;
    // Identifiers cannot be bound as parameters; callers pass fixed test names.
    assert!(
        name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "test database names are plain identifiers"
    );
    // Two statements, two calls: a multi-statement string runs as one transaction, which
    // DROP/CREATE DATABASE refuse.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(format!("{dsn} dbname={name}"))
}

/// A small deterministic generator for the concurrency tests, so a failing run can be repeated
/// with the same seed.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number in `0..below`.
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// The SQLSTATE of a failed call, for assertions on which refusals are allowed.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.code().map(|c| c.code().to_string())
}

/// Puts `units` of a SKU on the shelf at a location: an unplanned arrival, then put-away.
pub async fn shelve(
    db: &Client,
    sku: &str,
    location: &str,
    units: i64,
) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "SELECT count(*) FROM inventory_truth.receive($1, $2, $3)",
        &[&sku, &location, &units],
    )
    .await?;
    db.execute(
        "SELECT count(*) FROM inventory_truth.put_away($1, $2, $3)",
        &[&sku, &location, &units],
    )
    .await?;
    Ok(())
}

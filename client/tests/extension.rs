//! What a client application sees over the wire once a DBA has installed the extension.

use inventory_truth_client::{connect, fresh_database};

/// The version in the extension crate's manifest: the one `CREATE EXTENSION` must install.
fn extension_crate_version() -> &'static str {
    let manifest = include_str!("../../Cargo.toml");
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the extension's Cargo.toml has a version line")
}

#[tokio::test]
async fn create_extension_installs_the_crate_version_in_its_fixed_schema() {
    let dsn = fresh_database("client_install").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute("CREATE EXTENSION inventory_truth")
        .await
        .unwrap();

    let row = db
        .query_one(
            "SELECT e.extversion, n.nspname, e.extrelocatable
               FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'inventory_truth'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), extension_crate_version());
    assert_eq!(row.get::<_, String>(1), "inventory_truth");
    assert!(!row.get::<_, bool>(2));

    let moved = db
        .batch_execute("ALTER EXTENSION inventory_truth SET SCHEMA public")
        .await
        .expect_err("the schema is fixed");
    assert_eq!(
        moved.code(),
        Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED),
        "{moved}"
    );
}

#[tokio::test]
async fn an_application_with_its_own_search_path_reads_stages_and_movements() {
    let dsn = fresh_database("client_stages").await.unwrap();
    let db = connect(&dsn).await.unwrap();
    db.batch_execute("CREATE EXTENSION inventory_truth; SET search_path = public")
        .await
        .unwrap();

    // Stages arrive in the enum's order, labels as the spec names them.
    let stages: Vec<String> = db
        .query(
            "SELECT s.stage::text AS label FROM inventory_truth.stages() s ORDER BY s.stage",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stages.len(), 11);
    assert_eq!(stages.first().map(String::as_str), Some("inbound"));
    assert_eq!(stages.last().map(String::as_str), Some("written_off"));

    // movement_allowed, asked with bound parameters (NULL = outside the system), agrees
    // with the list of allowed movements for every pair of endpoints.
    let allowed: Vec<(Option<String>, Option<String>)> = db
        .query(
            "SELECT from_stage::text, to_stage::text FROM inventory_truth.allowed_movements()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(allowed.len(), 29);

    let ask = db
        .prepare(
            "SELECT inventory_truth.movement_allowed($1::text::inventory_truth.stage,
                                                     $2::text::inventory_truth.stage)",
        )
        .await
        .unwrap();
    let endpoints: Vec<Option<String>> = std::iter::once(None)
        .chain(stages.iter().cloned().map(Some))
        .collect();
    let mut answered_yes = 0;
    for from in &endpoints {
        for to in &endpoints {
            let yes: bool = db.query_one(&ask, &[from, to]).await.unwrap().get(0);
            let listed = allowed.contains(&(from.clone(), to.clone()));
            assert_eq!(yes, listed, "{from:?} -> {to:?}");
            answered_yes += usize::from(yes);
        }
    }
    assert_eq!(answered_yes, 29);

    // A label that is not a stage is refused by PostgreSQL's enum input, not guessed at.
    let bad = db
        .query_one(&ask, &[&Some("sold"), &Some("available")])
        .await
        .expect_err("'sold' is not a stage");
    assert_eq!(
        bad.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_TEXT_REPRESENTATION)
    );
}

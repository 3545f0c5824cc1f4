//! The stock ledger (SPEC §2, §7, §8): SKUs, locations, the append-only `movement` table, the
//! per-bucket `balance` table it keeps equal to its sum, expected receipts, and the floor and ERP
//! functions that record movements.
//!
//! The engine is SQL and PL/pgSQL (`sql/ledger.sql`, `sql/floor.sql`): every rule runs in one
//! trigger on `movement`, so a row an ERP inserts directly is checked and applied exactly like
//! a function's row. The extension's own SQLSTATEs (IT001, IT002, IT004) can only be raised
//! from there: pgrx 0.18 maps unknown SQLSTATEs raised through Rust to XX000. The transition
//! rule itself is Rust (`stage::movement_allowed`), called by the trigger.

use pgrx::prelude::*;

extension_sql_file!("../sql/ledger.sql", name = "ledger", requires = ["stage"]);
extension_sql_file!("../sql/floor.sql", name = "floor", requires = ["ledger"]);
// stock() and verify() read the fences and holds too, so they come last.
extension_sql_file!("../sql/reading.sql", name = "reading", requires = ["holds"]);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn qty(sku: &str, location: &str, stage: &str) -> i64 {
        Spi::get_one_with_args::<i64>(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.balance
              WHERE sku = $1 AND location = $2 AND stage = $3::inventory_truth.stage",
            &[sku.into(), location.into(), stage.into()],
        )
        .expect("read a balance")
        .expect("sum is never NULL")
    }

    fn verify_rows() -> i64 {
        Spi::get_one::<i64>("SELECT count(*) FROM inventory_truth.verify()")
            .expect("run verify()")
            .expect("count is never NULL")
    }

    #[pg_test]
    fn a_function_and_a_direct_insert_apply_the_same_way() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 10)").expect("receive");
        Spi::run(
            "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
             VALUES ('SKU-1', 'DC1', 'receiving', 'available', 4)",
        )
        .expect("direct insert");
        Spi::run("SELECT * FROM inventory_truth.put_away('SKU-1', 'DC1', 6)").expect("put away");
        assert_eq!(qty("SKU-1", "DC1", "receiving"), 0);
        assert_eq!(qty("SKU-1", "DC1", "available"), 10);
        assert_eq!(verify_rows(), 0);
    }

    #[pg_test]
    fn the_ledger_fills_in_time_role_and_transaction() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        let filled = Spi::get_one::<bool>(
            "SELECT recorded_at >= occurred_at AND actor = current_user
                    AND txid = pg_current_xact_id()
               FROM inventory_truth.receive('SKU-1', 'DC1', 1,
                                            occurred_at => now() - interval '1 minute')",
        )
        .expect("receive")
        .expect("one row");
        assert!(filled);
    }

    #[pg_test(
        error = "movement from available to shipped is not allowed (1 unit of SKU \"SKU-1\" at location \"DC1\")"
    )]
    fn an_illegal_direct_insert_is_refused() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 1)").expect("receive");
        Spi::run(
            "INSERT INTO inventory_truth.movement (sku, location, from_stage, to_stage, qty)
             VALUES ('SKU-1', 'DC1', 'available', 'shipped', 1)",
        )
        .expect("refused");
    }

    #[pg_test(
        error = "insufficient stock: SKU \"SKU-1\" at location \"DC1\" has 3 units in stage receiving, 5 asked"
    )]
    fn a_function_refuses_to_move_more_than_the_bucket_holds() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 3)").expect("receive");
        Spi::run("SELECT * FROM inventory_truth.put_away('SKU-1', 'DC1', 5)").expect("refused");
    }

    #[pg_test(error = "the movement ledger is append-only: UPDATE is refused")]
    fn the_ledger_refuses_updates() {
        Spi::run("SELECT inventory_truth.add_location('DC1')").expect("add a location");
        Spi::run("SELECT * FROM inventory_truth.receive('SKU-1', 'DC1', 3)").expect("receive");
        Spi::run("UPDATE inventory_truth.movement SET qty = 30").expect("refused");
    }
}

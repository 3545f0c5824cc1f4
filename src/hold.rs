//! Holds (SPEC §4): reservations of a channel for an order, checked against ATP in the
//! reserving transaction, released back to the buckets their units came from, expired by
//! `expire_holds()`, consumed by pick scans.
//!
//! SQL and PL/pgSQL (`sql/holds.sql`): a hold changes only through a ledger movement, in the
//! ledger's statement trigger, so an ERP's direct movements and the functions keep holds the
//! same way, and IT001/IT003/IT004 can be raised (pgrx 0.18 cannot raise custom SQLSTATEs).

use pgrx::prelude::*;

extension_sql_file!("../sql/holds.sql", name = "holds", requires = ["channels"]);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one_i64(query: &str) -> i64 {
        Spi::get_one::<i64>(query)
            .expect("query runs")
            .expect("one value")
    }

    /// Ten units at DC1, Amazon fenced 4, the web with a buffer of 1.
    fn store() {
        Spi::run(
            "SELECT inventory_truth.add_location('DC1');
             SELECT inventory_truth.add_channel('amazon', 10), inventory_truth.add_channel('web', 20, 1);
             SELECT count(*) FROM inventory_truth.receive('TEE', 'DC1', 10);
             SELECT count(*) FROM inventory_truth.put_away('TEE', 'DC1', 10);
             SELECT inventory_truth.set_ringfence('amazon', 'TEE', units => 4);",
        )
        .expect("set up the store");
    }

    fn fenced(channel: &str) -> i64 {
        Spi::get_one_with_args::<i64>(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.fence WHERE channel = $1",
            &[channel.into()],
        )
        .expect("read the fence")
        .expect("sum is never NULL")
    }

    #[pg_test]
    fn a_released_hold_returns_its_units_to_the_buckets_they_came_from() {
        store();
        // 6 for Amazon: its fence of 4, then 2 of the pool's 6.
        one_i64("SELECT inventory_truth.reserve('amazon', 'TEE', 6, 'A-1')");
        assert_eq!(fenced("amazon"), 0);
        assert_eq!(
            one_i64("SELECT fence_qty FROM inventory_truth.hold WHERE ref = 'A-1'"),
            4
        );
        Spi::run("SELECT inventory_truth.release('amazon', 'A-1')").expect("release");
        assert_eq!(fenced("amazon"), 4);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 5);
        assert_eq!(one_i64("SELECT count(*) FROM inventory_truth.verify()"), 0);
    }

    #[pg_test]
    fn atp_is_fence_plus_pool_minus_buffer() {
        store();
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'amazon')"), 10);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 5);
        one_i64("SELECT inventory_truth.reserve('web', 'TEE', 5, 'W-1')");
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'web')"), 0);
        assert_eq!(one_i64("SELECT inventory_truth.atp('TEE', 'amazon')"), 5);
    }

    #[pg_test(
        error = "insufficient stock: channel \"web\" can promise 5 units of SKU \"TEE\", 6 asked"
    )]
    fn a_reservation_beyond_atp_is_refused() {
        store();
        Spi::run("SELECT inventory_truth.reserve('web', 'TEE', 6, 'W-1')").expect("refused");
    }
}

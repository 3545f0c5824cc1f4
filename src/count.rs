//! Counts and short picks (docs/design.md §5): what a picker's short pick and a blind count do to a bin.
//!
//! A bin, as the system believes it, holds the location's available and committed units
//! (picked units are on a cart, the other stages elsewhere). The tables, the count sheet and
//! the functions that lock and move stock are SQL (`sql/counts.sql`); the two rules that decide
//! how many units move where are plain functions, tested without PostgreSQL.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/counts.sql",
    name = "counts",
    requires = ["reading", count_shortfall, count_reconciliation]
);

/// Where a short pick's missing units come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// available -> missing: leaves ATP at once (pool first, then fences; the ledger's rule).
    pub from_available: i64,
    /// committed -> missing: units some holds can no longer get.
    pub from_committed: i64,
}

/// A picker found `found` units in a bin the system believes holds `available + committed`:
/// the difference goes missing, from available stock first (nobody was promised it) and then
/// from committed stock. Finding as many or more moves nothing: a gain is for the count.
pub fn shortfall(found: i64, available: i64, committed: i64) -> Shortfall {
    let available = i128::from(available.max(0));
    let committed = i128::from(committed.max(0));
    let short = (available + committed - i128::from(found.max(0))).max(0);
    let from_available = short.min(available);
    Shortfall {
        // Both are at most the (i64) bucket they come from.
        from_available: from_available as i64,
        from_committed: (short - from_available) as i64,
    }
}

/// The movements that reconcile a blind count of a bin with the system's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reconciliation {
    /// missing -> available: units that had gone missing and were counted after all.
    pub found: i64,
    /// outside -> available: a count gain beyond every missing unit.
    pub gain: i64,
    /// available -> written_off: a count loss.
    pub lost_available: i64,
    /// committed -> missing: a count loss beyond available stock; holds lose these units.
    pub lost_committed: i64,
    /// missing -> written_off: every missing unit the count did not find, with lost_committed.
    pub written_off: i64,
}

/// `counted` units in a bin the system believes holds `available + committed`, with `missing`
/// units of the SKU awaiting a count at the location. More than the system believes: missing
/// units are found first, the rest is a gain. Fewer: available stock is written off first,
/// then committed stock goes missing. Either way every missing unit not found is written off,
/// so nothing stays missing once the count is in.
pub fn reconcile(counted: i64, available: i64, committed: i64, missing: i64) -> Reconciliation {
    let available = i128::from(available.max(0));
    let committed = i128::from(committed.max(0));
    let missing = i128::from(missing.max(0));
    let difference = i128::from(counted.max(0)) - (available + committed);
    // Each part is at most one i64 bucket or the i64 count, but for written_off (missing plus
    // lost_committed), which saturates: the missing bucket could not hold more anyway.
    let part = |units: i128| units.min(i128::from(i64::MAX)) as i64;
    if difference >= 0 {
        let found = difference.min(missing);
        Reconciliation {
            found: part(found),
            gain: part(difference - found),
            written_off: part(missing - found),
            ..Reconciliation::default()
        }
    } else {
        let loss = -difference;
        let lost_available = loss.min(available);
        let lost_committed = loss - lost_available;
        Reconciliation {
            lost_available: part(lost_available),
            lost_committed: part(lost_committed),
            written_off: part(missing + lost_committed),
            ..Reconciliation::default()
        }
    }
}

#[pg_extern(immutable, parallel_safe, name = "_count_shortfall")]
fn count_shortfall(
    found: i64,
    available: i64,
    committed: i64,
) -> TableIterator<'static, (name!(from_available, i64), name!(from_committed, i64))> {
    let s = shortfall(found, available, committed);
    TableIterator::once((s.from_available, s.from_committed))
}

#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe, name = "_count_reconciliation")]
fn count_reconciliation(
    counted: i64,
    available: i64,
    committed: i64,
    missing: i64,
) -> TableIterator<
    'static,
    (
        name!(found, i64),
        name!(gain, i64),
        name!(lost_available, i64),
        name!(lost_committed, i64),
        name!(written_off, i64),
    ),
> {
    let r = reconcile(counted, available, committed, missing);
    TableIterator::once((
        r.found,
        r.gain,
        r.lost_available,
        r.lost_committed,
        r.written_off,
    ))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn units(stage: &str) -> i64 {
        Spi::get_one_with_args::<i64>(
            "SELECT coalesce(sum(qty), 0)::bigint FROM inventory_truth.balance
              WHERE sku = 'BOLT' AND stage = $1::inventory_truth.stage",
            &[stage.into()],
        )
        .expect("read a balance")
        .expect("sum is never NULL")
    }

    #[pg_test]
    fn a_short_pick_and_its_count_account_for_every_unit() {
        Spi::run(
            "SELECT inventory_truth.add_location('DC1');
             SELECT inventory_truth.add_channel('web');
             SELECT count(*) FROM inventory_truth.receive('BOLT', 'DC1', 12);
             SELECT count(*) FROM inventory_truth.put_away('BOLT', 'DC1', 12);
             SELECT inventory_truth.reserve('web', 'BOLT', 5, 'O-1');",
        )
        .expect("a bin of 12, 5 of them held");
        let task = Spi::get_one::<i64>("SELECT inventory_truth.short_pick('BOLT', 'DC1', 2)")
            .expect("short pick")
            .expect("a task");
        // 10 missing: the 7 available, then 3 of the hold.
        assert_eq!(
            (units("available"), units("committed"), units("missing")),
            (0, 2, 10)
        );
        Spi::run_with_args(
            "SELECT count(*) FROM inventory_truth.submit_count($1, 6)",
            &[task.into()],
        )
        .expect("count");
        // 6 counted against 2 held: 4 found, the other 6 missing written off.
        assert_eq!(
            (
                units("available"),
                units("committed"),
                units("missing"),
                units("written_off")
            ),
            (4, 2, 0, 6)
        );
        let problems = Spi::get_one::<i64>("SELECT count(*) FROM inventory_truth.verify()")
            .expect("verify")
            .expect("count");
        assert_eq!(problems, 0);
    }
}

#[cfg(test)]
mod rules {
    use super::*;

    #[test]
    fn a_short_pick_takes_available_stock_before_committed_stock() {
        // 6 available + 4 committed believed, 7 found: 3 missing, all from available.
        assert_eq!(
            shortfall(7, 6, 4),
            Shortfall {
                from_available: 3,
                from_committed: 0
            }
        );
        // 2 found: 6 from available, 2 from committed.
        assert_eq!(
            shortfall(2, 6, 4),
            Shortfall {
                from_available: 6,
                from_committed: 2
            }
        );
        // An empty bin: everything.
        assert_eq!(
            shortfall(0, 6, 4),
            Shortfall {
                from_available: 6,
                from_committed: 4
            }
        );
    }

    #[test]
    fn finding_as_many_or_more_than_believed_moves_nothing() {
        let nothing = Shortfall {
            from_available: 0,
            from_committed: 0,
        };
        assert_eq!(shortfall(10, 6, 4), nothing);
        assert_eq!(shortfall(12, 6, 4), nothing);
        assert_eq!(shortfall(i64::MAX, 6, 4), nothing);
    }

    #[test]
    fn a_short_pick_never_takes_more_than_a_bucket_holds() {
        let s = shortfall(0, i64::MAX, i64::MAX);
        assert_eq!(
            s,
            Shortfall {
                from_available: i64::MAX,
                from_committed: i64::MAX
            }
        );
        // Buckets below zero (mid-transaction) count as empty.
        assert_eq!(
            shortfall(0, -3, 2),
            Shortfall {
                from_available: 0,
                from_committed: 2
            }
        );
    }

    #[test]
    fn a_count_that_matches_writes_off_every_missing_unit() {
        assert_eq!(
            reconcile(10, 6, 4, 3),
            Reconciliation {
                written_off: 3,
                ..Reconciliation::default()
            }
        );
        assert_eq!(reconcile(10, 6, 4, 0), Reconciliation::default());
    }

    #[test]
    fn a_count_above_the_books_finds_missing_units_first_then_gains() {
        // 2 more than believed, 3 missing: 2 found, 1 written off.
        assert_eq!(
            reconcile(12, 6, 4, 3),
            Reconciliation {
                found: 2,
                written_off: 1,
                ..Reconciliation::default()
            }
        );
        // 5 more, 3 missing: all 3 found, 2 gained.
        assert_eq!(
            reconcile(15, 6, 4, 3),
            Reconciliation {
                found: 3,
                gain: 2,
                ..Reconciliation::default()
            }
        );
    }

    #[test]
    fn a_count_below_the_books_loses_available_stock_then_committed_stock() {
        // 3 fewer than believed: lost from available; the 1 missing unit is written off.
        assert_eq!(
            reconcile(7, 6, 4, 1),
            Reconciliation {
                lost_available: 3,
                written_off: 1,
                ..Reconciliation::default()
            }
        );
        // 8 fewer: 6 from available, 2 committed go missing and are written off with the 1.
        assert_eq!(
            reconcile(2, 6, 4, 1),
            Reconciliation {
                lost_available: 6,
                lost_committed: 2,
                written_off: 3,
                ..Reconciliation::default()
            }
        );
    }

    #[test]
    fn every_unit_is_accounted_for() {
        // The bin ends at the count, and nothing stays missing.
        for counted in 0..=14 {
            for missing in 0..=4 {
                let (available, committed) = (6, 4);
                let r = reconcile(counted, available, committed, missing);
                let bin_after =
                    available + committed + r.found + r.gain - r.lost_available - r.lost_committed;
                assert_eq!(bin_after, counted, "counted {counted}, missing {missing}");
                assert_eq!(missing + r.lost_committed - r.found - r.written_off, 0);
                assert!(r.found >= 0 && r.gain >= 0 && r.written_off >= 0);
            }
        }
    }

    #[test]
    fn extreme_counts_do_not_overflow() {
        let r = reconcile(i64::MAX, 0, 0, i64::MAX);
        assert_eq!(r.found, i64::MAX);
        assert_eq!(r.written_off, 0);
        let r = reconcile(0, i64::MAX, 0, i64::MAX);
        assert_eq!(r.lost_available, i64::MAX);
        assert_eq!(r.written_off, i64::MAX);
    }
}

//! Channels, ringfences, safety buffers and available-to-promise (docs/design.md §3).
//!
//! Available stock at a location is one share per fenced channel plus a shared pool. The
//! tables and the ATP arithmetic are SQL (`sql/channels.sql`); the replay that moves units
//! between fences and the pool as movements apply is `place.rs`; the allocation rules below are
//! plain functions, so they are tested without PostgreSQL. In every slice, fences are in channel priority order (highest
//! priority first). `atp` is the ATP arithmetic that publishing and the snapshot share.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/channels.sql",
    name = "channels",
    requires = [
        "floor",
        fence_fill,
        fence_take_loss,
        fence_allocate,
        ledger::_known_channel,
        ledger::_known_sku
    ]
);
// ATP by date reads expected receipts and projects fences: after the channels.
extension_sql_file!(
    "../sql/timeline.sql",
    name = "timeline",
    requires = ["channels", "preorders"]
);

/// A channel's ATP of a SKU from its sums over locations: available units, all of them fenced,
/// the channel's own fenced units and its buffer: what it may sell, never below zero.
pub fn atp(available: i64, fenced: i64, own: i64, buffer: i64) -> i64 {
    (available - fenced + own - buffer).max(0)
}

/// An inflow of `qty` units to available stock: fences fill in priority order up to their
/// targets, the rest goes to the pool. Returns the new fence quantities.
pub fn fill(qty: i64, targets: &[i64], fences: &[i64]) -> Vec<i64> {
    let mut left = qty.max(0);
    fences
        .iter()
        .zip(targets.iter().chain(std::iter::repeat(&0)))
        .map(|(&fence, &target)| {
            let added = (target - fence).clamp(0, left);
            left -= added;
            fence + added
        })
        .collect()
}

/// A loss of `qty` units from available stock (damage, short pick, count loss): the pool pays
/// first, then the fences, lowest priority first. Returns the new fence quantities; whatever
/// neither covers is the caller's to refuse (the bucket goes below zero).
pub fn take_loss(qty: i64, pool: i64, fences: &[i64]) -> Vec<i64> {
    let mut left = (qty - pool.max(0)).max(0);
    let mut after = fences.to_vec();
    for fence in after.iter_mut().rev() {
        let taken = (*fence).clamp(0, left);
        *fence -= taken;
        left -= taken;
    }
    after
}

/// Fences recomputed from scratch (a rule change, `rebalance()`): `available` units go to the
/// fences in priority order, each up to its target; the rest is the pool.
pub fn allocate(available: i64, targets: &[i64]) -> Vec<i64> {
    let mut left = available.max(0);
    targets
        .iter()
        .map(|&target| {
            let fence = target.clamp(0, left);
            left -= fence;
            fence
        })
        .collect()
}

/// A ringfence percentage, exactly as written (PostgreSQL `numeric`): digits before and after
/// the decimal point. Kept exact so that `floor(percent * available / 100)` never differs from
/// PostgreSQL's own arithmetic, whatever the scale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Percent {
    whole: i128,
    fraction: Vec<u8>,
}

impl Percent {
    /// Parses the text of a non-negative `numeric` ("50", "12.5", "0.000001"); `None` for
    /// anything else (a negative number, NaN, Infinity, an exponent).
    pub fn parse(text: &str) -> Option<Percent> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || whole.len() > 30
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Percent {
            whole: whole.parse().ok()?,
            fraction: fraction.bytes().map(|b| b - b'0').collect(),
        })
    }

    /// `floor(self * units / 100)` for `units >= 0`, exact for any number of decimals: the
    /// fraction's digits are multiplied in from the last one, carrying only the whole part
    /// (floor((x + floor(y)) / 10) = floor((x + y) / 10) for whole x), so nothing overflows.
    pub fn of(&self, units: i64) -> i64 {
        let units = i128::from(units.max(0));
        let carried = self.fraction.iter().rev().fold(0i128, |carry, &digit| {
            (i128::from(digit) * units + carry) / 10
        });
        let hundredfold = self.whole.saturating_mul(units).saturating_add(carried);
        (hundredfold / 100).min(i128::from(i64::MAX)) as i64
    }
}

/// A channel's ringfence rule at a location: a fixed number of units, or a percentage of the
/// location's available units. `None` where a channel holds fenced units without a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    Units(i64),
    Percent(Percent),
}

/// What each fence should hold at a location with `available` units: its rule's target (no
/// rule: none), less what its channel holds from it in open holds (`held`): those are still the
/// channel's fenced units, only promised, so counting them keeps a fence from refilling while
/// its holds are out and a release can give them back in full.
pub fn targets(available: i64, rules: &[Option<Rule>], held: &[i64]) -> Vec<i64> {
    rules
        .iter()
        .zip(held.iter().chain(std::iter::repeat(&0)))
        .map(|(rule, &held)| {
            let target = match rule {
                Some(Rule::Units(units)) => *units,
                Some(Rule::Percent(percent)) => percent.of(available),
                None => 0,
            };
            (target - held).max(0)
        })
        .collect()
}

/// One location's fences and available units projected over successive inflows (one per day,
/// as if each day's arrivals were put away that day and nothing sold): each inflow fills the
/// fences like a put-away, against the targets at the new available total. Returns, per
/// inflow, the available units and the fences after it.
pub fn project(
    available: i64,
    fences: &[i64],
    rules: &[Option<Rule>],
    held: &[i64],
    inflows: &[i64],
) -> Vec<(i64, Vec<i64>)> {
    let mut available = available;
    let mut fences = fences.to_vec();
    inflows
        .iter()
        .map(|&qty| {
            available = available.saturating_add(qty);
            if qty > 0 {
                fences = fill(qty, &targets(available, rules, held), &fences);
            }
            (available, fences.clone())
        })
        .collect()
}

#[pg_extern(immutable, parallel_safe, name = "_fence_fill")]
fn fence_fill(qty: i64, targets: Vec<i64>, fences: Vec<i64>) -> Vec<i64> {
    fill(qty, &targets, &fences)
}

#[pg_extern(immutable, parallel_safe, name = "_fence_take_loss")]
fn fence_take_loss(qty: i64, pool: i64, fences: Vec<i64>) -> Vec<i64> {
    take_loss(qty, pool, &fences)
}

#[pg_extern(immutable, parallel_safe, name = "_fence_allocate")]
fn fence_allocate(available: i64, targets: Vec<i64>) -> Vec<i64> {
    allocate(available, &targets)
}

/// The units channel `channel` (its index in the arrays, NULL: not fenced here) may sell at one
/// location after each of successive daily inflows: available minus every other channel's
/// fence (see `project`). `atp_timeline` sums these over locations.
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe, name = "_fence_project")]
fn fence_project(
    available: i64,
    inflows: Vec<i64>,
    units: Vec<Option<i64>>,
    percents: Vec<Option<AnyNumeric>>,
    held: Vec<i64>,
    fences: Vec<i64>,
    channel: Option<i32>,
) -> Vec<i64> {
    let rules: Vec<Option<Rule>> = units
        .iter()
        .zip(percents.iter().chain(std::iter::repeat(&None)))
        .map(|(units, percent)| match (units, percent) {
            (Some(units), _) => Some(Rule::Units(*units)),
            (None, Some(percent)) => Some(Rule::Percent(
                Percent::parse(&percent.to_string())
                    .unwrap_or_else(|| error!("not a ringfence percent: {percent}")),
            )),
            (None, None) => None,
        })
        .collect();
    let own = channel
        .and_then(|i| usize::try_from(i).ok())
        .map(|i| i.wrapping_sub(1));
    project(available, &fences, &rules, &held, &inflows)
        .into_iter()
        .map(|(available, fences)| {
            let others: i64 = fences
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != own)
                .map(|(_, qty)| qty)
                .sum();
            available - others
        })
        .collect()
}

#[cfg(test)]
mod rules {
    use super::*;

    #[test]
    fn atp_is_fence_plus_pool_less_buffer_never_below_zero() {
        // 10 available, 6 fenced of which 4 the channel's: it sells 4 + 4 of the pool, less 3.
        assert_eq!(atp(10, 6, 4, 3), 5);
        assert_eq!(atp(10, 6, 0, 3), 1);
        assert_eq!(atp(2, 0, 0, 3), 0);
    }

    #[test]
    fn an_inflow_fills_fences_in_priority_order_then_the_pool() {
        // Amazon (first) wants 5 and has 2; wholesale wants 4 and has 0; 6 units arrive.
        assert_eq!(fill(6, &[5, 4], &[2, 0]), vec![5, 3]);
        // More than every fence needs: the rest is the pool's.
        assert_eq!(fill(20, &[5, 4], &[2, 0]), vec![5, 4]);
        // A fence above its target keeps what it has and takes nothing.
        assert_eq!(fill(3, &[1, 4], &[2, 0]), vec![2, 3]);
    }

    #[test]
    fn a_loss_comes_from_the_pool_then_the_lowest_priority_fence() {
        assert_eq!(take_loss(3, 5, &[4, 4]), vec![4, 4]);
        assert_eq!(take_loss(7, 5, &[4, 4]), vec![4, 2]);
        assert_eq!(take_loss(11, 5, &[4, 4]), vec![2, 0]);
        // A pool already below zero (a breach pending at commit) covers nothing.
        assert_eq!(take_loss(1, -2, &[4, 4]), vec![4, 3]);
        // More than everything: the fences empty and the caller refuses the rest.
        assert_eq!(take_loss(20, 1, &[4, 4]), vec![0, 0]);
    }

    fn percent(text: &str) -> Percent {
        Percent::parse(text).expect("a percent")
    }

    #[test]
    fn a_percent_of_units_is_floored_exactly() {
        assert_eq!(percent("50").of(7), 3);
        assert_eq!(percent("12.5").of(8), 1);
        assert_eq!(percent("100").of(1_000_000_000_000), 1_000_000_000_000);
        assert_eq!(percent("0").of(5), 0);
        assert_eq!(percent("33.3").of(1000), 333);
        // One part in 10^23 above a third: 3 units are exactly 1.000...0002, so 1, where a
        // percent cut to 18 decimals (or a float) would give 0.
        assert_eq!(percent("33.33333333333333333333334").of(3), 1);
        assert_eq!(percent("33.33333333333333333333333").of(3), 0);
        assert_eq!(percent("50.000").of(-4), 0);
    }

    #[test]
    fn only_plain_non_negative_decimals_are_percents() {
        for bad in ["", "-1", "NaN", "Infinity", "1e2", "1.2.3", ".5", " 5"] {
            assert_eq!(Percent::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Percent::parse("5."), Some(percent("5")));
    }

    #[test]
    fn targets_are_rules_less_what_is_held() {
        let rules = [
            Some(Rule::Units(5)),
            Some(Rule::Percent(percent("50"))),
            None,
        ];
        assert_eq!(targets(10, &rules, &[2, 0, 0]), vec![3, 5, 0]);
        // Held beyond the target: nothing to fill.
        assert_eq!(targets(10, &rules, &[7, 6, 1]), vec![0, 0, 0]);
    }

    #[test]
    fn a_projection_fills_day_by_day_as_put_aways_would() {
        // Issue 22: a and b fenced 50% each, 1 unit in the building today, 1 due tomorrow.
        // Today's put-away: targets at 1 unit are 0 and 0, the unit is the pool's. Tomorrow's:
        // targets at 2 are 1 and 1; a (first) takes the arriving unit, b gets none, the pool
        // keeps today's.
        let rules = [
            Some(Rule::Percent(percent("50"))),
            Some(Rule::Percent(percent("50"))),
        ];
        assert_eq!(
            project(0, &[0, 0], &rules, &[0, 0], &[1, 1]),
            vec![(1, vec![0, 0]), (2, vec![1, 0])]
        );
        // The same two units in one put-away fill both fences.
        assert_eq!(
            project(0, &[0, 0], &rules, &[0, 0], &[2]),
            vec![(2, vec![1, 1])]
        );
        // A day without arrivals changes nothing.
        assert_eq!(
            project(4, &[2, 2], &rules, &[0, 0], &[0]),
            vec![(4, vec![2, 2])]
        );
    }

    #[test]
    fn allocation_serves_fences_in_priority_order() {
        assert_eq!(allocate(10, &[5, 4]), vec![5, 4]);
        assert_eq!(allocate(7, &[5, 4]), vec![5, 2]);
        assert_eq!(allocate(0, &[5, 4]), vec![0, 0]);
        assert_eq!(allocate(10, &[]), Vec::<i64>::new());
    }
}

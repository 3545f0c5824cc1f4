//! Channels, ringfences, safety buffers and available-to-promise (SPEC §3).
//!
//! Available stock at a location is one bucket per fenced channel plus a shared pool. The
//! tables, the ATP arithmetic and the trigger step that moves units between fences and the pool
//! are SQL (`sql/channels.sql`); the allocation rules below are plain functions, so they are
//! tested without PostgreSQL. In every slice, fences are in channel priority order (highest
//! priority first).

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/channels.sql",
    name = "channels",
    requires = ["floor", fence_fill, fence_take_loss, fence_allocate]
);
// ATP by date reads expected receipts and projects fences: after the channels.
extension_sql_file!(
    "../sql/timeline.sql",
    name = "timeline",
    requires = ["channels"]
);

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

#[cfg(test)]
mod rules {
    use super::*;

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

    #[test]
    fn allocation_serves_fences_in_priority_order() {
        assert_eq!(allocate(10, &[5, 4]), vec![5, 4]);
        assert_eq!(allocate(7, &[5, 4]), vec![5, 2]);
        assert_eq!(allocate(0, &[5, 4]), vec![0, 0]);
        assert_eq!(allocate(10, &[]), Vec::<i64>::new());
    }
}

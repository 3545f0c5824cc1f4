//! The reservation planner (docs/design.md §3-§4): whether a channel may sell a quantity of a
//! SKU, and from which of its places, as pure rules over the places `reserve` read (src/hold.rs
//! reads them and applies the plan). Unit-tested without PostgreSQL.

use std::collections::HashMap;

use crate::engine::StoredPlace;
use crate::error::{q, units, Failure, Outcome};

/// `IT001` for a sale of `qty` beyond what `channel` can promise of `sku`: `sellable` (its
/// fence and the pool at every location) less its buffer.
pub fn beyond_atp(channel: &str, sku: &str, qty: i64, sellable: i64, buffer: i64) -> Failure {
    Failure::insufficient(format!(
        "insufficient stock: channel {} can promise {} of SKU {}, {} asked",
        q(channel),
        units((sellable - buffer).max(0)),
        q(sku),
        qty
    ))
    .detail(format!(
        "Its fence and the shared pool hold {}; its safety buffer is {}.",
        units(sellable),
        units(buffer)
    ))
}

/// Whether `channel` may sell `qty` units of `sku`: within its ATP (its fence and the pool at
/// every location, less its buffer) and, at `location`, within its fence and the pool there.
/// `IT001` otherwise, with the numbers.
pub fn check_sale(
    places: &[StoredPlace],
    buffer: i64,
    channel: &str,
    sku: &str,
    location: Option<&str>,
    qty: i64,
) -> Outcome<()> {
    let sellable: i64 = places.iter().map(|p| p.sellable(channel)).sum();
    if qty > sellable - buffer {
        return Err(beyond_atp(channel, sku, qty, sellable, buffer));
    }
    let here = location.map_or(0, |l| {
        places
            .iter()
            .find(|p| p.location == l)
            .map_or(0, |p| p.sellable(channel))
    });
    if qty > here {
        return Err(Failure::insufficient(format!(
            "insufficient stock: channel {} can promise {} of SKU {} at location {}, {} asked",
            q(channel),
            units(here),
            q(sku),
            q(location.unwrap_or_default()),
            qty
        ))
        .hint("A hold named at a location is served there: leave the location out to let the reservation choose, or split."));
    }
    Ok(())
}

/// How a reservation without a location goes when no single location can serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// It does not: one location (where the channel can sell the most) or a refusal.
    None,
    /// Over the locations where the channel can sell the most first: the fewest parts.
    MostStock,
    /// Over the locations in their priority order (`location.priority`, then code).
    Priority,
}

impl Split {
    pub fn parse(text: &str) -> Option<Split> {
        match text {
            "none" => Some(Split::None),
            "most_stock" => Some(Split::MostStock),
            "priority" => Some(Split::Priority),
            _ => None,
        }
    }
}

/// The places of a SKU in the order a reservation without a location tries them: where the
/// channel can sell the most first (ties by code), or by location priority (ties by code).
pub fn sale_order<'a>(
    places: &'a [StoredPlace],
    channel: &str,
    split: Split,
    priorities: &HashMap<String, i32>,
) -> Vec<&'a StoredPlace> {
    let mut ordered: Vec<&StoredPlace> = places.iter().collect();
    match split {
        Split::Priority => ordered.sort_by(|a, b| {
            let priority =
                |p: &StoredPlace| priorities.get(&p.location).copied().unwrap_or(i32::MAX);
            priority(a)
                .cmp(&priority(b))
                .then_with(|| a.location.as_bytes().cmp(b.location.as_bytes()))
        }),
        Split::None | Split::MostStock => ordered.sort_by(|a, b| {
            b.sellable(channel)
                .cmp(&a.sellable(channel))
                .then_with(|| a.location.as_bytes().cmp(b.location.as_bytes()))
        }),
    }
    ordered
}

/// Where a sale of `qty` units goes, given the SKU's places in the order the sale tries them:
/// the first place that can serve it whole; else, when it may `split`, the places in that
/// order, each up to what the channel can sell there, as (location, units). `IT001` beyond the
/// channel's ATP (its fences and the pools less its buffer), or when no single place can serve
/// it and it may not split.
pub fn plan_sale(
    ordered: &[&StoredPlace],
    buffer: i64,
    channel: &str,
    sku: &str,
    qty: i64,
    split: bool,
) -> Outcome<Vec<(String, i64)>> {
    let sellable: i64 = ordered.iter().map(|p| p.sellable(channel)).sum();
    if qty > sellable - buffer {
        return Err(beyond_atp(channel, sku, qty, sellable, buffer));
    }
    if let Some(whole) = ordered.iter().find(|p| p.sellable(channel) >= qty) {
        return Ok(vec![(whole.location.clone(), qty)]);
    }
    if !split {
        let (location, here) = ordered.first().map_or((String::new(), 0), |p| {
            (p.location.clone(), p.sellable(channel))
        });
        return Err(Failure::insufficient(format!(
            "insufficient stock: channel {} can promise {} of SKU {} at one location (at most {} at location {}), {} asked",
            q(channel),
            units((sellable - buffer).max(0)),
            q(sku),
            units(here),
            q(&location),
            qty
        ))
        .hint("A reservation with split => 'none' is served from one location: let it split (the default)."));
    }
    let mut left = qty;
    let mut parts = Vec::new();
    for place in ordered {
        if left == 0 {
            break;
        }
        let here = place.sellable(channel).min(left);
        if here > 0 {
            parts.push((place.location.clone(), here));
            left -= here;
        }
    }
    if left > 0 {
        // Unreachable: the places hold at least qty + buffer for the channel.
        return Err(beyond_atp(channel, sku, qty, sellable, buffer));
    }
    Ok(parts)
}

#[cfg(test)]
mod rules {
    use super::*;
    use crate::stage::Stage;

    fn place(location: &str, available: i64, fences: &[(&str, i64)]) -> StoredPlace {
        let mut buckets = [0; 11];
        buckets[Stage::available as usize] = available;
        StoredPlace {
            location: location.into(),
            buckets,
            fence_channels: fences.iter().map(|(c, _)| (*c).into()).collect(),
            fence_qty: fences.iter().map(|(_, q)| *q).collect(),
            fence_held: fences.iter().map(|_| 0).collect(),
            exists: true,
            tid: None,
        }
    }

    #[test]
    fn a_sale_is_checked_against_atp_and_the_location() {
        // 10 at DC1 (Amazon fenced 4), 3 at DC2; the web's buffer is 1.
        let places = [place("DC1", 10, &[("amazon", 4)]), place("DC2", 3, &[])];
        assert!(check_sale(&places, 1, "web", "TEE", Some("DC1"), 6).is_ok());
        let err = check_sale(&places, 1, "web", "TEE", Some("DC1"), 9).unwrap_err();
        assert_eq!(
            err.message,
            "insufficient stock: channel \"web\" can promise 8 units of SKU \"TEE\", 9 asked"
        );
        let err = check_sale(&places, 1, "web", "TEE", Some("DC1"), 7).unwrap_err();
        assert!(
            err.message.contains("at location \"DC1\", 7 asked"),
            "{}",
            err.message
        );
        // Amazon sells its fence too.
        assert!(check_sale(&places, 0, "amazon", "TEE", Some("DC1"), 10).is_ok());
    }

    fn plan(places: &[StoredPlace], split: Split, qty: i64) -> Outcome<Vec<(String, i64)>> {
        let priorities: HashMap<String, i32> = [("DC3".to_string(), 10)].into_iter().collect();
        let ordered = sale_order(places, "web", split, &priorities);
        plan_sale(&ordered, 1, "web", "TEE", qty, split != Split::None)
    }

    fn parts(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(l, q)| ((*l).to_string(), *q)).collect()
    }

    #[test]
    fn a_reservation_goes_to_one_location_when_one_can_serve_it() {
        // The web can sell 2 at DC1 (Amazon fenced 8 of 10), 3 at DC2, 3 at DC3.
        let places = [
            place("DC1", 10, &[("amazon", 8)]),
            place("DC2", 3, &[]),
            place("DC3", 3, &[]),
        ];
        // Most stock first, ties by code: DC2.
        assert_eq!(
            plan(&places, Split::MostStock, 3).unwrap(),
            parts(&[("DC2", 3)])
        );
        assert_eq!(plan(&places, Split::None, 3).unwrap(), parts(&[("DC2", 3)]));
        // By priority: DC3 (10) first.
        assert_eq!(
            plan(&places, Split::Priority, 3).unwrap(),
            parts(&[("DC3", 3)])
        );
        // Amazon sells its fence too: DC1 serves it whole.
        let ordered = sale_order(&places, "amazon", Split::MostStock, &HashMap::new());
        assert_eq!(
            plan_sale(&ordered, 0, "amazon", "TEE", 9, true).unwrap(),
            parts(&[("DC1", 9)])
        );
    }

    #[test]
    fn a_reservation_no_location_can_serve_is_split_in_the_order_chosen() {
        let places = [
            place("DC1", 10, &[("amazon", 8)]),
            place("DC2", 3, &[]),
            place("DC3", 3, &[]),
        ];
        // 7 of the web's 8 - 1 (buffer): DC2 and DC3 (3 each, by code), then DC1.
        assert_eq!(
            plan(&places, Split::MostStock, 7).unwrap(),
            parts(&[("DC2", 3), ("DC3", 3), ("DC1", 1)])
        );
        // By priority: DC3, then DC1 and DC2 (100 by default: by code).
        assert_eq!(
            plan(&places, Split::Priority, 7).unwrap(),
            parts(&[("DC3", 3), ("DC1", 2), ("DC2", 2)])
        );
    }

    #[test]
    fn a_reservation_never_passes_the_atp_nor_splits_when_told_not_to() {
        let places = [place("DC1", 2, &[]), place("DC2", 3, &[])];
        // ATP 5 - 1 = 4.
        let err = plan(&places, Split::MostStock, 5).unwrap_err();
        assert_eq!(
            err.message,
            "insufficient stock: channel \"web\" can promise 4 units of SKU \"TEE\", 5 asked"
        );
        let err = plan(&places, Split::None, 4).unwrap_err();
        assert_eq!(err.state.as_str(), "IT001");
        assert!(err.message.contains("at one location"), "{}", err.message);
        assert_eq!(
            plan(&places, Split::MostStock, 4).unwrap(),
            parts(&[("DC2", 3), ("DC1", 1)])
        );
    }
}

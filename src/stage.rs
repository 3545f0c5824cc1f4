//! Stock stages and the movements allowed between them (docs/design.md §2).
//!
//! Every physical event is a movement of units from one stage to another; `None` stands for
//! "outside the system" (a supplier, a customer, the bin of lost things). The table of allowed
//! movements below is the single source of truth: the SQL function `movement_allowed` and the
//! ledger's validation read it, and the unit tests compare it with the specification's table.

use pgrx::prelude::*;

/// Where a unit of stock is. The declaration order is the SQL enum's order, which is public.
///
/// Variant names are the SQL labels (`inventory_truth.stage`), hence snake case.
#[allow(non_camel_case_types)]
#[derive(PostgresEnum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    inbound,
    receiving,
    quality_control,
    available,
    committed,
    picked,
    shipped,
    quarantine,
    damaged,
    missing,
    written_off,
}

impl Stage {
    /// Every stage, in enum order.
    pub const ALL: [Stage; 11] = [
        Stage::inbound,
        Stage::receiving,
        Stage::quality_control,
        Stage::available,
        Stage::committed,
        Stage::picked,
        Stage::shipped,
        Stage::quarantine,
        Stage::damaged,
        Stage::missing,
        Stage::written_off,
    ];

    /// The SQL label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::inbound => "inbound",
            Stage::receiving => "receiving",
            Stage::quality_control => "quality_control",
            Stage::available => "available",
            Stage::committed => "committed",
            Stage::picked => "picked",
            Stage::shipped => "shipped",
            Stage::quarantine => "quarantine",
            Stage::damaged => "damaged",
            Stage::missing => "missing",
            Stage::written_off => "written_off",
        }
    }

    /// Physically in the building: counted in on-hand stock.
    pub fn in_on_hand(self) -> bool {
        !matches!(
            self,
            Stage::inbound | Stage::shipped | Stage::missing | Stage::written_off
        )
    }

    /// Only put-away, cleared stock may be promised to a buyer.
    pub fn sellable(self) -> bool {
        self == Stage::available
    }

    /// What a unit in this stage is, in the warehouse's words.
    pub fn meaning(self) -> &'static str {
        match self {
            Stage::inbound => {
                "expected (purchase order, transfer), not yet in the building; has an ETA"
            }
            Stage::receiving => "on the dock, not put away",
            Stage::quality_control => "in the building, awaiting inspection",
            Stage::available => "put away, cleared for sale",
            Stage::committed => "promised to an order or hold, not yet picked",
            Stage::picked => "scanned to a pick cart; invisible to buyers from the scan on",
            Stage::shipped => "left the building",
            Stage::quarantine => "a customer return awaiting a manager's inspection",
            Stage::damaged => "in the building, unsellable",
            Stage::missing => "expected at a bin but not found; awaiting a count",
            Stage::written_off => "removed for good",
        }
    }
}

/// One allowed movement and the business event it records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Movement {
    pub from: Option<Stage>,
    pub to: Option<Stage>,
    pub event: &'static str,
}

const fn movement(from: Option<Stage>, to: Option<Stage>, event: &'static str) -> Movement {
    Movement { from, to, event }
}

use Stage::*;

/// Every allowed movement, in the order of docs/design.md §2. Any other pair is refused (IT002).
pub const ALLOWED_MOVEMENTS: [Movement; 29] = [
    movement(
        None,
        Some(inbound),
        "expected receipt (PO/ASN line) with ETA",
    ),
    movement(Some(inbound), None, "expected receipt cancelled"),
    movement(Some(inbound), Some(receiving), "arrival (planned)"),
    movement(None, Some(receiving), "arrival (unplanned)"),
    movement(
        Some(receiving),
        Some(quality_control),
        "put-away to quality control",
    ),
    movement(
        Some(receiving),
        Some(available),
        "put-away without quality control",
    ),
    movement(Some(quality_control), Some(available), "QC passed"),
    movement(Some(receiving), Some(damaged), "QC failed"),
    movement(Some(quality_control), Some(damaged), "QC failed"),
    movement(
        Some(available),
        Some(committed),
        "reservation (hold) for a channel",
    ),
    movement(
        Some(committed),
        Some(available),
        "release, cancel or hold expiry",
    ),
    movement(Some(committed), Some(picked), "pick scan against a hold"),
    movement(Some(available), Some(picked), "pick scan (unplanned)"),
    movement(Some(picked), Some(available), "put back"),
    movement(Some(picked), Some(shipped), "shipped"),
    movement(Some(available), Some(damaged), "damage found"),
    movement(Some(committed), Some(damaged), "damage found"),
    movement(Some(picked), Some(damaged), "damage found"),
    movement(Some(available), Some(missing), "short pick"),
    movement(Some(committed), Some(missing), "short pick"),
    movement(Some(missing), Some(available), "count resolved it: found"),
    movement(Some(missing), Some(written_off), "count resolved it: lost"),
    movement(Some(shipped), Some(quarantine), "customer return received"),
    movement(
        None,
        Some(quarantine),
        "customer return received (unplanned)",
    ),
    movement(
        Some(quarantine),
        Some(available),
        "inspection: ready for resale",
    ),
    movement(Some(quarantine), Some(damaged), "inspection: damaged"),
    movement(Some(damaged), Some(written_off), "write-off"),
    movement(None, Some(available), "count gain"),
    movement(Some(available), Some(written_off), "count loss"),
];

/// The allowed movement from `from` to `to`, if there is one.
pub fn find_movement(from: Option<Stage>, to: Option<Stage>) -> Option<&'static Movement> {
    ALLOWED_MOVEMENTS
        .iter()
        .find(|m| m.from == from && m.to == to)
}

/// Whether stock may move from `from` to `to` (`None` = outside the system).
pub fn movement_allowed(from: Option<Stage>, to: Option<Stage>) -> bool {
    find_movement(from, to).is_some()
}

/// True when stock may move between the two stages; NULL means outside the system
/// (a supplier, a customer, the bin of lost things).
#[pg_extern(name = "movement_allowed", immutable, parallel_safe)]
fn sql_movement_allowed(from_stage: Option<Stage>, to_stage: Option<Stage>) -> bool {
    movement_allowed(from_stage, to_stage)
}

/// Every allowed movement with the business event it records.
// Returning enum values makes pgrx look the type up by name, so the search path is pinned.
#[pg_extern(immutable, parallel_safe)]
#[search_path(@extschema@)]
fn allowed_movements() -> TableIterator<
    'static,
    (
        name!(from_stage, Option<Stage>),
        name!(to_stage, Option<Stage>),
        name!(event, &'static str),
    ),
> {
    TableIterator::new(ALLOWED_MOVEMENTS.iter().map(|m| (m.from, m.to, m.event)))
}

/// Every stage with whether it counts as on-hand and as sellable.
#[pg_extern(immutable, parallel_safe)]
#[search_path(@extschema@)]
fn stages() -> TableIterator<
    'static,
    (
        name!(stage, Stage),
        name!(in_on_hand, bool),
        name!(sellable, bool),
        name!(meaning, &'static str),
    ),
> {
    TableIterator::new(
        Stage::ALL
            .into_iter()
            .map(|s| (s, s.in_on_hand(), s.sellable(), s.meaning())),
    )
}

extension_sql_file!(
    "../sql/stage_comments.sql",
    name = "stage",
    requires = [Stage, sql_movement_allowed, allowed_movements, stages]
);

#[cfg(test)]
mod rules {
    use super::*;

    /// docs/design.md §2's table of allowed movements, transcribed as a grid: row = from, column = to,
    /// both in the order `-` (outside), inbound, receiving, quality_control, available,
    /// committed, picked, shipped, quarantine, damaged, missing, written_off.
    const SPEC_GRID: [&str; 12] = [
        //     - i r q a c p s Q d m w
        /* - */ ". x x . x . . . x . . .",
        /* i */ "x . x . . . . . . . . .",
        /* r */ ". . . x x . . . . x . .",
        /* q */ ". . . . x . . . . x . .",
        /* a */ ". . . . . x x . . x x x",
        /* c */ ". . . . x . x . . x x .",
        /* p */ ". . . . x . . x . x . .",
        /* s */ ". . . . . . . . x . . .",
        /* Q */ ". . . . x . . . . x . .",
        /* d */ ". . . . . . . . . . . x",
        /* m */ ". . . . x . . . . . . x",
        /* w */ ". . . . . . . . . . . .",
    ];

    fn endpoints() -> Vec<Option<Stage>> {
        std::iter::once(None)
            .chain(Stage::ALL.into_iter().map(Some))
            .collect()
    }

    #[test]
    fn every_pair_is_allowed_or_refused_as_the_spec_says() {
        let ends = endpoints();
        for (row, from) in ends.iter().enumerate() {
            let cells: Vec<&str> = SPEC_GRID[row].split_whitespace().collect();
            assert_eq!(cells.len(), 12, "grid row {row} is malformed");
            for (col, to) in ends.iter().enumerate() {
                let expected = cells[col] == "x";
                assert_eq!(
                    movement_allowed(*from, *to),
                    expected,
                    "movement {from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn the_table_lists_each_movement_once() {
        for (i, a) in ALLOWED_MOVEMENTS.iter().enumerate() {
            for b in &ALLOWED_MOVEMENTS[i + 1..] {
                assert!(
                    (a.from, a.to) != (b.from, b.to),
                    "{:?} -> {:?} listed twice",
                    a.from,
                    a.to
                );
            }
        }
    }

    #[test]
    fn nothing_moves_from_outside_to_outside_or_stays_put() {
        assert!(!movement_allowed(None, None));
        for s in Stage::ALL {
            assert!(!movement_allowed(Some(s), Some(s)), "{s:?} -> {s:?}");
        }
    }

    #[test]
    fn written_off_is_terminal_and_shipped_only_comes_back_as_a_return() {
        for to in endpoints() {
            assert!(!movement_allowed(Some(written_off), to));
            assert_eq!(
                movement_allowed(Some(shipped), to),
                to == Some(quarantine),
                "shipped -> {to:?}"
            );
        }
    }

    #[test]
    fn stages_are_in_spec_order_with_their_labels() {
        let labels: Vec<&str> = Stage::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(
            labels,
            [
                "inbound",
                "receiving",
                "quality_control",
                "available",
                "committed",
                "picked",
                "shipped",
                "quarantine",
                "damaged",
                "missing",
                "written_off"
            ]
        );
        assert!(Stage::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn on_hand_and_sellable_follow_the_spec() {
        let on_hand: Vec<Stage> = Stage::ALL.into_iter().filter(|s| s.in_on_hand()).collect();
        assert_eq!(
            on_hand,
            [
                receiving,
                quality_control,
                available,
                committed,
                picked,
                quarantine,
                damaged
            ]
        );
        let sellable: Vec<Stage> = Stage::ALL.into_iter().filter(|s| s.sellable()).collect();
        assert_eq!(sellable, [available]);
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    #[pg_test]
    fn sql_enum_has_the_rust_labels_in_the_same_order() {
        let labels = Spi::get_one::<Vec<String>>(
            "SELECT array_agg(enumlabel::text ORDER BY enumsortorder)
               FROM pg_enum WHERE enumtypid = 'inventory_truth.stage'::regtype",
        )
        .expect("query the enum")
        .expect("the enum has labels");
        let expected: Vec<String> = Stage::ALL.iter().map(|s| s.label().to_string()).collect();
        assert_eq!(labels, expected);
    }

    #[pg_test]
    fn sql_movement_allowed_agrees_with_the_rules_for_every_pair() {
        let ends: Vec<Option<Stage>> = std::iter::once(None)
            .chain(Stage::ALL.into_iter().map(Some))
            .collect();
        for from in &ends {
            for to in &ends {
                let from_label = from.map(|s| s.label());
                let to_label = to.map(|s| s.label());
                let answer = Spi::get_one_with_args::<bool>(
                    "SELECT inventory_truth.movement_allowed($1::inventory_truth.stage, $2::inventory_truth.stage)",
                    &[from_label.into(), to_label.into()],
                )
                .expect("call movement_allowed")
                .expect("movement_allowed never returns NULL");
                assert_eq!(answer, movement_allowed(*from, *to), "{from:?} -> {to:?}");
            }
        }
    }

    #[pg_test]
    fn allowed_movements_lists_the_rust_table() {
        let rows = Spi::get_one::<i64>(
            "SELECT count(*) FROM inventory_truth.allowed_movements() m
              WHERE inventory_truth.movement_allowed(m.from_stage, m.to_stage)",
        )
        .expect("query allowed_movements")
        .expect("count is never NULL");
        assert_eq!(rows, ALLOWED_MOVEMENTS.len() as i64);
    }
}

//! inventory_truth: stock stages, oversell-proof available-to-promise per sales channel, and
//! live stock notifications, inside PostgreSQL.
//!
//! This file is wiring only: each domain concept lives in its own module. Pure rules
//! (`stage`, `fence`, `place`, `count`) are plain functions tested without PostgreSQL; the
//! engine that applies movements (`engine`) runs them against the tables.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

pub mod applied;
pub mod comments;
pub mod compat;
pub mod count;
pub mod direct;
pub mod engine;
pub mod error;
pub mod escrow;
pub mod fence;
pub mod floor;
pub mod guc;
pub mod hold;
pub mod known;
pub mod ledger;
pub mod notify;
pub mod place;
pub mod plan;
pub mod preorder;
pub mod privileges;
pub mod readiness;
pub mod relay;
pub mod snapshot;
pub mod spi;
pub mod sqlfn;
pub mod stage;
pub mod xact;

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::register();
    relay::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}

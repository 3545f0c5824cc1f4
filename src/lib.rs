//! inventory_truth: stock stages, oversell-proof available-to-promise per sales channel, and
//! live stock notifications, inside PostgreSQL.
//!
//! This file is wiring only: each domain concept lives in its own module.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

pub mod applied;
pub mod comments;
pub mod count;
pub mod fence;
pub mod guc;
pub mod hold;
pub mod ledger;
pub mod notify;
pub mod privileges;
pub mod readiness;
pub mod relay;
pub mod stage;

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

//! inventory_truth: stock stages, oversell-proof available-to-promise per sales channel, and
//! live stock notifications, inside PostgreSQL.
//!
//! This file is wiring only: each domain concept lives in its own module.

::pgrx::pg_module_magic!(name, version);

pub mod fence;
pub mod hold;
pub mod ledger;
pub mod privileges;
pub mod stage;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}

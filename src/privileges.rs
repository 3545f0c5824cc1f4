//! The three privilege levels of docs/design.md §9 (storefront, floor, manager) and the grants that make
//! the SECURITY DEFINER functions the only way around the tables for roles below management.
//!
//! The grants run after every other object exists, so that revoking from PUBLIC covers them all.

use pgrx::prelude::*;

extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

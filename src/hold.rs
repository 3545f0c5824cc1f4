//! Holds (SPEC §4): reservations of a channel for an order, checked against ATP in the
//! reserving transaction, released back to the buckets their units came from, expired by
//! `expire_holds()`, consumed by pick scans.
//!
//! SQL and PL/pgSQL (`sql/holds.sql`): a hold changes only through a ledger movement, in the
//! ledger's statement trigger, so an ERP's direct movements and the functions keep holds the
//! same way, and IT001/IT003/IT004 can be raised (pgrx 0.18 cannot raise custom SQLSTATEs).

use pgrx::prelude::*;

extension_sql_file!("../sql/holds.sql", name = "holds", requires = ["channels"]);

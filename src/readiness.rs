//! Truth checks (docs/design.md §7, §10): `lag_stats`, the warehouse lag per kind of event (commit time
//! minus physical event time), and `readiness()`, the seed's checklist answered from the data.
//!
//! Both are queries over the ledger and the rules, so they are SQL (`sql/readiness.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/readiness.sql",
    name = "readiness",
    requires = ["counts"]
);

//! `COMMENT ON` for every object the other SQL files leave without one (helpers, columns,
//! sequences), so that `\df+` and `\d+` describe the whole extension. Runs after every SQL file
//! and every Rust function it names; privileges.sql (the final block) still runs after it.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/comments.sql",
    name = "comments",
    requires = [
        "readiness",
        "timeline",
        "notify",
        "escrow",
        // Rust functions no SQL file requires (paths as the graph matches them).
        notify::_relay_baseline,
        notify::_publish,
        notify::_atp_changed_everywhere,
        notify::notify_status,
        engine::_rebalance_sku,
        engine::_breached,
        hold::_check_ttl,
        ledger::_lock_sku,
        ledger::_known_location,
    ]
);

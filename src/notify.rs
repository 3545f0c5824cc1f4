//! Real-time delivery (SPEC §6): what the committing transaction does for listeners. Every
//! transaction that may change a SKU's ATP advances the SKU's version under the SKU's row lock
//! (once per transaction: the engine, `_atp_changed`), so versions follow commit order; the SKU
//! is noted in the transaction's state (`xact.rs`). In direct mode it is published just before
//! commit by `_at_commit`; in relay mode it is handed to the relay through shared memory after
//! commit (`relay::hand_over`). Publishing itself is SQL (`sql/notify.sql`): it reads the same
//! tables as `atp_snapshot()`, in one statement.

use pgrx::prelude::*;

use crate::engine;
use crate::guc::{effective_mode, NotifyMode, NOTIFY_MODE};
use crate::relay;
use crate::spi::{self, oid, Sql};
use crate::xact;

extension_sql_file!(
    "../sql/notify.sql",
    name = "notify",
    requires = ["holds", _notify_mode]
);

/// The notification mode in force for this session: `off`, `direct` or `relay`.
#[pg_extern(volatile, parallel_unsafe)]
fn _notify_mode() -> &'static str {
    match effective_mode(NOTIFY_MODE.get(), relay::preloaded()) {
        NotifyMode::Off => "off",
        NotifyMode::Relay => "relay",
        NotifyMode::Direct | NotifyMode::Auto => "direct",
    }
}

/// Takes a SKU's row (if this transaction does not hold it yet) and advances its version: its
/// ATP may change (a rule or a buffer). Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _atp_changed(sku: &str, cause: &str) {
    let outcome = spi::connect(|client| {
        // An existing SKU: the callers checked it.
        engine::lock_sku(client, sku, true, false, cause)?;
        Ok(())
    });
    if let Err(failure) = outcome {
        error!("{}", failure.message);
    }
}

static ADVANCE_EVERY_SKU: Sql = Sql {
    text: "UPDATE inventory_truth.sku s
              SET version = s.version + 1, changed_at = pg_catalog.clock_timestamp(), change_cause = $1
             FROM (SELECT l.code FROM inventory_truth.sku l ORDER BY l.code COLLATE \"C\"
                      FOR NO KEY UPDATE) locked
            WHERE s.code = locked.code",
    args: &[oid::TEXT],
};

/// The same for every SKU (a channel's default buffer, a new channel): rows locked in code
/// order, like every other path that locks several SKUs. Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _atp_changed_everywhere(cause: &str) {
    let outcome = spi::connect(|client| {
        spi::run(client, &ADVANCE_EVERY_SKU, &[cause.into()])?;
        Ok(())
    });
    if let Err(failure) = outcome {
        error!("{}", failure.message);
    }
    xact::everything_changed();
}

static RECORD_COMMIT: Sql = Sql {
    text: "INSERT INTO inventory_truth.movement_commit (txid, committed_at)
           VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.clock_timestamp())",
    args: &[],
};
static PUBLISH: Sql = Sql {
    text: "SELECT inventory_truth._publish($1)",
    args: &[oid::TEXT_ARRAY],
};
static PUBLISH_ALL: Sql = Sql {
    text: "SELECT inventory_truth._publish(ARRAY(SELECT code FROM inventory_truth.sku))",
    args: &[],
};

/// Called just before a transaction commits (xact.rs), as the extension's owner: records when
/// the transaction committed if it wrote the ledger (`movement_commit`: the commit side of the
/// warehouse lag), and in direct mode publishes the SKUs it changed (all of them with
/// `publish_all`), with their final values. Internal.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, @extschema@, pg_temp)]
fn _at_commit(record_commit: bool, publish: Vec<String>, publish_all: bool) {
    let outcome = spi::connect(|client| {
        if record_commit {
            spi::run(client, &RECORD_COMMIT, &[])?;
        }
        if publish_all {
            spi::run(client, &PUBLISH_ALL, &[])?;
        } else if !publish.is_empty() {
            spi::run(client, &PUBLISH, &[publish.into()])?;
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        error!("{}", failure.message);
    }
}

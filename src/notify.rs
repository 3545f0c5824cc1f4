//! Real-time delivery (SPEC §6): which notification mode is in force, and the commit-time wake
//! of the relay. Publishing itself is SQL (`sql/notify.sql`): it reads the same tables as
//! `atp_snapshot()`, in one statement.

use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};
use std::cell::Cell;

use crate::guc::{effective_mode, NotifyMode, NOTIFY_MODE};
use crate::relay;

extension_sql_file!(
    "../sql/notify.sql",
    name = "notify",
    requires = ["holds", _notify_mode]
);

thread_local! {
    /// Whether this transaction already asked for the relay to be woken at its commit.
    static WAKE_ARMED: Cell<bool> = const { Cell::new(false) };
}

/// The notification mode in force for this session: `off`, `direct` or `relay`. In relay mode
/// it also arranges for the relay to be woken when the current transaction commits (nothing
/// happens on rollback), which is why callers ask just before recording a change.
#[pg_extern(volatile, parallel_unsafe)]
fn _notify_mode() -> &'static str {
    let mode = effective_mode(NOTIFY_MODE.get(), relay::preloaded());
    if mode == NotifyMode::Relay {
        wake_relay_at_commit();
    }
    match mode {
        NotifyMode::Off => "off",
        NotifyMode::Relay => "relay",
        NotifyMode::Direct | NotifyMode::Auto => "direct",
    }
}

fn wake_relay_at_commit() {
    if WAKE_ARMED.with(|armed| armed.replace(true)) {
        return;
    }
    // Commit and abort are exclusive; whichever comes clears the flag for the next transaction.
    register_xact_callback(PgXactCallbackEvent::Commit, || {
        WAKE_ARMED.with(|armed| armed.set(false));
        relay::wake_for_my_database();
    });
    register_xact_callback(PgXactCallbackEvent::Abort, || {
        WAKE_ARMED.with(|armed| armed.set(false));
    });
}

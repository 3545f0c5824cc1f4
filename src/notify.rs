//! Real-time delivery (SPEC §6): which notification mode is in force, and the commit-time wake
//! of the relay. Publishing itself is SQL (`sql/notify.sql`): it reads the same tables as
//! `atp_snapshot()`, in one statement.

use pgrx::prelude::*;
use pgrx::{register_xact_callback, IntoDatum, PgXactCallbackEvent};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

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
    /// Direct mode: the SKUs this transaction changed, and the function that publishes them.
    static TO_PUBLISH: RefCell<Option<(pg_sys::Oid, BTreeSet<String>)>> = const { RefCell::new(None) };
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
    // COMMIT PREPARED may come from another session: the relay then finds the change at its
    // next wake interval.
    register_xact_callback(PgXactCallbackEvent::PrePrepare, || {
        WAKE_ARMED.with(|armed| armed.set(false));
    });
}

/// Direct mode: publishes `sku` just before this transaction commits, with its final values.
/// `publisher` is `_publish_committed(text[])`, passed by the caller so that the callback needs
/// no catalog lookup. The pre-commit callback runs after every deferred trigger (so
/// `SET CONSTRAINTS ... IMMEDIATE` cannot make it publish a value the transaction then
/// changes) and before PostgreSQL queues the transaction's notifications. Nothing happens on
/// rollback, and a prepared transaction (two-phase commit) publishes nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn _publish_before_commit(sku: &str, publisher: pg_sys::Oid) {
    let first = TO_PUBLISH.with(|pending| {
        let mut pending = pending.borrow_mut();
        let first = pending.is_none();
        pending
            .get_or_insert_with(|| (publisher, BTreeSet::new()))
            .1
            .insert(sku.to_owned());
        first
    });
    if !first {
        return;
    }
    register_xact_callback(PgXactCallbackEvent::PreCommit, || {
        let Some((publisher, skus)) = TO_PUBLISH.with(|pending| pending.borrow_mut().take()) else {
            return;
        };
        let skus: Vec<String> = skus.into_iter().collect();
        // Through fmgr: _publish_committed is SECURITY DEFINER, and the committing role need
        // not hold EXECUTE on it (nobody but the owner does).
        if let Some(datum) = skus.into_datum() {
            unsafe { pg_sys::OidFunctionCall1Coll(publisher, pg_sys::InvalidOid, datum) };
        }
    });
    register_xact_callback(PgXactCallbackEvent::Abort, || {
        TO_PUBLISH.with(|pending| pending.borrow_mut().take());
    });
    // PREPARE TRANSACTION: NOTIFY cannot be prepared, and the changes must not be published
    // later by whatever this session does next (without the SKUs' locks).
    register_xact_callback(PgXactCallbackEvent::PrePrepare, || {
        TO_PUBLISH.with(|pending| pending.borrow_mut().take());
    });
}

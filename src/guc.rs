//! Settings under `inventory_truth.` (docs/design.md §6), registered when the library loads: at server
//! start when it is in `shared_preload_libraries`, else at a session's first call.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::ffi::CString;

/// How ATP changes reach listeners.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum NotifyMode {
    /// `relay` when the library is preloaded, else `direct`.
    #[name = c"auto"]
    Auto,
    /// No notifications (versions still advance, so `atp_snapshot` stays exact).
    #[name = c"off"]
    Off,
    /// The committing transaction sends NOTIFY itself.
    #[name = c"direct"]
    Direct,
    /// The committing transaction records the SKU; the relay worker publishes.
    #[name = c"relay"]
    Relay,
}

pub static NOTIFY_MODE: GucSetting<NotifyMode> = GucSetting::<NotifyMode>::new(NotifyMode::Auto);
pub static NOTIFY_CHANNEL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"inventory_truth"));
pub static RELAY_WAKE_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static RELAY_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// Least time between two publications of the relay, in ms (0: none).
pub static RELAY_COALESCE_MS: GucSetting<i32> = GucSetting::<i32>::new(2);
pub static RELAY_QUEUE_LIMIT: GucSetting<f64> = GucSetting::<f64>::new(0.5);

/// Registers every setting. Mode and channel are superuser-only (`SUSET`): a session that could
/// turn them off would silence every storefront. The relay's own settings take effect on reload.
pub fn register() {
    GucRegistry::define_enum_guc(
        c"inventory_truth.notify_mode",
        c"How ATP changes reach listeners: auto, off, direct or relay.",
        c"auto is relay when inventory_truth is in shared_preload_libraries, else direct. relay without preload falls back to direct.",
        &NOTIFY_MODE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"inventory_truth.notify_channel",
        c"The LISTEN channel that ATP notifications are sent on.",
        c"",
        &NOTIFY_CHANNEL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"inventory_truth.relay_wake_interval",
        c"Longest time the relay sleeps when no commit wakes it; also how often it expires holds.",
        c"",
        &RELAY_WAKE_INTERVAL_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"inventory_truth.relay_coalesce",
        c"Least time between two publications of the relay: commits arriving meanwhile go out together.",
        c"",
        &RELAY_COALESCE_MS,
        0,
        1000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"inventory_truth.relay_batch_size",
        c"Most changed SKUs the relay publishes in one transaction.",
        c"",
        &RELAY_BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"inventory_truth.relay_queue_limit",
        c"Fraction of the notify queue in use (pg_notification_queue_usage()) at which the relay stops publishing until listeners catch up.",
        c"A listener that stays in a transaction holds every later notification in the queue; when the queue is full, every NOTIFY of the cluster fails. The relay pauses first, and publishes the final values once the queue drains.",
                &RELAY_QUEUE_LIMIT,
        // Not above 0.9: the relay keeps room for its own nudges and for other applications.
        // Not below 100 pages: a nudge (4 pages) must be able to bring usage under the limit.
        0.000_1,
        0.9,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

/// The mode in force, given whether the relay can run (the library is preloaded).
pub fn effective_mode(setting: NotifyMode, preloaded: bool) -> NotifyMode {
    match setting {
        NotifyMode::Auto | NotifyMode::Relay if preloaded => NotifyMode::Relay,
        NotifyMode::Auto | NotifyMode::Relay => NotifyMode::Direct,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_relay_only_when_preloaded() {
        assert_eq!(effective_mode(NotifyMode::Auto, true), NotifyMode::Relay);
        assert_eq!(effective_mode(NotifyMode::Auto, false), NotifyMode::Direct);
    }

    #[test]
    fn relay_without_preload_falls_back_to_direct() {
        assert_eq!(effective_mode(NotifyMode::Relay, false), NotifyMode::Direct);
    }

    #[test]
    fn explicit_off_and_direct_are_kept() {
        for preloaded in [true, false] {
            assert_eq!(effective_mode(NotifyMode::Off, preloaded), NotifyMode::Off);
            assert_eq!(
                effective_mode(NotifyMode::Direct, preloaded),
                NotifyMode::Direct
            );
        }
    }
}

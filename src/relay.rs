//! The relay (docs/design.md §6), when the library is in `shared_preload_libraries`: background workers
//! that publish ATP notifications after buyers commit, so no buyer takes PostgreSQL's
//! cluster-wide notify lock, and that expire holds, so nothing outside PostgreSQL has to be
//! scheduled.
//!
//! A launcher (one per server) reads `pg_database` every few seconds and starts one relay per
//! database that allows connections; a relay that finds no inventory_truth in its database
//! exits, and is tried again later, so databases created or given the extension after the
//! server started are served without a restart or a list. A committing buyer wakes its
//! database's relay through shared memory, or asks the launcher to start one at once.
//!
//! Buyers hand the SKUs they changed to the relay after their commit through a log in shared
//! memory (`hand_over`), not through rows: a change costs them no write. A reservation hands over
//! the SKU's state as it committed it too, so the relay need not read it. The log is a ring that
//! every relay reads from its own position, taking its database's entries; a relay that falls a
//! whole ring behind, or a code too long for an entry, makes it look for every SKU whose version
//! moved past what it last published (`_relay_stale`). So does a relay's start.
//!
//! Crash-only: a relay that fails exits; the launcher starts a new one, which first republishes
//! whatever changed but was not published. The versions are in the buyers' committed rows, so a
//! relay that is down loses nothing but time.

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::lwlock::PgLwLock;
use pgrx::pg_shmem_init;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::guc::{RELAY_BATCH_SIZE, RELAY_COALESCE_MS, RELAY_QUEUE_LIMIT, RELAY_WAKE_INTERVAL_MS};
use crate::notify::AtpInputs;

/// Databases served at once: one relay each.
const SLOTS: usize = 64;
/// How often the launcher looks for databases without a relay (one that asks is served at once).
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Holds expired per transaction by the relay.
const EXPIRY_BATCH: i32 = 50;
/// How often a relay paused by a nearly full notify queue looks again.
const QUEUE_RECHECK: Duration = Duration::from_secs(1);
/// The longest time between two nudges of the notify queue while paused.
const NUDGE_MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Least time between two starts of a relay for the same database.
const RESTART_SPACING: Duration = Duration::from_secs(1);

#[derive(Copy, Clone, Default)]
struct Slot {
    database: u32,
    /// The relay's pid; 0 while none runs (the slot may still be wanted).
    pid: i32,
    /// Address of the relay's latch (PGPROC lives in shared memory, mapped alike everywhere).
    latch: usize,
    /// A committing backend found no relay: the launcher starts one without waiting.
    wanted: bool,
    /// What the relay last reported of itself (`notify_status()`): when it last finished a
    /// pass (a PostgreSQL timestamptz; 0 before its first), the SKUs it had not published yet
    /// then, where it had read the log to, and whether a full notify queue pauses it.
    seen_at: i64,
    pending: u32,
    read: u64,
    paused: bool,
}

/// Entries in the shared log of changed SKUs (about 1 MB; pgrx builds it on the postmaster's
/// stack first, so it cannot be much larger). A relay more than this many entries behind looks
/// for changes by version instead.
const LOG_ENTRIES: usize = 4096;
/// The longest SKU code (in bytes) an entry holds; a longer one makes its relay look by version.
const CODE_BYTES: usize = 118;
/// Room in an entry for the SKU's state as committed (`encode_inputs`); a state that does not
/// fit (long channel codes, many fences) is not handed over, and the relay reads it.
const STATE_BYTES: usize = 120;

#[derive(Copy, Clone)]
struct LogEntry {
    database: u32,
    /// Bytes of `code` in use; 0: look for every change by version (a long code, a new channel).
    len: u8,
    /// A prepared transaction changed SKUs: look by version until none is left.
    prepared: bool,
    code: [u8; CODE_BYTES],
    /// Bytes of `state` in use; 0: the relay reads the SKU's state itself.
    state_len: u8,
    /// The SKU's state as its transaction committed it (`notify::AtpInputs`, `encode_inputs`).
    state: [u8; STATE_BYTES],
}

impl Default for LogEntry {
    fn default() -> Self {
        LogEntry {
            database: 0,
            len: 0,
            prepared: false,
            code: [0; CODE_BYTES],
            state_len: 0,
            state: [0; STATE_BYTES],
        }
    }
}

/// A SKU's state for the log: version and available units (8 bytes each, little endian), then
/// each channel's code (a length byte and its bytes) and fenced units. `None` if it does not fit
/// an entry.
fn encode_inputs(inputs: &AtpInputs) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(STATE_BYTES);
    out.extend_from_slice(&inputs.version.to_le_bytes());
    out.extend_from_slice(&inputs.available.to_le_bytes());
    let string = |out: &mut Vec<u8>, text: &str| -> Option<()> {
        out.push(u8::try_from(text.len()).ok()?);
        out.extend_from_slice(text.as_bytes());
        Some(())
    };
    for (channel, qty) in &inputs.fenced {
        string(&mut out, channel)?;
        out.extend_from_slice(&qty.to_le_bytes());
    }
    (out.len() <= STATE_BYTES).then_some(out)
}

/// The state `encode_inputs` wrote (`None` for bytes it did not write).
fn decode_inputs(bytes: &[u8]) -> Option<AtpInputs> {
    fn int(bytes: &[u8], at: &mut usize) -> Option<i64> {
        let value = i64::from_le_bytes(bytes.get(*at..*at + 8)?.try_into().ok()?);
        *at += 8;
        Some(value)
    }
    fn string(bytes: &[u8], at: &mut usize) -> Option<String> {
        let len = *bytes.get(*at)? as usize;
        let text = std::str::from_utf8(bytes.get(*at + 1..*at + 1 + len)?).ok()?;
        *at += 1 + len;
        Some(text.to_owned())
    }
    let mut at = 0;
    let version = int(bytes, &mut at)?;
    let available = int(bytes, &mut at)?;
    let mut fenced = Vec::new();
    while at < bytes.len() {
        let channel = string(bytes, &mut at)?;
        fenced.push((channel, int(bytes, &mut at)?));
    }
    Some(AtpInputs {
        version,
        available,
        fenced,
    })
}

/// The log: entry n is at `entries[n % LOG_ENTRIES]`; `written` entries were ever written.
#[derive(Copy, Clone)]
pub struct ChangeLog {
    written: u64,
    entries: [LogEntry; LOG_ENTRIES],
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog {
            written: 0,
            entries: [LogEntry::default(); LOG_ENTRIES],
        }
    }
}

// SAFETY: plain old data, no pointers into process-local memory.
unsafe impl PGRXSharedMemory for ChangeLog {}

static CHANGE_LOG: PgLwLock<ChangeLog> = unsafe { PgLwLock::new(c"inventory_truth_change_log") };

#[derive(Copy, Clone)]
pub struct Relays {
    launcher_latch: usize,
    slots: [Slot; SLOTS],
    /// When this shared memory was set up: the server's start, or its restart after a crash
    /// (a PostgreSQL timestamptz). Every transaction that committed since began after it.
    started_at: i64,
}

impl Default for Relays {
    fn default() -> Self {
        Relays {
            launcher_latch: 0,
            slots: [Slot::default(); SLOTS],
            started_at: 0,
        }
    }
}

impl Relays {
    /// As the postmaster sets them up, before it accepts a connection.
    fn at_startup() -> Self {
        Relays {
            started_at: unsafe { pg_sys::GetCurrentTimestamp() },
            ..Relays::default()
        }
    }
}

/// When the server last started or restarted after a crash (`None` without preload): what a
/// crash left of the published state is older than that, anything committed since is newer.
pub fn server_started_at() -> Option<i64> {
    preloaded().then(|| RELAYS.share().started_at)
}

// SAFETY: plain old data, no pointers into process-local memory.
unsafe impl PGRXSharedMemory for Relays {}

static RELAYS: PgLwLock<Relays> = unsafe { PgLwLock::new(c"inventory_truth_relays") };

/// Set in the postmaster while it preloads the library; backends inherit it.
static PRELOADED: AtomicBool = AtomicBool::new(false);

pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

/// Called from `_PG_init`: only a preloaded library can have shared memory and workers.
pub fn init() {
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    PRELOADED.store(true, Ordering::Relaxed);
    pg_shmem_init!(RELAYS = Relays::at_startup());
    pg_shmem_init!(CHANGE_LOG);
    BackgroundWorkerBuilder::new("inventory_truth relay launcher")
        .set_type("inventory_truth relay launcher")
        .set_library("inventory_truth")
        .set_function("inventory_truth_relay_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
}

fn my_latch() -> usize {
    unsafe { std::ptr::addr_of_mut!((*pg_sys::MyProc).procLatch) as usize }
}

fn set_latch(latch: usize) {
    if latch != 0 {
        unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) }
    }
}

/// After a commit that may have changed these SKUs' ATP (every SKU's, with `everything`): logs
/// them for this database's relay, with the state of those in `handed`, and wakes it. Runs
/// after the commit is durable and visible, so it only touches shared memory and cannot fail.
/// Not necessarily in commit order: the transaction has left the proc array, so the next
/// writer of its SKUs may commit and hand over first (CommitTransaction in xact.c).
pub fn hand_over<T>(
    skus: &std::collections::BTreeSet<String>,
    handed: &HashMap<String, (T, AtpInputs)>,
    everything: bool,
) {
    if !preloaded() || (skus.is_empty() && !everything) {
        return;
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let states: Vec<Option<Vec<u8>>> = skus
        .iter()
        .map(|sku| {
            handed
                .get(sku)
                .and_then(|(_, inputs)| encode_inputs(inputs))
        })
        .collect();
    {
        let mut log = CHANGE_LOG.exclusive();
        let mut append = |code: &[u8], state: Option<&[u8]>| {
            let at = (log.written % LOG_ENTRIES as u64) as usize;
            let entry = &mut log.entries[at];
            entry.database = database;
            entry.prepared = false;
            entry.state_len = 0;
            if code.len() <= CODE_BYTES && !code.is_empty() {
                entry.len = code.len() as u8;
                entry.code[..code.len()].copy_from_slice(code);
                if let Some(state) = state {
                    entry.state_len = state.len() as u8;
                    entry.state[..state.len()].copy_from_slice(state);
                }
            } else {
                entry.len = 0;
            }
            log.written += 1;
        };
        if everything || skus.len() > LOG_ENTRIES / 4 {
            append(&[], None);
        } else {
            for (sku, state) in skus.iter().zip(&states) {
                append(sku.as_bytes(), state.as_deref());
            }
        }
    }
    wake_for_my_database();
}

/// After PREPARE TRANSACTION of a transaction that changed SKUs: its COMMIT PREPARED may come
/// from any session, later, so this database's relay looks for changes by version until no
/// prepared transaction is left.
pub fn hand_over_prepared() {
    if !preloaded() {
        return;
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    {
        let mut log = CHANGE_LOG.exclusive();
        let at = (log.written % LOG_ENTRIES as u64) as usize;
        let entry = &mut log.entries[at];
        entry.database = database;
        entry.len = 0;
        entry.prepared = true;
        entry.state_len = 0;
        log.written += 1;
    }
    wake_for_my_database();
}

/// What a relay takes from the log since `read`: its database's SKUs in commit order, each with
/// its state if it was handed over, whether it must look by version (fell a whole log behind, a
/// long code, every SKU), and whether a prepared transaction is pending. Moves `read` to the
/// end.
type Changes = (Vec<(String, Option<AtpInputs>)>, bool, bool);
fn take_changes(database: u32, read: &mut u64) -> Changes {
    let log = CHANGE_LOG.share();
    let mut skus = Vec::new();
    let mut by_version = false;
    let mut prepared = false;
    if log.written - *read > LOG_ENTRIES as u64 {
        by_version = true;
        *read = log.written - LOG_ENTRIES as u64;
    }
    for n in *read..log.written {
        let entry = &log.entries[(n % LOG_ENTRIES as u64) as usize];
        if entry.database != database {
            continue;
        }
        prepared |= entry.prepared;
        if entry.len == 0 {
            by_version |= !entry.prepared;
        } else if let Ok(code) = std::str::from_utf8(&entry.code[..entry.len as usize]) {
            let state = (entry.state_len > 0)
                .then(|| decode_inputs(&entry.state[..entry.state_len as usize]))
                .flatten();
            skus.push((code.to_owned(), state));
        }
    }
    *read = log.written;
    (skus, by_version, prepared)
}

/// Where the log ends now: a starting relay reads from here (it looks by version first).
fn log_end() -> u64 {
    CHANGE_LOG.share().written
}

/// Wakes this database's relay, or asks the launcher for one.
fn wake_for_my_database() {
    if !preloaded() {
        return;
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    {
        let relays = RELAYS.share();
        if let Some(slot) = relays.slots.iter().find(|s| s.database == database) {
            if slot.pid != 0 {
                set_latch(slot.latch);
                return;
            }
            if slot.wanted {
                set_latch(relays.launcher_latch);
                return;
            }
        }
    }
    let mut relays = RELAYS.exclusive();
    let free = relays
        .slots
        .iter()
        .position(|s| s.database == database)
        .or_else(|| relays.slots.iter().position(|s| s.database == 0));
    if let Some(i) = free {
        relays.slots[i].database = database;
        relays.slots[i].wanted = true;
    }
    set_latch(relays.launcher_latch);
}

/// The databases a relay may serve: those that allow connections and are not templates
/// (a connected relay would stop CREATE DATABASE from copying a template).
fn list_databases() -> Vec<u32> {
    let mut found = Vec::new();
    unsafe {
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as _);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let db = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            if (*db).datallowconn && !(*db).datistemplate {
                found.push((*db).oid.to_u32());
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
    }
    found
}

fn start_relay(database: u32) {
    let started =
        BackgroundWorkerBuilder::new(&format!("inventory_truth relay for database {database}"))
            .set_type("inventory_truth relay")
            .set_library("inventory_truth")
            .set_function("inventory_truth_relay")
            .set_argument(Some(pg_sys::Datum::from(database)))
            .enable_spi_access()
            .set_restart_time(None)
            .load_dynamic();
    if started.is_err() {
        log!("inventory_truth: no background worker slot for the relay of database {database}; raise max_worker_processes");
    }
}

/// The launcher: starts a relay for every database that has none, when asked at once, else
/// every DISCOVERY_INTERVAL.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn inventory_truth_relay_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // No database: the launcher reads only the shared catalog pg_database.
    BackgroundWorker::connect_worker_to_spi(None, None);
    RELAYS.exclusive().launcher_latch = my_latch();
    let mut last_start: HashMap<u32, Instant> = HashMap::new();
    let mut last_discovery: Option<Instant> = None;
    loop {
        let discover = last_discovery.is_none_or(|t| t.elapsed() >= DISCOVERY_INTERVAL);
        // Requests are taken, not left standing: a database that no longer needs a relay (gone,
        // no extension) must not be retried forever; a committing backend asks again.
        let (running, wanted): (Vec<u32>, Vec<u32>) = {
            let mut relays = RELAYS.exclusive();
            let running = relays
                .slots
                .iter()
                .filter(|s| s.pid != 0)
                .map(|s| s.database)
                .collect();
            let mut wanted = Vec::new();
            for slot in relays.slots.iter_mut().filter(|s| s.pid == 0 && s.wanted) {
                wanted.push(slot.database);
                *slot = Slot::default();
            }
            (running, wanted)
        };
        if discover || !wanted.is_empty() {
            // Only databases that allow connections and are not templates, asked for or not.
            let eligible = BackgroundWorker::transaction(list_databases);
            if discover {
                last_discovery = Some(Instant::now());
            }
            for database in eligible {
                if running.contains(&database) {
                    continue;
                }
                let spacing = if wanted.contains(&database) {
                    RESTART_SPACING
                } else if discover {
                    DISCOVERY_INTERVAL
                } else {
                    continue;
                };
                if last_start
                    .get(&database)
                    .is_none_or(|t| t.elapsed() >= spacing)
                {
                    last_start.insert(database, Instant::now());
                    start_relay(database);
                }
            }
        }
        if !BackgroundWorker::wait_latch(Some(RESTART_SPACING)) {
            break;
        }
    }
    RELAYS.exclusive().launcher_latch = 0;
    // Exit code 1: the postmaster restarts the launcher (after a pg_terminate_backend, say).
    // Exit code 0 would unregister it until the server restarts.
    unsafe { pg_sys::proc_exit(1) };
}

/// Takes this database's slot; false when another relay already serves it (or no slot is left).
fn claim_slot(database: u32) -> bool {
    let mut relays = RELAYS.exclusive();
    if relays
        .slots
        .iter()
        .any(|s| s.database == database && s.pid != 0)
    {
        return false;
    }
    let index = relays
        .slots
        .iter()
        .position(|s| s.database == database)
        .or_else(|| relays.slots.iter().position(|s| s.database == 0));
    let Some(i) = index else {
        log!("inventory_truth: every relay slot is taken ({SLOTS} databases); database {database} gets no relay");
        return false;
    };
    relays.slots[i] = Slot {
        database,
        pid: unsafe { pg_sys::MyProcPid },
        latch: my_latch(),
        ..Slot::default()
    };
    true
}

#[pg_guard]
unsafe extern "C-unwind" fn release_slot(_code: i32, _arg: pg_sys::Datum) {
    // An error may have left LWLocks held; ours would wait on itself.
    unsafe { pg_sys::LWLockReleaseAll() };
    let pid = unsafe { pg_sys::MyProcPid };
    let mut relays = RELAYS.exclusive();
    for slot in relays.slots.iter_mut().filter(|s| s.pid == pid) {
        *slot = Slot::default();
    }
}

/// Whether this database has the extension, in its own schema. The relay runs as a superuser
/// in every database: it must never call a function that merely has the right name (anyone
/// with CREATE on a database can make a schema called inventory_truth), only the extension's.
fn extension_installed() -> bool {
    Spi::get_one::<bool>(
        "SELECT EXISTS (
             SELECT FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'inventory_truth' AND n.nspname = 'inventory_truth'
                AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                AND d.deptype = 'e'
                AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                AND d.objid = pg_catalog.to_regprocedure('inventory_truth._relay_stale()'))",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

enum Publication {
    /// The batch was published.
    Published,
    /// Nothing published: the notify queue is this full (see `relay_queue_limit`).
    QueueFull(f64),
}

/// The fraction of the cluster's notify queue in use. A listener that stays in a transaction
/// keeps every later notification in the queue; once it is full, every NOTIFY of the cluster
/// fails at commit (the relay's, and any application's). The relay stops short of that.
fn notify_queue_usage() -> f64 {
    // The function behind pg_notification_queue_usage(), called directly: a statement per
    // batch cost the relay 3% of its time.
    unsafe { pgrx::direct_function_call::<f64>(pg_sys::pg_notification_queue_usage, &[]) }
        .unwrap_or(0.0)
}

/// One batch: unless the notify queue is too full, publishes `skus` (notify::publish) in the
/// current transaction, which need not wait for its WAL flush (what a publication writes is
/// derived: after a crash the start-up pass republishes, so the notifications go out sooner).
fn publish_batch(skus: &[String], known: &HashMap<String, AtpInputs>, limit: f64) -> Publication {
    let usage = notify_queue_usage();
    if usage >= limit {
        return Publication::QueueFull(usage);
    }
    unsafe {
        pg_sys::set_config_option(
            c"synchronous_commit".as_ptr(),
            c"off".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            pg_sys::PGERROR as i32,
            false,
        );
    }
    if let Err(failure) = crate::spi::connect(|client| crate::notify::publish(client, skus, known))
    {
        error!("inventory_truth relay: cannot publish: {}", failure.message);
    }
    Publication::Published
}

/// Lets PostgreSQL free the notify-queue space that listeners have read. Only a sending
/// transaction does that, at a commit whose notifications cross a queue page numbered a multiple
/// of four (`asyncQueueAdvanceTail`); a paused relay sends nothing, so without this, once the
/// laggard caught up, the queue would look full until some other application notified. Four
/// notifications of a page each, on a channel nobody listens to, cross such a page: 32 kB per
/// nudge, backing off from once a second to once a minute while paused. Not when the queue is
/// all but full: they would not fit.
fn nudge_notify_queue() {
    // 32 kB of 8 GB: only a queue within a few pages of full has no room for them.
    if notify_queue_usage() >= 0.9999 {
        return;
    }
    if let Err(e) = Spi::run(
        "SELECT pg_catalog.pg_notify('inventory_truth_queue_nudge', pg_catalog.lpad(i::text, 7900, '.'))
           FROM pg_catalog.generate_series(1, 4) i",
    ) {
        error!("inventory_truth relay: cannot nudge the notify queue: {e}");
    }
}

/// Whether pg_restore is loading this database. Until it is done, tables are half loaded: an
/// expired hold released now would write movements and balances that the restore's COPY then
/// collides with, and a publication would record ATP of half the stock under versions the
/// restore does not move again. The relay stays out; the launcher starts it again later, and
/// its first pass republishes from the restored data. (A plain dump restored with psql is not
/// seen: restore it with --single-transaction, so the extension appears only when complete.)
/// Only a superuser's session counts (restores are run as one): any role can call its session
/// `pg_restore`, and would otherwise stop expiry and publishing for the database.
fn restore_in_progress() -> bool {
    Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
                           JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
                         WHERE a.datname = pg_catalog.current_database()
                           AND a.application_name = 'pg_restore'
                           AND r.rolsuper
                           AND a.pid <> pg_catalog.pg_backend_pid())",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// One database's relay: publishes recorded ATP changes whenever a commit wakes it (or every
/// wake interval), and expires holds every wake interval.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn inventory_truth_relay(arg: pg_sys::Datum) {
    let database = arg.value() as u32;
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(database)), None);
    // Before any query: nothing but the catalogs on the path, whatever the database's or its
    // owner's settings say. The relay runs as a superuser in every database, and an operator or
    // function planted on a path it searched would run with those rights (a reviewer made a
    // database owner superuser that way). It names every object of the extension it uses.
    BackgroundWorker::transaction(|| unsafe {
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog".as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
            pg_sys::GucAction::GUC_ACTION_SET,
            true,
            pg_sys::PGERROR as i32,
            false,
        );
    });
    if !BackgroundWorker::transaction(extension_installed)
        || BackgroundWorker::transaction(restore_in_progress)
        || !claim_slot(database)
    {
        return;
    }
    unsafe { pg_sys::before_shmem_exit(Some(release_slot), pg_sys::Datum::from(0)) };
    let baseline = BackgroundWorker::transaction(|| {
        Spi::get_one::<i32>("SELECT inventory_truth._relay_baseline()")
            .ok()
            .flatten()
            .unwrap_or(-1)
    });
    if baseline >= 0 {
        log!("inventory_truth relay: what was published was lost in a crash; {baseline} SKUs recorded as published (listeners resync when they reconnect)");
    }
    log!("inventory_truth relay serving database {database}");
    // From the end of the log on; what was changed before is found by version first.
    let mut read = log_end();
    let mut pending: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // Pending SKUs' newest state handed over: published without reading the SKU's places if it
    // is still the SKU's version when published (notify::publish checks).
    let mut known: HashMap<String, AtpInputs> = HashMap::new();
    let mut by_version = true;
    let mut prepared_pending = false;
    let mut last_by_version: Option<Instant> = None;
    let mut last_expiry: Option<Instant> = None;
    let mut last_publication: Option<Instant> = None;
    // Since when the notify queue has been too full to publish (looked at every QUEUE_RECHECK).
    let mut paused_since: Option<Instant> = None;
    let mut last_nudge: Option<Instant> = None;
    let mut nudge_interval = QUEUE_RECHECK;
    loop {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let wake = Duration::from_millis(RELAY_WAKE_INTERVAL_MS.get().max(1) as u64);
        let batch = RELAY_BATCH_SIZE.get().max(1) as usize;
        // Every wake interval: is the extension still here (DROP EXTENSION), and expire holds.
        if last_expiry.is_none_or(|t| t.elapsed() >= wake) {
            last_expiry = Some(Instant::now());
            if !BackgroundWorker::transaction(extension_installed) {
                log!("inventory_truth relay: the extension left database {database}; stopping");
                return;
            }
            if BackgroundWorker::transaction(restore_in_progress) {
                log!("inventory_truth relay: pg_restore is loading database {database}; stopping until it is done");
                return;
            }
            // A few holds per transaction, so that buyers of those SKUs wait little; a SKU that
            // another transaction holds is skipped until the next pass rather than stalling
            // publishing.
            while BackgroundWorker::transaction(|| {
                Spi::get_one_with_args::<i32>(
                    "SELECT inventory_truth._expire_due_holds($1, true)",
                    &[EXPIRY_BATCH.into()],
                )
                .ok()
                .flatten()
                .unwrap_or(0)
            }) >= EXPIRY_BATCH
            {
                if BackgroundWorker::sigterm_received() {
                    return;
                }
            }
        }
        // Commits arriving together are published together: at most one publication per
        // relay_coalesce, however many commits wake the relay, so that under load one
        // transaction (and one notify-queue write) carries the changes of many commits. The
        // price is up to that much latency.
        let coalesce = Duration::from_millis(RELAY_COALESCE_MS.get().max(0) as u64);
        if let Some(elapsed) = last_publication.map(|t| t.elapsed()) {
            if elapsed < coalesce {
                unsafe { pg_sys::pg_usleep((coalesce - elapsed).as_micros() as _) };
            }
        }
        // While the notify queue is at relay_queue_limit, publishing waits; buyers go on
        // recording changes, and the final values go out once listeners catch up.
        if paused_since.is_some() {
            // A latch wait, not a sleep: it returns false when the postmaster dies (a relay
            // left running would keep a restarted server from starting) or on SIGTERM.
            if !BackgroundWorker::wait_latch(Some(QUEUE_RECHECK)) {
                return;
            }
            // Nudges back off (1 s, 2 s, ... 1 min) while the laggard stays behind, so that a
            // listener stuck for hours does not get the queue filled by the relay itself.
            if last_nudge.is_none_or(|t| t.elapsed() >= nudge_interval) {
                last_nudge = Some(Instant::now());
                nudge_interval = (nudge_interval * 2).min(NUDGE_MAX_INTERVAL);
                BackgroundWorker::transaction(nudge_notify_queue);
            }
        }
        let (skus, behind, prepared) = take_changes(database, &mut read);
        for (sku, state) in skus {
            // A SKU's entries need not arrive in commit order (a transaction leaves the proc
            // array, freeing its rows, before its commit callback hands over): the newest
            // state is kept, and publishing uses it only if it is still the SKU's version.
            if let Some(state) = state {
                match known.get(&sku) {
                    Some(kept) if kept.version >= state.version => {}
                    _ => {
                        known.insert(sku.clone(), state);
                    }
                }
            }
            pending.insert(sku);
        }
        by_version |= behind;
        prepared_pending |= prepared;
        // A prepared transaction's commit is not handed over: look by version, at most every
        // wake interval, while any is left in this database, those prepared before this relay
        // started (or before a restart of the server) included.
        if prepared_pending && last_by_version.is_none_or(|t| t.elapsed() >= wake) {
            by_version = true;
        }
        if by_version {
            last_by_version = Some(Instant::now());
            // A change that was not handed over (a prepared transaction's, every SKU's) may be
            // newer than a state that was: read them all.
            known.clear();
            let (stale, prepared_left) = BackgroundWorker::transaction(|| {
                // Prepared transactions first, then the stale SKUs, each statement with a
                // snapshot of its own: a COMMIT PREPARED leaves pg_prepared_xacts only once
                // it is visible (FinishPreparedTransaction), so one finishing after this check
                // keeps the relay looking, and one finished before it is in the stale list.
                // The other order missed a COMMIT PREPARED landing between the two.
                let left = Spi::get_one::<bool>(
                    "SELECT EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts
                                     WHERE database = pg_catalog.current_database())",
                )
                .ok()
                .flatten()
                .unwrap_or(false);
                let stale = Spi::get_one::<Vec<String>>(
                    "SELECT ARRAY(SELECT inventory_truth._relay_stale())",
                )
                .ok()
                .flatten()
                .unwrap_or_default();
                (stale, left)
            });
            pending.extend(stale);
            by_version = false;
            prepared_pending = prepared_left;
        }
        // One transaction per batch, until none is left or the queue is too full.
        while !pending.is_empty() {
            let limit = RELAY_QUEUE_LIMIT.get();
            let taken: Vec<String> = pending.iter().take(batch).cloned().collect();
            let skus = taken.clone();
            let states: HashMap<String, AtpInputs> = taken
                .iter()
                .filter_map(|sku| known.get(sku).map(|state| (sku.clone(), state.clone())))
                .collect();
            // Not for expiring holds (above), which moves stock and must be durable.
            let outcome =
                BackgroundWorker::transaction(move || publish_batch(&skus, &states, limit));
            match outcome {
                Publication::QueueFull(usage) => {
                    if paused_since.is_none() {
                        warning!(
                            "inventory_truth relay: the notify queue is {:.4}% full (relay_queue_limit {:.4}%); publishing paused until listeners catch up",
                            usage * 100.0,
                            limit * 100.0
                        );
                    }
                    paused_since.get_or_insert_with(Instant::now);
                    break;
                }
                Publication::Published => {
                    if let Some(since) = paused_since.take() {
                        last_nudge = None;
                        nudge_interval = QUEUE_RECHECK;
                        log!(
                            "inventory_truth relay: the notify queue has room again; publishing resumed after {:.1} s",
                            since.elapsed().as_secs_f64()
                        );
                    }
                    for sku in &taken {
                        pending.remove(sku);
                        known.remove(sku);
                    }
                    last_publication = Some(Instant::now());
                }
            }
        }
        report(pending.len(), read, paused_since.is_some());
        if paused_since.is_some() {
            continue;
        }
        if !BackgroundWorker::wait_latch(Some(wake)) {
            return;
        }
    }
}

/// Records in this relay's slot how its last pass ended, for `notify_status()`.
fn report(pending: usize, read: u64, paused: bool) {
    let pid = unsafe { pg_sys::MyProcPid };
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let mut relays = RELAYS.exclusive();
    if let Some(slot) = relays.slots.iter_mut().find(|s| s.pid == pid) {
        slot.seen_at = now;
        slot.pending = u32::try_from(pending).unwrap_or(u32::MAX);
        slot.read = read;
        slot.paused = paused;
    }
}

/// What `notify_status()` says of this database's relay: (pid, when it last finished a pass,
/// SKUs it had not published then, log entries written since it last read, paused). `None`
/// when none runs (or the library is not preloaded).
pub fn status() -> Option<(i32, Option<i64>, i64, i64, bool)> {
    if !preloaded() {
        return None;
    }
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let written = CHANGE_LOG.share().written;
    let relays = RELAYS.share();
    relays
        .slots
        .iter()
        .find(|s| s.database == database && s.pid != 0)
        .map(|s| {
            (
                s.pid,
                (s.seen_at != 0).then_some(s.seen_at),
                i64::from(s.pending),
                i64::try_from(written.saturating_sub(s.read)).unwrap_or(i64::MAX),
                s.paused,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(fenced: &[(&str, i64)]) -> AtpInputs {
        AtpInputs {
            version: 41,
            available: -3,
            fenced: fenced.iter().map(|(c, q)| (c.to_string(), *q)).collect(),
        }
    }

    #[test]
    fn a_state_reads_back_as_it_was_handed_over() {
        for fenced in [
            &[][..],
            &[("amazon", 20)],
            &[("amazon", 20), ("wholesale", 1 << 40)],
        ] {
            let handed = state(fenced);
            let bytes = encode_inputs(&handed).expect("fits");
            assert_eq!(decode_inputs(&bytes), Some(handed));
        }
    }

    #[test]
    fn a_state_that_does_not_fit_an_entry_is_not_handed_over() {
        let long = "c".repeat(60);
        let many: Vec<(&str, i64)> = vec![(long.as_str(), 1), (long.as_str(), 2)];
        assert_eq!(encode_inputs(&state(&many)), None);
        let too_long_for_a_length_byte = "c".repeat(300);
        assert_eq!(
            encode_inputs(&state(&[(too_long_for_a_length_byte.as_str(), 1)])),
            None
        );
    }

    #[test]
    fn cut_bytes_are_not_a_state() {
        let bytes = encode_inputs(&state(&[("amazon", 20)])).expect("fits");
        for cut in [0, 7, 12, 17, bytes.len() - 1] {
            assert_eq!(decode_inputs(&bytes[..cut]), None, "cut at {cut}");
        }
    }
}

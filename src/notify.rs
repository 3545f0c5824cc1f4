//! Real-time delivery (docs/design.md §6): what the committing transaction does for listeners. Every
//! transaction that may change a SKU's ATP advances the SKU's version under the SKU's row lock
//! (once per transaction: the engine, `_atp_changed`), so versions follow commit order; the SKU
//! is noted in the transaction's state (`xact.rs`). In direct mode it is published just before
//! commit by `_at_commit`; in relay mode it is handed to the relay through shared memory after
//! commit (`relay::hand_over`, with the SKU's state after a reservation). Publishing (`publish`)
//! reads each SKU and its places (unless handed over) and its buffers by index (`direct.rs`),
//! computes each channel's ATP as `atp_snapshot()` does, and, in one lookup of what was last
//! published (`atp_published`, updated in place), notifies the channels whose ATP changed and
//! records what it published.

use pgrx::prelude::*;
use std::collections::HashMap;

use crate::direct::{self, Key};
use crate::engine;
use crate::guc::{effective_mode, NotifyMode, NOTIFY_MODE};
use crate::relay;
use crate::spi::{self, oid, Sql};
use crate::sqlfn::Call;
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

/// `notify_status()`: who sends this database's notifications, for any role that may read
/// ATP (a storefront checks it before it trusts its LISTEN): the setting, the mode in force for
/// this session, the channel, whether the library is preloaded, and this database's relay
/// (none: NULLs) with when it last finished a pass, what it had left to publish then, how far
/// behind the shared log it is, and whether a full notify queue pauses it.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn notify_status() -> TableIterator<
    'static,
    (
        name!(setting, String),
        name!(mode, String),
        name!(channel, String),
        name!(preloaded, bool),
        name!(relay_pid, Option<i32>),
        name!(relay_seen_at, Option<pgrx::datum::TimestampWithTimeZone>),
        name!(relay_pending, Option<i64>),
        name!(relay_behind, Option<i64>),
        name!(relay_paused, Option<bool>),
    ),
> {
    let setting = match NOTIFY_MODE.get() {
        NotifyMode::Auto => "auto",
        NotifyMode::Direct => "direct",
        NotifyMode::Relay => "relay",
        NotifyMode::Off => "off",
    };
    let relay = relay::status();
    let seen_at = relay.and_then(|r| r.1).and_then(|t| unsafe {
        pgrx::datum::TimestampWithTimeZone::from_datum(pg_sys::Datum::from(t), false)
    });
    TableIterator::once((
        setting.to_owned(),
        _notify_mode().to_owned(),
        listen_channel().to_string_lossy().into_owned(),
        relay::preloaded(),
        relay.map(|r| r.0),
        seen_at,
        relay.map(|r| r.2),
        relay.map(|r| r.3),
        relay.map(|r| r.4),
    ))
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

/// Every SKU's row taken in code order, and an escrowed SKU's parts folded as its row is taken
/// (the lock is taken as each sorted row is returned; OFFSET 0 keeps the filter from being
/// pushed below the lock, which would take the escrowed SKUs' rows before the others).
static TAKE_EVERY_SKU_AND_FOLD: Sql = Sql {
    text: "SELECT inventory_truth._escrow_fold(s.code)
             FROM (SELECT k.code, k.escrow_parts FROM inventory_truth.sku k
                    ORDER BY k.code COLLATE \"C\" OFFSET 0 FOR NO KEY UPDATE) s
            WHERE s.escrow_parts > 0",
    args: &[],
};

/// The same for every SKU (a channel's default buffer, a new channel): rows locked in code
/// order, like every other path that locks several SKUs. Internal.
#[pg_extern(volatile, parallel_unsafe)]
fn _atp_changed_everywhere(cause: &str) {
    let outcome = spi::connect(|client| {
        // A buffer may change: escrowed SKUs are folded (and lend again from their next exact
        // sale). Every row is taken in code order, and an escrowed SKU folded as its row is
        // taken: a fold never waits for a part while this holds a later SKU's row, which the
        // part's holder (reserve_order goes in code order) may be waiting for.
        spi::run(client, &TAKE_EVERY_SKU_AND_FOLD, &[])?;
        spi::run(client, &ADVANCE_EVERY_SKU, &[cause.into()])?;
        Ok(())
    });
    if let Err(failure) = outcome {
        error!("{}", failure.message);
    }
    xact::everything_changed();
}

static EVERY_SKU: Sql = Sql {
    text: "SELECT code FROM inventory_truth.sku",
    args: &[],
};

static NEGATIVE: Sql = Sql {
    text: "SELECT b.stage::pg_catalog.text, b.qty FROM inventory_truth.balance b
            WHERE b.sku = $1 AND b.location = $2 AND b.qty < 0
            ORDER BY b.stage LIMIT 1",
    args: &[oid::TEXT, oid::TEXT],
};

/// `_at_commit(record_commit, publish, publish_all, negative_skus, negative_locations,
/// breach_skus, breach_locations, breach_channels)`: called just before a transaction commits
/// (xact.rs), as the extension's owner. First what the transaction's direct inserts left to
/// judge, as it finally stands: a stage still below zero fails the commit (IT001), then a sale
/// still in breach of a fence or a buffer (IT003). Then it records when the transaction
/// committed if it wrote the ledger (movement_commit: the commit side of the warehouse lag), and
/// in direct mode publishes the SKUs it changed (all of them with `publish_all`), with their
/// final values. Internal.
fn at_commit_call(call: Call) -> crate::error::Outcome<pg_sys::Datum> {
    let record_commit: bool = call.arg(0).unwrap_or(false);
    let publish: Vec<String> = call.arg(1).unwrap_or_default();
    let publish_all: bool = call.arg(2).unwrap_or(false);
    let skus: Vec<String> = call.arg(3).unwrap_or_default();
    let locations: Vec<String> = call.arg(4).unwrap_or_default();
    let breach_skus: Vec<String> = call.arg(5).unwrap_or_default();
    let breach_locations: Vec<String> = call.arg(6).unwrap_or_default();
    let breach_channels: Vec<String> = call.arg(7).unwrap_or_default();
    spi::connect(|client| {
        for (sku, location) in skus.iter().zip(&locations) {
            let rows = spi::run(
                client,
                &NEGATIVE,
                &[sku.as_str().into(), location.as_str().into()],
            )?;
            if !rows.is_empty() {
                let row = rows.first();
                let stage: String = spi::value(&row, 1)?;
                let qty: i64 = spi::value(&row, 2)?;
                return Err(crate::error::Failure::insufficient(format!(
                    "insufficient stock: this transaction moves {} more out of stage {stage} than {} holds",
                    crate::error::units(-qty),
                    crate::error::describe(sku, location)
                ))
                .detail(format!(
                    "The bucket would end the transaction at {}.",
                    crate::error::units(qty)
                )));
            }
        }
        let breaches = breach_skus
            .iter()
            .zip(&breach_locations)
            .zip(&breach_channels);
        for ((sku, location), channel) in breaches {
            if let Some(failure) = crate::engine::sale_breach(client, sku, location, channel)? {
                return Err(failure);
            }
        }
        if record_commit {
            crate::ledger::record_commit()?;
        }
        if publish_all {
            let mut every = Vec::new();
            for row in spi::run(client, &EVERY_SKU, &[])? {
                every.push(spi::value::<String>(&row, 1)?);
            }
            crate::notify::publish(client, &every, &HashMap::new())?;
        } else if !publish.is_empty() {
            crate::notify::publish(client, &publish, &HashMap::new())?;
        }
        Ok(())
    })?;
    Ok(pg_sys::Datum::from(0))
}
crate::sql_function!(
    inventory_truth_at_commit,
    pg_finfo_inventory_truth_at_commit,
    at_commit_call
);

// ---------------------------------------------------------------------------------------------
// Publishing

static REMEMBER: Sql = Sql {
    text: "INSERT INTO inventory_truth.atp_published AS p (sku, version, atp, published_at, preorderable)
           SELECT u.sku, u.version, u.atp::jsonb, pg_catalog.clock_timestamp(), u.preorderable
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS u(sku, version, atp, preorderable)
           ON CONFLICT (sku) DO UPDATE
              SET version = excluded.version, atp = excluded.atp, published_at = excluded.published_at,
                  preorderable = excluded.preorderable
            WHERE excluded.version > p.version",
    args: &[oid::TEXT_ARRAY, oid::INT8_ARRAY, oid::TEXT_ARRAY, oid::INT8_ARRAY],
};

unsafe extern "C-unwind" {
    fn Async_Notify(channel: *const std::ffi::c_char, payload: *const std::ffi::c_char);
}

/// A JSON string literal, escaped as PostgreSQL's JSON output escapes it.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The channel notifications go out on: the setting, or `inventory_truth` with a WARNING when it
/// is not a name NOTIFY takes (1 to 63 bytes): a bad setting must not fail every commit (direct
/// mode) or stop the relay.
fn listen_channel() -> std::ffi::CString {
    let setting = crate::guc::NOTIFY_CHANNEL.get();
    match setting {
        Some(name) if !name.as_bytes().is_empty() && name.as_bytes().len() <= 63 => name,
        other => {
            let shown = other
                .map(|n| json_string(&n.to_string_lossy()))
                .unwrap_or_else(|| "NULL".into());
            warning!(
                "inventory_truth.notify_channel {shown} is not a channel name (1 to 63 bytes); using inventory_truth"
            );
            c"inventory_truth".to_owned()
        }
    }
}

/// What publishing needs of a SKU's places, as the writer that just committed them hands it
/// over through the relay's log (`relay::hand_over`): the SKU's version, its available units
/// and, per channel, its fenced units, all summed over its places. With them the relay reads
/// the SKU's row and buffers, not its stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtpInputs {
    pub version: i64,
    pub available: i64,
    /// Units fenced per channel (channels with none left out).
    pub fenced: Vec<(String, i64)>,
}

/// Publishes the SKUs' ATP changes since their last publication: one notification per (SKU,
/// channel) whose ATP differs from what was last published, or, when several commits were
/// coalesced (the version moved by more than one), per channel: a storefront may have read a
/// snapshot between them, holding a value neither published nor final. Then remembers what it
/// published, never going back to an older version (another publisher may have published a
/// newer state already). A SKU never published counts as 0 for every channel. `known` has
/// SKUs' committed states as handed over: one is used instead of reading the SKU's places if it
/// is the SKU's version in this snapshot (so everything else read, the buffers, belongs to the
/// same state). Returns the notifications sent.
pub fn publish(
    client: &mut pgrx::spi::SpiClient<'_>,
    skus: &[String],
    known: &HashMap<String, AtpInputs>,
) -> crate::error::Outcome<i32> {
    publish_or_record(client, skus, known, true)
}

/// Records the SKUs' state as published without notifying anyone.
fn publish_silently(
    client: &mut pgrx::spi::SpiClient<'_>,
    skus: &[String],
) -> crate::error::Outcome<i32> {
    publish_or_record(client, skus, &HashMap::new(), false)
}

/// A SKU's state to publish, from its rows or as handed over.
struct Sku {
    version: i64,
    changed_at: String,
    cause: Option<String>,
    available: i64,
    fenced: i64,
    own: HashMap<String, i64>,
    /// What may be preordered (src/preorder.rs), when a channel takes preorders.
    preorderable: Option<i64>,
}

/// What was last published of a SKU (nothing yet: version 0, no values).
#[derive(Default)]
struct Published {
    version: i64,
    atp: HashMap<String, i64>,
    preorderable: Option<i64>,
}

/// A channel as publishing needs it.
struct Channel {
    code: String,
    buffer: i64,
    preorders: bool,
}

impl Sku {
    /// The SKU's row and, unless `handed_over` is its state at the version this snapshot sees,
    /// its places (`None`: no such SKU).
    fn read(
        reader: &direct::Reader,
        code: &str,
        handed_over: Option<&AtpInputs>,
    ) -> crate::error::Outcome<Option<Sku>> {
        let mut current = None;
        reader.rows(
            &direct::SKU_CODE,
            &[Key::Text(code)],
            &["version", "changed_at", "change_cause", "escrow_parts"],
            |row| {
                let changed_at: Option<pgrx::datum::TimestampWithTimeZone> = spi::get(row, 2)?;
                current = Some((
                    spi::value::<i64>(row, 1)?,
                    changed_at.map(i64::from),
                    spi::get::<String>(row, 3)?,
                    spi::value::<i32>(row, 4)?,
                ));
                Ok(())
            },
        )?;
        let Some((mut version, mut changed_at, mut cause, escrow_parts)) = current else {
            return Ok(None);
        };
        // An escrowed SKU's parts sold what its stock does not show yet (src/escrow.rs), and
        // a sale from a part does not write the SKU's row: when one is the latest change, it
        // is the change a notification names.
        let part_sales = if escrow_parts > 0 {
            let sales = crate::escrow::part_sales(reader, code)?;
            version += sales.sales;
            if let Some(sold_at) = sales.last_sold_at {
                if changed_at.is_none_or(|at| sold_at > at) {
                    changed_at = Some(sold_at);
                    cause = Some(crate::hold::RESERVATION_CAUSE.to_owned());
                }
            }
            sales
        } else {
            crate::escrow::PartSales::default()
        };
        let changed_at = json_time(
            changed_at.and_then(|at| pgrx::datum::TimestampWithTimeZone::try_from(at).ok()),
        );
        if let Some(state) = handed_over.filter(|state| state.version == version) {
            return Ok(Some(Sku {
                version,
                changed_at,
                cause,
                available: state.available,
                fenced: state.fenced.iter().map(|(_, qty)| qty).sum(),
                own: state.fenced.iter().cloned().collect(),
                preorderable: None,
            }));
        }
        let mut sku = Sku {
            version,
            changed_at,
            cause,
            available: -part_sales.units(),
            fenced: 0,
            own: HashMap::new(),
            preorderable: None,
        };
        reader.rows(
            &direct::STOCK_PLACE,
            &[Key::Text(code)],
            &["available", "fence_channels", "fence_qty"],
            |row| {
                sku.available += spi::value::<i64>(row, 1)?;
                let channels: Vec<String> = spi::value(row, 2)?;
                let quantities: Vec<i64> = spi::value(row, 3)?;
                for (channel, qty) in channels.into_iter().zip(quantities) {
                    sku.fenced += qty;
                    *sku.own.entry(channel).or_insert(0) += qty;
                }
                Ok(())
            },
        )?;
        Ok(Some(sku))
    }
}

/// What one SKU's publication writes and sends: each channel's ATP as an `atp_published.atp`
/// object, and a notification payload for each channel whose ATP (or, for a channel that takes
/// preorders, what may be preordered) differs from what was last published (every channel when
/// commits were coalesced; none unless `notify`).
fn publication(
    code: &str,
    sku: &Sku,
    published: &Published,
    channels: &[Channel],
    buffers: &[(String, i64)],
    notify: bool,
) -> (String, Vec<std::ffi::CString>) {
    use std::fmt::Write;
    let coalesced = sku.version - published.version > 1;
    let preorderable_changed = sku.preorderable.unwrap_or(0) != published.preorderable.unwrap_or(0);
    // What every payload of the SKU shares, escaped once.
    let (sku_json, cause_json) = if notify {
        let cause = sku
            .cause
            .as_deref()
            .map_or_else(|| "null".into(), json_string);
        (json_string(code), cause)
    } else {
        Default::default()
    };
    let mut map = String::with_capacity(2 + 16 * channels.len());
    map.push('{');
    let mut payloads = Vec::new();
    for (i, channel) in channels.iter().enumerate() {
        let buffer = buffers
            .iter()
            .find(|(c, _)| *c == channel.code)
            .map_or(channel.buffer, |(_, units)| *units);
        let own = sku.own.get(&channel.code).copied().unwrap_or(0);
        let atp = crate::fence::atp(sku.available, sku.fenced, own, buffer);
        let previous = published.atp.get(&channel.code).copied().unwrap_or(0);
        if i > 0 {
            map.push_str(", ");
        }
        let channel_json = json_string(&channel.code);
        // Writing into a String cannot fail.
        let _ = write!(map, "{channel_json}: {atp}");
        let preorderable = sku.preorderable.filter(|_| channel.preorders);
        let changed = atp != previous || (preorderable.is_some() && preorderable_changed);
        if notify && (changed || coalesced) {
            // The keys in the order PostgreSQL's jsonb prints them (shortest first).
            let mut payload = String::with_capacity(192);
            let _ = write!(
                payload,
                "{{\"atp\": {atp}, \"sku\": {sku_json}, \"cause\": {cause_json}, \"channel\": {channel_json}, \"version\": {}, \"changed_at\": {}, ",
                sku.version, sku.changed_at
            );
            if let Some(n) = preorderable {
                let _ = write!(payload, "\"preorderable\": {n}, ");
            }
            let _ = write!(payload, "\"previous_atp\": {previous}}}");
            payloads.push(std::ffi::CString::new(payload).unwrap_or_default());
        }
    }
    map.push('}');
    (map, payloads)
}

/// SKUs whose `atp_published` rows one writer updates.
const PUBLISH_CHUNK: usize = 1000;

/// Publishing in two steps: each SKU's state and buffers read under one snapshot (a lookup per
/// SKU, none for a SKU handed over), then its atp_published row updated in place from what it
/// holds (src/direct.rs), one lookup that both reads what was last published and records the
/// new state. SKUs published for the first time are inserted by a statement that yields to a
/// concurrent first publication.
fn publish_or_record(
    client: &mut pgrx::spi::SpiClient<'_>,
    skus: &[String],
    known: &HashMap<String, AtpInputs>,
    notify: bool,
) -> crate::error::Outcome<i32> {
    if skus.is_empty() {
        return Ok(0);
    }
    let mut by_sku: std::collections::BTreeMap<String, Sku> = std::collections::BTreeMap::new();
    let mut channels: Vec<Channel> = Vec::new();
    let mut buffers: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    direct::read(|reader| {
        for code in skus {
            if by_sku.contains_key(code) {
                continue;
            }
            let Some(sku) = Sku::read(reader, code, known.get(code))? else {
                continue;
            };
            reader.rows(
                &direct::SKU_BUFFER_KEY,
                &[Key::Text(code)],
                &["channel", "units"],
                |row| {
                    buffers
                        .entry(code.clone())
                        .or_default()
                        .push((spi::value(row, 1)?, spi::value(row, 2)?));
                    Ok(())
                },
            )?;
            by_sku.insert(code.clone(), sku);
        }
        if !by_sku.is_empty() {
            reader.all(direct::CHANNEL, &["code", "buffer", "preorders"], |row| {
                channels.push(Channel {
                    code: spi::value(row, 1)?,
                    buffer: spi::value(row, 2)?,
                    preorders: spi::value(row, 3)?,
                });
                Ok(())
            })?;
        }
        Ok(())
    })?;
    if by_sku.is_empty() {
        return Ok(0);
    }
    channels.sort_by(|a, b| a.code.as_bytes().cmp(b.code.as_bytes()));
    if channels.iter().any(|c| c.preorders) {
        // One more read per SKU, only while some channel takes preorders.
        for (code, sku) in by_sku.iter_mut() {
            sku.preorderable = Some(crate::preorder::preorderable_now(code)?);
        }
    }

    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let mut payloads = Vec::new();
    #[allow(clippy::type_complexity)]
    let mut first: (Vec<String>, Vec<i64>, Vec<String>, Vec<Option<i64>>) = Default::default();
    let by_sku: Vec<(&String, &Sku)> = by_sku.iter().collect();
    let buffers_of = |code: &str| buffers.get(code).map_or(&[][..], Vec::as_slice);
    // A writer per thousand SKUs: what a writer holds (a slot per row) lasts until it closes,
    // and a commit that changed every SKU publishes them all here.
    for chunk in by_sku.chunks(PUBLISH_CHUNK) {
        direct::write(&[direct::ATP_PUBLISHED], |w| {
            for &(code, sku) in chunk {
                let at = PUBLISHED_AT.with(|p| p.borrow().get(code).copied());
                let written = w.modify_at(
                    0,
                    &direct::ATP_PUBLISHED_SKU,
                    &[Key::Text(code)],
                    &["version", "atp", "preorderable"],
                    at,
                    |row| {
                        let published = Published {
                            version: spi::value(row, 1)?,
                            atp: parse_atp_map(&jsonb_text(row, 2)?),
                            preorderable: spi::get(row, 3)?,
                        };
                        if published.version >= sku.version {
                            // Published already, or another publisher recorded a newer state.
                            return Ok(None);
                        }
                        let (map, sent) =
                            publication(code, sku, &published, &channels, buffers_of(code), notify);
                        let changes = vec![
                            ("version", sku.version.into_datum()),
                            ("atp", Some(jsonb_datum(&map)?)),
                            ("published_at", Some(pg_sys::Datum::from(now))),
                            ("preorderable", sku.preorderable.into_datum()),
                        ];
                        Ok(Some((changes, sent)))
                    },
                )?;
                match written {
                    direct::Modified::Done(sent) => {
                        payloads.extend(sent);
                        remember_published_at(code, w.written());
                    }
                    direct::Modified::Declined => {}
                    direct::Modified::Missing => {
                        let (map, sent) = publication(
                            code,
                            sku,
                            &Published::default(),
                            &channels,
                            buffers_of(code),
                            notify,
                        );
                        payloads.extend(sent);
                        first.0.push(code.clone());
                        first.1.push(sku.version);
                        first.2.push(map);
                        first.3.push(sku.preorderable);
                    }
                }
            }
            Ok(())
        })?;
    }
    if !first.0.is_empty() {
        spi::run(
            client,
            &REMEMBER,
            &[
                first.0.into(),
                first.1.into(),
                first.2.into(),
                first.3.into(),
            ],
        )?;
    }
    if notify && !payloads.is_empty() {
        let listen = listen_channel();
        for payload in &payloads {
            // NOTIFY's own entry point (commands/async.h), which pgrx does not bind; guarded,
            // so that an error in it unwinds this frame instead of jumping over it.
            unsafe {
                pg_sys::ffi::pg_guard_ffi_boundary(|| {
                    Async_Notify(listen.as_ptr(), payload.as_ptr())
                })
            };
        }
    }
    Ok(payloads.len() as i32)
}

// jsonb's and JSON's C entry points; pgrx binds them as Rust wrappers, and DirectFunctionCall
// needs the functions themselves.
unsafe extern "C-unwind" {
    #[link_name = "jsonb_in"]
    fn jsonb_in_entry(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
    #[link_name = "jsonb_out"]
    fn jsonb_out_entry(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum;
}

/// A jsonb datum from its text.
fn jsonb_datum(text: &str) -> crate::error::Outcome<pg_sys::Datum> {
    let text = std::ffi::CString::new(text)
        .map_err(|_| crate::error::Failure::internal("inventory_truth: a NUL in JSON"))?;
    Ok(unsafe {
        pg_sys::DirectFunctionCall1Coll(
            Some(jsonb_in_entry),
            pg_sys::InvalidOid,
            pg_sys::Datum::from(text.as_ptr()),
        )
    })
}

/// A jsonb column as jsonb prints it.
fn jsonb_text(row: &impl spi::Columns, n: usize) -> crate::error::Outcome<String> {
    let datum: Option<pg_sys::Datum> = spi::get(row, n)?;
    let Some(datum) = datum else {
        return Ok("{}".to_owned());
    };
    unsafe {
        let text =
            pg_sys::DirectFunctionCall1Coll(Some(jsonb_out_entry), pg_sys::InvalidOid, datum);
        let cstr = std::ffi::CStr::from_ptr(text.cast_mut_ptr::<std::ffi::c_char>());
        Ok(cstr.to_string_lossy().into_owned())
    }
}

/// A timestamptz as `to_json` writes it: an ISO 8601 string (`null` for none).
fn json_time(time: Option<pgrx::datum::TimestampWithTimeZone>) -> String {
    let Some(time) = time else {
        return "null".to_owned();
    };
    unsafe {
        let text = pg_sys::JsonEncodeDateTime(
            std::ptr::null_mut(),
            time.into_datum().unwrap_or(pg_sys::Datum::from(0)),
            pg_sys::TIMESTAMPTZOID,
            std::ptr::null(),
        );
        let out = format!("\"{}\"", std::ffi::CStr::from_ptr(text).to_string_lossy());
        pg_sys::pfree(text.cast());
        out
    }
}

thread_local! {
    /// Where this process last wrote each SKU's `atp_published` row: the relay publishes the
    /// same SKUs again and again, and a row found there (still the version its snapshot sees,
    /// with its key: `direct::Writer::modify_at`) needs no index search.
    static PUBLISHED_AT: std::cell::RefCell<HashMap<String, direct::Tid>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Called for every relcache invalidation (`direct.rs` registers the callback): a TRUNCATE,
/// VACUUM FULL or CLUSTER of `atp_published` (or of everything) makes every hint useless.
pub fn forget_published_at(relid: pg_sys::Oid) {
    if direct::invalidation_may_concern(direct::ATP_PUBLISHED, relid) {
        PUBLISHED_AT.with(|p| p.borrow_mut().clear());
    }
}

/// Notes where `code`'s `atp_published` row was written; the memory is bounded (forgotten
/// whole past a million SKUs, to be learnt again).
fn remember_published_at(code: &str, at: Option<direct::Tid>) {
    PUBLISHED_AT.with(|p| {
        let mut p = p.borrow_mut();
        match at {
            Some(at) => {
                if p.len() >= 1_000_000 && !p.contains_key(code) {
                    p.clear();
                }
                p.insert(code.to_owned(), at);
            }
            None => {
                p.remove(code);
            }
        }
    });
}

/// The channels of an `atp_published.atp` object, `{"web": 4, "amazon": 5}`, as jsonb prints it.
fn parse_atp_map(json: &str) -> std::collections::HashMap<String, i64> {
    let mut map = std::collections::HashMap::new();
    let inner = json.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = inner;
    while let Some(start) = rest.find('"') {
        // A key: up to the next unescaped quote.
        let after = &rest[start + 1..];
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in after.char_indices() {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else { break };
        let key = unescape_json(&after[..end]);
        let value_part = &after[end + 1..];
        let value_part = value_part.trim_start().trim_start_matches(':').trim_start();
        let digits: String = value_part
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        if let Ok(value) = digits.parse() {
            map.insert(key, value);
        }
        rest = &value_part[digits.len()..];
    }
    map
}

fn unescape_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// `_publish(skus) RETURNS int`: see [`publish`], from SQL (the relay calls `publish` itself).
/// Internal.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, @extschema@, pg_temp)]
fn _publish(p_skus: Vec<String>) -> i32 {
    match spi::connect(|client| publish(client, &p_skus, &HashMap::new())) {
        Ok(sent) => sent,
        Err(failure) => crate::error::report(failure),
    }
}

#[cfg(test)]
mod json {
    use super::*;

    #[test]
    fn published_maps_read_back_as_jsonb_prints_them() {
        let map = parse_atp_map(r#"{"web": 4, "amazon": 5, "a \"b\"": -1}"#);
        assert_eq!(map.get("web"), Some(&4));
        assert_eq!(map.get("amazon"), Some(&5));
        assert_eq!(map.get("a \"b\""), Some(&-1));
        assert!(parse_atp_map("{}").is_empty());
    }

    #[test]
    fn strings_are_escaped_as_postgresql_escapes_them() {
        assert_eq!(json_string("TEE"), r#""TEE""#);
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }
}

static SENTINEL: Sql = Sql {
    text: "SELECT true FROM inventory_truth.atp_published WHERE sku = ''",
    args: &[],
};
static RECORD_SENTINEL: Sql = Sql {
    text: "INSERT INTO inventory_truth.atp_published (sku, version, atp, published_at)
           VALUES ('', 0, '{}', pg_catalog.clock_timestamp()) ON CONFLICT DO NOTHING",
    args: &[],
};

/// The SKUs whose last change was made before `$1` (the server's start after a crash):
/// the SKU's row, and for an escrowed SKU its parts' sales too.
static CHANGED_BEFORE: Sql = Sql {
    text: "SELECT s.code FROM inventory_truth.sku s
            WHERE (s.changed_at IS NULL OR s.changed_at < $1)
              AND NOT EXISTS (SELECT FROM inventory_truth.stock_part t
                               WHERE t.sku = s.code AND t.sales > 0 AND t.sold_at >= $1)",
    args: &[oid::TIMESTAMPTZ],
};

/// `_relay_baseline() RETURNS int`: called by the relay as it starts. When a crash emptied
/// atp_published (its row of SKU '' is gone), records the state of every SKU last changed
/// before the server came back as published, without notifying (every listener lost its
/// connection in the crash and resyncs when it comes back), and returns how many SKUs; -1
/// when the table was intact. A SKU changed since is left for the relay to publish: a
/// listener that resynced before this ran holds its older state (the relay may start late:
/// no free worker slot, a failing relay). Internal.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, @extschema@, pg_temp)]
fn _relay_baseline() -> i32 {
    let outcome = spi::connect(|client| {
        if !spi::run(client, &SENTINEL, &[])?.is_empty() {
            return Ok(-1);
        }
        let rows = match crate::relay::server_started_at() {
            Some(started_at) => {
                let started_at =
                    pgrx::datum::TimestampWithTimeZone::try_from(started_at).map_err(|_| {
                        crate::error::Failure::internal("inventory_truth: no start time")
                    })?;
                spi::run(client, &CHANGED_BEFORE, &[started_at.into()])?
            }
            None => spi::run(client, &EVERY_SKU, &[])?,
        };
        let mut every = Vec::new();
        for row in rows {
            every.push(spi::value::<String>(&row, 1)?);
        }
        for chunk in every.chunks(10_000) {
            publish_silently(client, chunk)?;
        }
        spi::run(client, &RECORD_SENTINEL, &[])?;
        Ok(every.len() as i32)
    });
    match outcome {
        Ok(n) => n,
        Err(failure) => crate::error::report(failure),
    }
}

//! The storefront side of docs/design.md §6: follow every channel's ATP live with LISTEN/NOTIFY and the
//! resync protocol, surviving dropped connections.
//!
//! The protocol, in any language:
//! 1. `LISTEN inventory_truth` (the channel named by `inventory_truth.notify_channel`);
//! 2. read `SELECT sku, channel, atp, version FROM inventory_truth.atp_snapshot($1)`;
//! 3. apply a notification only when its `version` is higher than the one held for its
//!    (sku, channel): anything older or equal is already in what you hold;
//! 4. when the connection drops, start again at 1 (notifications sent while you were away are
//!    gone; the snapshot is the truth).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// One notification: a channel's ATP of a SKU changed.
#[derive(Clone, Debug, PartialEq)]
pub struct AtpChange {
    pub sku: String,
    pub channel: String,
    pub atp: i64,
    pub previous_atp: i64,
    pub version: i64,
    pub cause: String,
    /// When that change was recorded, as `to_json` writes a timestamptz (empty if none).
    pub changed_at: String,
    /// What may be preordered of the SKU, on a channel that takes preorders (else absent).
    pub preorderable: Option<i64>,
    /// The backend that sent it: the relay's pid in relay mode, the buyer's in direct mode.
    pub sender_pid: i32,
}

impl AtpChange {
    /// Parses a notification payload; None when it is not one of ours.
    pub fn parse(payload: &str, sender_pid: i32) -> Option<AtpChange> {
        let v: serde_json::Value = serde_json::from_str(payload).ok()?;
        Some(AtpChange {
            sku: v.get("sku")?.as_str()?.to_owned(),
            channel: v.get("channel")?.as_str()?.to_owned(),
            atp: v.get("atp")?.as_i64()?,
            previous_atp: v.get("previous_atp")?.as_i64()?,
            version: v.get("version")?.as_i64()?,
            cause: v
                .get("cause")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_owned(),
            changed_at: v
                .get("changed_at")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_owned(),
            preorderable: v.get("preorderable").and_then(|p| p.as_i64()),
            sender_pid,
        })
    }
}

/// What a storefront holds: ATP and version per (sku, channel).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AtpView {
    pub atp: HashMap<(String, String), (i64, i64)>,
}

impl AtpView {
    /// Replaces everything with a snapshot's rows (sku, channel, atp, version).
    pub fn reset(&mut self, rows: impl IntoIterator<Item = (String, String, i64, i64)>) {
        self.atp = rows
            .into_iter()
            .map(|(s, c, a, v)| ((s, c), (a, v)))
            .collect();
    }

    /// Applies a change if it is newer than what is held; returns whether it was.
    pub fn apply(&mut self, change: &AtpChange) -> bool {
        let key = (change.sku.clone(), change.channel.clone());
        match self.atp.get(&key) {
            Some(&(_, held)) if held >= change.version => false,
            _ => {
                self.atp.insert(key, (change.atp, change.version));
                true
            }
        }
    }

    /// ATP only, for comparing with a snapshot.
    pub fn values(&self) -> HashMap<(String, String), i64> {
        self.atp.iter().map(|(k, &(a, _))| (k.clone(), a)).collect()
    }
}

/// A connection that listens: the client, and the notifications (or the error that ended the
/// connection) as they arrive.
pub struct Listener {
    pub client: Client,
    pub messages: mpsc::UnboundedReceiver<Result<AtpChange, String>>,
}

/// Connects, LISTENs on `listen_channel`, and forwards notifications as they arrive.
pub async fn listen(dsn: &str, listen_channel: &str) -> Result<Listener, tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(dsn, NoTls).await?;
    let (tx, messages) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some(change) = AtpChange::parse(n.payload(), n.process_id()) {
                        let _ = tx.send(Ok(change));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
                None => {
                    let _ = tx.send(Err("connection closed".to_owned()));
                    return;
                }
            }
        }
    });
    // A channel name is an identifier; quote it as one.
    let quoted = format!("\"{}\"", listen_channel.replace('"', "\"\""));
    client.batch_execute(&format!("LISTEN {quoted}")).await?;
    Ok(Listener { client, messages })
}

/// Reads the snapshot of one channel (None: every channel).
pub async fn snapshot(
    client: &Client,
    channel: Option<&str>,
) -> Result<Vec<(String, String, i64, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT sku, channel, atp, version FROM inventory_truth.atp_snapshot($1)",
            &[&channel],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// What `follow` reports to its caller.
pub enum Event<'a> {
    /// A (re)connection read a snapshot: the view was replaced.
    Resynced { view: &'a AtpView, reconnects: u32 },
    /// A notification changed the view.
    Changed {
        view: &'a AtpView,
        change: &'a AtpChange,
    },
    /// The connection dropped; `follow` reconnects after `retry_in`.
    Disconnected { error: String, retry_in: Duration },
}

/// Follows one channel's (None: every channel's) ATP forever with the resync protocol,
/// reconnecting with backoff. `on_event` returns false to stop.
pub async fn follow(
    dsn: &str,
    channel: Option<&str>,
    listen_channel: &str,
    on_event: impl FnMut(Event<'_>) -> bool,
) {
    follow_from(dsn, None, channel, listen_channel, on_event).await
}

/// A hot standby to read snapshots from, and how long to wait for it to catch up.
pub struct Replica<'a> {
    pub dsn: &'a str,
    pub patience: Duration,
}

/// Follows like [`follow`], listening on the primary (`primary_dsn`) but reading every snapshot
/// from a hot standby: after LISTEN, the primary's WAL position is noted, and the snapshot is
/// read from the replica once it has replayed that far (`inventory_truth.wait_for_replay`), so
/// it holds everything committed before the LISTEN, and what commits after reaches the
/// listener. The replica's connection is kept between resyncs and replaced when it died; a
/// replica that does not catch up within its patience counts as a dropped connection.
pub async fn follow_replica(
    primary_dsn: &str,
    replica: Replica<'_>,
    channel: Option<&str>,
    listen_channel: &str,
    on_event: impl FnMut(Event<'_>) -> bool,
) {
    follow_from(
        primary_dsn,
        Some(replica),
        channel,
        listen_channel,
        on_event,
    )
    .await
}

/// LISTENs on the primary, then reads the snapshot: from the primary, or from the replica once
/// it has replayed what the primary had written when the LISTEN took effect.
async fn resync(
    dsn: &str,
    replica: Option<(&Replica<'_>, &mut Option<Client>)>,
    channel: Option<&str>,
    listen_channel: &str,
) -> Result<(Listener, Vec<(String, String, i64, i64)>), String> {
    let listener = listen(dsn, listen_channel)
        .await
        .map_err(|e| e.to_string())?;
    let Some((replica, connection)) = replica else {
        let rows = snapshot(&listener.client, channel)
            .await
            .map_err(|e| e.to_string())?;
        return Ok((listener, rows));
    };
    let lsn: String = listener
        .client
        .query_one("SELECT pg_catalog.pg_current_wal_lsn()::text", &[])
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    let patience = format!("{} milliseconds", replica.patience.as_millis());
    for attempt in 0..2 {
        if connection.as_ref().is_none_or(|c| c.is_closed()) {
            *connection = Some(
                crate::connect(replica.dsn)
                    .await
                    .map_err(|e| format!("replica: {e}"))?,
            );
        }
        let Some(client) = connection.as_ref() else {
            continue;
        };
        let caught_up = client
            .query_one(
                "SELECT inventory_truth.wait_for_replay($1::text::pg_lsn, $2::text::interval)",
                &[&lsn, &patience],
            )
            .await;
        match caught_up {
            Ok(row) if row.get::<_, bool>(0) => {
                return match snapshot(client, channel).await {
                    Ok(rows) => Ok((listener, rows)),
                    Err(e) => {
                        *connection = None;
                        Err(format!("replica: {e}"))
                    }
                };
            }
            Ok(_) => {
                return Err(format!(
                    "the replica did not replay up to {lsn} within {patience}"
                ))
            }
            // A connection that died since the last resync: once more with a new one.
            Err(e) if attempt == 0 => {
                let _ = e;
                *connection = None;
            }
            Err(e) => {
                *connection = None;
                return Err(format!("replica: {e}"));
            }
        }
    }
    Err("replica: no connection".to_owned())
}

async fn follow_from(
    dsn: &str,
    replica: Option<Replica<'_>>,
    channel: Option<&str>,
    listen_channel: &str,
    mut on_event: impl FnMut(Event<'_>) -> bool,
) {
    let mut view = AtpView::default();
    let mut reconnects = 0u32;
    let mut backoff = Duration::from_millis(100);
    let mut replica_connection: Option<Client> = None;
    loop {
        let source = replica.as_ref().map(|r| (r, &mut replica_connection));
        let error = match resync(dsn, source, channel, listen_channel).await {
            Ok((mut listener, rows)) => {
                view.reset(rows);
                backoff = Duration::from_millis(100);
                if !on_event(Event::Resynced {
                    view: &view,
                    reconnects,
                }) {
                    return;
                }
                loop {
                    match listener.messages.recv().await {
                        Some(Ok(change)) => {
                            if channel.is_some_and(|c| c != change.channel) {
                                continue;
                            }
                            if view.apply(&change)
                                && !on_event(Event::Changed {
                                    view: &view,
                                    change: &change,
                                })
                            {
                                return;
                            }
                        }
                        Some(Err(e)) => break e,
                        None => break "listener ended".to_owned(),
                    }
                }
            }
            Err(e) => e,
        };
        if !on_event(Event::Disconnected {
            error,
            retry_in: backoff,
        }) {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
        reconnects += 1;
    }
}

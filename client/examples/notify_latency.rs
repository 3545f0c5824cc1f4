//! Commit-to-receipt latency of ATP notifications, measured by a real listener while a
//! benchmark loads the server (bench/suite.sh runs it).
//!
//!   notify_latency "<connection string>" <seconds> <probe SKU prefix>
//!
//! A probe session reserves one unit of a probe SKU every 20 ms (cycling over 50 probe SKUs),
//! reads the SKU's version in the same transaction, and notes when its COMMIT returned. A
//! listener notes when the first notification of that SKU with that version or a later one
//! arrives. A third session samples the relay's backlog every 100 ms (`notify_status()`:
//! changes taken but not yet published, and how far behind the shared log it is). Prints
//! `probes p50_ms p95_ms p99_ms max_ms missing pending_max pending_first pending_second
//! behind_max` on one line: `missing` counts probes whose notification never came (with
//! notifications off, all of them); `pending_first` and `pending_second` are the mean backlog
//! over the first and the second half of the run (a relay that keeps up ends where it began).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use inventory_truth_client::connect;
use inventory_truth_client::storefront::listen;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dsn, seconds, prefix] = &args[..] else {
        eprintln!("usage: notify_latency \"<connection string>\" <seconds> <probe SKU prefix>");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse().expect("seconds");
    let mut listener = listen(dsn, "inventory_truth").await.expect("listen");
    let probe = connect(dsn).await.expect("probe connects");
    let sampler = connect(dsn).await.expect("sampler connects");
    let start = Instant::now();
    let sampling = tokio::spawn(async move {
        let mut samples: Vec<(Duration, i64, i64)> = Vec::new();
        while start.elapsed() < Duration::from_secs(seconds) {
            let row = sampler
                .query_one(
                    "SELECT coalesce(relay_pending, 0), coalesce(relay_behind, 0)
                       FROM inventory_truth.notify_status()",
                    &[],
                )
                .await
                .expect("notify_status");
            samples.push((start.elapsed(), row.get(0), row.get(1)));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        samples
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, i64, Instant)>();
    let prefix = prefix.clone();
    // A reference reused from an earlier run would be an idempotent retry that changes nothing.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let prober = tokio::spawn(async move {
        let mut i = 0u64;
        while start.elapsed() < Duration::from_secs(seconds) {
            let sku = format!("{prefix}{}", i % 50);
            let reference = format!("probe-{run}-{i}");
            probe.batch_execute("BEGIN").await.expect("begin");
            probe
                .execute(
                    "SELECT inventory_truth.reserve('web', $1, 1, $2)",
                    &[&sku, &reference],
                )
                .await
                .expect("probe reservation");
            let version: i64 = probe
                .query_one(
                    "SELECT version FROM inventory_truth.sku WHERE code = $1",
                    &[&sku],
                )
                .await
                .expect("version")
                .get(0);
            probe.batch_execute("COMMIT").await.expect("commit");
            let _ = tx.send((sku, version, Instant::now()));
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // Probes waiting for their notification, and the newest version seen per SKU.
    let mut waiting: Vec<(String, i64, Instant)> = Vec::new();
    let mut seen: HashMap<String, (i64, Instant)> = HashMap::new();
    let mut latencies: Vec<f64> = Vec::new();
    let deadline = start + Duration::from_secs(seconds) + Duration::from_secs(2);
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::select! {
            Some(p) = rx.recv() => waiting.push(p),
            m = listener.messages.recv() => match m {
                Some(Ok(change)) => {
                    if change.channel == "web" && change.sku.starts_with(args[2].as_str()) {
                        let e = seen.entry(change.sku.clone()).or_insert((change.version, Instant::now()));
                        if change.version > e.0 { *e = (change.version, Instant::now()); }
                    }
                }
                _ => break,
            },
            _ = tokio::time::sleep(deadline - now) => break,
        }
        waiting.retain(|(sku, version, committed)| match seen.get(sku) {
            Some(&(v, at)) if v >= *version => {
                latencies.push(at.saturating_duration_since(*committed).as_secs_f64() * 1000.0);
                false
            }
            _ => true,
        });
    }
    prober.abort();
    let samples = sampling.await.unwrap_or_default();
    let half = Duration::from_secs(seconds) / 2;
    let mean = |first: bool| {
        let chosen: Vec<i64> = samples
            .iter()
            .filter(|(at, _, _)| (*at < half) == first)
            .map(|s| s.1)
            .collect();
        chosen.iter().sum::<i64>() as f64 / chosen.len().max(1) as f64
    };
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if latencies.is_empty() {
            f64::NAN
        } else {
            latencies[((latencies.len() - 1) as f64 * p).round() as usize]
        }
    };
    println!(
        "{} {:.2} {:.2} {:.2} {:.2} {} {} {:.1} {:.1} {}",
        latencies.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        waiting.len(),
        samples.iter().map(|s| s.1).max().unwrap_or(0),
        mean(true),
        mean(false),
        samples.iter().map(|s| s.2).max().unwrap_or(0),
    );
}

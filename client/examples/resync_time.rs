//! How long a storefront takes to resync: connect, LISTEN, read `atp_snapshot()` and build its
//! view, as `follow()` does after every (re)connection, timed end to end, `rounds` times.
//!
//!   cargo run --release -p inventory_truth_client --example resync_time -- "<connection string>" [channel|all] [rounds]
//!
//! Prints each round's time and the median (BENCHMARKS.md, issue 19: 100,000 SKUs in at most
//! 1 s).

use std::time::{Duration, Instant};

use inventory_truth_client::storefront::{follow, Event};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dsn) = args.next() else {
        eprintln!("usage: resync_time \"<connection string>\" [channel|all] [rounds]");
        std::process::exit(2);
    };
    let channel = args.next().filter(|c| c != "all");
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut times: Vec<Duration> = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let start = Instant::now();
        let mut rows = 0;
        let mut failed = None;
        follow(
            &dsn,
            channel.as_deref(),
            "inventory_truth",
            |event| match event {
                Event::Resynced { view, .. } => {
                    rows = view.atp.len();
                    false
                }
                Event::Disconnected { error, .. } => {
                    failed = Some(error);
                    false
                }
                Event::Changed { .. } => true,
            },
        )
        .await;
        if let Some(error) = failed {
            eprintln!("round {round}: {error}");
            std::process::exit(1);
        }
        let took = start.elapsed();
        println!(
            "round {round}: {rows} rows in {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        times.push(took);
    }
    times.sort();
    println!(
        "median {:.0} ms over {rounds} rounds",
        times[times.len() / 2].as_secs_f64() * 1000.0
    );
}

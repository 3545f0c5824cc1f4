//! A storefront backend's view of live stock: follows ATP per channel with LISTEN/NOTIFY and
//! the resync protocol, reconnecting when the connection drops, and prints every change.
//!
//!   cargo run -p inventory_truth_client --example storefront -- "<libpq connection string>" [channel]
//!
//! With `make demo` running: `cargo run -p inventory_truth_client --example storefront -- "$(scripts/cluster.sh dsn demo) dbname=inventory_truth_demo" web`

use inventory_truth_client::storefront::{follow, Event};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dsn) = args.next() else {
        eprintln!("usage: storefront \"<connection string>\" [channel]");
        std::process::exit(2);
    };
    let channel = args.next();
    follow(&dsn, channel.as_deref(), "inventory_truth", |event| {
        match event {
            Event::Resynced { view, reconnects } => {
                println!(
                    "-- snapshot ({} rows, reconnects so far: {reconnects})",
                    view.atp.len()
                );
                let mut rows: Vec<_> = view.atp.iter().collect();
                rows.sort();
                for ((sku, channel), (atp, version)) in rows {
                    println!("{sku:<20} {channel:<12} atp {atp:>6}   v{version}");
                }
            }
            Event::Changed { change, .. } => println!(
                "{:<20} {:<12} atp {:>6}   v{}  (was {}; {})",
                change.sku,
                change.channel,
                change.atp,
                change.version,
                change.previous_atp,
                change.cause
            ),
            Event::Disconnected { error, retry_in } => {
                eprintln!("-- connection lost ({error}); reconnecting in {retry_in:?}")
            }
        }
        true
    })
    .await;
}

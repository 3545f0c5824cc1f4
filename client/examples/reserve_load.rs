//! A load of buyers, for the benchmark suite (bench/suite.sh): `clients` connections each
//! reserve one unit at a time, back to back, for `seconds`, and the run reports how many
//! reservations succeeded (not attempts) and their latency.
//!
//!   reserve_load "<connection string>" <variant> <clients> <seconds> <workload> <run tag>
//!
//! Variants, one statement per reservation (autocommit, one round trip each):
//!   b0    UPDATE bench_stock SET available = available - 1 WHERE sku = $1 AND available >= 1
//!   b1    b0 and, when it took a unit, an INSERT of a hold row (one statement, a CTE)
//!   b1n   b1 and pg_notify() in the same statement
//!   ext   SELECT inventory_truth.reserve('web', $1, 1, $2) (the notification mode comes from
//!         the connection string's options)
//! A reservation succeeds when a unit was taken; refused when the stock or ATP was short (the
//! UPDATE took nothing; reserve raised IT001); anything else is an error, counted and printed.
//!
//! Workloads: `uniform:N` (SKUs S1..SN, uniform), `skewed:N` (80% of reservations on the first
//! fifth of S1..SN), `one:SKU` (every reservation on SKU: a hot SKU, or a sell-out).
//!
//! `IT_LOAD_RATE=R` in the environment paces the load at R attempts per second in all (each client
//! sends on its own fixed schedule, clients/R apart, phases spread; a client behind its schedule
//! sends at once): an open load that leaves the CPU idle between arrivals, where the default is a
//! closed loop that keeps it busy. Latency is measured from the send, as without it.
//!
//! Prints one line: `attempts succeeded refused errors p50_us p95_us p99_us seconds
//! last_success_seconds refused_early` (when the last reservation that succeeded returned: a
//! sell-out's end; refusals that returned before the last successful reservation was even sent,
//! so while the stock it got was still there: a sell-out must have none).

use std::time::{Duration, Instant};

use inventory_truth_client::{connect, sqlstate, Lcg};

enum Workload {
    Uniform(u64),
    Skewed(u64),
    One(String),
}

impl Workload {
    fn parse(text: &str) -> Option<Workload> {
        let (kind, arg) = text.split_once(':')?;
        match kind {
            "uniform" => Some(Workload::Uniform(arg.parse().ok().filter(|n| *n > 0)?)),
            "skewed" => Some(Workload::Skewed(arg.parse().ok().filter(|n| *n >= 5)?)),
            "one" if !arg.is_empty() => Some(Workload::One(arg.to_owned())),
            _ => None,
        }
    }

    fn sku(&self, rng: &mut Lcg) -> String {
        match self {
            Workload::Uniform(n) => format!("S{}", 1 + rng.next(*n)),
            Workload::Skewed(n) => {
                let hot = n / 5;
                if rng.next(100) < 80 {
                    format!("S{}", 1 + rng.next(hot))
                } else {
                    format!("S{}", 1 + hot + rng.next(n - hot))
                }
            }
            Workload::One(sku) => sku.clone(),
        }
    }
}

fn statement(variant: &str) -> Option<&'static str> {
    Some(match variant {
        "b0" => "UPDATE bench_stock SET available = available - 1 WHERE sku = $1 AND available >= 1 AND $2::text IS NOT NULL",
        "b1" => "WITH taken AS (UPDATE bench_stock SET available = available - 1
                                 WHERE sku = $1 AND available >= 1 RETURNING sku)
                 INSERT INTO bench_hold (sku, ref, qty) SELECT taken.sku, $2, 1 FROM taken",
        "b1n" => "WITH taken AS (UPDATE bench_stock SET available = available - 1
                                  WHERE sku = $1 AND available >= 1 RETURNING sku)
                  INSERT INTO bench_hold (sku, ref, qty)
                  SELECT taken.sku, $2, 1 FROM taken CROSS JOIN LATERAL pg_notify('bench', taken.sku) AS sent",
        "ext" => "SELECT inventory_truth.reserve('web', $1, 1, $2)",
        _ => return None,
    })
}

#[derive(Default)]
struct Tally {
    attempts: u64,
    succeeded: u64,
    refused: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
    last_success: Duration,
    /// When the last successful reservation was sent.
    last_success_sent: Duration,
    /// When each refusal returned.
    refusals_at: Vec<Duration>,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: reserve_load \"<connection string>\" <b0|b1|b1n|ext> <clients> <seconds> <uniform:N|skewed:N|one:SKU> <run tag>";
    let [dsn, variant, clients, seconds, workload, tag] = &args[..] else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (Some(sql), Ok(clients), Ok(seconds), Some(_)) = (
        statement(variant),
        clients.parse::<u64>(),
        seconds.parse::<f64>(),
        Workload::parse(workload),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };

    let pace = match std::env::var("IT_LOAD_RATE") {
        Ok(rate) => match rate.parse::<f64>() {
            Ok(rate) if rate > 0.0 => Some(Duration::from_secs_f64(clients as f64 / rate)),
            _ => {
                eprintln!("IT_LOAD_RATE must be a positive number of attempts per second");
                std::process::exit(2);
            }
        },
        Err(_) => None,
    };

    // Every client connects and prepares first; the clock starts when all are ready.
    let mut sessions = Vec::new();
    for _ in 0..clients {
        let db = connect(dsn).await.expect("a client connects");
        let prepared = db.prepare(sql).await.expect("the statement prepares");
        sessions.push((db, prepared));
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for (client, (db, prepared)) in sessions.into_iter().enumerate() {
        let workload = Workload::parse(workload).expect("checked above");
        let tag = tag.clone();
        let returns_rows = variant == "ext";
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(0x9E37_79B9_7F4A_7C15 ^ (client as u64 + 1));
            let mut tally = Tally::default();
            let mut i = 0u64;
            // The first send of each client falls at its own fraction of the interval.
            let mut due = pace.map(|p| start + p.mul_f64(client as f64 / clients as f64));
            while Instant::now() < deadline {
                if let (Some(at), Some(p)) = (due, pace) {
                    tokio::time::sleep_until(at.into()).await;
                    due = Some(at + p);
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                let sku = workload.sku(&mut rng);
                let reference = format!("{tag}-{client}-{i}");
                i += 1;
                let began = Instant::now();
                let outcome = if returns_rows {
                    db.query(&prepared, &[&sku, &reference])
                        .await
                        .map(|rows| rows.len() as u64)
                } else {
                    db.execute(&prepared, &[&sku, &reference]).await
                };
                let took = began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                tally.attempts += 1;
                tally.latencies_us.push(took);
                match outcome {
                    Ok(0) => {
                        tally.refused += 1;
                        tally.refusals_at.push(start.elapsed());
                    }
                    Ok(_) => {
                        tally.succeeded += 1;
                        tally.last_success = start.elapsed();
                        tally.last_success_sent = began - start;
                    }
                    Err(e) if sqlstate(&e).as_deref() == Some("IT001") => {
                        tally.refused += 1;
                        tally.refusals_at.push(start.elapsed());
                    }
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| format!("{e:?}"));
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.expect("a client task ends");
        all.attempts += t.attempts;
        all.succeeded += t.succeeded;
        all.refused += t.refused;
        all.errors += t.errors;
        all.latencies_us.extend(t.latencies_us);
        all.last_success = all.last_success.max(t.last_success);
        all.last_success_sent = all.last_success_sent.max(t.last_success_sent);
        all.refusals_at.extend(t.refusals_at);
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| -> u32 {
        if all.latencies_us.is_empty() {
            return 0;
        }
        // Nearest rank.
        let rank = ((p * all.latencies_us.len() as f64).ceil() as usize).max(1);
        all.latencies_us[rank.min(all.latencies_us.len()) - 1]
    };
    if let Some(e) = &all.first_error {
        eprintln!("reserve_load: first error: {e}");
    }
    let refused_early = all
        .refusals_at
        .iter()
        .filter(|at| **at < all.last_success_sent)
        .count();
    println!(
        "{} {} {} {} {} {} {} {:.3} {:.3} {}",
        all.attempts,
        all.succeeded,
        all.refused,
        all.errors,
        pct(0.50),
        pct(0.95),
        pct(0.99),
        elapsed,
        all.last_success.as_secs_f64(),
        refused_early
    );
}

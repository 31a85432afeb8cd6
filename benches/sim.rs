//! `make sim`: the detector and the state machine over simulated years of probe traffic (see
//! src/testbed/sim.rs). Prints the figures and writes benches/SIM.md.
//!
//! `cargo bench --bench sim -- [--days N] [--per-row N] [--seed N] [--out PATH]`

use std::time::Instant;

use standby_core::config::Health;
use standby_testbed::sim::{self, Scale};

fn main() {
    let mut scale = Scale {
        healthy_days: 10_000,
        per_row: 200,
        seed: 0x5eed_2026,
    };
    let mut out = Some(std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/SIM.md"
    )));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what} takes a whole number"))
        };
        match a.as_str() {
            "--days" => scale.healthy_days = num("--days") as u32,
            "--per-row" => scale.per_row = num("--per-row") as u32,
            "--seed" => scale.seed = num("--seed"),
            "--out" => out = args.next().map(Into::into),
            "--no-write" => out = None,
            // cargo bench passes --bench; anything else is a mistake worth stopping for.
            "--bench" => {}
            other => {
                eprintln!("unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    let policy = Health::default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let fig = sim::run(&policy, scale, workers);
    let md = sim::markdown(&fig, &policy, scale, started.elapsed());
    println!("{md}");
    if let Some(path) = out {
        std::fs::write(&path, &md).expect("writing SIM.md");
        println!("written to {}", path.display());
    }
}

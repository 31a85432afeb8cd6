//! The fast version of `make sim`: a few hundred simulated days of healthy traffic with noise and
//! every failure family, through the pure detector and state machine, held to the targets.

use std::time::{Duration, Instant};

use standby_core::config::Health;
use standby_testbed::sim::{self, Scale};

#[test]
fn simulated_traffic_meets_the_detection_targets() {
    let policy = Health::default();
    let scale = Scale {
        healthy_days: 200,
        per_row: 20,
        seed: 0x51_u64,
    };
    let started = Instant::now();
    let fig = sim::run(&policy, scale, 2);
    let md = sim::markdown(&fig, &policy, scale, started.elapsed());
    println!("{md}");
    assert!(fig.healthy_days >= 199.0, "{}", fig.healthy_days);
    assert_eq!(fig.tally.false_failovers, 0, "false failovers\n{md}");
    assert_eq!(fig.tally.relapses, 0, "relapses after recovery\n{md}");
    for r in &fig.rows {
        match r.family {
            "hard outage" | "slow drift" => {
                assert_eq!(
                    r.detected, r.episodes,
                    "{} {} missed\n{md}",
                    r.family, r.label
                );
                if r.bound.is_finite() {
                    assert_eq!(
                        r.within_bound, r.episodes,
                        "{} {} over its bound\n{md}",
                        r.family, r.label
                    );
                }
                assert!(r.max_failovers <= 1, "{} {}\n{md}", r.family, r.label);
            }
            "brownout" if r.sick && r.bound.is_finite() => {
                assert_eq!(
                    r.within_bound, r.episodes,
                    "brownout {} late or missed\n{md}",
                    r.label
                );
            }
            "brownout" | "recovery with blips" if !r.sick => {
                assert_eq!(r.detected, 0, "{} {} went down\n{md}", r.family, r.label);
            }
            "flapping" => {
                assert!(
                    r.max_failovers <= 1,
                    "flapping {}: {} failovers in one episode\n{md}",
                    r.label,
                    r.max_failovers
                );
            }
            _ => {}
        }
    }
    assert!(started.elapsed() < Duration::from_secs(600));
}

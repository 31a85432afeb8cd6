//! Transient loss must not fail over: 10,000 probes against a primary that drops 1% of requests
//! at random, through the real prober (with its in-round retry) and the real detector.

mod common;

use standby::prober::Prober;
use standby_core::config::Health;
use standby_core::detector::{Detector, Health as Verdict};
use standby_core::outcome::OutcomeClass;
use standby_testbed::endpoint::{Behavior, Endpoint};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_percent_random_failures_over_10000_probes_never_fail_over() {
    let primary = Endpoint::start(
        Behavior::Flaky {
            fail_ratio: 0.01,
            seed: 0x5eed_cafe,
        },
        None,
    )
    .await
    .unwrap();
    let policy = Health {
        timeout: Duration::from_secs(2),
        slow: Duration::from_secs(1),
        ..Health::default()
    };
    let prober = Prober::new(&policy);
    let mut detector = Detector::new(policy);
    let (mut rounds, mut retried, mut failed_rounds) = (0u32, 0u32, 0u32);
    // Probe times are synthetic (2s apart, as in production) so the error-rate window behaves as
    // it would over ~5.5 hours of real probing; the requests themselves are real.
    let start = chrono::Utc::now();
    while primary.requests() < 10_000 {
        let mut r = prober.round(&primary.url()).await;
        r.at = start + chrono::Duration::seconds(2 * i64::from(rounds));
        rounds += 1;
        if r.attempts >= 2 {
            retried += 1;
        }
        if r.outcome != OutcomeClass::Ok {
            failed_rounds += 1;
        }
        let v = detector.observe(&r);
        assert_ne!(
            v.health,
            Verdict::Down,
            "false failover after {rounds} rounds: {}",
            v.reason
        );
    }
    println!(
        "{} requests, {rounds} rounds, {retried} retried in-round, {failed_rounds} rounds failed",
        primary.requests()
    );
    // About 1% of rounds needed the retry; the retry absorbed nearly all of them.
    assert!(
        (50..=200).contains(&retried),
        "retried {retried} of {rounds}"
    );
    assert!(
        failed_rounds <= 5,
        "{failed_rounds} rounds failed even after the retry"
    );
}

//! The detector: probe rounds in, a verdict on the primary out, each with the reason behind it.
//!
//! Three layers, as the field learned them: the prober retries a failed attempt at once within its
//! round (transient loss); the detector declares `down` only after `failure_threshold` failing
//! rounds in a row or a sustained error rate over the window (confirmed failure); the state machine
//! applies cooldowns (prolonged failure). Recovery needs `recover_after` good rounds in a row, so a
//! flapping primary does not bounce the verdict.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::outcome::{OutcomeClass, ProbeResult};
use crate::config::Health as Policy;
use crate::duration::human;

/// How many recent rounds a verdict carries as evidence for the report.
const EVIDENCE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Unknown,
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub health: Health,
    pub changed: bool,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// First failing round of the streak (or degraded period) behind a `down`: the RTO clock start.
    pub streak_start: Option<DateTime<Utc>>,
    pub evidence: Vec<ProbeResult>,
}

#[derive(Debug, Clone)]
pub struct Detector {
    policy: Policy,
    health: Health,
    consecutive_failures: u32,
    consecutive_successes: u32,
    streak_start: Option<DateTime<Utc>>,
    window: VecDeque<(DateTime<Utc>, bool)>,
    degraded_since: Option<DateTime<Utc>>,
    down_since: Option<DateTime<Utc>>,
    evidence: VecDeque<ProbeResult>,
}

impl Detector {
    pub fn new(policy: Policy) -> Self {
        Detector {
            policy,
            health: Health::Unknown,
            consecutive_failures: 0,
            consecutive_successes: 0,
            streak_start: None,
            window: VecDeque::new(),
            degraded_since: None,
            down_since: None,
            evidence: VecDeque::new(),
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Feeds one probe round; `r.at` is the time it started, which is the only clock used.
    pub fn observe(&mut self, r: &ProbeResult) -> Verdict {
        let now = r.at;
        if self.evidence.len() == EVIDENCE {
            self.evidence.pop_front();
        }
        self.evidence.push_back(r.clone());

        if r.outcome == OutcomeClass::ProbeError {
            let reason = format!(
                "probe_error ({}): the probe itself is misconfigured; round not counted, verdict stays {:?}",
                r.detail, self.health
            );
            return self.verdict(now, false, reason, None);
        }

        let failed = self.policy.fail_on.contains(&r.outcome);
        let cutoff =
            now - chrono::Duration::from_std(self.policy.window).unwrap_or(chrono::Duration::MAX);
        while self.window.front().is_some_and(|(t, _)| *t < cutoff) {
            self.window.pop_front();
        }
        self.window.push_back((now, failed));
        if failed {
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            self.streak_start.get_or_insert(now);
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
            self.streak_start = None;
        }
        let total = self.window.len() as u32;
        let failures = self.window.iter().filter(|(_, f)| *f).count() as u32;
        let rate = f64::from(failures) / f64::from(total.max(1));
        let rate_high = total >= self.policy.min_samples && rate > self.policy.error_rate;
        if rate_high {
            self.degraded_since.get_or_insert(now);
        } else {
            self.degraded_since = None;
        }

        let last = format!("{} ({})", r.outcome.as_str(), r.detail);
        match self.health {
            Health::Unknown | Health::Up => {
                if self.consecutive_failures >= self.policy.failure_threshold {
                    let start = self.streak_start.unwrap_or(now);
                    let reason = format!(
                        "down: {} consecutive failing rounds (threshold {}) since {}; last {last}",
                        self.consecutive_failures,
                        self.policy.failure_threshold,
                        start.format("%H:%M:%S%.3f")
                    );
                    self.down_since = Some(now);
                    self.health = Health::Down;
                    return self.verdict(now, true, reason, Some(start));
                }
                if let Some(since) = self.degraded_since {
                    let held = crate::duration::between(since, now);
                    if held >= self.policy.degraded_for {
                        let reason = format!(
                            "down: error rate {:.1}% ({failures}/{total} rounds over {}) above {:.1}% for {}",
                            rate * 100.0,
                            human(self.policy.window),
                            self.policy.error_rate * 100.0,
                            human(held)
                        );
                        self.down_since = Some(now);
                        self.health = Health::Down;
                        return self.verdict(now, true, reason, Some(since));
                    }
                }
                if failed {
                    let reason = format!(
                        "failing round {}/{}: {last}",
                        self.consecutive_failures, self.policy.failure_threshold
                    );
                    return self.verdict(now, false, reason, None);
                }
                let changed = self.health == Health::Unknown;
                self.health = Health::Up;
                let reason = if rate_high {
                    format!(
                        "up, but degraded: error rate {:.1}% ({failures}/{total}) over {}",
                        rate * 100.0,
                        human(self.policy.window)
                    )
                } else {
                    format!("up: {last}")
                };
                self.verdict(now, changed, reason, None)
            }
            Health::Down => {
                if self.consecutive_successes >= self.policy.recover_after {
                    let down_for = self
                        .down_since
                        .map(|d| human(crate::duration::between(d, now)))
                        .unwrap_or_default();
                    let reason = format!(
                        "up: {} consecutive good rounds (recover_after {}) after being down for {down_for}",
                        self.consecutive_successes, self.policy.recover_after
                    );
                    self.health = Health::Up;
                    self.down_since = None;
                    return self.verdict(now, true, reason, None);
                }
                let reason = if failed {
                    format!("still down: {last}")
                } else {
                    format!(
                        "recovering: good round {}/{}",
                        self.consecutive_successes, self.policy.recover_after
                    )
                };
                self.verdict(now, false, reason, None)
            }
        }
    }

    fn verdict(
        &self,
        at: DateTime<Utc>,
        changed: bool,
        reason: String,
        streak_start: Option<DateTime<Utc>>,
    ) -> Verdict {
        Verdict {
            health: self.health,
            changed,
            reason,
            at,
            streak_start,
            evidence: self.evidence.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn round(at: i64, outcome: OutcomeClass) -> ProbeResult {
        ProbeResult {
            at: t(at),
            outcome,
            status: None,
            latency: Duration::from_millis(5),
            attempts: 2,
            detail: "test".into(),
        }
    }

    fn policy() -> Policy {
        Policy {
            min_samples: 10,
            degraded_for: Duration::from_secs(10),
            ..Policy::default()
        }
    }

    #[test]
    fn two_failing_rounds_make_down_with_streak_start() {
        let mut d = Detector::new(policy());
        assert_eq!(
            d.observe(&round(0, OutcomeClass::Ok)).reason,
            "up: ok (test)"
        );
        let v = d.observe(&round(2, OutcomeClass::Unavailable));
        assert_eq!(v.health, Health::Up);
        assert_eq!(v.reason, "failing round 1/2: unavailable (test)");
        let v = d.observe(&round(4, OutcomeClass::Timeout));
        assert_eq!(v.health, Health::Down);
        assert!(v.changed);
        assert_eq!(v.streak_start, Some(t(2)));
        assert!(
            v.reason
                .starts_with("down: 2 consecutive failing rounds (threshold 2)"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_good_round_breaks_the_streak() {
        let mut d = Detector::new(policy());
        d.observe(&round(0, OutcomeClass::Connect));
        d.observe(&round(2, OutcomeClass::Ok));
        let v = d.observe(&round(4, OutcomeClass::Connect));
        assert_eq!(v.health, Health::Up);
        assert_eq!(v.reason, "failing round 1/2: connect (test)");
    }

    #[test]
    fn slow_is_down_and_rate_limited_is_not_by_default() {
        let mut d = Detector::new(policy());
        d.observe(&round(0, OutcomeClass::RateLimited));
        let v = d.observe(&round(2, OutcomeClass::RateLimited));
        assert_eq!(v.health, Health::Up);
        d.observe(&round(4, OutcomeClass::Slow));
        assert_eq!(
            d.observe(&round(6, OutcomeClass::Slow)).health,
            Health::Down
        );
    }

    #[test]
    fn probe_error_is_not_counted() {
        let mut d = Detector::new(policy());
        for i in 0..50 {
            let v = d.observe(&round(i, OutcomeClass::ProbeError));
            assert_ne!(v.health, Health::Down);
            assert!(
                v.reason
                    .starts_with("probe_error (test): the probe itself is misconfigured"),
                "{}",
                v.reason
            );
        }
    }

    #[test]
    fn recovery_needs_consecutive_successes() {
        let mut d = Detector::new(policy());
        d.observe(&round(0, OutcomeClass::Unavailable));
        d.observe(&round(1, OutcomeClass::Unavailable));
        assert_eq!(
            d.observe(&round(2, OutcomeClass::Ok)).reason,
            "recovering: good round 1/3"
        );
        d.observe(&round(3, OutcomeClass::Ok));
        let v = d.observe(&round(4, OutcomeClass::Ok));
        assert_eq!(v.health, Health::Up);
        assert!(v.changed);
        assert_eq!(
            v.reason,
            "up: 3 consecutive good rounds (recover_after 3) after being down for 3.0s"
        );
    }

    #[test]
    fn sustained_error_rate_makes_down_without_a_streak() {
        let mut d = Detector::new(policy());
        let mut last = None;
        // Every third round fails: never two in a row, but a 33% error rate.
        for i in 0..40 {
            let outcome = if i % 3 == 0 {
                OutcomeClass::ServerError
            } else {
                OutcomeClass::Ok
            };
            let v = d.observe(&round(i, outcome));
            if v.health == Health::Down {
                last = Some((i, v));
                break;
            }
        }
        let (i, v) = last.expect("error rate should trigger");
        assert!(v.reason.starts_with("down: error rate"), "{}", v.reason);
        assert!(v.reason.contains("above 5.0% for 1"), "{}", v.reason);
        assert!((19..=22).contains(&i), "triggered at round {i}");
    }
}

#[cfg(test)]
mod properties {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn at(i: usize) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + i as i64 * 2, 0).unwrap()
    }

    fn any_class() -> impl Strategy<Value = OutcomeClass> {
        prop_oneof![
            Just(OutcomeClass::Ok),
            Just(OutcomeClass::Slow),
            Just(OutcomeClass::RateLimited),
            Just(OutcomeClass::Unavailable),
            Just(OutcomeClass::ServerError),
            Just(OutcomeClass::Timeout),
            Just(OutcomeClass::Connect),
            Just(OutcomeClass::ProbeError),
        ]
    }

    fn round(i: usize, outcome: OutcomeClass) -> ProbeResult {
        ProbeResult {
            at: at(i),
            outcome,
            status: None,
            latency: Duration::from_millis(5),
            attempts: 1,
            detail: String::new(),
        }
    }

    proptest! {
        /// A broken probe (only ok and probe_error rounds) never yields a down verdict.
        #[test]
        fn probe_error_never_triggers(seq in proptest::collection::vec(prop_oneof![Just(OutcomeClass::Ok), Just(OutcomeClass::ProbeError)], 1..500)) {
            let mut d = Detector::new(Policy { min_samples: 1, degraded_for: Duration::ZERO, ..Policy::default() });
            for (i, c) in seq.into_iter().enumerate() {
                prop_assert_ne!(d.observe(&round(i, c)).health, Health::Down);
            }
        }

        /// probe_error rounds are invisible: removing them changes no verdict.
        #[test]
        fn probe_error_rounds_change_nothing(seq in proptest::collection::vec(any_class(), 1..300)) {
            let policy = Policy { min_samples: 5, degraded_for: Duration::from_secs(10), ..Policy::default() };
            let mut with = Detector::new(policy.clone());
            let mut without = Detector::new(policy);
            for (i, c) in seq.into_iter().enumerate() {
                let v = with.observe(&round(i, c));
                if c != OutcomeClass::ProbeError {
                    let w = without.observe(&round(i, c));
                    prop_assert_eq!(v.health, w.health);
                    prop_assert_eq!(v.streak_start, w.streak_start);
                }
            }
        }
    }
}

//! What a failover does after a step fails: try again (when, and whether people must hear about
//! it now) or give up and escalate. Pure: the executor passes in the count and the clock.
//!
//! Guarantees (tested below):
//! - a failover that still has attempts left is retried while its reason holds: an operator's
//!   request always, the detector's `down` until the primary is seen healthy again;
//! - the wait grows from `backoff` doubling to `max_backoff`, never longer;
//! - people hear once when `escalate_after` attempts have failed, and again when it gives up;
//!   nothing ends quietly.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of one step, the first included; a step that succeeds leaves the next one its
    /// own attempts.
    pub attempts: u32,
    /// The wait before the second attempt; doubled for each one after.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failed attempts an escalation goes out while retrying goes on.
    pub escalate_after: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            escalate_after: 2,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failed`-th failed attempt (1-based).
    pub fn wait_after(&self, failed: u32) -> Duration {
        2u32.checked_pow(failed.saturating_sub(1))
            .and_then(|factor| self.backoff.checked_mul(factor))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// The longest time all waits can add to one step: part of the RTO people plan for.
    pub fn total_wait(&self) -> Duration {
        (1..self.attempts).map(|n| self.wait_after(n)).sum()
    }
}

/// How the primary looks when an attempt fails, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Primary {
    /// Still down, or not known to be up (no fresh verdict): the reason to fail over holds.
    NotUp,
    /// A fresh `up` verdict: an automatic failover has lost its reason.
    Up { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run the failed step again at `at`; `escalate` once, when the failures reach the policy's
    /// threshold.
    Retry {
        at: DateTime<Utc>,
        attempt: u32,
        escalate: bool,
    },
    /// The primary recovered: stop; nothing to escalate, traffic stays where it is.
    Stop,
    /// No attempts left: end the run failed and escalate.
    GiveUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryDecision {
    pub next: Next,
    pub reason: String,
}

/// After the `failed`-th attempt of a failover's step failed (1-based) at `now`.
pub fn after_failure(
    policy: &RetryPolicy,
    failed: u32,
    automatic: bool,
    primary: &Primary,
    now: DateTime<Utc>,
) -> RetryDecision {
    if let (true, Primary::Up { reason }) = (automatic, primary) {
        return RetryDecision {
            next: Next::Stop,
            reason: format!(
                "attempt {failed} of {} failed and the primary is healthy again ({reason}): not retrying the automatic failover",
                policy.attempts
            ),
        };
    }
    if failed >= policy.attempts {
        return RetryDecision {
            next: Next::GiveUp,
            reason: format!(
                "attempt {failed} of {} failed: GIVING UP and escalating; a person must act (`standby failover` tries again)",
                policy.attempts
            ),
        };
    }
    let wait = policy.wait_after(failed);
    let at = chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now);
    RetryDecision {
        next: Next::Retry {
            at,
            attempt: failed + 1,
            escalate: failed == policy.escalate_after,
        },
        reason: format!(
            "attempt {failed} of {} failed: retrying at the failed step in {} (attempt {} of {})",
            policy.attempts,
            crate::duration::human(wait),
            failed + 1,
            policy.attempts
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn retries_with_doubling_waits_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait_after(1), Duration::from_secs(2));
        assert_eq!(p.wait_after(2), Duration::from_secs(4));
        assert_eq!(p.wait_after(4), Duration::from_secs(16));
        assert_eq!(p.wait_after(5), Duration::from_secs(30));
        assert_eq!(p.wait_after(u32::MAX), Duration::from_secs(30));
        assert_eq!(p.total_wait(), Duration::from_secs(2 + 4 + 8 + 16));
        let d = after_failure(&p, 1, true, &Primary::NotUp, t(0));
        assert_eq!(
            d.next,
            Next::Retry {
                at: t(2),
                attempt: 2,
                escalate: false
            }
        );
        assert!(d.reason.contains("attempt 1 of 5 failed"), "{}", d.reason);
        assert!(
            d.reason.contains("in 2.0s (attempt 2 of 5)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn escalates_once_at_the_threshold_and_again_when_giving_up() {
        let p = RetryPolicy::default();
        let escalations: Vec<bool> = (1..5)
            .map(
                |n| match after_failure(&p, n, true, &Primary::NotUp, t(0)).next {
                    Next::Retry { escalate, .. } => escalate,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(escalations, [false, true, false, false]);
        let d = after_failure(&p, 5, true, &Primary::NotUp, t(0));
        assert_eq!(d.next, Next::GiveUp);
        assert!(d.reason.contains("GIVING UP"), "{}", d.reason);
    }

    #[test]
    fn a_recovered_primary_stops_an_automatic_failover_but_not_a_requested_one() {
        let p = RetryPolicy::default();
        let up = Primary::Up {
            reason: "3 good rounds".into(),
        };
        let d = after_failure(&p, 1, true, &up, t(0));
        assert_eq!(d.next, Next::Stop);
        assert!(
            d.reason.contains("healthy again (3 good rounds)"),
            "{}",
            d.reason
        );
        assert!(matches!(
            after_failure(&p, 1, false, &up, t(0)).next,
            Next::Retry { .. }
        ));
    }

    #[test]
    fn one_attempt_means_no_retry_and_huge_waits_do_not_overflow() {
        let p = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(
            after_failure(&p, 1, false, &Primary::NotUp, t(0)).next,
            Next::GiveUp
        );
        let p = RetryPolicy {
            attempts: 100,
            backoff: crate::duration::MAX,
            max_backoff: crate::duration::MAX,
            escalate_after: 1,
        };
        assert!(matches!(
            after_failure(&p, 99, false, &Primary::NotUp, t(0)).next,
            Next::Retry { .. }
        ));
    }
}

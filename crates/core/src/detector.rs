//! The detector: probe rounds in, a verdict on the primary out, each with the reason behind it.
//!
//! Three layers, as the field learned them: the prober retries a failed attempt at once within its
//! round (transient loss); the detector declares `down` only after `failure_threshold` failing
//! rounds in a row or a sustained *request* error rate over the window (confirmed failure); the
//! state machine applies cooldowns (prolonged failure).
//!
//! Guarantees (unit- and property-tested below, and over simulated years by `make sim`):
//! - **Consecutive rule.** `failure_threshold` failing rounds in a row make `down`. The in-round
//!   retries protect it from independent loss: a round fails only when all its attempts fail.
//! - **Brownout rule.** The error rate counts requests, not rounds: the first request of every
//!   round, failed or not, even when a retry then succeeded (users see every failed request;
//!   retries are left out of the sample because they are sent only after a failure and would
//!   weigh a short blip several times). It triggers only when it is above `error_rate` *with 99.87%
//!   confidence* (the Wilson score lower bound over at least `min_samples` requests) for
//!   `degraded_for` without a break. A point estimate over a few dozen requests would turn a
//!   healthy primary with 2% loss into a brownout several times a day.
//! - **A recovery clears the past.** `up` after `down` needs `recover_after` good rounds in a row
//!   (and, after a brownout, an error rate at or below `error_rate` over the last `degraded_for`);
//!   at that moment the window and the degraded clock are emptied, so failures from before the
//!   recovery can never bring `down` back.
//! - **Flapping is one incident.** `flap_changes` verdict changes within `flap_window` start a
//!   flapping episode: one notice with the count, the later changes are counted, not sent, and the
//!   episode ends (with one notice) after a quiet `flap_window`. Verdicts, and so failovers, are not
//!   held back by it.
//!
//! Caveats: the detector sees only what it is fed. Its clock is `ProbeResult::at`; a paused or
//! dead daemon stops feeding it, which is why persisted verdicts carry `fresh_until`.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::duration::human;
use crate::outcome::{OutcomeClass, ProbeResult};

/// The detector's policy: `[health]` in the config (`config::Health`).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub window: Duration,
    pub error_rate: f64,
    /// Rounds needed in the window before the error rate may trigger.
    pub min_samples: u32,
    /// How long the error rate must stay above `error_rate` before the verdict is down.
    pub degraded_for: Duration,
    pub slow: Duration,
    pub recover_after: u32,
    /// Requests per round at most: the first, and immediate retries while it fails.
    pub attempts: u8,
    /// Outcome classes that count as a failed round.
    pub fail_on: Vec<OutcomeClass>,
    /// A primary whose verdict changed `flap_changes` times within `flap_window` is flapping:
    /// one incident with a count, not a webhook per change.
    pub flap_window: Duration,
    pub flap_changes: u32,
    /// With several instances on a shared store: whose verdicts a failover needs.
    pub vantage: Vantage,
}

/// `health.vantage`: with several instances on a shared store, whose verdicts a failover
/// needs (judged in [`crate::vantage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vantage {
    /// This instance's verdict alone.
    #[default]
    SelfOnly,
    /// At least one other instance must agree (when there is any).
    AnyPeer,
    /// Every other instance must agree.
    AllPeers,
}

impl Vantage {
    pub const NAMES: &'static [&'static str] = &["self", "any_peer", "all_peers"];

    pub fn parse(s: &str) -> Option<Vantage> {
        Some(match s {
            "self" => Vantage::SelfOnly,
            "any_peer" => Vantage::AnyPeer,
            "all_peers" => Vantage::AllPeers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Vantage::SelfOnly => "self",
            Vantage::AnyPeer => "any_peer",
            Vantage::AllPeers => "all_peers",
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            failure_threshold: 2,
            window: Duration::from_secs(300),
            error_rate: 0.05,
            min_samples: 20,
            degraded_for: Duration::from_secs(60),
            slow: Duration::from_secs(3),
            recover_after: 3,
            attempts: 3,
            fail_on: OutcomeClass::DEFAULT_FAILURES.to_vec(),
            flap_window: Duration::from_secs(600),
            flap_changes: 4,
            vantage: Vantage::SelfOnly,
        }
    }
}

impl Policy {
    /// The detection bound for a primary that stops answering: the first failing round starts
    /// within one interval of the onset, the streak's last round `failure_threshold - 1`
    /// intervals later, and that round ends by its deadline. Rounds run concurrently, so a
    /// hanging round never delays the next one.
    pub fn detection_time(&self) -> Duration {
        self.streak_time().saturating_add(self.timeout)
    }

    /// The failing streak alone (failure_threshold × interval): how soon a refused or erroring
    /// primary is judged down from its last good probe.
    pub fn streak_time(&self) -> Duration {
        self.interval.saturating_mul(self.failure_threshold.max(1))
    }

    /// The bound per failure mode, for `validate` and the README: (mode, bound, why).
    pub fn detection_bounds(&self) -> Vec<(&'static str, Duration, String)> {
        let t = self.failure_threshold.max(1);
        let streak = self.streak_time();
        let slow_cut = self.slow.min(self.timeout);
        vec![
            (
                "refused / 503 / 5xx",
                streak.saturating_add(Duration::from_millis(100)),
                format!("{t} × interval, plus the answer's own latency (~ms)"),
            ),
            (
                "hang",
                streak.saturating_add(self.timeout),
                format!("{t} × interval + timeout (one deadline per round, shared by its retry)"),
            ),
            (
                "slow 2xx",
                streak.saturating_add(slow_cut),
                format!(
                    "{t} × interval + min(slow, timeout): a 2xx is cut off as `slow` when it crosses it"
                ),
            ),
            (
                "brownout",
                self.window.saturating_add(self.degraded_for),
                format!(
                    "window + degraded_for, for request error rates clearly above {:.1}% (about {:.0}% and more at {} requests per window)",
                    self.error_rate * 100.0,
                    detectable_rate(self) * 100.0,
                    self.requests_per_window()
                ),
            ),
        ]
    }

    /// Requests one window holds at one attempt per round.
    pub fn requests_per_window(&self) -> u64 {
        (self.window.as_secs_f64() / self.interval.as_secs_f64().max(1e-3)).floor() as u64
    }

    /// Whether a failed attempt of this class is retried at once within its round: only classes
    /// that would fail the round (a 429 means alive and shedding load, and asking again at once
    /// would add to the load).
    pub fn retries(&self, class: OutcomeClass) -> bool {
        class.retryable() && self.fail_on.contains(&class)
    }

    /// How long a persisted verdict stays fresh after the round behind it: a few intervals.
    pub fn stale_after(&self) -> Duration {
        self.interval.saturating_mul(3).saturating_add(self.timeout)
    }
}

/// How many recent rounds a verdict carries as evidence for the report.
const EVIDENCE: usize = 10;

/// The brownout rule's confidence: one-sided 99.87% (three standard errors). With 150 requests
/// in a window and 2% independent loss, a lower z (95%) mistakes noise for a brownout about once
/// in 50 days (measured by `make sim`); at three standard errors it did not in 10,000 days.
pub const CONFIDENCE_Z: f64 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Unknown,
    Up,
    Down,
}

/// Which rule made the primary `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownRule {
    /// `failure_threshold` failing rounds in a row: hard down, hanging or slow.
    Consecutive,
    /// The request error rate stayed above `error_rate` for `degraded_for`: a brownout.
    ErrorRate,
}

/// What a verdict change means for the people being notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Nothing changed.
    Quiet,
    /// A change worth its own notification.
    Send,
    /// This change starts a flapping episode: one notification with the count.
    FlappingBegan { changes: u32 },
    /// A change inside a flapping episode: counted, not sent.
    Suppressed,
}

/// A flapping episode that ended: `changes` verdict changes between `since` and `last_change`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlapEpisode {
    pub since: DateTime<Utc>,
    pub last_change: DateTime<Utc>,
    pub changes: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub health: Health,
    pub changed: bool,
    pub reason: String,
    /// The round behind this verdict (its start).
    pub at: DateTime<Utc>,
    /// Since when the health has been what it is.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// First failing round of the streak (or degraded period) behind a `down`: the RTO clock start.
    pub streak_start: Option<DateTime<Utc>>,
    /// The last good round before that streak: the onset lies between it and `streak_start`.
    #[serde(default)]
    pub last_good: Option<DateTime<Utc>>,
    /// The rule behind a `down`.
    #[serde(default)]
    pub rule: Option<DownRule>,
    /// After this instant nobody vouches for the verdict any more: it is `stale`, read as unknown.
    #[serde(default)]
    pub fresh_until: Option<DateTime<Utc>>,
    /// The primary is flapping (see [`Notice::FlappingBegan`]).
    #[serde(default)]
    pub flapping: Option<FlapEpisode>,
    #[serde(default = "quiet")]
    pub notice: Notice,
    /// A flapping episode that ended with this round.
    #[serde(default)]
    pub flap_ended: Option<FlapEpisode>,
    /// The last rounds, on changes only (the report's trigger evidence).
    pub evidence: Vec<ProbeResult>,
}

fn quiet() -> Notice {
    Notice::Quiet
}

impl Verdict {
    /// A verdict nobody has refreshed since `fresh_until` (the daemon stopped, hung or lost its
    /// store) says nothing about the primary now.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.fresh_until.is_none_or(|f| now > f)
    }

    /// The health as a reader at `now` may use it: a stale verdict is unknown.
    pub fn health_at(&self, now: DateTime<Utc>) -> Health {
        if self.is_stale(now) {
            Health::Unknown
        } else {
            self.health
        }
    }

    /// "down since …", or "stale: down at … (no probe since …)" for people.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        let h = format!("{:?}", self.health).to_lowercase();
        let since = self.since.unwrap_or(self.at);
        if self.is_stale(now) {
            format!(
                "stale (read as unknown): last verdict {h} at {}, {} ago; nothing has probed the primary since (is `standby serve` running?)",
                self.at.to_rfc3339(),
                human(crate::duration::between(self.at, now))
            )
        } else {
            format!("{h} since {}: {}", since.to_rfc3339(), self.reason)
        }
    }
}

/// Wilson score lower bound of a binomial proportion: the error rate we are `z`-confident the
/// primary has at least. Exact enough at the sample sizes a window holds, and 0 for no samples.
pub fn wilson_lower(failures: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = failures as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).max(0.0)
}

/// The smallest true error rate whose full window clears the brownout rule's confidence bound at
/// one request per round: what `validate` and the README call "clearly above".
pub fn detectable_rate(policy: &Policy) -> f64 {
    let n = policy
        .requests_per_window()
        .max(u64::from(policy.min_samples))
        .max(1);
    let mut f = 0;
    while f <= n && wilson_lower(f, n, CONFIDENCE_Z) <= policy.error_rate {
        f += 1;
    }
    f as f64 / n as f64
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: DateTime<Utc>,
    attempts: u8,
    failures: u8,
}

#[derive(Debug, Clone)]
struct Flap {
    changes: VecDeque<DateTime<Utc>>,
    episode: Option<FlapEpisode>,
}

#[derive(Debug, Clone)]
pub struct Detector {
    policy: Policy,
    window_len: chrono::Duration,
    health: Health,
    since: Option<DateTime<Utc>>,
    consecutive_failures: u32,
    consecutive_successes: u32,
    streak_start: Option<DateTime<Utc>>,
    last_good: Option<DateTime<Utc>>,
    window: VecDeque<Sample>,
    attempts: u64,
    failures: u64,
    degraded_since: Option<DateTime<Utc>>,
    down_since: Option<DateTime<Utc>>,
    /// The onset bounds of the current `down` (its streak start and the last good round before
    /// it), carried on every verdict while it lasts: a down decided on a later round (after a
    /// failed state write, a cooldown, a peer that agreed late) still starts the clock there.
    down_onset: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    rule: Option<DownRule>,
    evidence: VecDeque<ProbeResult>,
    flap: Flap,
}

fn chrono_dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `now - d`, saturating: a window of a million years is valid config and must not panic.
fn before(now: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    now.checked_sub_signed(d)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Detector {
    pub fn new(policy: Policy) -> Self {
        Detector {
            window_len: chrono_dur(policy.window),
            policy,
            health: Health::Unknown,
            since: None,
            consecutive_failures: 0,
            consecutive_successes: 0,
            streak_start: None,
            last_good: None,
            window: VecDeque::new(),
            attempts: 0,
            failures: 0,
            degraded_since: None,
            down_since: None,
            down_onset: None,
            rule: None,
            evidence: VecDeque::new(),
            flap: Flap {
                changes: VecDeque::new(),
                episode: None,
            },
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
        let flap_ended = self.end_flapping(now);

        if r.outcome.uncounted() {
            let why = if r.outcome == OutcomeClass::Local {
                "this host could not send the probe (its own fault, not the primary's)"
            } else {
                "the probe itself is misconfigured"
            };
            let reason = format!(
                "{} ({}): {why}; round not counted, verdict stays {:?}",
                r.outcome.as_str(),
                r.detail,
                self.health
            );
            return self.verdict(now, None, reason, None, flap_ended);
        }

        let failed = self.policy.fail_on.contains(&r.outcome);
        self.record(now, r);
        if failed {
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            self.streak_start.get_or_insert(now);
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
            self.streak_start = None;
            self.last_good = Some(now);
        }
        let confident = wilson_lower(self.failures, self.attempts, CONFIDENCE_Z);
        let rate_high = self.attempts >= u64::from(self.policy.min_samples)
            && confident > self.policy.error_rate;
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
                    return self.go_down(now, DownRule::Consecutive, start, reason, flap_ended);
                }
                if let Some(since) = self.degraded_since {
                    let held = crate::duration::between(since, now);
                    if held >= self.policy.degraded_for {
                        let reason = format!(
                            "down: request error rate {} above {:.1}% with 99.9% confidence (at least {:.1}%) for {}",
                            self.rate_text(),
                            self.policy.error_rate * 100.0,
                            confident * 100.0,
                            human(held)
                        );
                        return self.go_down(now, DownRule::ErrorRate, since, reason, flap_ended);
                    }
                }
                if failed {
                    let reason = format!(
                        "failing round {}/{}: {last}",
                        self.consecutive_failures, self.policy.failure_threshold
                    );
                    return self.verdict(now, None, reason, None, flap_ended);
                }
                let changed = self.health == Health::Unknown;
                self.health = Health::Up;
                let reason = if rate_high {
                    format!(
                        "up, but degraded: request error rate {} above {:.1}% with 99.9% confidence",
                        self.rate_text(),
                        self.policy.error_rate * 100.0
                    )
                } else {
                    format!("up: {last}")
                };
                let change = changed.then_some(Health::Unknown);
                self.verdict(now, change, reason, None, flap_ended)
            }
            Health::Down => {
                if self.consecutive_successes >= self.policy.recover_after {
                    if self.rule == Some(DownRule::ErrorRate)
                        && let Some(held) = self.recent_rate_above(now)
                    {
                        let reason = format!(
                            "recovering: {} good rounds in a row, but the request error rate over the last {} is {held}: a brownout recovers only below {:.1}%",
                            self.consecutive_successes,
                            human(self.policy.degraded_for),
                            self.policy.error_rate * 100.0
                        );
                        return self.verdict(now, None, reason, None, flap_ended);
                    }
                    let down_for = self
                        .down_since
                        .map(|d| human(crate::duration::between(d, now)))
                        .unwrap_or_default();
                    let reason = format!(
                        "up: {} consecutive good rounds (recover_after {}) after being down for {down_for}",
                        self.consecutive_successes, self.policy.recover_after
                    );
                    self.recover();
                    self.health = Health::Up;
                    return self.verdict(now, Some(Health::Down), reason, None, flap_ended);
                }
                let reason = if failed {
                    format!("still down: {last}")
                } else {
                    format!(
                        "recovering: good round {}/{}",
                        self.consecutive_successes, self.policy.recover_after
                    )
                };
                self.verdict(now, None, reason, None, flap_ended)
            }
        }
    }

    /// Adds the round's requests to the window and drops what fell out of it. O(1) amortised:
    /// the simulation feeds hundreds of millions of rounds.
    fn record(&mut self, now: DateTime<Utc>, r: &ProbeResult) {
        let cutoff = before(now, self.window_len);
        while let Some(front) = self.window.front().copied() {
            if front.at >= cutoff {
                break;
            }
            self.window.pop_front();
            self.attempts -= u64::from(front.attempts);
            self.failures -= u64::from(front.failures);
        }
        // The first request of each round is the sample: it goes out on a fixed schedule, so it
        // sees the primary as users do. Retries are sent *because* it failed; counting them too
        // would weigh a one-second blip three times. A failure a retry absorbed still counts.
        let first = r.attempt_classes().next().unwrap_or(r.outcome);
        let (attempts, failures) = if first.uncounted() {
            (0u8, 0u8)
        } else {
            (1, u8::from(self.policy.fail_on.contains(&first)))
        };
        self.window.push_back(Sample {
            at: now,
            attempts,
            failures,
        });
        self.attempts += u64::from(attempts);
        self.failures += u64::from(failures);
    }

    fn rate_text(&self) -> String {
        format!(
            "{:.1}% ({}/{} requests over {})",
            self.failures as f64 * 100.0 / self.attempts.max(1) as f64,
            self.failures,
            self.attempts,
            human(self.policy.window)
        )
    }

    /// After a brownout: the request error rate over the last `degraded_for`, if it is still
    /// above `error_rate`.
    fn recent_rate_above(&self, now: DateTime<Utc>) -> Option<String> {
        let from = before(now, chrono_dur(self.policy.degraded_for));
        let (mut n, mut f) = (0u64, 0u64);
        for s in self.window.iter().rev().take_while(|s| s.at >= from) {
            n += u64::from(s.attempts);
            f += u64::from(s.failures);
        }
        let rate = f as f64 / n.max(1) as f64;
        (rate > self.policy.error_rate).then(|| format!("{:.1}% ({f}/{n} requests)", rate * 100.0))
    }

    fn go_down(
        &mut self,
        now: DateTime<Utc>,
        rule: DownRule,
        start: DateTime<Utc>,
        reason: String,
        flap_ended: Option<FlapEpisode>,
    ) -> Verdict {
        let before = self.health;
        self.down_since = Some(now);
        self.down_onset = Some((start, self.last_good));
        self.rule = Some(rule);
        self.health = Health::Down;
        self.verdict(now, Some(before), reason, Some(start), flap_ended)
    }

    /// A recovery clears the past: nothing observed before it counts towards the next `down`.
    fn recover(&mut self) {
        self.window.clear();
        self.attempts = 0;
        self.failures = 0;
        self.degraded_since = None;
        self.down_since = None;
        self.down_onset = None;
        self.rule = None;
        self.streak_start = None;
    }

    fn end_flapping(&mut self, now: DateTime<Utc>) -> Option<FlapEpisode> {
        let window = chrono_dur(self.policy.flap_window);
        let last = self.flap.changes.back().copied()?;
        if now - last <= window {
            return None;
        }
        self.flap.changes.clear();
        self.flap.episode.take()
    }

    /// Records a verdict change and says how to notify about it.
    fn on_change(&mut self, now: DateTime<Utc>) -> Notice {
        let window = chrono_dur(self.policy.flap_window);
        self.flap.changes.push_back(now);
        while self.flap.changes.front().is_some_and(|t| now - *t > window) {
            self.flap.changes.pop_front();
        }
        if let Some(e) = &mut self.flap.episode {
            e.changes += 1;
            e.last_change = now;
            return Notice::Suppressed;
        }
        let n = self.flap.changes.len() as u32;
        if n >= self.policy.flap_changes {
            self.flap.episode = Some(FlapEpisode {
                since: self.flap.changes.front().copied().unwrap_or(now),
                last_change: now,
                changes: n,
            });
            return Notice::FlappingBegan { changes: n };
        }
        Notice::Send
    }

    /// `from`: the health before this round when it changed.
    fn verdict(
        &mut self,
        at: DateTime<Utc>,
        from: Option<Health>,
        reason: String,
        streak_start: Option<DateTime<Utc>>,
        flap_ended: Option<FlapEpisode>,
    ) -> Verdict {
        let changed = from.is_some();
        // The first verdict after a start is not a change of the primary's behaviour.
        let notice = match from {
            None => Notice::Quiet,
            Some(Health::Unknown) => Notice::Send,
            Some(_) => self.on_change(at),
        };
        if changed {
            self.since = Some(at);
        }
        let onset = self.down_onset.filter(|_| self.health == Health::Down);
        Verdict {
            health: self.health,
            changed,
            reason,
            at,
            since: self.since,
            streak_start: streak_start.or(onset.map(|o| o.0)),
            last_good: match streak_start {
                Some(_) => self.last_good,
                None => onset.and_then(|o| o.1),
            },
            rule: if self.health == Health::Down {
                self.rule
            } else {
                None
            },
            fresh_until: Some(
                at.checked_add_signed(chrono_dur(self.policy.stale_after()))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ),
            flapping: self.flap.episode.clone(),
            notice,
            flap_ended,
            evidence: if changed {
                self.evidence.iter().cloned().collect()
            } else {
                Vec::new()
            },
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
            attempts: 2,
            retried: vec![outcome],
            detail: "test".into(),
            ..ProbeResult::bare(t(at), outcome)
        }
    }

    fn ok_round(at: i64) -> ProbeResult {
        ProbeResult {
            attempts: 1,
            ..round(at, OutcomeClass::Ok)
        }
    }

    /// One attempt failed, the in-round retry answered: one failed request in the round.
    fn retried_ok(at: i64) -> ProbeResult {
        ProbeResult {
            retried: vec![OutcomeClass::Unavailable],
            ..round(at, OutcomeClass::Ok)
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
    fn every_verdict_of_a_down_carries_its_onset_even_after_a_good_round() {
        let mut d = Detector::new(policy());
        d.observe(&round(0, OutcomeClass::Ok));
        d.observe(&round(2, OutcomeClass::Unavailable));
        d.observe(&round(4, OutcomeClass::Unavailable));
        // One good round inside the down (not enough to recover), then failing again.
        let v = d.observe(&round(6, OutcomeClass::Ok));
        assert_eq!(v.health, Health::Down);
        let v = d.observe(&round(8, OutcomeClass::Unavailable));
        assert!(!v.changed);
        assert_eq!(
            (v.streak_start, v.last_good),
            (Some(t(2)), Some(t(0))),
            "a down decided on a later round still starts its clock at the onset"
        );
        for i in 0..3 {
            d.observe(&round(10 + 2 * i, OutcomeClass::Ok));
        }
        let v = d.observe(&round(20, OutcomeClass::Ok));
        assert_eq!(v.health, Health::Up);
        assert_eq!((v.streak_start, v.last_good), (None, None));
    }

    #[test]
    fn two_failing_rounds_make_down_with_streak_start() {
        let mut d = Detector::new(policy());
        let v = d.observe(&round(0, OutcomeClass::Ok));
        assert_eq!(v.reason, "up: ok (test)");
        assert_eq!(v.notice, Notice::Send);
        let v = d.observe(&round(2, OutcomeClass::Unavailable));
        assert_eq!(v.health, Health::Up);
        assert_eq!(v.reason, "failing round 1/2: unavailable (test)");
        let v = d.observe(&round(4, OutcomeClass::Timeout));
        assert_eq!(v.health, Health::Down);
        assert_eq!(v.rule, Some(DownRule::Consecutive));
        assert!(v.changed);
        assert_eq!(v.streak_start, Some(t(2)));
        assert_eq!(v.last_good, Some(t(0)));
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
    fn a_local_fault_is_not_the_primarys() {
        let mut d = Detector::new(policy());
        d.observe(&round(0, OutcomeClass::Ok));
        for i in 1..50 {
            let v = d.observe(&round(i, OutcomeClass::Local));
            assert_ne!(v.health, Health::Down);
            assert!(
                v.reason.starts_with(
                    "local (test): this host could not send the probe (its own fault, not the primary's)"
                ),
                "{}",
                v.reason
            );
        }
        // The streak before the fault still counts: nothing was forgotten either.
        d.observe(&round(50, OutcomeClass::Connect));
        assert_eq!(
            d.observe(&round(51, OutcomeClass::Connect)).health,
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
        assert_eq!(v.since, Some(t(4)));
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
        for i in 0..60 {
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
        assert_eq!(v.rule, Some(DownRule::ErrorRate));
        assert!(
            v.reason.starts_with("down: request error rate"),
            "{}",
            v.reason
        );
        assert!(
            v.reason.contains("above 5.0% with 99.9% confidence"),
            "{}",
            v.reason
        );
        // Two requests per round (every round here retried): min_samples (10 requests) after 5
        // rounds, confident soon after, then degraded_for (10s).
        assert!((12..=20).contains(&i), "triggered at round {i}");
    }

    /// Observation 3 of the issue: a 10% brownout whose failures the retry absorbs (no round
    /// fails) is still a 9% request error rate.
    #[test]
    fn errors_the_retry_absorbs_still_count_as_failed_requests() {
        let mut d = Detector::new(policy());
        let mut down = None;
        for i in 0..600 {
            let r = if i % 10 == 0 {
                retried_ok(i)
            } else {
                ok_round(i)
            };
            let v = d.observe(&r);
            assert_ne!(v.reason.split(':').next(), Some("failing round 1/2"));
            if v.health == Health::Down {
                down = Some((i, v));
                break;
            }
        }
        let (i, v) = down.expect("a 10% request error rate is a brownout");
        assert_eq!(v.rule, Some(DownRule::ErrorRate));
        // 5m window at one round a second (300 requests), 10s degraded_for: confident once about 9%
        // of the window's requests failed.
        assert!(i <= 300, "detected after {i} rounds: {}", v.reason);
    }

    /// Observation 1 of the issue: after a long outage the window is full of failures; the
    /// recovery must clear them, or the verdict flips back to down at once.
    #[test]
    fn failures_from_before_a_recovery_never_bring_down_back() {
        let mut d = Detector::new(policy());
        d.observe(&ok_round(0));
        for i in 1..=62 {
            d.observe(&round(i, OutcomeClass::Connect));
        }
        let mut changes = 0;
        for i in 63..700 {
            let v = d.observe(&ok_round(i));
            if v.changed {
                changes += 1;
                assert_eq!(v.health, Health::Up, "{}", v.reason);
            }
        }
        assert_eq!(changes, 1, "one change: down → up");
    }

    #[test]
    fn a_brownout_recovers_only_when_its_error_rate_is_low_again() {
        let mut d = Detector::new(policy());
        let mut i = 0;
        // 30% of requests fail: rounds mostly pass thanks to the retry.
        let mut v = d.observe(&ok_round(i));
        while v.health != Health::Down {
            i += 1;
            v = d.observe(&if i % 3 == 0 {
                retried_ok(i)
            } else {
                ok_round(i)
            });
        }
        assert_eq!(v.rule, Some(DownRule::ErrorRate));
        for _ in 0..5 {
            i += 1;
            v = d.observe(&if i % 3 == 0 {
                retried_ok(i)
            } else {
                ok_round(i)
            });
        }
        assert_eq!(v.health, Health::Down);
        assert!(v.reason.starts_with("recovering: "), "{}", v.reason);
        assert!(
            v.reason.contains("a brownout recovers only below 5.0%"),
            "{}",
            v.reason
        );
        // Healthy again: up once the last degraded_for (10s) is clean.
        let healthy_from = i + 1;
        while v.health != Health::Up {
            i += 1;
            v = d.observe(&ok_round(i));
        }
        assert!(
            i - healthy_from <= 11,
            "recovered after {}s",
            i - healthy_from
        );
    }

    #[test]
    fn two_percent_loss_in_a_short_window_is_not_a_brownout() {
        // The point estimate would say 10% after 2 failures in the first 20 requests.
        let mut d = Detector::new(policy());
        for i in 0..20 {
            let r = if i == 3 || i == 11 {
                retried_ok(i)
            } else {
                ok_round(i)
            };
            d.observe(&r);
        }
        for i in 20..120 {
            let v = d.observe(&ok_round(i));
            assert_eq!(v.health, Health::Up, "{}", v.reason);
        }
    }

    #[test]
    fn flapping_is_one_notice_then_counts_then_ends() {
        let mut d = Detector::new(Policy {
            recover_after: 1,
            flap_window: Duration::from_secs(60),
            ..policy()
        });
        let mut notices = vec![];
        let mut i = 0;
        d.observe(&ok_round(i));
        for cycle in 0..6 {
            for _ in 0..2 {
                i += 1;
                let v = d.observe(&round(i, OutcomeClass::Unavailable));
                if v.changed {
                    notices.push(v.notice);
                }
            }
            i += 1;
            let v = d.observe(&ok_round(i));
            assert!(v.changed, "cycle {cycle}");
            notices.push(v.notice);
        }
        assert_eq!(
            notices[..4],
            [
                Notice::Send,
                Notice::Send,
                Notice::Send,
                Notice::FlappingBegan { changes: 4 }
            ]
        );
        assert!(notices[4..].iter().all(|n| *n == Notice::Suppressed));
        let v = d.observe(&ok_round(i + 1));
        assert_eq!(v.flapping.as_ref().map(|e| e.changes), Some(12));
        let v = d.observe(&ok_round(i + 62));
        assert!(v.flapping.is_none());
        assert_eq!(v.flap_ended.map(|e| e.changes), Some(12));
    }

    #[test]
    fn verdicts_go_stale() {
        let mut d = Detector::new(policy());
        let v = d.observe(&ok_round(0));
        // interval 2s, timeout 1s: 3 intervals + the timeout.
        assert_eq!(v.fresh_until, Some(t(7)));
        assert!(!v.is_stale(t(7)));
        assert!(v.is_stale(t(8)));
        assert_eq!(v.health_at(t(8)), Health::Unknown);
        assert!(
            v.describe(t(3_600))
                .starts_with("stale (read as unknown): last verdict up")
        );
    }

    #[test]
    fn absurd_but_valid_durations_do_not_panic() {
        let huge = Duration::from_secs(100_000_000 * 86_400);
        let mut d = Detector::new(Policy {
            window: huge,
            degraded_for: huge,
            interval: huge,
            flap_window: huge,
            ..policy()
        });
        for i in 0..30 {
            let v = d.observe(&round(i, OutcomeClass::Unavailable));
            assert!(!v.is_stale(t(i)));
        }
        for i in 30..40 {
            d.observe(&ok_round(i));
        }
    }

    #[test]
    fn wilson_bounds() {
        assert_eq!(wilson_lower(0, 0, CONFIDENCE_Z), 0.0);
        assert!(wilson_lower(2, 20, CONFIDENCE_Z) < 0.05);
        // 10% of 300 requests: at least 5.9% with three standard errors; 6% is not above 5%.
        assert!(wilson_lower(30, 300, CONFIDENCE_Z) > 0.055);
        assert!(wilson_lower(18, 300, CONFIDENCE_Z) < 0.05);
        // The default window holds 150 requests: brownouts from about 10.7% are told apart.
        let r = detectable_rate(&Policy::default());
        assert!((0.10..0.11).contains(&r), "{r}");
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
        ProbeResult::bare(at(i), outcome)
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

        /// After any history, a recovery followed by good rounds never goes down again.
        #[test]
        fn nothing_before_a_recovery_brings_down_back(seq in proptest::collection::vec(any_class(), 1..400), tail in 1usize..400) {
            let mut d = Detector::new(Policy { min_samples: 5, degraded_for: Duration::from_secs(4), ..Policy::default() });
            let mut i = 0;
            for c in seq {
                d.observe(&round(i, c));
                i += 1;
            }
            let mut recovered = false;
            let mut before = d.health();
            for _ in 0..tail + 3 {
                let v = d.observe(&round(i, OutcomeClass::Ok));
                i += 1;
                if recovered {
                    prop_assert_eq!(v.health, Health::Up, "{}", v.reason);
                }
                recovered |= before == Health::Down && v.health == Health::Up;
                before = v.health;
            }
        }
    }
}

//! Predictive pre-warm: between "the primary is degrading" and "the primary is down" there are
//! often minutes, and GPU warm-up (boot, weights into GPU memory, compile, first request) is the
//! largest part of a failover. This module watches the same probe rounds as the detector and
//! says when to bring the standby to serving capacity *before* a verdict (DNS untouched), and
//! when to put it back to warm after the primary has been well for a while.
//!
//! Guarantees: a pre-warm starts only after a degradation signal held for `sustain` (a single
//! bad round never starts one), never while the month's pre-warm spend plus one `hold` of the
//! added capacity would pass `max_monthly_usd`, and it ends `hold` after the last degraded round
//! (or at once when the ceiling is reached). It never decides a failover: the detector does.
//!
//! Caveats: the signals are statistical. A 429 storm or a slow stretch that never becomes an
//! outage costs a pre-warm; the simulation (`make sim`) measures how often on healthy traffic.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::detector::{Policy, wilson_lower};
use crate::duration::human;
use crate::outcome::{OutcomeClass, ProbeResult};

/// `[prewarm]`: when the primary counts as degrading, how long to hold, what it may cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// A request failure rate (the detector's failure classes, at 95% confidence) above this is
    /// a degradation. Default: half the detector's `error_rate`.
    pub error_rate: f64,
    /// A share of 429 answers above this is a degradation (sustained shedding); `None`: 429s
    /// alone never pre-warm (the default: on healthy traffic, 429 storms were three in four of
    /// the simulation's pre-warms, and a primary that sheds load is serving).
    pub throttled_rate: Option<f64>,
    /// A median latency of good rounds above this is a degradation. Default: half the cut-off
    /// (`slow`, or the timeout when shorter).
    pub latency: Duration,
    /// How long a signal must hold before the standby is scaled up.
    pub sustain: Duration,
    /// How long the primary must look well before the standby goes back to warm.
    pub hold: Duration,
    /// The most pre-warms may cost in a calendar month (USD); `None`: no ceiling.
    pub max_monthly_usd: Option<f64>,
}

impl Rules {
    /// Defaults derived from the detector's policy.
    pub fn for_policy(p: &Policy) -> Rules {
        Rules {
            error_rate: p.error_rate / 2.0,
            throttled_rate: None,
            // Half the effective cut-off: a 2xx slower than `slow` or the timeout is not good.
            latency: p.slow.min(p.timeout) / 2,
            sustain: Duration::from_secs(30),
            hold: Duration::from_secs(15 * 60),
            max_monthly_usd: None,
        }
    }

    /// "failure rate above 2.5%, median latency above 350ms, held 30s; back to warm after 15m
    /// well", for `validate` and the daemon's log.
    pub fn describe(&self) -> String {
        format!(
            "failure rate above {:.1}% (95% confidence){}, median latency above {}, held {}; back to warm after {} well{}",
            self.error_rate * 100.0,
            self.throttled_rate
                .map_or(String::new(), |r| format!(", 429s above {:.0}%", r * 100.0)),
            human(self.latency),
            human(self.sustain),
            human(self.hold),
            self.max_monthly_usd
                .map_or("; no monthly ceiling".to_string(), |m| format!(
                    "; at most {} a month",
                    crate::cost::dollars(m)
                ))
        )
    }

    /// `[prewarm]` as written, the rest derived from `[health]`.
    pub fn derive(s: &crate::config::prewarm::Settings, p: &Policy) -> Rules {
        let d = Rules::for_policy(p);
        Rules {
            error_rate: s.error_rate.unwrap_or(d.error_rate),
            throttled_rate: s.throttled_rate,
            latency: s.latency.unwrap_or(d.latency),
            sustain: s.sustain.unwrap_or(d.sustain),
            hold: s.hold.unwrap_or(d.hold),
            max_monthly_usd: s.max_monthly_usd,
        }
    }
}

/// What the watch says after a round.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do.
    Nothing,
    /// Scale the standby to serving now (DNS untouched).
    ScaleUp { reason: String },
    /// Put the standby back to warm.
    ScaleDown { reason: String },
    /// A pre-warm was due but the cost ceiling forbids it (said once per degradation).
    Suppressed { reason: String },
}

/// What this month's pre-warms have cost, and what the added capacity costs an hour.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    pub spent_usd: f64,
    /// `None`: unknown (no price): a ceiling then forbids pre-warms rather than guess.
    pub hourly_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: DateTime<Utc>,
    attempts: u32,
    failures: u32,
    throttled: u32,
}

/// Sums over a stretch of rounds.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    attempts: u64,
    failures: u64,
    throttled: u64,
}

impl Totals {
    fn add(&mut self, s: &Sample) {
        self.attempts += u64::from(s.attempts);
        self.failures += u64::from(s.failures);
        self.throttled += u64::from(s.throttled);
    }

    fn remove(&mut self, s: &Sample) {
        self.attempts -= u64::from(s.attempts);
        self.failures -= u64::from(s.failures);
        self.throttled -= u64::from(s.throttled);
    }
}

/// The pre-warm watch: fed every probe round of the primary, in order.
#[derive(Debug, Clone)]
pub struct Watch {
    rules: Rules,
    policy: Policy,
    window: VecDeque<Sample>,
    /// The window's totals, kept as rounds come and go.
    totals: Totals,
    degraded_since: Option<DateTime<Utc>>,
    last_degraded: Option<DateTime<Utc>>,
    /// The pre-warm under way: since when, and why.
    warm: Option<(DateTime<Utc>, String)>,
    suppressed: bool,
    /// The good rounds' latencies over [`Watch::latency_span`], and how many are over the line.
    latencies: VecDeque<(DateTime<Utc>, Duration)>,
    latencies_slow: usize,
}

/// Confidence for the failure rate: lower than the detector's 99.9% (a false pre-warm costs
/// money, not traffic).
const Z_95: f64 = 1.645;

impl Watch {
    pub fn new(rules: Rules, policy: Policy) -> Watch {
        Watch {
            rules,
            policy,
            window: VecDeque::new(),
            totals: Totals::default(),
            degraded_since: None,
            last_degraded: None,
            warm: None,
            suppressed: false,
            latencies: VecDeque::new(),
            latencies_slow: 0,
        }
    }

    /// How far back the latency signal looks: `sustain`, at least five rounds. Shorter than the
    /// detector's window: latency that rises over a minute must show within the minute, and the
    /// `sustain` it has to hold for is what keeps a slow stretch from counting.
    fn latency_span(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.rules.sustain.max(self.policy.interval * 5))
            .unwrap_or(chrono::Duration::MAX)
    }

    /// The pre-warm under way, if any: since when and why.
    pub fn warm(&self) -> Option<&(DateTime<Utc>, String)> {
        self.warm.as_ref()
    }

    /// Forgets the pre-warm under way: a failover took its capacity over, or it could not be
    /// carried out. A degradation still present starts a new one only after `sustain` again.
    pub fn end(&mut self) {
        self.warm = None;
        self.degraded_since = None;
    }

    /// Resumes a pre-warm recorded before a restart.
    pub fn resume(&mut self, since: DateTime<Utc>, reason: String) {
        self.warm = Some((since, reason));
        self.last_degraded.get_or_insert(since);
    }

    /// The degradation the rounds show now, if any. Failures and 429s: confident over the
    /// detector's whole window, and still there over the last half of `sustain` (a burst the
    /// window remembers is not a degradation once it has stopped, so a held signal means a
    /// degradation that went on). Latency: the median of the good rounds over the last
    /// `sustain`. The window's totals are kept as rounds come and go; the recent slice is read
    /// only when the window already points at a degradation.
    fn signal(&self, now: DateTime<Utc>) -> Option<String> {
        let t = &self.totals;
        if t.attempts < u64::from(self.policy.min_samples.max(1)) {
            return None;
        }
        let low = wilson_lower(t.failures, t.attempts, Z_95);
        let failing = low > self.rules.error_rate;
        let shedding = self
            .rules
            .throttled_rate
            .is_some_and(|r| t.throttled as f64 / t.attempts as f64 > r);
        // The median of the good rounds' latencies is above the line when at least half of
        // them (rounded up) are.
        // The median of the recent good rounds' latencies is above the line when at least half
        // of them (rounded up) are.
        let n = self.latencies.len();
        let slow = n >= 3 && self.latencies_slow >= n - n / 2;
        if !(failing || shedding || slow) {
            return None;
        }
        let recent = (self.rules.sustain / 2).max(self.policy.interval * 2);
        let from = now - chrono::Duration::from_std(recent).unwrap_or(chrono::Duration::MAX);
        let mut r = Totals::default();
        for s in self.window.iter().rev().take_while(|s| s.at >= from) {
            r.add(s);
        }
        let attempts = r.attempts.max(1) as f64;
        if failing && r.failures as f64 / attempts > self.rules.error_rate {
            return Some(format!(
                "request failure rate {}/{} ({:.1}%, at least {:.1}% at 95% confidence) above {:.1}%",
                t.failures,
                t.attempts,
                100.0 * t.failures as f64 / t.attempts as f64,
                low * 100.0,
                self.rules.error_rate * 100.0
            ));
        }
        if let Some(rate) = self.rules.throttled_rate
            && shedding
            && r.throttled as f64 / attempts > rate
        {
            return Some(format!(
                "{}/{} requests answered 429 ({:.0}%, above {:.0}%): the primary sheds load",
                t.throttled,
                t.attempts,
                100.0 * t.throttled as f64 / t.attempts as f64,
                rate * 100.0
            ));
        }
        if slow {
            let mut all: Vec<Duration> = self.latencies.iter().map(|(_, l)| *l).collect();
            all.sort();
            return Some(format!(
                "median latency {} of good rounds above {}",
                human(all[all.len() / 2]),
                human(self.rules.latency)
            ));
        }
        None
    }

    /// Feeds one round; `budget` is this month's pre-warm spend and the added capacity's price.
    pub fn observe(&mut self, r: &ProbeResult, budget: Budget) -> Decision {
        let now = r.at;
        if r.outcome != OutcomeClass::Local {
            let classes: Vec<OutcomeClass> = r.attempt_classes().collect();
            let sample = Sample {
                at: now,
                attempts: classes.len() as u32,
                failures: classes
                    .iter()
                    .filter(|c| self.policy.fail_on.contains(c))
                    .count() as u32,
                throttled: classes
                    .iter()
                    .filter(|c| **c == OutcomeClass::RateLimited)
                    .count() as u32,
            };
            self.totals.add(&sample);
            self.window.push_back(sample);
            if r.outcome == OutcomeClass::Ok {
                self.latencies.push_back((now, r.latency));
                self.latencies_slow += usize::from(r.latency > self.rules.latency);
            }
        }
        let span = self.latency_span();
        while let Some((at, l)) = self.latencies.front().copied()
            && now.signed_duration_since(at) > span
        {
            self.latencies.pop_front();
            self.latencies_slow -= usize::from(l > self.rules.latency);
        }
        let horizon =
            chrono::Duration::from_std(self.policy.window).unwrap_or(chrono::Duration::MAX);
        while self
            .window
            .front()
            .is_some_and(|s| now.signed_duration_since(s.at) > horizon)
        {
            if let Some(gone) = self.window.pop_front() {
                self.totals.remove(&gone);
            }
        }
        let signal = self.signal(now);
        match &signal {
            Some(_) => {
                self.degraded_since.get_or_insert(now);
                self.last_degraded = Some(now);
            }
            None => {
                self.degraded_since = None;
                self.suppressed = false;
            }
        }
        let cost_of_hold = budget
            .hourly_usd
            .map(|h| h * self.rules.hold.as_secs_f64() / 3600.0);
        if let Some((since, _)) = &self.warm {
            // The ceiling ends a pre-warm too: what it ran so far is spent.
            let running = budget
                .hourly_usd
                .map(|h| h * crate::duration::between(*since, now).as_secs_f64() / 3600.0);
            if let (Some(max), Some(run)) = (self.rules.max_monthly_usd, running)
                && budget.spent_usd + run >= max
            {
                self.warm = None;
                return Decision::ScaleDown {
                    reason: format!(
                        "the month's pre-warm ceiling {} is reached ({} spent, this one {})",
                        crate::cost::dollars(max),
                        crate::cost::dollars(budget.spent_usd),
                        crate::cost::dollars(run)
                    ),
                };
            }
            let calm = self
                .last_degraded
                .map_or(self.rules.hold, |l| crate::duration::between(l, now));
            if signal.is_none() && calm >= self.rules.hold {
                self.warm = None;
                return Decision::ScaleDown {
                    reason: format!(
                        "the primary has looked well for {} (hold {})",
                        human(calm),
                        human(self.rules.hold)
                    ),
                };
            }
            return Decision::Nothing;
        }
        let (Some(why), Some(since)) = (signal, self.degraded_since) else {
            return Decision::Nothing;
        };
        let held = crate::duration::between(since, now);
        if held < self.rules.sustain {
            return Decision::Nothing;
        }
        if let Some(max) = self.rules.max_monthly_usd {
            let over = match cost_of_hold {
                None => Some("the added capacity has no price, and a ceiling is set".to_string()),
                Some(c) if budget.spent_usd + c > max => Some(format!(
                    "{} spent this month + {} for one hold would pass the ceiling {}",
                    crate::cost::dollars(budget.spent_usd),
                    crate::cost::dollars(c),
                    crate::cost::dollars(max)
                )),
                Some(_) => None,
            };
            if let Some(over) = over {
                if self.suppressed {
                    return Decision::Nothing;
                }
                self.suppressed = true;
                return Decision::Suppressed {
                    reason: format!("pre-warm not started ({why} for {}): {over}", human(held)),
                };
            }
        }
        let reason = format!("{why} for {}", human(held));
        self.warm = Some((now, reason.clone()));
        Decision::ScaleUp { reason }
    }
}

/// Where a pre-warm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Scaling the standby to serving and verifying it.
    ScalingUp,
    /// At serving capacity and answering, waiting for the primary to look well for `hold`.
    Serving,
    /// Back to warm.
    Releasing,
    Ended,
}

/// How a pre-warm ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum End {
    /// Back to warm: the primary recovered, or the ceiling was reached.
    Released,
    /// A failover started from it: the standby stays at serving, the failover's run owns it.
    Failover { run: String },
    /// It could not be carried out (AWS refused, the standby never answered); the standby was
    /// put back to warm.
    Failed { reason: String },
}

/// One pre-warm, journaled: while it runs it is the store's current pre-warm (every step
/// writes it before acting, so a restarted daemon resumes it), then it joins the history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Episode {
    pub id: String,
    pub started_at: DateTime<Utc>,
    /// Why: the degradation and how long it held.
    pub reason: String,
    pub phase: Phase,
    /// The standby groups it scales.
    pub groups: Vec<String>,
    /// The standby answered after the scale-up: from here on a failover starts from warm
    /// capacity.
    #[serde(default)]
    pub ready_at: Option<DateTime<Utc>>,
    /// What the scale-up and its verification took: the warm-up a failover from here skips.
    #[serde(default)]
    pub warm_up_ms: Option<u64>,
    /// The capacity it adds, USD per hour (from the last readiness evaluation's prices);
    /// `None`: not priced.
    #[serde(default)]
    pub hourly_usd: Option<f64>,
    /// Where the price comes from, or why there is none.
    #[serde(default)]
    pub price_basis: String,
    #[serde(default)]
    pub release_reason: Option<String>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<End>,
}

impl Episode {
    /// How long the added capacity was (or has been) asked for.
    pub fn lasted(&self, now: DateTime<Utc>) -> Duration {
        crate::duration::between(self.started_at, self.ended_at.unwrap_or(now))
    }

    /// What it cost (or has cost so far): the added capacity × how long it was asked for. An
    /// upper bound on the instance-hours (instances launch after the request, and a failover
    /// that follows owns them from its start).
    pub fn cost(&self, now: DateTime<Utc>) -> Option<f64> {
        self.hourly_usd
            .map(|h| h * self.lasted(now).as_secs_f64() / 3600.0)
    }

    /// "pre-warm prewarm-… (why): 12m 3s, $33.02, released".
    pub fn line(&self, now: DateTime<Utc>) -> String {
        let cost = self
            .cost(now)
            .map_or("cost not priced".to_string(), crate::cost::dollars);
        let how = match (&self.end, self.phase) {
            (Some(End::Released), _) => "back to warm".to_string(),
            (Some(End::Failover { run }), _) => format!("became failover {run}"),
            (Some(End::Failed { reason }), _) => format!("failed: {reason}"),
            (None, Phase::ScalingUp) => "scaling up".to_string(),
            (None, Phase::Serving) => "at serving capacity".to_string(),
            (None, Phase::Releasing | Phase::Ended) => "going back to warm".to_string(),
        };
        format!(
            "{} since {} ({}): {}, {cost}, {how}",
            self.id,
            crate::duration::stamp(self.started_at),
            self.reason,
            human(self.lasted(now))
        )
    }
}

impl Episode {
    /// The pre-warm's own report, for people: why, how long, what it cost, how it ended.
    pub fn markdown(&self, service: &str, now: DateTime<Utc>) -> String {
        let stamp = crate::duration::stamp;
        let cost = self.cost(now).map_or("not priced".to_string(), |c| {
            format!(
                "{} ({}/h added × {}; {})",
                crate::cost::dollars(c),
                crate::cost::dollars(self.hourly_usd.unwrap_or(0.0)),
                human(self.lasted(now)),
                self.price_basis
            )
        });
        let ended = match &self.end {
            Some(End::Released) => format!(
                "back to warm at {}: {}",
                self.ended_at.map_or("?".into(), stamp),
                self.release_reason.as_deref().unwrap_or("")
            ),
            Some(End::Failover { run }) => format!(
                "taken over by failover {run} at {} (its report has the RTO saved)",
                self.ended_at.map_or("?".into(), stamp)
            ),
            Some(End::Failed { reason }) => format!("FAILED: {reason}"),
            None => "under way".into(),
        };
        let rows = [
            ("why", self.reason.clone()),
            ("started", stamp(self.started_at)),
            ("groups", self.groups.join(", ")),
            (
                "standby answering",
                match (self.ready_at, self.warm_up_ms) {
                    (Some(r), Some(w)) => format!(
                        "{} (scale-up and warm-up {})",
                        stamp(r),
                        human(Duration::from_millis(w))
                    ),
                    _ => "never".into(),
                },
            ),
            ("ended", ended),
            ("lasted", human(self.lasted(now))),
            ("cost", cost),
        ];
        let mut o = format!(
            "# Pre-warm {} ({service})\n\nThe primary degraded; the standby was brought to serving capacity before any verdict. DNS was not touched.\n\n| | |\n|---|---|\n",
            self.id
        );
        for (k, v) in rows {
            o.push_str(&format!("| {k} | {} |\n", v.replace('|', "\\|")));
        }
        o
    }
}

/// What this calendar month's pre-warms cost (UTC months; an episode counts in the month it
/// started). Unpriced episodes count nothing and are said by [`Episode::line`].
pub fn month_spent(episodes: &[Episode], now: DateTime<Utc>) -> f64 {
    month(episodes, None, now).cost_usd
}

/// This calendar month's pre-warms (UTC; an episode counts in the month it started), the one
/// under way included: for `status`, `/status` and `/metrics` alike.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Month {
    pub count: usize,
    /// How long their capacity was asked for, together.
    pub lasted: Duration,
    /// What they cost; unpriced ones count nothing.
    pub cost_usd: f64,
}

pub fn month(ended: &[Episode], active: Option<&Episode>, now: DateTime<Utc>) -> Month {
    use chrono::Datelike;
    let mut m = Month::default();
    for e in ended
        .iter()
        .chain(active)
        .filter(|e| e.started_at.year() == now.year() && e.started_at.month() == now.month())
    {
        m.count += 1;
        m.lasted += e.lasted(now);
        m.cost_usd += e.cost(now).unwrap_or(0.0);
    }
    m
}

/// A pre-warm as a failover found it: stamped on the failover's journal, for its report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeadStart {
    pub episode: String,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    /// `None`: the standby was still scaling up when the failover started.
    pub ready_at: Option<DateTime<Utc>>,
    /// The pre-warm's own scale-up and verification, measured.
    pub warm_up_ms: Option<u64>,
}

/// The RTO a pre-warm saved a failover, with what the figure rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub ms: u64,
    pub basis: String,
}

/// The RTO saved: the scale-up and warm-up the failover did not have to wait for. With the
/// standby ready before the failover began, it is the pre-warm's measured scale-up and
/// verification less what the failover's own took (`took`: its scale and verify steps); with
/// the standby still scaling up, the head start the instances had (the pre-warm's start to the
/// failover's), bounded by that same measured warm-up when known. An estimate: it assumes a
/// cold scale-up now would have taken what the pre-warm's did.
pub fn saved(h: &HeadStart, failover_started: DateTime<Utc>, took: Duration) -> Saved {
    let took_ms = crate::duration::millis(took);
    match (h.ready_at, h.warm_up_ms) {
        (Some(ready), Some(w)) if ready <= failover_started => Saved {
            ms: w.saturating_sub(took_ms),
            basis: format!(
                "estimate: the pre-warm's scale-up and verification took {} (measured, ready at {}); this failover's scale and verify took {}",
                human(Duration::from_millis(w)),
                crate::duration::stamp(ready),
                human(took)
            ),
        },
        _ => {
            let head =
                crate::duration::millis(crate::duration::between(h.started_at, failover_started));
            Saved {
                ms: h.warm_up_ms.map_or(head, |w| head.min(w)),
                basis: format!(
                    "estimate: the standby was still scaling up when the failover started; its instances had been launching for {} (the pre-warm's head start)",
                    human(Duration::from_millis(head))
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            failure_threshold: 3,
            window: Duration::from_secs(60),
            error_rate: 0.05,
            min_samples: 20,
            degraded_for: Duration::from_secs(120),
            slow: Duration::from_secs(4),
            recover_after: 3,
            attempts: 1,
            fail_on: OutcomeClass::DEFAULT_FAILURES.to_vec(),
            flap_window: Duration::from_secs(600),
            flap_changes: 4,
            vantage: Default::default(),
        }
    }

    fn round(t: i64, class: OutcomeClass, latency_ms: u64) -> ProbeResult {
        let mut r = ProbeResult::bare(
            DateTime::from_timestamp(1_800_000_000 + t, 0).unwrap(),
            class,
        );
        r.latency = Duration::from_millis(latency_ms);
        r
    }

    fn budget() -> Budget {
        Budget {
            spent_usd: 0.0,
            hourly_usd: Some(165.12),
        }
    }

    /// Rounds from `from` to `to` (seconds), each failing when `fail(t)`.
    fn feed(
        w: &mut Watch,
        from: i64,
        to: i64,
        f: impl Fn(i64) -> (OutcomeClass, u64),
    ) -> Vec<(i64, Decision)> {
        (from..to)
            .filter_map(|t| {
                let (c, l) = f(t);
                match w.observe(&round(t, c, l), budget()) {
                    Decision::Nothing => None,
                    d => Some((t, d)),
                }
            })
            .collect()
    }

    #[test]
    fn a_brownout_pre_warms_after_sustain_and_releases_after_hold() {
        let mut w = Watch::new(Rules::for_policy(&policy()), policy());
        assert!(feed(&mut w, 0, 300, |_| (OutcomeClass::Ok, 30)).is_empty());
        // One request in four fails from t=300.
        let d = feed(&mut w, 300, 400, |t| {
            if t % 4 == 0 {
                (OutcomeClass::Unavailable, 5)
            } else {
                (OutcomeClass::Ok, 30)
            }
        });
        assert_eq!(d.len(), 1, "{d:?}");
        let (at, Decision::ScaleUp { reason }) = &d[0] else {
            panic!("{d:?}")
        };
        // The rate is confident after ~20 samples; then 30 s of sustain.
        assert!((330..=370).contains(at), "{at}");
        assert!(reason.starts_with("request failure rate "), "{reason}");
        assert!(
            reason.ends_with("for 30.0s") || reason.contains(" for 3"),
            "{reason}"
        );
        // Well again: back to warm once the window has cleared and `hold` has passed.
        let d = feed(&mut w, 400, 2000, |_| (OutcomeClass::Ok, 30));
        assert_eq!(d.len(), 1, "{d:?}");
        let (at, Decision::ScaleDown { reason }) = &d[0] else {
            panic!("{d:?}")
        };
        assert!((1300..=1400).contains(at), "{at}: {reason}");
        assert!(reason.contains("(hold 15m)"), "{reason}");
    }

    #[test]
    fn noise_a_blip_and_a_single_slow_round_never_pre_warm() {
        let mut w = Watch::new(Rules::for_policy(&policy()), policy());
        // 1% loss, a 5-round blip, one slow round.
        let d = feed(&mut w, 0, 20_000, |t| {
            if t % 100 == 7 || (5000..5005).contains(&t) {
                (OutcomeClass::Unavailable, 5)
            } else if t == 9000 {
                (OutcomeClass::Ok, 3900)
            } else {
                (OutcomeClass::Ok, 30)
            }
        });
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn sustained_429s_and_rising_latency_pre_warm() {
        // 429s count only when asked for: by default they never pre-warm.
        let mut w = Watch::new(Rules::for_policy(&policy()), policy());
        let storm = |t: i64| {
            if t >= 100 && t % 3 != 0 {
                (OutcomeClass::RateLimited, 3)
            } else {
                (OutcomeClass::Ok, 30)
            }
        };
        assert!(feed(&mut w, 0, 200, storm).is_empty());
        let rules = Rules {
            throttled_rate: Some(0.5),
            ..Rules::for_policy(&policy())
        };
        let mut w = Watch::new(rules, policy());
        let d = feed(&mut w, 0, 200, storm);
        let Some((_, Decision::ScaleUp { reason })) = d.first() else {
            panic!("{d:?}")
        };
        assert!(reason.contains("answered 429"), "{reason}");
        let mut w = Watch::new(Rules::for_policy(&policy()), policy());
        let d = feed(&mut w, 0, 400, |t| (OutcomeClass::Ok, 30 + (t as u64) * 10));
        let Some((at, Decision::ScaleUp { reason })) = d.first() else {
            panic!("{d:?}")
        };
        // The line is 1 s (half the 2 s timeout, shorter than `slow`): the median over the last
        // 30 s (sustain) passes it at about t=112, then 30 s of sustain.
        assert!((140..=190).contains(at), "{at}: {reason}");
        assert!(reason.starts_with("median latency "), "{reason}");
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_rto_saved_is_the_measured_warm_up_less_the_failovers_own_or_the_head_start() {
        let ready = HeadStart {
            episode: "prewarm-1".into(),
            reason: "median latency".into(),
            started_at: at(0),
            ready_at: Some(at(300)),
            warm_up_ms: Some(300_000),
        };
        // Ready before the failover: 5 min measured, the failover's own scale and verify 4 s.
        let s = saved(&ready, at(600), Duration::from_secs(4));
        assert_eq!(s.ms, 296_000);
        assert!(
            s.basis.starts_with(
                "estimate: the pre-warm's scale-up and verification took 5m (measured"
            ),
            "{}",
            s.basis
        );
        // Still scaling up: the head start the instances had, 2 min.
        let scaling = HeadStart {
            ready_at: None,
            warm_up_ms: None,
            ..ready.clone()
        };
        let s = saved(&scaling, at(120), Duration::from_secs(200));
        assert_eq!(s.ms, 120_000);
        assert!(s.basis.contains("still scaling up"), "{}", s.basis);
        // A failover slower than the pre-warm's own scale-up saved nothing, never less.
        assert_eq!(saved(&ready, at(600), Duration::from_secs(400)).ms, 0);
    }

    #[test]
    fn an_episode_costs_its_added_capacity_for_as_long_as_it_ran_and_months_are_calendar_months() {
        let e = Episode {
            id: "prewarm-1".into(),
            started_at: at(0),
            reason: "failure rate".into(),
            phase: Phase::Ended,
            groups: vec!["gpu".into()],
            ready_at: Some(at(300)),
            warm_up_ms: Some(300_000),
            // Three p5.48xlarge added.
            hourly_usd: Some(3.0 * 55.04),
            price_basis: "list".into(),
            release_reason: None,
            ended_at: Some(at(1800)),
            end: Some(End::Released),
        };
        // Half an hour of $165.12/h.
        assert!((e.cost(at(5000)).unwrap() - 82.56).abs() < 1e-9);
        assert!(
            e.line(at(5000)).contains("30m, $83, back to warm"),
            "{}",
            e.line(at(5000))
        );
        let next_month = at(0) + chrono::Duration::days(40);
        assert!((month_spent(std::slice::from_ref(&e), at(3600)) - 82.56).abs() < 1e-9);
        assert_eq!(month_spent(std::slice::from_ref(&e), next_month), 0.0);
        // With one under way since 10 minutes before `now`, unpriced: counted, priced nothing.
        let now = at(3600);
        let running = Episode {
            id: "prewarm-2".into(),
            started_at: at(3000),
            hourly_usd: None,
            ended_at: None,
            end: None,
            ..e.clone()
        };
        let m = month(std::slice::from_ref(&e), Some(&running), now);
        assert_eq!(m.count, 2);
        assert_eq!(m.lasted, Duration::from_secs(1800 + 600));
        assert!((m.cost_usd - 82.56).abs() < 1e-9);
        assert_eq!(month(&[], None, now), Month::default());
        let unpriced = Episode {
            hourly_usd: None,
            ..e
        };
        assert_eq!(unpriced.cost(at(5000)), None);
        assert!(unpriced.line(at(5000)).contains("cost not priced"));
    }

    #[test]
    fn the_cost_ceiling_suppresses_once_and_ends_a_running_pre_warm() {
        let mut rules = Rules::for_policy(&policy());
        rules.max_monthly_usd = Some(100.0);
        let mut w = Watch::new(rules.clone(), policy());
        // One hold (15 min) of $165.12/h is $41.28: allowed from $0, refused from $60 spent.
        let brown = |t: i64| {
            if t % 4 == 0 {
                (OutcomeClass::Unavailable, 5)
            } else {
                (OutcomeClass::Ok, 30)
            }
        };
        let mut out = vec![];
        for t in 0..200 {
            let (c, l) = brown(t);
            let d = w.observe(
                &round(t, c, l),
                Budget {
                    spent_usd: 60.0,
                    hourly_usd: Some(165.12),
                },
            );
            if d != Decision::Nothing {
                out.push(d);
            }
        }
        assert_eq!(out.len(), 1, "said once: {out:?}");
        let Decision::Suppressed { reason } = &out[0] else {
            panic!("{out:?}")
        };
        assert!(
            reason.ends_with("$60 spent this month + $41 for one hold would pass the ceiling $100"),
            "{reason}"
        );
        // From $0: it starts, and is ended when the running cost reaches the ceiling
        // ($100 / $165.12 an hour = 36 min 20 s).
        let mut w = Watch::new(rules, policy());
        let d = feed(&mut w, 0, 4000, brown);
        assert!(matches!(d[0].1, Decision::ScaleUp { .. }), "{d:?}");
        let (at, Decision::ScaleDown { reason }) = &d[1] else {
            panic!("{d:?}")
        };
        assert!((at - d[0].0 - 2180).abs() <= 2, "{at}: {reason}");
        assert!(
            reason.starts_with("the month's pre-warm ceiling $100 is reached"),
            "{reason}"
        );
    }
}

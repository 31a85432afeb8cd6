//! `make sim`: the pure detector and state machine driven by synthetic probe traces with injected
//! time, no sleeping, over families of traces where the ground truth is known: healthy traffic
//! with independent loss, 429 storms and short blips; brownouts; flapping; hard outages (refused,
//! 503, hanging, slow); slow drift; recoveries with blips; daemon restarts at random moments;
//! operator failbacks, acks and pauses in between.
//!
//! The primary is modelled per request: each probe attempt gets its class and latency from the
//! phase the primary is in at the instant it is sent, and a round follows the prober's rules
//! (one deadline shared by the retry, 2xx cut off at `slow`, rounds concurrent and judged in the
//! order they started). A verdict is taken at the moment its round completes.
//!
//! Everything is seeded: the same seed gives the same figures.

use std::time::Duration;

use chrono::{DateTime, Utc};

use standby_core::config::{Health, Mode};
use standby_core::detector::{Detector, Health as H};
use standby_core::machine::{Action, Event, Policy, Serving, State, Trigger, decide};
use standby_core::outcome::{OutcomeClass, ProbeResult};
use standby_core::prewarm::{Budget, Decision, Rules as PrewarmRules, Watch};
use standby_core::runbook::RunbookKind;

/// splitmix64: small, fast and good enough to draw loss and phases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Log-uniform in [lo, hi): outages from seconds to hours.
    pub fn log_between(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }
}

/// What the primary does to a request sent at some instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Answers 200 in ~20 ms; loses a request (503) with the trace's background loss.
    Healthy,
    /// Connection refused (a dead host, a black-holed load balancer answering RST).
    Refused,
    /// 503 from the load balancer.
    Unavailable,
    /// Accepts and never answers.
    Hang,
    /// 200 after this many seconds.
    Slow(f64),
    /// Each request fails (503) with this probability.
    Brownout(f64),
    /// Each request is answered 429 with this probability: alive and shedding load.
    RateLimited(f64),
    /// Latency ramps linearly from 0.1 s at `from` to `to_latency` at `until` (seconds).
    Drift {
        from: f64,
        until: f64,
        to_latency: f64,
    },
}

/// A stretch of the trace in one phase (the ground truth lives in its [`Episode`]).
#[derive(Debug, Clone)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub phase: Phase,
}

/// Operator and host events in a trace, at seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outside {
    /// The daemon is killed and back after `gap` seconds: the detector starts from nothing, the
    /// state machine's state is what was persisted.
    Restart {
        gap: f64,
    },
    Pause,
    Resume,
}

/// A ground-truth episode: what the primary did, and what the detector should have done.
#[derive(Debug, Clone)]
pub struct Episode {
    pub family: &'static str,
    pub label: String,
    pub start: f64,
    pub end: f64,
    /// Must be detected (a failover is right) or must not (a failover is wrong).
    pub sick: bool,
    /// When the failure becomes detectable (a slow drift crosses `slow` later than it starts).
    pub detectable_from: f64,
    /// The bound the detection must meet, from `detectable_from`, when it is sick.
    pub bound: f64,
    /// How long after its end a down verdict is still this episode's doing: a round judged late,
    /// or an error-rate window that still holds it.
    pub lag: f64,
}

#[derive(Debug, Clone)]
pub struct Trace {
    pub length: f64,
    pub loss: f64,
    pub segments: Vec<Segment>,
    pub outside: Vec<(f64, Outside)>,
    pub episodes: Vec<Episode>,
}

/// What one episode's run through the daemon model produced.
#[derive(Debug, Clone, Default)]
pub struct EpisodeResult {
    /// First down verdict from the episode's detectable start, seconds after it.
    pub detected_after: Option<f64>,
    /// Down verdicts during the episode (for one that is not sick: each one is wrong).
    pub downs: u32,
    /// Of those, the ones the brownout (error-rate) rule made.
    pub downs_by_rate: u32,
    pub failovers: u32,
    /// Down verdicts during this (not sick) episode that came after a recovery.
    pub relapses: u32,
    /// Sick and detected while the standby was pre-warmed: seconds from the pre-warm's
    /// scale-up to the down verdict.
    pub prewarm_lead: Option<f64>,
}

/// What one trace produced.
#[derive(Debug, Clone, Default)]
pub struct TraceResult {
    pub rounds: u64,
    pub requests: u64,
    pub episodes: Vec<EpisodeResult>,
    /// What went wrong outside every episode, and the notifications.
    pub tally: Tally,
}

/// Counters that add up from traces to the whole simulation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Automatic failovers that no sick episode explains.
    pub false_failovers: u32,
    /// Down verdicts that no sick episode explains (would page someone; may not fail over).
    pub false_downs: u32,
    /// Of those, the ones the brownout (error-rate) rule made.
    pub false_downs_by_rate: u32,
    /// Down verdicts after a recovery while the primary stayed healthy.
    pub relapses: u32,
    /// Verdict changes, and changes that went out as notifications.
    pub changes: u64,
    pub notified: u64,
    /// Pre-warms started ([`standby_core::prewarm`]), and those no down verdict followed
    /// before they ended (money spent on a primary that stayed up), with their warm seconds.
    pub prewarms: u32,
    pub false_prewarms: u32,
    pub false_prewarm_secs: f64,
    /// Pre-warms by their signal: failure rate, 429s, latency.
    pub prewarm_by: [u32; 3],
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.false_failovers += o.false_failovers;
        self.false_downs += o.false_downs;
        self.false_downs_by_rate += o.false_downs_by_rate;
        self.relapses += o.relapses;
        self.changes += o.changes;
        self.notified += o.notified;
        self.prewarms += o.prewarms;
        self.false_prewarms += o.false_prewarms;
        self.false_prewarm_secs += o.false_prewarm_secs;
        for (a, b) in self.prewarm_by.iter_mut().zip(o.prewarm_by) {
            *a += b;
        }
    }
}

/// How long the model's runs take: the failover and failback runbooks, end to end.
const FAILOVER_SECS: f64 = 90.0;
const FAILBACK_SECS: f64 = 60.0;
/// An operator fails back this long after the primary is healthy again.
const OPERATOR_FAILBACK_AFTER: f64 = 600.0;

fn at(base: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    base + chrono::Duration::microseconds((secs * 1e6) as i64)
}

/// The prober's round, on the model: `(result, completes_at)`.
fn round(
    trace: &Trace,
    seg: &mut usize,
    t: f64,
    policy: &Health,
    rng: &mut Rng,
    base: DateTime<Utc>,
) -> (ProbeResult, f64) {
    let timeout = policy.timeout.as_secs_f64();
    let slow = policy.slow.as_secs_f64();
    let deadline = t + timeout;
    let (mut class, mut end) = attempt(trace, seg, t, deadline, slow, rng);
    let mut r = ProbeResult::bare(at(base, t), class);
    let mut sent = t;
    while policy.retries(class) && r.attempts < policy.attempts && end < deadline {
        r.retried.push(class);
        sent = end;
        (class, end) = attempt(trace, seg, end, deadline, slow, rng);
        r.attempts += 1;
    }
    r.outcome = class;
    // The deciding attempt's latency (the pre-warm watch reads it; the detector reads classes).
    r.latency = Duration::from_secs_f64((end - sent).max(0.0));
    (r, end)
}

fn phase_at(trace: &Trace, seg: &mut usize, t: f64) -> Phase {
    while *seg + 1 < trace.segments.len() && trace.segments[*seg].end <= t {
        *seg += 1;
    }
    let s = &trace.segments[*seg];
    if s.start <= t && t < s.end {
        s.phase
    } else {
        Phase::Healthy
    }
}

/// One request sent at `t`: its class and when the prober is done with it.
fn attempt(
    trace: &Trace,
    seg: &mut usize,
    t: f64,
    deadline: f64,
    slow: f64,
    rng: &mut Rng,
) -> (OutcomeClass, f64) {
    let phase = phase_at(trace, seg, t);
    let answer_in = |latency: f64| -> (OutcomeClass, f64) {
        // The prober cuts a 2xx at `slow`, and everything at the deadline.
        let cut = (t + slow).min(deadline);
        if t + latency <= cut {
            (OutcomeClass::Ok, t + latency)
        } else if cut < deadline {
            (OutcomeClass::Slow, cut)
        } else {
            (OutcomeClass::Timeout, deadline)
        }
    };
    let lost = |rng: &mut Rng, p: f64| p > 0.0 && rng.unit() < p;
    match phase {
        Phase::Healthy => {
            if lost(rng, trace.loss) {
                (OutcomeClass::Unavailable, t + 0.005)
            } else {
                answer_in(0.02)
            }
        }
        Phase::Refused => (OutcomeClass::Connect, t + 0.001),
        Phase::Unavailable => (OutcomeClass::Unavailable, t + 0.005),
        Phase::Hang => (OutcomeClass::Timeout, deadline),
        Phase::Slow(s) => answer_in(s),
        Phase::Brownout(p) => {
            if lost(rng, p.max(trace.loss)) {
                (OutcomeClass::Unavailable, t + 0.005)
            } else {
                answer_in(0.02)
            }
        }
        Phase::RateLimited(p) => {
            if lost(rng, p) {
                (OutcomeClass::RateLimited, t + 0.003)
            } else if lost(rng, trace.loss) {
                (OutcomeClass::Unavailable, t + 0.005)
            } else {
                answer_in(0.02)
            }
        }
        Phase::Drift {
            from,
            until,
            to_latency,
        } => {
            let f = ((t - from) / (until - from)).clamp(0.0, 1.0);
            answer_in(0.1 + f * (to_latency - 0.1))
        }
    }
}

/// Runs one trace through the daemon model: rounds every interval, the detector, the state
/// machine, runs that take their time, an operator who fails back and acknowledges, restarts.
pub fn run_trace(trace: &Trace, policy: &Health, machine: &Policy, seed: u64) -> TraceResult {
    let base = DateTime::from_timestamp(1_800_000_000, 0).expect("valid base time");
    let mut rng = Rng::new(seed);
    let interval = policy.interval.as_secs_f64();
    let mut out = TraceResult {
        episodes: vec![EpisodeResult::default(); trace.episodes.len()],
        ..TraceResult::default()
    };
    let mut detector = Detector::new(policy.clone());
    let mut prewarm = Watch::new(PrewarmRules::for_policy(policy), policy.clone());
    // A pre-warm under way: since when, and whether a down verdict came during it.
    let mut warm: Option<(f64, bool)> = None;
    let mut state = State::default();
    // (run, kind, ends at)
    let mut running: Option<(String, RunbookKind, f64)> = None;
    let mut outside = trace.outside.iter().peekable();
    // A recovery happened and no sick episode started since: a down now is a relapse.
    let mut recovered = false;
    let mut seg = 0usize;
    let mut runs = 0u64;
    let probe = "http://primary/health";
    let mut t = rng.between(0.0, interval);
    let mut health = H::Unknown;
    while t < trace.length {
        // Outside events due before this round.
        while let Some((when, what)) = outside.peek().copied() {
            if *when > t {
                break;
            }
            outside.next();
            match what {
                Outside::Restart { gap } => {
                    detector = Detector::new(policy.clone());
                    health = H::Unknown;
                    t = when + gap;
                }
                Outside::Pause => {
                    state = decide(&state, &Event::Pause, at(base, *when), machine, "-").next
                }
                Outside::Resume => {
                    state = decide(&state, &Event::Resume, at(base, *when), machine, "-").next
                }
            }
        }
        let (r, done) = round(trace, &mut seg, t, policy, &mut rng, base);
        out.rounds += 1;
        out.requests += u64::from(r.attempts);
        let now = at(base, done);
        // Runs finish on their own clock.
        if let Some((run, kind, ends)) = running.clone()
            && ends <= done
        {
            let traffic_on = match kind {
                RunbookKind::Failback => standby_core::config::Side::Primary,
                _ => standby_core::config::Side::Standby,
            };
            let d = decide(
                &state,
                &Event::RunFinished {
                    run,
                    succeeded: true,
                    traffic_on,
                    gave_up: false,
                },
                at(base, ends),
                machine,
                "-",
            );
            state = d.next;
            running = None;
            if kind == RunbookKind::Failback && rng.unit() < 0.5 {
                state = decide(&state, &Event::Ack, at(base, ends), machine, "-").next;
            }
        }
        let v = detector.observe(&r);
        // The pre-warm watch sees the same rounds (no cost ceiling: the sim counts them all).
        match prewarm.observe(&r, Budget::default()) {
            Decision::ScaleUp { reason } => {
                out.tally.prewarms += 1;
                let by = if reason.contains("answered 429") {
                    1
                } else if reason.starts_with("median latency") {
                    2
                } else {
                    0
                };
                out.tally.prewarm_by[by] += 1;
                warm = Some((done, false));
            }
            Decision::ScaleDown { .. } => {
                if let Some((since, false)) = warm {
                    out.tally.false_prewarms += 1;
                    out.tally.false_prewarm_secs += done - since;
                }
                warm = None;
            }
            Decision::Nothing | Decision::Suppressed { .. } => {}
        }
        let episode = episode_at(trace, done, policy);
        let sick = episode.is_some_and(|i| trace.episodes[i].sick);
        if sick {
            recovered = false;
        }
        if v.changed {
            out.tally.changes += 1;
            if matches!(
                v.notice,
                standby_core::detector::Notice::Send
                    | standby_core::detector::Notice::FlappingBegan { .. }
            ) {
                out.tally.notified += 1;
            }
            if v.health == H::Down {
                let by_rate = v.rule == Some(standby_core::detector::DownRule::ErrorRate);
                match episode {
                    Some(i) => {
                        let e = &trace.episodes[i];
                        let res = &mut out.episodes[i];
                        if std::env::var_os("SIM_DEBUG").is_some() && !e.sick && e.family != GRAY {
                            eprintln!(
                                "false down at {done:.1} in {} {} ({:.2}..{:.2}): {} {:?}",
                                e.family,
                                e.label,
                                e.start,
                                e.end,
                                v.reason,
                                v.evidence
                                    .iter()
                                    .rev()
                                    .take(3)
                                    .map(|r| (
                                        r.at.timestamp_subsec_millis(),
                                        r.outcome,
                                        r.attempts,
                                        &r.retried
                                    ))
                                    .collect::<Vec<_>>()
                            );
                        }
                        res.downs += 1;
                        res.downs_by_rate += u32::from(by_rate);
                        res.relapses += u32::from(recovered && !e.sick);
                        if e.sick && res.detected_after.is_none() {
                            res.detected_after = Some((done - e.detectable_from).max(0.0));
                            if let Some((since, _)) = warm {
                                res.prewarm_lead = Some(done - since);
                            }
                        }
                    }
                    None => {
                        if std::env::var_os("SIM_DEBUG").is_some() {
                            let near = trace.episodes.iter().rev().find(|e| e.start <= done);
                            eprintln!(
                                "false down at {done:.1}: {} (last episode {:?})",
                                v.reason,
                                near.map(|e| (e.family, &e.label, e.start, e.end))
                            );
                        }
                        out.tally.false_downs += 1;
                        out.tally.false_downs_by_rate += u32::from(by_rate);
                        out.tally.relapses += u32::from(recovered);
                    }
                }
            }
            if v.health == H::Down
                && let Some((_, downed)) = warm.as_mut()
            {
                *downed = true;
            }
            if v.health == H::Up && health == H::Down {
                recovered = true;
            }
            health = v.health;
            let event = match v.health {
                H::Down => Event::PrimaryDown {
                    reason: v.reason.clone(),
                    streak_start: v.streak_start.unwrap_or(v.at),
                    last_good: v.last_good,
                    probe: probe.into(),
                },
                _ => Event::PrimaryUp {
                    reason: v.reason.clone(),
                    probe: probe.into(),
                },
            };
            runs += 1;
            let d = decide(&state, &event, now, machine, &format!("r{runs}"));
            state = d.next;
            for a in d.actions {
                if let Action::StartRun { run, kind, trigger } = a {
                    if kind == RunbookKind::Failover && matches!(trigger, Trigger::Automatic { .. })
                    {
                        match episode {
                            Some(i) => out.episodes[i].failovers += 1,
                            None => out.tally.false_failovers += 1,
                        }
                    }
                    let secs = if kind == RunbookKind::Failback {
                        FAILBACK_SECS
                    } else {
                        FAILOVER_SECS
                    };
                    running = Some((run, kind, done + secs));
                }
            }
        }
        // The operator fails back once the primary has been fine for a while.
        if state.serving == Serving::Standby
            && running.is_none()
            && !sick
            && health == H::Up
            && !trace_sick_within(trace, done - OPERATOR_FAILBACK_AFTER, done)
        {
            runs += 1;
            let d = decide(
                &state,
                &Event::Requested {
                    kind: RunbookKind::Failback,
                    rerun: false,
                },
                now,
                machine,
                &format!("r{runs}"),
            );
            state = d.next;
            if let Some(Action::StartRun { run, kind, .. }) = d.actions.first().cloned() {
                running = Some((run, kind, done + FAILBACK_SECS));
            }
        }
        t += interval;
    }
    if let Some((since, false)) = warm {
        out.tally.false_prewarms += 1;
        out.tally.false_prewarm_secs += trace.length - since;
    }
    out
}

/// The episode a verdict at `t` belongs to: one under way, or one that ended so recently that a
/// round it failed is still being judged. Sick episodes win over others.
fn episode_at(trace: &Trace, t: f64, policy: &Health) -> Option<usize> {
    let slack = policy.timeout.as_secs_f64() + policy.interval.as_secs_f64();
    let within = |e: &Episode| e.start <= t && t <= e.end + slack.max(e.lag);
    trace
        .episodes
        .iter()
        .position(|e| e.sick && within(e))
        .or_else(|| trace.episodes.iter().position(within))
}

fn trace_sick_within(trace: &Trace, from: f64, to: f64) -> bool {
    trace.episodes.iter().any(|e| e.start < to && e.end > from)
}

/// Builds a trace of `length` seconds of healthy traffic (with `loss`) with episodes placed
/// after one another, separated by healthy gaps long enough for a recovery and a failback.
pub struct TraceBuilder {
    pub trace: Trace,
    cursor: f64,
}

impl TraceBuilder {
    pub fn new(loss: f64) -> TraceBuilder {
        TraceBuilder {
            trace: Trace {
                length: 0.0,
                loss,
                segments: vec![],
                outside: vec![],
                episodes: vec![],
            },
            cursor: 0.0,
        }
    }

    pub fn healthy(&mut self, secs: f64) -> &mut Self {
        self.cursor += secs;
        self
    }

    /// An episode of `phase` for `secs`.
    pub fn episode(
        &mut self,
        family: &'static str,
        label: String,
        phase: Phase,
        secs: f64,
        sick: bool,
        bound: f64,
    ) -> &mut Self {
        let start = self.cursor;
        let detectable_from = start;
        self.trace.segments.push(Segment {
            start,
            end: start + secs,
            phase,
        });
        self.trace.episodes.push(Episode {
            family,
            label,
            start,
            end: start + secs,
            sick,
            detectable_from,
            bound,
            lag: 0.0,
        });
        self.cursor += secs;
        self
    }

    /// Flapping: `down` seconds of `phase`, `up` seconds healthy, for `secs`; one episode.
    #[allow(clippy::too_many_arguments)]
    pub fn flapping(
        &mut self,
        family: &'static str,
        label: String,
        phase: Phase,
        down: f64,
        up: f64,
        secs: f64,
        sick: bool,
        bound: f64,
        rng: &mut Rng,
    ) -> &mut Self {
        let start = self.cursor;
        let mut t = start;
        // Each phase ±25%: real flapping is not a clock, and a perfect period would alias with
        // the probe interval (a 2 s flap probed every 2 s is always seen in the same phase).
        while t < start + secs {
            let d = down * rng.between(0.75, 1.25);
            self.trace.segments.push(Segment {
                start: t,
                end: t + d,
                phase,
            });
            t += d + up * rng.between(0.75, 1.25);
        }
        self.trace.episodes.push(Episode {
            family,
            label,
            start,
            end: t,
            sick,
            detectable_from: start,
            bound,
            lag: 0.0,
        });
        self.cursor = t;
        self
    }

    pub fn outside(&mut self, at_offset: f64, what: Outside) -> &mut Self {
        self.trace.outside.push((self.cursor + at_offset, what));
        self
    }

    pub fn build(&mut self) -> Trace {
        let mut t = self.trace.clone();
        t.length = self.cursor;
        t.outside.sort_by(|a, b| a.0.total_cmp(&b.0));
        t
    }
}

/// The sim's figures over all families, for SIM.md and the `make test` version.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub rows: Vec<Row>,
    pub healthy_days: f64,
    pub healthy_rounds: u64,
    pub healthy_requests: u64,
    pub tally: Tally,
    /// Pre-warms on healthy days with noise (every one is money spent for nothing), and their
    /// warm seconds.
    pub healthy_prewarms: u32,
    pub healthy_prewarm_secs: f64,
    pub healthy_prewarm_by: [u32; 3],
}

impl Figures {
    /// Adds what a trace did wrong: verdicts and failovers outside every episode, and inside
    /// episodes that are not sick (the gray zone aside: its row reports it).
    fn add_wrong(&mut self, r: &TraceResult, trace: &Trace) {
        self.tally += r.tally;
        for (e, res) in trace.episodes.iter().zip(&r.episodes) {
            if e.sick || e.family == GRAY {
                continue;
            }
            self.tally += Tally {
                false_failovers: res.failovers,
                false_downs: res.downs,
                false_downs_by_rate: res.downs_by_rate,
                relapses: res.relapses,
                ..Tally::default()
            };
        }
    }
}

const GRAY: &str = "gray zone";

/// One line of a family's table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Which of the families' rows it came from: the table's order.
    pub row: usize,
    pub family: &'static str,
    pub label: String,
    pub sick: bool,
    pub episodes: u32,
    pub detected: u32,
    pub within_bound: u32,
    pub latencies: Vec<f64>,
    pub bound: f64,
    pub failovers: u32,
    pub max_failovers: u32,
    /// Detections that found the standby pre-warmed: seconds from the scale-up to the verdict.
    pub prewarm_leads: Vec<f64>,
}

impl Row {
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut v = self.latencies.clone();
        v.sort_by(f64::total_cmp);
        let i = ((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1);
        Some(v[i])
    }
}

/// The machine policy the sim runs: automatic mode, the default cooldown, manual failback.
pub fn machine_policy() -> Policy {
    Policy {
        mode: Mode::Automatic,
        cooldown: Duration::from_secs(1800),
        failback: Mode::Manual,
    }
}

/// One day of healthy traffic with noise: independent loss, a few 429 storms, short blips
/// (shorter than `(failure_threshold - 1) × interval`), a pause and resume, maybe a restart.
pub fn healthy_day(loss: f64, policy: &Health, rng: &mut Rng) -> Trace {
    let day = 86_400.0;
    let mut b = TraceBuilder::new(loss);
    let safe_blip = policy.interval.as_secs_f64() * f64::from(policy.failure_threshold.max(2) - 1);
    let mut used = 0.0;
    let storms = (rng.unit() * 3.0) as u32;
    let blips = 4 + (rng.unit() * 8.0) as u32;
    let mut events: Vec<(f64, u8)> = Vec::new();
    for _ in 0..storms {
        events.push((rng.between(0.0, day - 4000.0), 0));
    }
    for _ in 0..blips {
        events.push((rng.between(0.0, day - 4000.0), 1));
    }
    if rng.unit() < 0.3 {
        events.push((rng.between(0.0, day - 4000.0), 2));
    }
    if rng.unit() < 0.3 {
        events.push((rng.between(0.0, day - 4000.0), 3));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (when, kind) in events {
        // Isolated events: two blips a second apart are one longer blip, which is not this
        // family's to test (the gray-zone row is).
        if when < used + 60.0 {
            continue;
        }
        b.healthy(when - used);
        let took = match kind {
            0 => {
                let secs = rng.between(60.0, 1800.0);
                let p = rng.between(0.3, 1.0);
                b.episode(
                    "healthy",
                    "429 storm".into(),
                    Phase::RateLimited(p),
                    secs,
                    false,
                    0.0,
                );
                secs
            }
            1 => {
                let secs = rng.between(0.05, safe_blip * 0.999);
                let phase = if rng.unit() < 0.5 {
                    Phase::Refused
                } else {
                    Phase::Unavailable
                };
                b.episode("healthy", "blip".into(), phase, secs, false, 0.0);
                secs
            }
            2 => {
                b.outside(
                    0.0,
                    Outside::Restart {
                        gap: rng.between(1.0, 30.0),
                    },
                );
                0.0
            }
            _ => {
                b.outside(0.0, Outside::Pause);
                b.outside(rng.between(10.0, 600.0), Outside::Resume);
                0.0
            }
        };
        used = when + took;
    }
    b.healthy(day - used.min(day));
    b.build()
}

/// How much to simulate.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Days of healthy traffic with noise (split across the loss levels).
    pub healthy_days: u32,
    /// Episodes per row of each sick family.
    pub per_row: u32,
    pub seed: u64,
}

/// Loss levels of the healthy family: independent request loss up to 2%.
pub const LOSS_LEVELS: &[f64] = &[0.005, 0.01, 0.02];

/// The rows of the sick families (and the not-sick ones that must not fail over), each a list
/// of traces. Built per row so a worker can run them one at a time.
fn row_traces(policy: &Health, scale: Scale, row: usize, rng: &mut Rng) -> Option<Vec<Trace>> {
    let i = policy.interval.as_secs_f64();
    let t = f64::from(policy.failure_threshold.max(1));
    let timeout = policy.timeout.as_secs_f64();
    let slow = policy.slow.as_secs_f64();
    let cut = slow.min(timeout);
    let streak = t * i;
    let brownout_bound = (policy.window + policy.degraded_for).as_secs_f64();
    let gap = |rng: &mut Rng| rng.between(1500.0, 2400.0);
    let n = scale.per_row as usize;
    let mut many = |f: &mut dyn FnMut(&mut TraceBuilder, &mut Rng)| -> Vec<Trace> {
        let mut out = Vec::new();
        let mut rng2 = Rng::new(rng.next_u64());
        // Ten episodes to a trace, so cooldowns and failbacks happen in between.
        for chunk in 0..n.div_ceil(10) {
            let mut b = TraceBuilder::new(0.005);
            b.healthy(gap(&mut rng2));
            for _ in 0..(n - chunk * 10).min(10) {
                f(&mut b, &mut rng2);
                b.healthy(gap(&mut rng2));
            }
            out.push(b.build());
        }
        out
    };
    let outage = |phase: Phase, label: &'static str, bound: f64| {
        move |b: &mut TraceBuilder, rng: &mut Rng| {
            let secs = rng.log_between(5.0_f64.max(streak + timeout), 7200.0);
            b.episode("hard outage", label.into(), phase, secs, true, bound);
        }
    };
    Some(match row {
        0 => many(&mut outage(Phase::Refused, "refused", streak + 0.1)),
        1 => many(&mut outage(Phase::Unavailable, "503", streak + 0.1)),
        2 => many(&mut outage(Phase::Hang, "hang", streak + timeout)),
        3 => many(&mut outage(
            Phase::Slow(slow.max(timeout) + 2.0),
            "slow 2xx",
            streak + cut,
        )),
        4 => many(&mut |b, rng| {
            // A restart of the daemon somewhere in a 10-minute outage: the verdict is rebuilt
            // from nothing, the persisted state (armed, cooldown) still holds.
            let secs = 600.0;
            let when = rng.between(0.0, 300.0);
            b.outside(
                when,
                Outside::Restart {
                    gap: rng.between(1.0, 30.0),
                },
            );
            b.episode(
                "hard outage",
                "refused, daemon restarted during it".into(),
                Phase::Refused,
                secs,
                true,
                f64::INFINITY,
            );
        }),
        5..=9 => {
            let rate = [0.02, 0.10, 0.20, 0.30, 0.50][row - 5];
            let sick = rate > policy.error_rate;
            let detectable = standby_core::detector::detectable_rate(policy);
            let note = if sick && rate < detectable {
                format!(
                    " (below the {:.1}% the window can tell apart: no bound)",
                    detectable * 100.0
                )
            } else {
                String::new()
            };
            let bound = if note.is_empty() {
                brownout_bound
            } else {
                f64::INFINITY
            };
            many(&mut |b, _| {
                b.episode(
                    "brownout",
                    format!("{:.0}% of requests fail{note}", rate * 100.0),
                    Phase::Brownout(rate),
                    900.0,
                    sick,
                    bound,
                );
                b.trace.episodes.last_mut().expect("just pushed").lag = brownout_bound;
            })
        }
        10..=16 => {
            let period = [0.5, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0][row - 10];
            many(&mut |b, rng| {
                b.flapping(
                    "flapping",
                    format!(
                        "period {}",
                        standby_core::duration::human(Duration::from_secs_f64(period))
                    ),
                    Phase::Refused,
                    period / 2.0,
                    period / 2.0,
                    1200.0,
                    true,
                    brownout_bound.max(streak + 0.1 + period / 2.0),
                    rng,
                );
                // Its failed requests stay in the error-rate window after it ends.
                b.trace.episodes.last_mut().expect("just pushed").lag = brownout_bound;
            })
        }
        17 => many(&mut |b, _| {
            // Latency ramps from 0.1 s to 5 s over 10 minutes: down once it crosses the cut.
            let (secs, to) = (1200.0, 5.0);
            let start = b.cursor;
            b.episode(
                "slow drift",
                "0.1 s → 5 s over 10 min".into(),
                Phase::Drift {
                    from: start,
                    until: start + 600.0,
                    to_latency: to,
                },
                secs,
                true,
                streak + cut,
            );
            let e = b.trace.episodes.last_mut().expect("just pushed");
            e.detectable_from = start + 600.0 * (cut - 0.1) / (to - 0.1);
        }),
        18 => many(&mut |b, rng| {
            // A 5-minute outage, then a recovery with three blips over the next minutes: must
            // never go down again.
            b.episode(
                "recovery with blips",
                "5 min refused".into(),
                Phase::Refused,
                300.0,
                true,
                streak + 0.1,
            );
            let safe = i * (t - 1.0).max(1.0);
            for _ in 0..3 {
                b.healthy(rng.between(60.0, 300.0));
                let secs = rng.between(0.05, safe * 0.999);
                b.episode(
                    "recovery with blips",
                    "blip after recovery".into(),
                    Phase::Unavailable,
                    secs,
                    false,
                    0.0,
                );
            }
        }),
        19 => many(&mut |b, rng| {
            // Blips between (threshold - 1) and threshold intervals: two round starts may fall
            // inside one, which is indistinguishable from the start of a real outage.
            let lo = i * (t - 1.0).max(1.0);
            let secs = rng.between(lo, streak);
            b.episode(
                GRAY,
                format!("blip {:.1}–{:.1} s", lo, streak),
                Phase::Refused,
                secs,
                false,
                0.0,
            );
        }),
        _ => return None,
    })
}

/// Runs the whole simulation on up to `workers` threads.
pub fn run(policy: &Health, scale: Scale, workers: usize) -> Figures {
    let machine = machine_policy();
    let workers = workers.max(1);
    let results: Vec<(Figures, Vec<Row>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    let mut fig = Figures::default();
                    let mut rows: Vec<Row> = Vec::new();
                    // Healthy days, by index so the split does not change the figures.
                    for day in (w..scale.healthy_days as usize).step_by(workers) {
                        let mut rng =
                            Rng::new(scale.seed ^ (day as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
                        let loss = LOSS_LEVELS[day % LOSS_LEVELS.len()];
                        let trace = healthy_day(loss, policy, &mut rng);
                        let r = run_trace(&trace, policy, &machine, rng.next_u64());
                        fig.healthy_days += trace.length / 86_400.0;
                        fig.healthy_rounds += r.rounds;
                        fig.healthy_requests += r.requests;
                        fig.healthy_prewarms += r.tally.prewarms;
                        for (a, b) in fig.healthy_prewarm_by.iter_mut().zip(r.tally.prewarm_by) {
                            *a += b;
                        }
                        fig.healthy_prewarm_secs += r.tally.false_prewarm_secs;
                        fig.add_wrong(&r, &trace);
                    }
                    let mut row = w;
                    loop {
                        let mut rng = Rng::new(scale.seed.wrapping_add(row as u64 * 7919));
                        let Some(traces) = row_traces(policy, scale, row, &mut rng) else {
                            break;
                        };
                        for (k, trace) in traces.iter().enumerate() {
                            let r = run_trace(trace, policy, &machine, rng.next_u64() ^ k as u64);
                            fig.add_wrong(&r, trace);
                            for (e, res) in trace.episodes.iter().zip(&r.episodes) {
                                let i = match rows
                                    .iter()
                                    .position(|r| r.family == e.family && r.label == e.label)
                                {
                                    Some(i) => i,
                                    None => {
                                        rows.push(Row {
                                            row,
                                            family: e.family,
                                            label: e.label.clone(),
                                            sick: e.sick,
                                            bound: e.bound,
                                            ..Row::default()
                                        });
                                        rows.len() - 1
                                    }
                                };
                                let out = &mut rows[i];
                                out.episodes += 1;
                                out.failovers += res.failovers;
                                out.max_failovers = out.max_failovers.max(res.failovers);
                                if !e.sick {
                                    out.detected += u32::from(res.downs > 0);
                                } else if let Some(d) = res.detected_after {
                                    out.detected += 1;
                                    out.latencies.push(d);
                                    out.prewarm_leads.extend(res.prewarm_lead);
                                    if d <= e.bound + 1e-6 {
                                        out.within_bound += 1;
                                    }
                                }
                            }
                        }
                        row += workers;
                    }
                    (fig, rows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sim worker"))
            .collect()
    });
    let mut fig = Figures::default();
    let mut rows = Vec::new();
    for (f, r) in results {
        fig.healthy_days += f.healthy_days;
        fig.healthy_rounds += f.healthy_rounds;
        fig.healthy_requests += f.healthy_requests;
        fig.healthy_prewarms += f.healthy_prewarms;
        for (a, b) in fig.healthy_prewarm_by.iter_mut().zip(f.healthy_prewarm_by) {
            *a += b;
        }
        fig.healthy_prewarm_secs += f.healthy_prewarm_secs;
        fig.tally += f.tally;
        rows.extend(r);
    }
    // Families are numbered in order; a row's two labels (a recovery and its blips) stay in
    // the order they were seen.
    rows.sort_by_key(|r| r.row);
    fig.rows = rows;
    fig
}

fn secs(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.1} s"),
        _ => "—".into(),
    }
}

/// SIM.md: the figures with the policy they were measured under.
pub fn markdown(fig: &Figures, policy: &Health, scale: Scale, took: Duration) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let years = fig.healthy_days / 365.0;
    let _ = writeln!(o, "# Detector and state machine simulation\n");
    let _ = writeln!(
        o,
        "Written by `make sim` (benches/sim.rs, src/testbed/sim.rs): the pure detector and state machine fed synthetic probe rounds with injected time, seed {:#x}, {:.0} s of wall time on this machine. The policy is the default `[health]`: interval {}, timeout {}, failure_threshold {}, window {}, error_rate {:.0}%, min_samples {}, degraded_for {}, slow {}, recover_after {}; automatic mode, cooldown 30m, manual failback (an operator fails back 10 minutes after the primary is fine, and acknowledges half the time).\n",
        scale.seed,
        took.as_secs_f64(),
        standby_core::duration::human(policy.interval),
        standby_core::duration::human(policy.timeout),
        policy.failure_threshold,
        standby_core::duration::human(policy.window),
        policy.error_rate * 100.0,
        policy.min_samples,
        standby_core::duration::human(policy.degraded_for),
        standby_core::duration::human(policy.slow),
        policy.recover_after,
    );
    let _ = writeln!(o, "## Healthy traffic with noise\n");
    let _ = writeln!(
        o,
        "{:.0} simulated days ({:.1} years; independent request loss {} in turn; per day 0–2 storms of 429s at 30–100% for 1–30 min, 4–11 isolated blips (at least a minute apart) of refused or 503 shorter than (failure_threshold − 1) × interval, a daemon restart in 30% of days, a pause and resume in 30%): {} probe rounds, {} requests.\n",
        fig.healthy_days,
        years,
        LOSS_LEVELS
            .iter()
            .map(|l| format!("{:.1}%", l * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        fig.healthy_rounds,
        fig.healthy_requests
    );
    let _ = writeln!(o, "| figure | value | target |\n|---|---|---|");
    let _ = writeln!(
        o,
        "| false failovers (all families) | {} ({:.3} per simulated year of healthy traffic) | 0 |",
        fig.tally.false_failovers,
        f64::from(fig.tally.false_failovers) / years.max(1e-9)
    );
    let _ = writeln!(
        o,
        "| false down verdicts (all families): consecutive rule / brownout rule | {} / {} | 0 |",
        fig.tally.false_downs - fig.tally.false_downs_by_rate,
        fig.tally.false_downs_by_rate
    );
    let _ = writeln!(
        o,
        "| down again after a recovery, primary healthy | {} | 0 |",
        fig.tally.relapses
    );
    let _ = writeln!(
        o,
        "| verdict changes / notifications sent (all families) | {} / {} | flapping is one incident |\n",
        fig.tally.changes, fig.tally.notified
    );
    let _ = writeln!(o, "## Failure modes\n");
    let _ = writeln!(
        o,
        "Detection latency runs from the onset (for a slow drift, from the moment the latency crosses the cut-off) to the down verdict, taken when its round completes. \"failovers/episode\" is the most automatic failovers any one episode caused.\n"
    );
    let _ = writeln!(
        o,
        "| family | trace | episodes | detected | within bound | p50 | p99 | max | bound | failovers/episode (max) |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &fig.rows {
        let bound = if r.bound.is_finite() && r.sick {
            format!("{:.1} s", r.bound)
        } else {
            "—".into()
        };
        let within = if r.sick && r.bound.is_finite() {
            format!("{}/{}", r.within_bound, r.episodes)
        } else {
            "—".into()
        };
        let detected = if r.sick {
            format!("{}/{}", r.detected, r.episodes)
        } else {
            format!("{} down (must be 0)", r.detected).replace(
                "down (must be 0)",
                if r.family == "gray zone" {
                    "down (expected: see below)"
                } else {
                    "down (must be 0)"
                },
            )
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.family,
            r.label,
            r.episodes,
            detected,
            within,
            secs(r.percentile(0.5)),
            secs(r.percentile(0.99)),
            secs(r.latencies.iter().copied().reduce(f64::max)),
            bound,
            r.max_failovers
        );
    }
    let detectable = standby_core::detector::detectable_rate(policy);
    let _ = writeln!(
        o,
        "\nBrownouts: the window holds {} requests (one per round: the first of each), and the rule wants the rate above {:.0}% with three standard errors, so it tells apart rates from about {:.1}% (`standby validate` prints this for any config). Rates below that are still detected, late or not at all; the 10% row shows how it goes just under the line. Probing every 1 s doubles the requests per window and brings the line to about 9% (every 500 ms: 7.8%).",
        policy.requests_per_window(),
        policy.error_rate * 100.0,
        detectable * 100.0
    );
    let _ = writeln!(
        o,
        "\nThe gray zone: a blip longer than (failure_threshold − 1) × interval can hold `failure_threshold` round starts, and then it looks exactly like the first seconds of a real outage; no rule that detects a hard outage within failure_threshold × interval + timeout can tell them apart. The fraction that goes down is (length − (threshold − 1) × interval) / interval, as the row shows. The healthy family's blips stay below that length."
    );
    prewarm_section(&mut o, fig, policy);
    o
}

/// The scale-up and warm-up a pre-warm saves, at most: a GPU instance's boot, weights into GPU
/// memory and first request (minutes on p4d/p5; vLLM issues report 1–17 min). The saving is the
/// smaller of this and the lead the pre-warm had before the verdict.
pub const GPU_SCALE_AND_WARMUP_SECS: f64 = 600.0;

/// SIM.md's pre-warm section: false pre-warms on healthy traffic, and how far ahead of the
/// verdict each failure family found the standby pre-warmed.
fn prewarm_section(o: &mut String, fig: &Figures, policy: &Health) {
    use std::fmt::Write;
    let rules = PrewarmRules::for_policy(policy);
    let months = fig.healthy_days / 30.0;
    let _ = writeln!(o, "\n## Predictive pre-warm\n");
    let _ = writeln!(
        o,
        "The pre-warm watch (`standby_core::prewarm`, defaults for this policy: failure rate above {:.1}% at 95% confidence, {}, median latency above {}; held {}; back to warm after {} well) on the same rounds.\n",
        rules.error_rate * 100.0,
        rules.throttled_rate.map_or(
            "429s alone never (`throttled_rate` unset)".to_string(),
            |r| format!("429s above {:.0}%", r * 100.0)
        ),
        standby_core::duration::human(rules.latency),
        standby_core::duration::human(rules.sustain),
        standby_core::duration::human(rules.hold)
    );
    let _ = writeln!(o, "| figure | value |\n|---|---|");
    let _ = writeln!(
        o,
        "| pre-warms on healthy traffic with noise | {} in {:.0} days (failure rate {}, 429s {}, latency {}): {:.2} per 30 days, {:.1} warm hours per 30 days |",
        fig.healthy_prewarms,
        fig.healthy_days,
        fig.healthy_prewarm_by[0],
        fig.healthy_prewarm_by[1],
        fig.healthy_prewarm_by[2],
        f64::from(fig.healthy_prewarms) / months.max(1e-9),
        fig.healthy_prewarm_secs / 3600.0 / months.max(1e-9)
    );
    let _ = writeln!(
        o,
        "| pre-warms in all traces / ended with no down verdict | {} / {} |\n",
        fig.tally.prewarms, fig.tally.false_prewarms
    );
    let _ = writeln!(
        o,
        "| family | trace | detected | pre-warmed before the verdict | median lead | RTO saved (median, {:.0} s scale + warm-up) |\n|---|---|---|---|---|---|",
        GPU_SCALE_AND_WARMUP_SECS
    );
    for r in fig.rows.iter().filter(|r| r.sick) {
        let mut leads = r.prewarm_leads.clone();
        leads.sort_by(f64::total_cmp);
        let median = leads.get(leads.len() / 2).copied();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            r.family,
            r.label,
            r.detected,
            leads.len(),
            secs(median),
            secs(median.map(|m| m.min(GPU_SCALE_AND_WARMUP_SECS)))
        );
    }
}

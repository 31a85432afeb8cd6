//! Reports: a run's journal in, what an auditor signs out. Pure; the executor writes the files
//! ([`markdown`] for review, JSON for machines, [`html`] with a timeline picture for people).
//!
//! RTO: the outage's onset lies between the last good probe and the first failing one of the
//! streak that triggered (both reported); an operator's command is an exact start. The clock stops
//! at `restored_at`: the first good answer of the run's last successful `verify` of its first
//! phase (after the flip: the record INSYNC on the target and the target answering). The rounds
//! that confirm it come after and are `confirmed_at`, outside the figure. The headline counts from
//! the last good probe, so it is a true upper bound (`bound: at_most`); the figure from the first
//! failing probe is the range's low end. The effective figure adds the DNS TTL, because resolvers
//! may keep serving the old answer that long; the objective is met only if the effective figure is
//! within it. A standby drill moves no traffic: its figure is the RTO a failover would have had,
//! built from what was measured on this setup (in this drill, or in the last failover) and, for
//! what never was, from a stated model, labelled `estimate`, with low and high ends; the figure is
//! a range when estimates dominate.

pub mod figure;
pub mod html;
pub mod markdown;
pub mod svg;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::duration::{between, human, millis};
use crate::machine::Trigger;
use crate::outcome::ProbeResult;
use crate::plan::Changes;
use crate::record::{RunRecord, RunStatus, StepStatus};
use crate::runbook::{Action, RunbookKind};
use crate::smoke::SmokeResult;
use crate::sync::manifest::{Rpo, RpoKind};
pub use figure::{Bound, ComponentBasis, Objective, RtoBasis};

pub const SCHEMA_VERSION: u32 = 3;

/// The JSON Schema every `report.json` validates against (tests check each report they write).
/// Where reports are uploaded in the reports bucket: `<PREFIX><run id>/<file>`.
pub const PREFIX: &str = "reports/";

pub const SCHEMA: &str = include_str!("schema.json");

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    pub kind: String,
    pub service: String,
    pub result: RunStatus,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub trigger: TriggerSection,
    pub rto: Rto,
    /// Drills only: warm-up, the would-be RTO of a standby drill, the failback of a full drill.
    pub drill: Option<DrillSection>,
    pub steps: Vec<StepSection>,
    /// Each artifact set's RPO at the failure, after the final sync, and what was lost.
    pub rpo: Vec<RpoSection>,
    /// Synthetic requests the run sent, with their checks.
    pub probes: Vec<SmokeResult>,
    pub runbook: Provenance,
    pub config: Provenance,
    pub resumed_at: Vec<DateTime<Utc>>,
    /// A failover's failed attempts, each retried at its failed step (or the last one).
    #[serde(default)]
    pub attempts: Vec<crate::record::FailedAttempt>,
    pub notes: Vec<String>,
    /// Who started it, on which host, with which standby build (absent for older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::record::Origin>,
    /// A failover that started from a pre-warmed standby: the pre-warm and the RTO it saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prewarm: Option<PrewarmSection>,
    /// The last readiness evaluation when the run started (absent: none had been made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ReadinessSection>,
}

/// The pre-warm a failover started from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrewarmSection {
    pub episode: String,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    /// The standby answered after the pre-warm's scale-up (`None`: still scaling up when the
    /// failover started).
    pub ready_at: Option<DateTime<Utc>>,
    /// The pre-warm's scale-up and verification, measured.
    pub warm_up_ms: Option<u64>,
    /// This failover's scale-up to its verification's first good answer, measured (`None`: the
    /// standby never answered in this run).
    pub failover_scale_verify_ms: Option<u64>,
    /// The scale-up and warm-up this failover did not wait for (an estimate, see `basis`).
    pub rto_saved_ms: Option<u64>,
    pub basis: String,
}

/// The readiness evaluation the run started with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadinessSection {
    pub evaluated_at: DateTime<Utc>,
    /// How old it was when the run started.
    pub age_ms: u64,
    pub ready: bool,
    pub summary: String,
    /// Every finding that was not ok, one line each.
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TriggerSection {
    pub kind: String,
    pub reason: String,
    pub clock_start: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub evidence: Vec<ProbeResult>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rto {
    /// `measured` (traffic moved, clock read) or `drill_estimate` (a standby drill's would-be).
    pub basis: RtoBasis,
    pub objective_ms: u64,
    /// The headline: `clock_start` → `restored_at`. `None` until a verify step succeeded: the
    /// service was not shown to be recovered.
    pub measured_ms: Option<u64>,
    /// What the headline is: "at_most" (counted from the last good probe: the onset is no earlier),
    /// "exact" (an operator's command started the clock), "from_first_failing" (no good probe
    /// was seen before the streak, so nothing bounds the onset from below), "estimate" (a standby
    /// drill's would-be).
    pub bound: Bound,
    /// From the first failing probe (the onset's latest possible instant) to `restored_at`: the
    /// low end of "between X and Y".
    pub from_first_failing_ms: Option<u64>,
    /// A true lower bound: the first failing probe (or the command) to the moment the record
    /// change was submitted, before which traffic surely still went to the failed side. The
    /// truth lies between this and the headline. `None` when the run moved no record.
    pub at_least_ms: Option<u64>,
    pub dns_ttl_ms: u64,
    pub effective_ms: Option<u64>,
    pub objective_met: bool,
    /// "met", "breached", or (a standby drill whose estimates span the objective) "unproven":
    /// the effective figure's whole range must be within the objective to call it met.
    pub objective: Objective,
    /// The onset's bracket: the last good probe before the triggering streak and its first
    /// failing probe (both the command's instant for a manual run).
    pub onset: Onset,
    /// Where the headline starts: the last good probe, else the first failing one, else the command.
    pub clock_start: DateTime<Utc>,
    /// Where it stops: `restored_at`.
    pub clock_stop: Option<DateTime<Utc>>,
    /// The first good answer of the verification that ended the outage (the target answering
    /// after the record moved to it).
    pub restored_at: Option<DateTime<Utc>>,
    /// The end of that verification: the confirming rounds, after service was back.
    pub confirmed_at: Option<DateTime<Utc>>,
    pub breakdown: Breakdown,
    /// When a breach first became likely during the run (projected RTO over the objective).
    pub breach_projected_at: Option<DateTime<Utc>>,
    /// The drill whose measured step durations the projection used, if any.
    pub projection_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Onset {
    pub last_good: Option<DateTime<Utc>>,
    pub first_failing: DateTime<Utc>,
}

/// Components that add up to the headline RTO.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breakdown {
    /// Clock start (the last good probe) → down verdict: the onset gap counts in detection.
    pub detect_ms: u64,
    /// Of `detect_ms`, the gap between the last good probe and the first failing one, inside
    /// which the outage began.
    pub onset_gap_ms: u64,
    /// Verdict (or command) → first step started: decision, confirmation, planning.
    pub decide_ms: u64,
    /// Final sync (failover) or reverse sync (failback) of the artifact sets.
    pub sync_ms: u64,
    pub scale_ms: u64,
    /// Verify and synthetic-probe steps: the warm-up shows here.
    pub verify_ms: u64,
    pub dns_ms: u64,
    /// Preflight and anything between steps (e.g. time lost to a crash before resuming).
    pub other_ms: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrillSection {
    pub kind: String,
    /// The drill was stopped early (a real primary failure, or a failed step).
    pub aborted: bool,
    /// Scaling the standby until its groups were InService.
    pub scale_ms: Option<u64>,
    /// From InService (the scale step's end) to the first good answer: the warm-up the fleet
    /// needed. The confirming probes after that answer are not warm-up.
    pub warmup_ms: Option<u64>,
    /// Standby drill: the failover this drill stands for, step by step.
    pub would_be: Vec<Component>,
    /// Standby drill: the sum of the components' low and high ends.
    pub would_be_low_ms: Option<u64>,
    pub would_be_high_ms: Option<u64>,
    /// Estimates make up more than half of the high end: the would-be is given as a range.
    pub estimates_dominate: bool,
    /// Full drill: first failback step started → failback verified.
    pub failback_ms: Option<u64>,
    /// The standby's capacity was put back to warm (standby drill) or traffic returned to the
    /// primary (full drill).
    pub restored: bool,
    /// What the drill cost in USD: the instances it added × how long they ran, at the prices
    /// of the last readiness evaluation; `None` when unknown (see `cost_basis`).
    pub cost_usd: Option<f64>,
    pub cost_basis: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Component {
    pub name: String,
    /// The figure the would-be RTO adds up: a measured value, or an estimate's high end.
    pub ms: u64,
    pub low_ms: u64,
    pub high_ms: u64,
    /// `measured` (in this drill, or in the last failover on this setup) or `estimate` (a model).
    pub basis: ComponentBasis,
    /// Where the figure comes from, in words: the run, or the model and its numbers.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepSection {
    pub name: String,
    pub action: String,
    #[serde(with = "crate::runbook::phase_words")]
    pub phase: RunbookKind,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub budget_ms: u64,
    pub timeout_ms: u64,
    pub over_budget: bool,
    pub cleanup: bool,
    pub attempts: u32,
    pub reason: String,
    pub planned: Changes,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    pub path: String,
    pub digest: Option<String>,
}

/// One artifact set's RPO at the instants that matter.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RpoSection {
    pub set: String,
    pub objective_ms: u64,
    /// At the failure (the trigger's last good probe, or the command): the data at risk.
    pub at_failure: Option<Rpo>,
    /// Right after the final sync: the data actually lost when traffic moves.
    pub after_final_sync: Option<Rpo>,
    /// The writes lost (after the final sync), oldest first: key, version, size, write time.
    /// `None` when no final sync ran or the primary could not be read.
    pub lost: Option<Vec<crate::sync::manifest::Write>>,
    pub lost_count: Option<usize>,
}

/// The phase whose verification stops the RTO clock: the run's first.
fn rto_phase(run: &RunRecord) -> RunbookKind {
    run.plan.steps.first().map(|s| s.phase).unwrap_or(run.kind)
}

/// The verification that ended the outage: the run-phase's last successful `verify`. Returns
/// (restored_at: its first good answer, confirmed_at: its end). Records from before the first
/// good answer was journaled fall back to the end.
fn restoration(
    run: &RunRecord,
    phase: RunbookKind,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut out = (None, None);
    for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
        if rec.status == StepStatus::Succeeded
            && planned.phase == phase
            && matches!(planned.action, Action::Verify { .. })
        {
            out = (first_ok_at(rec).or(rec.finished_at), rec.finished_at);
        }
    }
    out
}

/// When the run-phase's (last successful) record change was submitted: the restoration's
/// earliest possible instant.
fn flip_submitted_at(run: &RunRecord, phase: RunbookKind) -> Option<DateTime<Utc>> {
    run.plan
        .steps
        .iter()
        .zip(&run.steps)
        .filter(|(p, r)| {
            p.phase == phase
                && matches!(p.action, Action::FlipDns { .. })
                && r.status == StepStatus::Succeeded
        })
        .filter_map(|(_, r)| {
            r.details
                .get("submitted_at")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
        })
        .next_back()
}

/// The first good answer of a verify step's confirming streak, as the step journaled it.
pub fn first_ok_at(rec: &crate::record::StepRecord) -> Option<DateTime<Utc>> {
    first_ok_in(&rec.details)
}

/// The first good answer a verify step's details stamp (`first_ok_at`).
pub fn first_ok_in(details: &serde_json::Value) -> Option<DateTime<Utc>> {
    details
        .get("first_ok_at")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

pub fn build(run: &RunRecord) -> Report {
    let clock_start = run.trigger.clock_start();
    let first_failing = run.trigger.first_failing();
    let (trigger_kind, trigger_reason, decided_at, last_good) = match &run.trigger {
        Trigger::Automatic {
            reason,
            decided_at,
            last_good,
            ..
        } => ("automatic", reason.clone(), Some(*decided_at), *last_good),
        Trigger::Manual { command, .. } if command.starts_with("[[drills]]") => (
            "scheduled",
            format!("drill scheduled by {command}"),
            None,
            None,
        ),
        Trigger::Manual { command, .. } => (
            "manual",
            format!("an operator ran \"{command}\""),
            None,
            None,
        ),
    };
    let phase = rto_phase(run);
    let (restored_at, confirmed_at) = restoration(run, phase);

    let mut steps = Vec::new();
    let mut probes = Vec::new();
    for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
        let duration = match (rec.started_at, rec.finished_at) {
            (Some(a), Some(b)) => Some(between(a, b)),
            _ => None,
        };
        if matches!(planned.action, Action::Smoke { .. })
            && let Ok(p) = serde_json::from_value::<SmokeResult>(rec.details.clone())
        {
            probes.push(p);
        }
        steps.push(StepSection {
            name: planned.name.clone(),
            action: planned.action.name().to_string(),
            phase: planned.phase,
            status: rec.status,
            started_at: rec.started_at,
            finished_at: rec.finished_at,
            duration_ms: duration.map(millis),
            budget_ms: millis(planned.budget),
            timeout_ms: millis(planned.timeout),
            // A zero budget marks a step outside the RTO (e.g. after the clock stops).
            over_budget: duration.is_some_and(|d| !planned.budget.is_zero() && d > planned.budget),
            cleanup: planned.cleanup,
            attempts: rec.attempts,
            reason: rec.reason.clone(),
            planned: planned.changes.clone(),
            details: rec.details.clone(),
        });
    }

    let breakdown = restored_at
        .map(|stop| breakdown(run, phase, clock_start, first_failing, decided_at, stop))
        .unwrap_or_default();
    let ttl = Duration::from_secs(u64::from(run.dns_ttl_s));
    let drill = drill_section(run, &steps);
    let standby_drill = run.kind == RunbookKind::DrillStandby;
    let (basis, bound, measured) = match &drill {
        Some(d) if standby_drill => (
            RtoBasis::DrillEstimate,
            Bound::Estimate,
            restored_at.map(|_| Duration::from_millis(d.would_be.iter().map(|c| c.ms).sum())),
        ),
        _ => (
            RtoBasis::Measured,
            match (trigger_kind, last_good) {
                ("automatic", Some(_)) => Bound::AtMost,
                ("automatic", None) => Bound::FromFirstFailing,
                _ => Bound::Exact,
            },
            restored_at.map(|stop| between(clock_start, stop)),
        ),
    };
    let from_first_failing = (!standby_drill)
        .then(|| restored_at.map(|stop| millis(between(first_failing, stop))))
        .flatten();
    let at_least = restored_at
        .and(flip_submitted_at(run, phase))
        .map(|submitted| millis(between(first_failing, submitted)));
    let effective = measured.map(|m| m + ttl);
    let recovered = match run.kind {
        // An aborted drill may still have shown the standby recovers in time.
        RunbookKind::DrillStandby => measured.is_some(),
        _ => run.status == RunStatus::Succeeded,
    };
    // A standby drill's range: met only if even its high end is within the objective, breached
    // only if even its low end is over it.
    let range = drill
        .as_ref()
        .filter(|_| standby_drill)
        .and_then(|d| Some((d.would_be_low_ms?, d.would_be_high_ms?)))
        .map(|(l, h)| {
            (
                Duration::from_millis(l) + ttl,
                Duration::from_millis(h) + ttl,
            )
        });
    let objective = match (recovered, effective, range) {
        (false, ..) | (_, None, _) => Objective::Breached,
        (true, Some(_), Some((_, high))) if high <= run.rto_objective => Objective::Met,
        (true, Some(_), Some((low, _))) if low > run.rto_objective => Objective::Breached,
        (true, Some(_), Some(_)) => Objective::Unproven,
        (true, Some(e), None) if e <= run.rto_objective => Objective::Met,
        (true, Some(_), None) => Objective::Breached,
    };
    let objective_met = objective == Objective::Met;
    let breach_projected_at = run.breach_projected_at;

    Report {
        schema_version: SCHEMA_VERSION,
        run_id: run.id.clone(),
        kind: run.kind.as_str().to_string(),
        service: run.service.clone(),
        result: run.status,
        reason: run.reason.clone(),
        started_at: run.created_at,
        finished_at: run.finished_at,
        trigger: TriggerSection {
            kind: trigger_kind.into(),
            reason: trigger_reason,
            clock_start,
            decided_at,
            evidence: run.evidence.clone(),
        },
        rto: Rto {
            basis,
            objective_ms: millis(run.rto_objective),
            measured_ms: measured.map(millis),
            bound,
            from_first_failing_ms: from_first_failing,
            at_least_ms: at_least,
            dns_ttl_ms: millis(ttl),
            effective_ms: effective.map(millis),
            objective_met,
            objective,
            onset: Onset {
                last_good,
                first_failing,
            },
            clock_start,
            clock_stop: restored_at,
            restored_at,
            confirmed_at,
            breakdown,
            breach_projected_at,
            projection_from: run.estimates_from.clone(),
        },
        drill,
        steps,
        rpo: rpo_sections(run),
        probes,
        runbook: Provenance {
            path: run.runbook_path.clone(),
            digest: Some(run.runbook_digest.clone()),
        },
        config: Provenance {
            path: run.config_path.clone(),
            digest: run.config_digest.clone(),
        },
        resumed_at: run.resumed_at.clone(),
        attempts: run.attempts.clone(),
        notes: run
            .notes
            .iter()
            .map(|n| format!("{} {}", ts(n.at), n.text))
            .collect(),
        origin: run.origin.clone(),
        prewarm: prewarm_section(run),
        readiness: run.readiness.as_ref().map(|e| ReadinessSection {
            evaluated_at: e.at,
            age_ms: millis(between(e.at, run.created_at)),
            ready: e.ready(),
            summary: e.summary(),
            findings: e
                .findings
                .iter()
                .filter(|f| f.severity != crate::readiness::Severity::Ok)
                .map(|f| f.line())
                .collect(),
        }),
    }
}

/// From the start of the first scale-up of the standby in the run's first phase to the first
/// good answer of the verification after it: what a pre-warm spares a failover.
fn scale_to_answer(run: &RunRecord) -> Option<u64> {
    let phase = rto_phase(run);
    let mut from = None;
    for (p, r) in run.plan.steps.iter().zip(&run.steps) {
        if p.phase != phase || p.cleanup {
            continue;
        }
        match (&p.action, from) {
            (
                Action::ScaleAsgs {
                    side: crate::side::Side::Standby,
                    target: crate::runbook::Capacity::Serving,
                },
                None,
            ) => from = Some(r.started_at?),
            (Action::Verify { .. }, Some(f)) if r.status == StepStatus::Succeeded => {
                let first = first_ok_at(r).or(r.finished_at)?;
                return Some(millis(between(f, first.max(f))));
            }
            _ => {}
        }
    }
    None
}

fn prewarm_section(run: &RunRecord) -> Option<PrewarmSection> {
    let h = run.prewarm.as_ref()?;
    let took = scale_to_answer(run);
    let saved = took.map(|t| crate::prewarm::saved(h, run.created_at, Duration::from_millis(t)));
    Some(PrewarmSection {
        episode: h.episode.clone(),
        reason: h.reason.clone(),
        started_at: h.started_at,
        ready_at: h.ready_at,
        warm_up_ms: h.warm_up_ms,
        failover_scale_verify_ms: took,
        rto_saved_ms: saved.as_ref().map(|s| s.ms),
        basis: saved.map_or(
            "the standby never answered in this run: nothing to compare".to_string(),
            |s| s.basis,
        ),
    })
}

impl PrewarmSection {
    /// The section's rows (measure, value), for Markdown and HTML alike.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let opt = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "—".into());
        vec![
            ("pre-warm", self.episode.clone()),
            ("why", self.reason.clone()),
            ("started", ts(self.started_at)),
            (
                "standby answering",
                self.ready_at
                    .map_or("not yet: still scaling up".to_string(), ts),
            ),
            ("its scale-up and warm-up (measured)", opt(self.warm_up_ms)),
            (
                "this failover's scale-up and warm-up (measured)",
                opt(self.failover_scale_verify_ms),
            ),
            ("RTO saved", opt(self.rto_saved_ms)),
            ("basis", self.basis.clone()),
        ]
    }
}

impl ReadinessSection {
    /// The section's lead line: the summary and how old the evaluation was.
    pub fn lead(&self) -> String {
        format!(
            "Evaluated {} ({} before the run started): {}",
            ts(self.evaluated_at),
            ms(self.age_ms),
            self.summary
        )
    }
}

fn breakdown(
    run: &RunRecord,
    phase: RunbookKind,
    clock_start: DateTime<Utc>,
    first_failing: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    stop: DateTime<Utc>,
) -> Breakdown {
    let mut b = Breakdown::default();
    if let Some(d) = decided_at {
        b.detect_ms = millis(between(clock_start, d));
        b.onset_gap_ms = millis(between(clock_start, first_failing));
    }
    if let Some(first) = run.steps.iter().filter_map(|s| s.started_at).min() {
        b.decide_ms = millis(between(decided_at.unwrap_or(clock_start), first));
    }
    for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
        let (Some(a), Some(end)) = (rec.started_at, rec.finished_at) else {
            continue;
        };
        if a >= stop || planned.phase != phase {
            continue;
        }
        let d = millis(between(a, end.min(stop)));
        match planned.action {
            Action::ScaleAsgs { .. } => b.scale_ms += d,
            Action::Verify { .. } | Action::Smoke { .. } => b.verify_ms += d,
            Action::FlipDns { .. } => b.dns_ms += d,
            Action::FinalSync | Action::ReverseSync => b.sync_ms += d,
            Action::Preflight | Action::Report | Action::FreezeRpo | Action::Hook { .. } => {}
        }
    }
    let accounted = b.detect_ms + b.decide_ms + b.sync_ms + b.scale_ms + b.verify_ms + b.dns_ms;
    b.other_ms = millis(between(clock_start, stop)).saturating_sub(accounted);
    b
}

fn step_ms(s: &StepSection) -> Option<u64> {
    (s.status == StepStatus::Succeeded)
        .then_some(s.duration_ms)
        .flatten()
}

/// The warm-up: InService (the end of the phase's first scale step) to the first good answer of
/// the verification after it.
fn warmup(run: &RunRecord, phase: RunbookKind) -> Option<u64> {
    let mut in_service = None;
    for (p, r) in run.plan.steps.iter().zip(&run.steps) {
        if p.phase != phase || p.cleanup || r.status != StepStatus::Succeeded {
            continue;
        }
        match (&p.action, in_service) {
            (Action::ScaleAsgs { .. }, None) => in_service = Some(r.finished_at?),
            (Action::Verify { .. }, Some(from)) => {
                let first = first_ok_at(r).or(r.finished_at)?;
                return Some(millis(between(from, first.max(from))));
            }
            _ => {}
        }
    }
    None
}

/// A standby drill's would-be RTO, one component per failover step: measured in this drill, or
/// measured by the last failover on this setup, or estimated from a stated model.
fn would_be(run: &RunRecord, steps: &[StepSection]) -> Vec<Component> {
    let measured = |ms: u64, source: String| Component {
        name: String::new(),
        ms,
        low_ms: ms,
        high_ms: ms,
        basis: ComponentBasis::Measured,
        source,
    };
    let estimate = |ms: u64, low_ms: u64, high_ms: u64, source: String| Component {
        name: String::new(),
        ms,
        low_ms,
        high_ms,
        basis: ComponentBasis::Estimate,
        source,
    };
    let low = run.detection_min_ms.min(run.detection_ms);
    let mut out = vec![Component {
        name: "detect".into(),
        ..estimate(
            run.detection_ms,
            low,
            run.detection_ms,
            format!(
                "model: the last good probe to the down verdict takes failure_threshold × interval ({}) for a refused or erroring primary, plus the probe timeout for a hanging one ({})",
                ms(low),
                ms(run.detection_ms)
            ),
        )
    }];
    // The standby's first good answer in this drill: how long a probe takes to see it serving.
    let answer_ms = run
        .plan
        .steps
        .iter()
        .zip(&run.steps)
        .filter(|(p, r)| {
            matches!(p.action, Action::Verify { .. }) && r.status == StepStatus::Succeeded
        })
        .filter_map(|(_, r)| r.details.get("first_ok")?.get("latency_ms")?.as_u64())
        .next();
    for f in &run.failover_steps {
        let here = run
            .plan
            .steps
            .iter()
            .zip(steps)
            .filter(|(p, s)| p.action.key() == f.key && !s.cleanup)
            .nth(f.nth)
            .and_then(|(_, s)| step_ms(s));
        let c = match (here, f.last_ms, &f.last_from, &f.model) {
            (Some(v), ..) => measured(v, "measured in this drill".into()),
            (None, Some(v), Some(from), _) => measured(v, format!("measured in run {from}")),
            (None, _, _, Some(m)) => estimate(m.ms, m.low_ms, m.high_ms, m.source.clone()),
            (None, ..) if f.restores && answer_ms.is_some() => {
                let v = answer_ms.unwrap_or_default();
                estimate(
                    v,
                    v,
                    v,
                    "model: service is restored at the first good answer after the flip; the standby answered a probe in this time in this drill".into(),
                )
            }
            (None, ..) => estimate(
                f.budget_ms,
                0,
                f.budget_ms,
                "runbook budget (never measured on this setup, no model): 0 to its share of the objective".into(),
            ),
        };
        out.push(Component {
            name: f.name.clone(),
            ..c
        });
    }
    out
}

/// What a drill cost: each group it scaled up × the instances it added × the time from that
/// scale-up's start to the end of the last step that changed capacity (the return to warm),
/// or to the run's end when it never returned.
fn drill_cost(run: &RunRecord, steps: &[StepSection]) -> (Option<f64>, String) {
    if run.prices.is_empty() {
        return (
            None,
            "unknown: no readiness evaluation had priced the standby's groups when the drill started".into(),
        );
    }
    let mut added: Vec<(String, u32, Option<f64>, std::time::Duration)> = Vec::new();
    let scaled: Vec<(&crate::plan::PlannedStep, &StepSection)> = run
        .plan
        .steps
        .iter()
        .zip(steps)
        .filter(|(p, _)| matches!(p.changes, crate::plan::Changes::Asgs { .. }))
        .collect();
    let end = scaled
        .iter()
        .filter_map(|(_, s)| s.finished_at)
        .max()
        .or(run.finished_at);
    for (p, s) in &scaled {
        let crate::plan::Changes::Asgs { groups } = &p.changes else {
            continue;
        };
        let (Some(start), Some(end)) = (s.started_at, end) else {
            continue;
        };
        for g in groups.iter().filter(|g| g.scales_up()) {
            let before = g.from.map_or(0, |f| f.desired);
            let price = run.prices.iter().find(|x| x.group == g.name);
            added.push((
                g.name.clone(),
                g.desired.saturating_sub(before),
                price.and_then(|x| x.hourly),
                between(start, end),
            ));
        }
    }
    if added.is_empty() {
        return (Some(0.0), "no instances were added".into());
    }
    let total = crate::cost::drill(
        &added
            .iter()
            .map(|(_, n, price, ran)| (*n, *price, *ran))
            .collect::<Vec<_>>(),
    );
    let parts: Vec<String> = added
        .iter()
        .map(|(g, n, price, ran)| match price {
            Some(p) => format!(
                "{g}: {n} added × {} at {}/h",
                human(*ran),
                crate::cost::dollars(*p)
            ),
            None => format!("{g}: {n} added × {}, no price", human(*ran)),
        })
        .collect();
    (total, parts.join("; "))
}

fn drill_section(run: &RunRecord, steps: &[StepSection]) -> Option<DrillSection> {
    if !run.kind.is_drill() {
        return None;
    }
    let phase = rto_phase(run);
    let first = |action: &str| {
        steps
            .iter()
            .find(|s| s.phase == phase && s.action == action && !s.cleanup)
    };
    let scale_ms = first("scale_asgs").and_then(step_ms);
    let warmup_ms = warmup(run, phase);
    let aborted = run.status == RunStatus::Failed;
    let (cost_usd, cost_basis) = drill_cost(run, steps);
    match run.kind {
        RunbookKind::DrillStandby => {
            let would_be = would_be(run, steps);
            let low: u64 = would_be.iter().map(|c| c.low_ms).sum();
            let high: u64 = would_be.iter().map(|c| c.high_ms).sum();
            let estimated: u64 = would_be
                .iter()
                .filter(|c| c.basis == ComponentBasis::Estimate)
                .map(|c| c.high_ms)
                .sum();
            let restored = run.plan.steps.iter().zip(steps).any(|(p, s)| {
                p.cleanup
                    && matches!(
                        p.action,
                        Action::ScaleAsgs {
                            target: crate::runbook::Capacity::Warm,
                            ..
                        }
                    )
                    && s.status == StepStatus::Succeeded
            });
            Some(DrillSection {
                kind: run.kind.as_str().into(),
                aborted,
                scale_ms,
                warmup_ms,
                would_be,
                would_be_low_ms: Some(low),
                would_be_high_ms: Some(high),
                estimates_dominate: estimated * 2 > high,
                failback_ms: None,
                restored,
                cost_usd,
                cost_basis,
            })
        }
        _ => {
            let failback: Vec<&StepSection> = steps
                .iter()
                .filter(|s| s.phase == RunbookKind::Failback)
                .collect();
            let start = failback.iter().filter_map(|s| s.started_at).min();
            let (restored_at, _) = restoration(run, RunbookKind::Failback);
            let failback_ms = match (start, restored_at) {
                (Some(a), Some(b)) => Some(millis(between(a, b))),
                _ => None,
            };
            Some(DrillSection {
                kind: run.kind.as_str().into(),
                aborted,
                scale_ms,
                warmup_ms,
                would_be: vec![],
                would_be_low_ms: None,
                would_be_high_ms: None,
                estimates_dominate: false,
                failback_ms,
                restored: failback
                    .iter()
                    .any(|s| s.action == "flip_dns" && s.status == StepStatus::Succeeded),
                cost_usd,
                cost_basis,
            })
        }
    }
}

impl Report {
    /// One line for terminals and logs: result, RTO, effective RTO, objective.
    pub fn summary(&self) -> String {
        let ms = |v: u64| human(Duration::from_millis(v));
        let label = if self.rto.basis == RtoBasis::DrillEstimate {
            "would-be RTO"
        } else {
            "RTO"
        };
        let warmup = self
            .drill
            .as_ref()
            .and_then(|d| d.warmup_ms)
            .map(|w| format!(", warm-up {}", ms(w)))
            .unwrap_or_default();
        let verdict = match self.rto.objective {
            Objective::Met => "met",
            Objective::Unproven => "NOT PROVEN (the estimates' range spans it)",
            Objective::Breached => "BREACHED",
        };
        let ttl = ms(self.rto.dns_ttl_ms);
        // A would-be figure dominated by estimates is given as its range, naming them.
        let ranged = self
            .drill
            .as_ref()
            .filter(|d| d.estimates_dominate)
            .and_then(|d| {
                let estimated: Vec<&str> = d
                    .would_be
                    .iter()
                    .filter(|c| c.basis == ComponentBasis::Estimate && c.high_ms > c.low_ms)
                    .map(|c| c.name.as_str())
                    .collect();
                Some((
                    d.would_be_low_ms?,
                    d.would_be_high_ms?,
                    estimated.join(", "),
                ))
            });
        match (self.rto.measured_ms, self.rto.effective_ms, ranged) {
            (Some(_), Some(_), Some((low, high, estimated))) => format!(
                "{} {}: {label} between {} and {} (estimates dominate: {estimated}; + DNS TTL {ttl} for the effective figure) vs objective {}: {verdict}{warmup}",
                self.kind,
                status_word(self.result),
                ms(low),
                ms(high),
                ms(self.rto.objective_ms),
            ),
            (Some(m), Some(e), None) => format!(
                "{} {}: {label} {}{} (effective {} with DNS TTL) vs objective {}: {verdict}{warmup}",
                self.kind,
                status_word(self.result),
                if self.rto.bound == Bound::AtMost {
                    "at most "
                } else {
                    ""
                },
                ms(m),
                ms(e),
                ms(self.rto.objective_ms),
            ),
            _ => format!(
                "{} {}: {}; not recovered",
                self.kind,
                status_word(self.result),
                self.reason
            ),
        }
    }
}

pub fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Running => "running",
    }
}

/// Each set's RPO at the failure (the `freeze_rpo` step) and after the final sync (the
/// `final_sync` step's fresh read after it published), with what was lost.
fn rpo_sections(run: &RunRecord) -> Vec<RpoSection> {
    let details = |want: fn(&Action) -> bool| {
        run.plan
            .steps
            .iter()
            .zip(&run.steps)
            .filter(move |(p, r)| want(&p.action) && r.finished_at.is_some())
            .map(|(_, r)| &r.details)
    };
    let at_failure: Vec<Rpo> = details(|a| matches!(a, Action::FreezeRpo))
        .filter_map(|d| d.get("rpo").cloned())
        .filter_map(|v| serde_json::from_value(v).ok())
        .next_back()
        .unwrap_or_default();
    let after: std::collections::BTreeMap<String, Rpo> =
        details(|a| matches!(a, Action::FinalSync))
            .filter_map(|d| d.get("rpo_after").cloned())
            .filter_map(|v| serde_json::from_value(v).ok())
            .next_back()
            .unwrap_or_default();
    let mut names: Vec<&String> = at_failure
        .iter()
        .map(|r| &r.set)
        .chain(after.keys())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let at_failure = at_failure.iter().find(|r| &r.set == name).cloned();
            let after_final_sync = after.get(name).cloned();
            let objective = at_failure
                .as_ref()
                .or(after_final_sync.as_ref())
                .map(|r| millis(r.objective))
                .unwrap_or_default();
            // The writes are known only when the primary's history could be read in full.
            let lost = after_final_sync
                .as_ref()
                .filter(|r| matches!(r.kind, RpoKind::Measured | RpoKind::AtLeast));
            RpoSection {
                set: name.clone(),
                objective_ms: objective,
                lost: lost.map(|r| r.unsynced.clone()),
                lost_count: lost.map(|r| r.unsynced_count),
                at_failure,
                after_final_sync,
            }
        })
        .collect()
}

/// Elapsed since the clock started plus what the unfinished steps of the RTO phase are expected
/// to take (their duration in the last drill when known, else their budget), plus the TTL: the
/// RTO this run is heading for. A standby drill adds the configured detection time, since its
/// clock starts at the command.
pub fn projected_rto(run: &RunRecord, now: DateTime<Utc>) -> Duration {
    let phase = rto_phase(run);
    let elapsed = between(run.trigger.clock_start(), now);
    let remaining: Duration = run
        .plan
        .steps
        .iter()
        .zip(&run.steps)
        .filter(|(p, r)| {
            p.phase == phase
                && !p.cleanup
                && matches!(r.status, StepStatus::Pending | StepStatus::Running)
        })
        .map(|(p, r)| {
            let expected = run
                .estimates
                .get(&p.action.key())
                .map(|ms| Duration::from_millis(*ms))
                .unwrap_or(p.budget);
            match (r.status, r.started_at) {
                (StepStatus::Running, Some(s)) => expected.saturating_sub(between(s, now)),
                _ => expected,
            }
        })
        .sum();
    let detection = if run.kind == RunbookKind::DrillStandby {
        Duration::from_millis(run.detection_ms)
    } else {
        Duration::ZERO
    };
    detection + elapsed + remaining + Duration::from_secs(u64::from(run.dns_ttl_s))
}

/// The headline RTO as people read it, with what kind of figure it is.
pub fn rto_figure(rto: &Rto, m: u64) -> String {
    match (rto.bound, rto.from_first_failing_ms) {
        (Bound::AtMost, Some(low)) => format!(
            "at most {} (between {} and {}: the outage began between the last good probe and the first failing one{})",
            ms(m),
            ms(low),
            ms(m),
            rto.at_least_ms
                .map(|l| format!("; at least {}, to the record change", ms(l)))
                .unwrap_or_default()
        ),
        (Bound::FromFirstFailing, _) => format!(
            "{} from the first failing probe (no good probe before it was seen, so the onset may be earlier)",
            ms(m)
        ),
        (Bound::Estimate, _) => format!("{} (would-be, see Drill)", ms(m)),
        _ => format!("{} from the command", ms(m)),
    }
}

/// Lost writes in a line: key (version, size) at time, the first few.
pub fn writes_text(w: &[crate::sync::manifest::Write], total: usize) -> String {
    let mut parts: Vec<String> = w
        .iter()
        .take(5)
        .map(|w| {
            format!(
                "{}{} ({}{} B) at {}",
                if w.deleted { "deletion of " } else { "" },
                w.key,
                w.version_id
                    .as_deref()
                    .map(|v| format!("version {v}, "))
                    .unwrap_or_default(),
                w.size,
                ts(w.written_at)
            )
        })
        .collect();
    if total > parts.len() {
        parts.push(format!("… and {} more", total - parts.len()));
    }
    parts.join("; ")
}

/// Milliseconds as people read them.
pub fn ms(v: u64) -> String {
    human(Duration::from_millis(v))
}

/// Text safe inside HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// "Started by alice on dr-orchestrator-1 in AWS account 123456789012, with standby 0.1.0
/// (commit 1a2b3c4d5e6f)."
pub fn origin_line(o: &crate::record::Origin) -> String {
    let who = if o.operator == "automatic" {
        "automatically by standby serve".to_string()
    } else {
        format!("by {}", o.operator)
    };
    let account = match &o.account {
        Some(a) => format!("in AWS account {a}"),
        None => "in an AWS account not read when the run started".to_string(),
    };
    format!(
        "Started {who} on {} {account}, with standby {} (commit {}).",
        o.host, o.version, o.commit
    )
}

/// The timestamp format of what people read: [`crate::duration::stamp`].
pub fn ts(t: DateTime<Utc>) -> String {
    crate::duration::stamp(t)
}

/// The report as JSON. Its timestamps are RFC 3339 UTC (`Z`) at the precision they were taken
/// (to the nanosecond), not cut to milliseconds: every duration in it is computed from them,
/// and an auditor who subtracts two of them must get the figure the report prints.
pub fn to_json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("reports serialize");
    s.push('\n');
    s
}

pub fn to_markdown(r: &Report) -> String {
    markdown::render(r)
}

pub fn to_html(r: &Report) -> String {
    html::render(r)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::plan::{self, World};
    use crate::record::{RunRecord, StepRecord};

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    /// A step that ran once from `a` to `b` (ms after the clock start).
    fn step(name: &str, ok: bool, (a, b): (i64, i64)) -> StepRecord {
        StepRecord {
            name: name.to_string(),
            status: if ok {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            started_at: Some(t(a)),
            finished_at: Some(t(b)),
            attempts: 1,
            reason: "ok".into(),
            details: serde_json::Value::Null,
        }
    }

    /// A finished automatic failover: first failing probe at 0, verdict at 3s, steps back to back.
    fn run(status: RunStatus, verify_ok: bool) -> RunRecord {
        let cfg = plan::tests::config();
        let plan = plan::build(
            RunbookKind::Failover,
            &cfg,
            &cfg.failover.runbook,
            &World::default(),
        );
        // preflight, freeze-rpo, final-sync, scale, verify, flip, verify-after-flip, report
        let spans = [
            (3_500, 3_550),
            (3_550, 3_600),
            (3_600, 3_600),
            (3_600, 63_600),
            (63_600, 73_600),
            (73_600, 75_600),
            (75_600, 78_600),
            (78_600, 78_700),
        ];
        let steps = plan
            .steps
            .iter()
            .zip(spans)
            .map(|(p, span)| {
                let ok = verify_ok || !matches!(p.action, Action::Verify { .. });
                let mut s = step(&p.name, ok, span);
                // Each verify's first good answer comes 50ms after it starts; the flip's change
                // is submitted 10ms into its step.
                if matches!(p.action, Action::Verify { .. }) && ok {
                    s.details = serde_json::json!({ "first_ok_at": t(span.0 + 50) });
                }
                if matches!(p.action, Action::FlipDns { .. }) {
                    s.details = serde_json::json!({ "submitted_at": t(span.0 + 10) });
                }
                s
            })
            .collect();
        RunRecord {
            id: "r1".into(),
            kind: RunbookKind::Failover,
            service: "chat".into(),
            trigger: Trigger::Automatic {
                reason: "down: 2 consecutive failing rounds".into(),
                streak_start: t(0),
                last_good: Some(t(-1_000)),
                decided_at: t(3_000),
            },
            evidence: vec![],
            created_at: t(3_000),
            finished_at: Some(t(78_700)),
            status,
            reason: "all steps succeeded".into(),
            config_path: "/etc/standby/standby.toml".into(),
            runbook_path: "runbooks/failover.toml".into(),
            runbook_digest: "sha256:0".into(),
            rto_objective: Duration::from_secs(300),
            dns_ttl_s: 60,
            plan,
            steps,
            resumed_at: vec![],
            notes: vec![],
            breach_projected_at: None,
            detection_ms: 6_000,
            detection_min_ms: 4_000,
            estimates: Default::default(),
            estimates_from: None,
            config_digest: Some("sha256:1".into()),
            failover_steps: vec![],
            flip_unverified: false,
            origin: None,
            prices: vec![],
            prewarm: None,
            readiness: None,
            attempts: vec![],
            retry_at: None,
        }
    }

    use crate::runbook::RunbookKind;

    #[test]
    fn rto_runs_from_the_onset_bracket_to_the_first_good_answer_and_breaks_down() {
        let r = build(&run(RunStatus::Succeeded, true));
        // Last good probe at -1s, first failing at 0, first good answer after the flip at 75.65s,
        // confirmed at 78.6s.
        assert_eq!(r.rto.bound, Bound::AtMost);
        assert_eq!(r.rto.measured_ms, Some(76_650));
        assert_eq!(r.rto.from_first_failing_ms, Some(75_650));
        // First failing probe (0) → the flip's submission (73.61s): traffic surely went nowhere
        // good before it.
        assert_eq!(r.rto.at_least_ms, Some(73_610));
        assert_eq!(r.rto.effective_ms, Some(136_650));
        assert_eq!(r.rto.onset.last_good, Some(t(-1_000)));
        assert_eq!(r.rto.onset.first_failing, t(0));
        assert_eq!(r.rto.restored_at, Some(t(75_650)));
        assert_eq!(r.rto.confirmed_at, Some(t(78_600)));
        assert!(r.rto.objective_met);
        let b = &r.rto.breakdown;
        assert_eq!(
            (
                b.detect_ms,
                b.onset_gap_ms,
                b.decide_ms,
                b.scale_ms,
                b.verify_ms,
                b.dns_ms,
                b.other_ms
            ),
            (4_000, 1_000, 500, 60_000, 10_050, 2_000, 100)
        );
        let md = to_markdown(&r);
        assert!(
            md.contains("| RTO | at most 1m 16s (between 1m 15s and 1m 16s"),
            "{md}"
        );
        assert!(md.contains("| confirmed (outside the RTO) |"), "{md}");
    }

    #[test]
    fn a_command_starts_the_clock_exactly() {
        let mut rec = run(RunStatus::Succeeded, true);
        rec.trigger = Trigger::Manual {
            command: "standby failover".into(),
            at: t(3_000),
        };
        let r = build(&rec);
        assert_eq!(r.rto.bound, Bound::Exact);
        assert_eq!(r.rto.measured_ms, Some(72_650));
        assert_eq!(r.rto.breakdown.detect_ms, 0);
    }

    #[test]
    fn failed_verification_means_not_recovered_and_objective_not_met() {
        let r = build(&run(RunStatus::Failed, false));
        assert_eq!(r.rto.measured_ms, None);
        assert!(!r.rto.objective_met);
        assert!(to_markdown(&r).contains("not recovered: no verify step succeeded"));
    }

    #[test]
    fn effective_rto_over_objective_is_a_breach() {
        let mut rec = run(RunStatus::Succeeded, true);
        rec.rto_objective = Duration::from_secs(120);
        let r = build(&rec);
        assert!(!r.rto.objective_met);
        assert!(to_markdown(&r).contains("| objective met | **NO** |"));
    }

    #[test]
    fn projected_rto_is_elapsed_plus_remaining_budgets_plus_ttl() {
        let mut rec = run(RunStatus::Running, true);
        for s in rec.steps.iter_mut().skip(4) {
            s.status = StepStatus::Pending;
            s.started_at = None;
            s.finished_at = None;
        }
        let remaining: Duration = rec.plan.steps.iter().skip(4).map(|s| s.budget).sum();
        assert_eq!(
            projected_rto(&rec, t(63_600)),
            // From the last good probe, one second before the first failing one.
            Duration::from_millis(64_600) + remaining + Duration::from_secs(60)
        );
    }

    #[test]
    fn projected_rto_prefers_the_last_drills_durations_to_budgets() {
        let mut rec = run(RunStatus::Running, true);
        for s in rec.steps.iter_mut().skip(3) {
            s.status = StepStatus::Pending;
            s.started_at = None;
            s.finished_at = None;
        }
        let budgets: Duration = rec.plan.steps.iter().skip(3).map(|s| s.budget).sum();
        let without = projected_rto(&rec, t(3_600));
        // The last drill scaled in 20s, where the budget allows 82s.
        rec.estimates
            .insert("scale_asgs standby serving".into(), 20_000);
        rec.estimates_from = Some("d1".into());
        let scale_budget = rec.plan.steps[3].budget;
        let with = projected_rto(&rec, t(3_600));
        assert_eq!(
            without,
            Duration::from_millis(4_600) + budgets + Duration::from_secs(60)
        );
        assert_eq!(with, without - scale_budget + Duration::from_secs(20));
        assert_eq!(build(&rec).rto.projection_from.as_deref(), Some("d1"));
    }

    #[test]
    fn a_likely_breach_is_marked_with_its_time() {
        let mut rec = run(RunStatus::Succeeded, true);
        // As the executor records it: the instant, typed, and a note for people.
        rec.breach_projected_at = Some(t(63_600));
        rec.notes.push(crate::record::Note {
            at: t(63_600),
            text: "projected RTO 5m 10s exceeds the objective 5m after step scale-standby: a breach is likely".into(),
        });
        let r = build(&rec);
        assert_eq!(r.rto.breach_projected_at, Some(t(63_600)));
        assert!(to_html(&r).contains("breach projected"));
    }

    #[test]
    fn the_html_report_is_self_contained_and_draws_every_step() {
        let r = build(&run(RunStatus::Succeeded, true));
        let html = to_html(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for banned in ["<script", "src=\"http", "href=\"http", "@import"] {
            assert!(!html.contains(banned), "{banned}");
        }
        let svg = svg::timeline(&r);
        // detect row + one bar per step, each with its budget outline where it has one.
        assert_eq!(
            svg.matches("<title>").count() - 1,
            r.steps.len() + 1 + r.steps.iter().filter(|s| s.budget_ms > 0).count()
        );
        assert!(svg.contains("RTO objective 5m"));
        assert!(svg.contains("recovered 1m 16s"), "{svg}");
    }

    #[test]
    fn a_standby_drill_reports_the_rto_a_failover_would_have_had() {
        let cfg = plan::tests::config();
        let plan = plan::build(
            RunbookKind::DrillStandby,
            &cfg,
            &cfg.failover.drill_runbook,
            &World::default(),
        );
        // preflight, freeze-rpo, scale-standby, verify-standby, smoke-standby, standby-to-warm,
        // report
        let spans = [
            (0, 40),
            (40, 50),
            (50, 40_050),
            (40_050, 52_050),
            (52_050, 52_300),
            (52_300, 60_000),
            (60_000, 60_010),
        ];
        let mut rec = run(RunStatus::Succeeded, true);
        rec.kind = RunbookKind::DrillStandby;
        rec.trigger = Trigger::Manual {
            command: "standby drill standby".into(),
            at: t(0),
        };
        rec.steps = plan
            .steps
            .iter()
            .zip(spans)
            .map(|(p, span)| {
                let mut s = step(&p.name, true, span);
                // The standby's first good answer came 4s into verification, in 120ms.
                if matches!(p.action, Action::Verify { .. }) {
                    s.details = serde_json::json!({
                        "first_ok_at": t(44_050),
                        "first_ok": { "latency_ms": 120 },
                    });
                }
                s
            })
            .collect();
        rec.plan = plan;
        let est = |name: &str, key: &str, nth, last: Option<u64>| crate::record::StepEstimate {
            name: name.into(),
            key: key.into(),
            nth,
            budget_ms: 9_000,
            last_ms: last,
            last_from: last.map(|_| "f1".to_string()),
            restores: nth == 1,
            model: None,
        };
        let sync_model = crate::record::Model {
            ms: 1_500,
            low_ms: 1_500,
            high_ms: 17_000,
            source: "model: the slowest set's last scheduled sync".into(),
        };
        rec.failover_steps = vec![
            est("preflight", "preflight", 0, None),
            crate::record::StepEstimate {
                model: Some(sync_model),
                ..est("final-sync", "final_sync", 0, None)
            },
            est(
                "scale-standby",
                "scale_asgs standby serving",
                0,
                Some(70_000),
            ),
            est("verify-standby", "verify standby", 0, Some(15_000)),
            est("flip-dns", "flip_dns standby", 0, Some(2_000)),
            est("verify-after-flip", "verify standby", 1, None),
            est("fence", "hook", 0, None),
        ];
        let r = build(&rec);
        let d = r.drill.as_ref().unwrap();
        let got: Vec<(&str, u64, u64, u64, &str)> = d
            .would_be
            .iter()
            .map(|c| (c.name.as_str(), c.ms, c.low_ms, c.high_ms, c.basis.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("detect", 6_000, 4_000, 6_000, "estimate"),
                ("preflight", 40, 40, 40, "measured"),
                ("final-sync", 1_500, 1_500, 17_000, "estimate"),
                ("scale-standby", 40_000, 40_000, 40_000, "measured"),
                ("verify-standby", 12_000, 12_000, 12_000, "measured"),
                ("flip-dns", 2_000, 2_000, 2_000, "measured"),
                ("verify-after-flip", 120, 120, 120, "estimate"),
                ("fence", 9_000, 0, 9_000, "estimate"),
            ]
        );
        assert_eq!(d.would_be[5].source, "measured in run f1");
        assert!(
            d.would_be[7]
                .source
                .starts_with("runbook budget (never measured on this setup")
        );
        // Warm-up: InService (the scale step's end, 40.05s) to the first good answer (44.05s);
        // the confirming probes after it are not warm-up.
        assert_eq!(
            (d.scale_ms, d.warmup_ms, d.restored),
            (Some(40_000), Some(4_000), true)
        );
        assert_eq!(
            (d.would_be_low_ms, d.would_be_high_ms, d.estimates_dominate),
            (Some(59_660), Some(86_160), false)
        );
        assert_eq!(r.rto.basis, RtoBasis::DrillEstimate);
        assert_eq!(r.rto.bound, Bound::Estimate);
        assert_eq!(r.rto.measured_ms, Some(70_660));
        assert_eq!(r.rto.effective_ms, Some(130_660));
        assert!(
            r.summary()
                .starts_with("drill-standby succeeded: would-be RTO 1m 10s"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn json_field_names_are_snake_case_and_stable() {
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&build(&run(RunStatus::Succeeded, true)))).unwrap();
        for key in [
            "schema_version",
            "run_id",
            "kind",
            "result",
            "trigger",
            "rto",
            "steps",
            "runbook",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        for key in [
            "objective_ms",
            "measured_ms",
            "effective_ms",
            "dns_ttl_ms",
            "objective_met",
            "breakdown",
        ] {
            assert!(json["rto"].get(key).is_some(), "missing rto.{key}");
        }
        assert_eq!(json["steps"][3]["action"], "scale_asgs");
    }
}

//! Reports: a run's journal in, what an auditor signs out. Pure; the executor writes the files
//! ([`markdown`] for review, JSON for machines, [`html`] with a timeline picture for people).
//!
//! RTO clock: starts at the first failing probe of the streak that triggered (or at the operator's
//! command) and stops at the end of the last successful `verify` step of the run's first phase
//! (a full drill's failover). The effective figure adds the DNS TTL, because resolvers may keep
//! serving the old answer that long; the objective is met only if the effective figure is within
//! it. A standby drill moves no traffic: its figure is the RTO a failover would have had, built
//! from what the drill measured and, for the steps a drill does not run, the last measured value
//! or the runbook budget, each component labelled with its source.

pub mod html;
pub mod markdown;
pub mod svg;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::core::machine::Trigger;
use crate::core::outcome::ProbeResult;
use crate::duration::{between, human, millis};
use crate::journal::{RunRecord, RunStatus, StepStatus};
use crate::plan::Changes;
use crate::runbook::{Action, RunbookKind};
use crate::smoke::SmokeResult;

pub const SCHEMA_VERSION: u32 = 2;

/// The JSON Schema every `report.json` validates against (tests check each report they write).
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
    /// Each artifact set's RPO as frozen at the start of the run.
    pub rpo: Vec<crate::sync::manifest::Rpo>,
    /// Synthetic requests the run sent, with their checks.
    pub probes: Vec<SmokeResult>,
    pub runbook: Provenance,
    pub config: Provenance,
    pub resumed_at: Vec<DateTime<Utc>>,
    /// A failover's failed attempts, each retried at its failed step (or the last one).
    #[serde(default)]
    pub attempts: Vec<crate::journal::FailedAttempt>,
    pub notes: Vec<String>,
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
    /// "measured" (traffic moved, clock read) or "drill_estimate" (a standby drill's would-be).
    pub basis: String,
    pub objective_ms: u64,
    /// `None` until a verify step succeeded: the service was not shown to be recovered.
    pub measured_ms: Option<u64>,
    pub dns_ttl_ms: u64,
    pub effective_ms: Option<u64>,
    pub objective_met: bool,
    pub clock_start: DateTime<Utc>,
    pub clock_stop: Option<DateTime<Utc>>,
    pub breakdown: Breakdown,
    /// When a breach first became likely during the run (projected RTO over the objective).
    pub breach_projected_at: Option<DateTime<Utc>>,
    /// The drill whose measured step durations the projection used, if any.
    pub projection_from: Option<String>,
}

/// Components that add up to the measured RTO.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breakdown {
    /// First failing probe → down verdict.
    pub detect_ms: u64,
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
    /// From InService to verified healthy: the warm-up the fleet needed.
    pub warmup_ms: Option<u64>,
    /// Standby drill: the failover this drill stands for, step by step.
    pub would_be: Vec<Component>,
    /// Full drill: first failback step started → failback verified.
    pub failback_ms: Option<u64>,
    /// The standby's capacity was put back to warm (standby drill) or traffic returned to the
    /// primary (full drill).
    pub restored: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Component {
    pub name: String,
    pub ms: u64,
    /// "measured in this drill", "configured detection", "last measured in run X", "runbook budget".
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepSection {
    pub name: String,
    pub action: String,
    pub phase: String,
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

/// The phase whose verification stops the RTO clock: the run's first.
fn rto_phase(run: &RunRecord) -> &str {
    run.plan
        .steps
        .first()
        .map(|s| s.phase.as_str())
        .unwrap_or_default()
}

pub fn build(run: &RunRecord) -> Report {
    let clock_start = run.trigger.clock_start();
    let (trigger_kind, trigger_reason, decided_at) = match &run.trigger {
        Trigger::Automatic {
            reason, decided_at, ..
        } => ("automatic", reason.clone(), Some(*decided_at)),
        Trigger::Manual { command, .. } if command.starts_with("[[drills]]") => {
            ("scheduled", format!("drill scheduled by {command}"), None)
        }
        Trigger::Manual { command, .. } => ("manual", format!("operator ran `{command}`"), None),
    };
    let phase = rto_phase(run);

    let mut steps = Vec::new();
    let mut probes = Vec::new();
    let mut clock_stop = None;
    for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
        let duration = match (rec.started_at, rec.finished_at) {
            (Some(a), Some(b)) => Some(between(a, b)),
            _ => None,
        };
        if rec.status == StepStatus::Succeeded
            && planned.phase == phase
            && matches!(planned.action, Action::Verify { .. })
        {
            clock_stop = rec.finished_at;
        }
        if matches!(planned.action, Action::Smoke { .. })
            && let Ok(p) = serde_json::from_value::<SmokeResult>(rec.details.clone())
        {
            probes.push(p);
        }
        steps.push(StepSection {
            name: planned.name.clone(),
            action: planned.action.name().to_string(),
            phase: planned.phase.clone(),
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

    let breakdown = clock_stop
        .map(|stop| breakdown(run, phase, clock_start, decided_at, stop))
        .unwrap_or_default();
    let ttl = Duration::from_secs(u64::from(run.dns_ttl_s));
    let drill = drill_section(run, &steps);
    let (basis, measured) = match &drill {
        Some(d) if run.kind == RunbookKind::DrillStandby => (
            "drill_estimate",
            clock_stop.map(|_| Duration::from_millis(d.would_be.iter().map(|c| c.ms).sum())),
        ),
        _ => (
            "measured",
            clock_stop.map(|stop| between(clock_start, stop)),
        ),
    };
    let effective = measured.map(|m| m + ttl);
    let recovered = match run.kind {
        // An aborted drill may still have shown the standby recovers in time.
        RunbookKind::DrillStandby => measured.is_some(),
        _ => run.status == RunStatus::Succeeded,
    };
    let objective_met = recovered && effective.is_some_and(|e| e <= run.rto_objective);
    let breach_projected_at = run
        .notes
        .iter()
        .find(|n| n.text.starts_with("projected RTO"))
        .map(|n| n.at);

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
            basis: basis.into(),
            objective_ms: millis(run.rto_objective),
            measured_ms: measured.map(millis),
            dns_ttl_ms: millis(ttl),
            effective_ms: effective.map(millis),
            objective_met,
            clock_start,
            clock_stop,
            breakdown,
            breach_projected_at,
            projection_from: run.estimates_from.clone(),
        },
        drill,
        steps,
        rpo: frozen_rpo(run),
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
            .map(|n| format!("{} {}", n.at.format("%H:%M:%S%.3f"), n.text))
            .collect(),
    }
}

fn breakdown(
    run: &RunRecord,
    phase: &str,
    clock_start: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    stop: DateTime<Utc>,
) -> Breakdown {
    let mut b = Breakdown::default();
    if let Some(d) = decided_at {
        b.detect_ms = millis(between(clock_start, d));
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
    let warmup_ms = first("verify").and_then(step_ms);
    let aborted = run.status == RunStatus::Failed;
    match run.kind {
        RunbookKind::DrillStandby => {
            let mut would_be = vec![Component {
                name: "detect".into(),
                ms: run.detection_ms,
                source: "configured detection (failure_threshold rounds)".into(),
            }];
            for f in &run.failover_steps {
                let measured = run
                    .plan
                    .steps
                    .iter()
                    .zip(steps)
                    .filter(|(p, s)| p.action.key() == f.key && !s.cleanup)
                    .nth(f.nth)
                    .and_then(|(_, s)| step_ms(s));
                let (ms, source) = match (measured, f.last_ms, &f.last_from) {
                    (Some(ms), _, _) => (ms, "measured in this drill".to_string()),
                    (None, Some(ms), Some(from)) => (ms, format!("last measured in run {from}")),
                    _ => (f.budget_ms, "runbook budget (never measured)".to_string()),
                };
                would_be.push(Component {
                    name: f.name.clone(),
                    ms,
                    source,
                });
            }
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
                failback_ms: None,
                restored,
            })
        }
        _ => {
            let failback: Vec<&StepSection> =
                steps.iter().filter(|s| s.phase == "failback").collect();
            let start = failback.iter().filter_map(|s| s.started_at).min();
            let verified = failback
                .iter()
                .filter(|s| s.action == "verify" && s.status == StepStatus::Succeeded)
                .filter_map(|s| s.finished_at)
                .max();
            let failback_ms = match (start, verified) {
                (Some(a), Some(b)) => Some(millis(between(a, b))),
                _ => None,
            };
            Some(DrillSection {
                kind: run.kind.as_str().into(),
                aborted,
                scale_ms,
                warmup_ms,
                would_be: vec![],
                failback_ms,
                restored: failback
                    .iter()
                    .any(|s| s.action == "flip_dns" && s.status == StepStatus::Succeeded),
            })
        }
    }
}

impl Report {
    /// One line for terminals and logs: result, RTO, effective RTO, objective.
    pub fn summary(&self) -> String {
        let ms = |v: u64| human(Duration::from_millis(v));
        let label = if self.rto.basis == "drill_estimate" {
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
        match (self.rto.measured_ms, self.rto.effective_ms) {
            (Some(m), Some(e)) => format!(
                "{} {}: {label} {} (effective {} with DNS TTL) vs objective {}: {}{warmup}",
                self.kind,
                status_word(self.result),
                ms(m),
                ms(e),
                ms(self.rto.objective_ms),
                if self.rto.objective_met {
                    "met"
                } else {
                    "BREACHED"
                }
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

/// The RPO figures the `freeze_rpo` step recorded, if the runbook has one and it ran.
fn frozen_rpo(run: &RunRecord) -> Vec<crate::sync::manifest::Rpo> {
    run.plan
        .steps
        .iter()
        .zip(&run.steps)
        .filter(|(p, _)| matches!(p.action, Action::FreezeRpo))
        .filter_map(|(_, r)| r.details.get("rpo").cloned())
        .filter_map(|v| serde_json::from_value(v).ok())
        .next_back()
        .unwrap_or_default()
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
    use crate::journal::{RunRecord, StepRecord};
    use crate::plan::{self, World};

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
                step(&p.name, ok, span)
            })
            .collect();
        RunRecord {
            id: "r1".into(),
            kind: RunbookKind::Failover,
            service: "chat".into(),
            trigger: Trigger::Automatic {
                reason: "down: 2 consecutive failing rounds".into(),
                streak_start: t(0),
                decided_at: t(3_000),
            },
            evidence: vec![],
            created_at: t(3_000),
            finished_at: Some(t(78_700)),
            status,
            reason: "all steps succeeded".into(),
            config_path: "/etc/standby/standby.toml".into(),
            runbook_path: "runbooks/failover.toml".into(),
            runbook_digest: "fnv1a64:0".into(),
            rto_objective: Duration::from_secs(300),
            dns_ttl_s: 60,
            plan,
            steps,
            resumed_at: vec![],
            notes: vec![],
            detection_ms: 6_000,
            estimates: Default::default(),
            estimates_from: None,
            config_digest: Some("fnv1a64:1".into()),
            failover_steps: vec![],
            force: false,
            attempts: vec![],
            retry_at: None,
        }
    }

    use crate::runbook::RunbookKind;

    #[test]
    fn rto_runs_from_first_failing_probe_to_last_verify_and_breaks_down() {
        let r = build(&run(RunStatus::Succeeded, true));
        assert_eq!(r.rto.measured_ms, Some(78_600));
        assert_eq!(r.rto.effective_ms, Some(138_600));
        assert!(r.rto.objective_met);
        let b = &r.rto.breakdown;
        assert_eq!(
            (
                b.detect_ms,
                b.decide_ms,
                b.scale_ms,
                b.verify_ms,
                b.dns_ms,
                b.other_ms
            ),
            (3_000, 500, 60_000, 13_000, 2_000, 100)
        );
        let md = to_markdown(&r);
        assert!(
            md.contains("| measured (first failing probe → last verify) | 1m 18s |"),
            "{md}"
        );
        assert!(
            md.contains("| 3.0s | 500ms | 0ms | 1m | 13.0s | 2.0s | 100ms |"),
            "{md}"
        );
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
            Duration::from_millis(63_600) + remaining + Duration::from_secs(60)
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
            Duration::from_millis(3_600) + budgets + Duration::from_secs(60)
        );
        assert_eq!(with, without - scale_budget + Duration::from_secs(20));
        assert_eq!(build(&rec).rto.projection_from.as_deref(), Some("d1"));
    }

    #[test]
    fn a_likely_breach_is_marked_with_its_time() {
        let mut rec = run(RunStatus::Succeeded, true);
        rec.notes.push(crate::journal::Note {
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
        assert!(svg.contains("recovered 1m 18s"));
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
        // preflight, scale-standby, verify-standby, smoke-standby, standby-to-warm, report
        let spans = [
            (0, 50),
            (50, 40_050),
            (40_050, 52_050),
            (52_050, 52_300),
            (52_300, 60_000),
            (60_000, 60_010),
        ];
        let mut rec = run(RunStatus::Succeeded, true);
        rec.kind = RunbookKind::DrillStandby;
        rec.trigger = Trigger::Manual {
            command: "standby drill-standby".into(),
            at: t(0),
        };
        rec.steps = plan
            .steps
            .iter()
            .zip(spans)
            .map(|(p, span)| step(&p.name, true, span))
            .collect();
        rec.plan = plan;
        let est = |name: &str, key: &str, nth, last: Option<u64>| crate::journal::StepEstimate {
            name: name.into(),
            key: key.into(),
            nth,
            budget_ms: 9_000,
            last_ms: last,
            last_from: last.map(|_| "f1".to_string()),
        };
        rec.failover_steps = vec![
            est("preflight", "preflight", 0, None),
            est("final-sync", "final_sync", 0, None),
            est(
                "scale-standby",
                "scale_asgs standby serving",
                0,
                Some(70_000),
            ),
            est("verify-standby", "verify standby", 0, Some(15_000)),
            est("flip-dns", "flip_dns standby", 0, Some(2_000)),
            est("verify-after-flip", "verify standby", 1, Some(300)),
        ];
        let r = build(&rec);
        let d = r.drill.as_ref().unwrap();
        let got: Vec<(&str, u64, &str)> = d
            .would_be
            .iter()
            .map(|c| (c.name.as_str(), c.ms, c.source.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "detect",
                    6_000,
                    "configured detection (failure_threshold rounds)"
                ),
                ("preflight", 50, "measured in this drill"),
                ("final-sync", 9_000, "runbook budget (never measured)"),
                ("scale-standby", 40_000, "measured in this drill"),
                ("verify-standby", 12_000, "measured in this drill"),
                ("flip-dns", 2_000, "last measured in run f1"),
                ("verify-after-flip", 300, "last measured in run f1"),
            ]
        );
        assert_eq!(
            (d.scale_ms, d.warmup_ms, d.restored),
            (Some(40_000), Some(12_000), true)
        );
        assert_eq!(r.rto.basis, "drill_estimate");
        assert_eq!(r.rto.measured_ms, Some(69_350));
        assert_eq!(r.rto.effective_ms, Some(129_350));
        assert!(
            r.summary()
                .starts_with("drill-standby succeeded: would-be RTO 1m 9s"),
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

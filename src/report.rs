//! Reports: a run's journal in, what an auditor signs out. Pure; the executor writes the files.
//!
//! RTO clock: starts at the first failing probe of the streak that triggered (or at the operator's
//! command) and stops at the end of the last successful `verify` step. The effective figure adds
//! the DNS TTL, because resolvers may keep serving the old answer that long; the objective is met
//! only if the effective figure is within it.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::core::machine::Trigger;
use crate::core::outcome::ProbeResult;
use crate::duration::{between, human, millis};
use crate::journal::{RunRecord, RunStatus, StepStatus};
use crate::plan::Changes;
use crate::runbook::Action;

pub const SCHEMA_VERSION: u32 = 1;

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
    pub steps: Vec<StepSection>,
    /// Each artifact set's RPO as frozen at the start of the run.
    pub rpo: Vec<crate::sync::manifest::Rpo>,
    pub runbook: Provenance,
    pub config: Provenance,
    pub resumed_at: Vec<DateTime<Utc>>,
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
    pub objective_ms: u64,
    /// `None` until a verify step succeeded: the service was not shown to be recovered.
    pub measured_ms: Option<u64>,
    pub dns_ttl_ms: u64,
    pub effective_ms: Option<u64>,
    pub objective_met: bool,
    pub clock_start: DateTime<Utc>,
    pub clock_stop: Option<DateTime<Utc>>,
    pub breakdown: Breakdown,
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
    pub verify_ms: u64,
    pub dns_ms: u64,
    /// Preflight and anything between steps (e.g. time lost to a crash before resuming).
    pub other_ms: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepSection {
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub budget_ms: u64,
    pub timeout_ms: u64,
    pub over_budget: bool,
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

pub fn build(run: &RunRecord) -> Report {
    let clock_start = run.trigger.clock_start();
    let (trigger_kind, trigger_reason, decided_at) = match &run.trigger {
        Trigger::Automatic {
            reason, decided_at, ..
        } => ("automatic", reason.clone(), Some(*decided_at)),
        Trigger::Manual { command, .. } => ("manual", format!("operator ran `{command}`"), None),
    };

    let mut steps = Vec::new();
    let mut breakdown = Breakdown::default();
    let mut clock_stop = None;
    for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
        let duration = match (rec.started_at, rec.finished_at) {
            (Some(a), Some(b)) => Some(between(a, b)),
            _ => None,
        };
        if rec.status == StepStatus::Succeeded && matches!(planned.action, Action::Verify { .. }) {
            clock_stop = rec.finished_at;
        }
        steps.push(StepSection {
            name: planned.name.clone(),
            action: planned.action.name().to_string(),
            status: rec.status,
            started_at: rec.started_at,
            finished_at: rec.finished_at,
            duration_ms: duration.map(millis),
            budget_ms: millis(planned.budget),
            timeout_ms: millis(planned.timeout),
            // A zero budget marks a step outside the RTO (e.g. after the clock stops).
            over_budget: duration.is_some_and(|d| !planned.budget.is_zero() && d > planned.budget),
            attempts: rec.attempts,
            reason: rec.reason.clone(),
            planned: planned.changes.clone(),
            details: rec.details.clone(),
        });
    }

    let measured = clock_stop.map(|stop| between(clock_start, stop));
    if let Some(stop) = clock_stop {
        if let Some(d) = decided_at {
            breakdown.detect_ms = millis(between(clock_start, d));
        }
        let first_start = run.steps.iter().filter_map(|s| s.started_at).min();
        if let Some(first) = first_start {
            breakdown.decide_ms = millis(between(decided_at.unwrap_or(clock_start), first));
        }
        for (planned, rec) in run.plan.steps.iter().zip(&run.steps) {
            let (Some(a), Some(b)) = (rec.started_at, rec.finished_at) else {
                continue;
            };
            if a >= stop {
                continue;
            }
            let d = millis(between(a, b.min(stop)));
            match planned.action {
                Action::ScaleAsgs { .. } => breakdown.scale_ms += d,
                Action::Verify { .. } => breakdown.verify_ms += d,
                Action::FlipDns { .. } => breakdown.dns_ms += d,
                Action::FinalSync | Action::ReverseSync => breakdown.sync_ms += d,
                Action::Preflight | Action::Report | Action::FreezeRpo => {}
            }
        }
        let accounted = breakdown.detect_ms
            + breakdown.decide_ms
            + breakdown.sync_ms
            + breakdown.scale_ms
            + breakdown.verify_ms
            + breakdown.dns_ms;
        breakdown.other_ms = measured.map(millis).unwrap_or(0).saturating_sub(accounted);
    }
    let ttl = Duration::from_secs(u64::from(run.dns_ttl_s));
    let effective = measured.map(|m| m + ttl);
    let objective_met =
        run.status == RunStatus::Succeeded && effective.is_some_and(|e| e <= run.rto_objective);

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
            objective_ms: millis(run.rto_objective),
            measured_ms: measured.map(millis),
            dns_ttl_ms: millis(ttl),
            effective_ms: effective.map(millis),
            objective_met,
            clock_start,
            clock_stop,
            breakdown,
        },
        steps,
        rpo: frozen_rpo(run),
        runbook: Provenance {
            path: run.runbook_path.clone(),
            digest: Some(run.runbook_digest.clone()),
        },
        config: Provenance {
            path: run.config_path.clone(),
            digest: None,
        },
        resumed_at: run.resumed_at.clone(),
        notes: run
            .notes
            .iter()
            .map(|n| format!("{} {}", n.at.format("%H:%M:%S%.3f"), n.text))
            .collect(),
    }
}

impl Report {
    /// One line for terminals and logs: result, RTO, effective RTO, objective.
    pub fn summary(&self) -> String {
        let ms = |v: u64| human(Duration::from_millis(v));
        match (self.rto.measured_ms, self.rto.effective_ms) {
            (Some(m), Some(e)) => format!(
                "{} {:?}: RTO {} (effective {} with DNS TTL) vs objective {}: {}",
                self.kind,
                self.result,
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
                "{} {:?}: {}; not recovered",
                self.kind, self.result, self.reason
            ),
        }
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

/// Elapsed since the clock started plus the budgets of the steps not yet finished: the RTO this
/// run is heading for if every remaining step uses its budget.
pub fn projected_rto(run: &RunRecord, now: DateTime<Utc>) -> Duration {
    let elapsed = between(run.trigger.clock_start(), now);
    let remaining: Duration = run
        .plan
        .steps
        .iter()
        .zip(&run.steps)
        .filter(|(_, r)| matches!(r.status, StepStatus::Pending | StepStatus::Running))
        .map(|(p, r)| match (r.status, r.started_at) {
            (StepStatus::Running, Some(s)) => p.budget.saturating_sub(between(s, now)),
            _ => p.budget,
        })
        .sum();
    elapsed + remaining + Duration::from_secs(u64::from(run.dns_ttl_s))
}

fn ms(v: u64) -> String {
    human(Duration::from_millis(v))
}

pub fn to_json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("reports serialize");
    s.push('\n');
    s
}

pub fn to_markdown(r: &Report) -> String {
    let mut o = String::new();
    let verdict = match r.result {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Running => "still running",
    };
    let _ = writeln!(o, "# {} {} — {}\n", r.service, r.kind, verdict);
    let _ = writeln!(
        o,
        "Run `{}`, started {}, {}.\n",
        r.run_id,
        r.started_at.to_rfc3339(),
        r.reason
    );
    let _ = writeln!(o, "## RTO\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| objective | {} |", ms(r.rto.objective_ms));
    match (r.rto.measured_ms, r.rto.effective_ms) {
        (Some(m), Some(e)) => {
            let _ = writeln!(
                o,
                "| measured (first failing probe → last verify) | {} |",
                ms(m)
            );
            let _ = writeln!(
                o,
                "| effective (+ DNS TTL {}) | {} |",
                ms(r.rto.dns_ttl_ms),
                ms(e)
            );
        }
        _ => {
            let _ = writeln!(o, "| measured | not recovered: no verify step succeeded |");
        }
    }
    let _ = writeln!(
        o,
        "| objective met | {} |",
        if r.rto.objective_met { "yes" } else { "**NO**" }
    );
    let _ = writeln!(o, "| clock start | {} |", r.rto.clock_start.to_rfc3339());
    if let Some(stop) = r.rto.clock_stop {
        let _ = writeln!(o, "| clock stop | {} |", stop.to_rfc3339());
    }
    let b = &r.rto.breakdown;
    let _ = writeln!(
        o,
        "\n| detect | decide | sync | scale | verify | DNS | other |\n|---|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} |",
        ms(b.detect_ms),
        ms(b.decide_ms),
        ms(b.sync_ms),
        ms(b.scale_ms),
        ms(b.verify_ms),
        ms(b.dns_ms),
        ms(b.other_ms)
    );

    if !r.rpo.is_empty() {
        let _ = writeln!(o, "\n## RPO per artifact set (at the start of the run)\n");
        let _ = writeln!(
            o,
            "| set | RPO | kind | objective | within | reason |\n|---|---|---|---|---|---|"
        );
        for p in &r.rpo {
            let v = p.value.map(human).unwrap_or_else(|| "unknown".into());
            let kind = match p.kind {
                crate::sync::manifest::RpoKind::Measured => "measured",
                crate::sync::manifest::RpoKind::UpperBound => "upper bound",
                crate::sync::manifest::RpoKind::Unknown => "unknown",
            };
            let within = if p.over_objective { "**NO**" } else { "yes" };
            let _ = writeln!(
                o,
                "| {} | {v} | {kind} | {} | {within} | {} |",
                p.set,
                human(p.objective),
                p.reason.replace('|', "\\|")
            );
        }
    }
    let _ = writeln!(o, "\n## Steps\n");
    let _ = writeln!(
        o,
        "| # | step | action | status | duration | budget | attempts | reason |\n|---|---|---|---|---|---|---|---|"
    );
    for (i, s) in r.steps.iter().enumerate() {
        let dur = s.duration_ms.map(ms).unwrap_or_else(|| "—".into());
        let flag = if s.over_budget {
            " ⚠ over budget"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {dur}{flag} | {} | {} | {} |",
            i + 1,
            s.name,
            s.action,
            format!("{:?}", s.status).to_lowercase(),
            ms(s.budget_ms),
            s.attempts,
            s.reason.replace('|', "\\|")
        );
    }
    let _ = writeln!(o, "\n## Changes\n");
    for s in &r.steps {
        match &s.planned {
            Changes::Asgs { groups } => {
                for g in groups {
                    let from = g
                        .from
                        .map(|c| format!("desired {} (min {}, max {})", c.desired, c.min, c.max))
                        .unwrap_or_else(|| "not found".into());
                    let _ = writeln!(
                        o,
                        "- `{}`: ASG {} ({}): {from} → desired {} (min {}, max {})",
                        s.name, g.name, g.region, g.desired, g.min, g.max
                    );
                }
            }
            Changes::Dns(d) => {
                let change_id = s
                    .details
                    .get("change_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("—");
                let _ = writeln!(
                    o,
                    "- `{}`: {} {} {} → {} (TTL {}s, change {change_id})",
                    s.name,
                    d.record_type,
                    d.name,
                    d.from.as_deref().unwrap_or("(none)"),
                    d.to,
                    d.ttl
                );
            }
            Changes::Sync { sets, .. } => {
                for t in sets {
                    let outcome = s
                        .details
                        .get("sets")
                        .and_then(|d| d.get(&t.set))
                        .and_then(|v| v.as_str())
                        .unwrap_or("not run");
                    let _ = writeln!(
                        o,
                        "- `{}`: artifact set {} ({} → {}): {outcome}",
                        s.name, t.set, t.from, t.to
                    );
                }
            }
            Changes::Probe { .. } | Changes::None => {}
        }
    }
    let _ = writeln!(o, "\n## Trigger\n");
    let _ = writeln!(o, "{} — {}\n", r.trigger.kind, r.trigger.reason);
    if !r.trigger.evidence.is_empty() {
        let _ = writeln!(
            o,
            "| probe at | outcome | status | latency | attempts | detail |\n|---|---|---|---|---|---|"
        );
        for p in &r.trigger.evidence {
            let status = p
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                o,
                "| {} | {} | {status} | {} | {} | {} |",
                p.at.format("%H:%M:%S%.3f"),
                p.outcome.as_str(),
                human(p.latency),
                p.attempts,
                p.detail
            );
        }
    }
    if !r.resumed_at.is_empty() || !r.notes.is_empty() {
        let _ = writeln!(o, "\n## Notes\n");
        for t in &r.resumed_at {
            let _ = writeln!(o, "- resumed after an interruption at {}", t.to_rfc3339());
        }
        for n in &r.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    let _ = writeln!(o, "\n## Provenance\n");
    let _ = writeln!(
        o,
        "- runbook: `{}` ({})",
        r.runbook.path,
        r.runbook.digest.as_deref().unwrap_or("—")
    );
    let _ = writeln!(o, "- config: `{}`", r.config.path);
    o
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
            .map(|(p, (a, b))| {
                let ok = verify_ok || !matches!(p.action, Action::Verify { .. });
                StepRecord {
                    name: p.name.clone(),
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

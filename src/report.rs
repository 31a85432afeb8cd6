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
        Trigger::Automatic { reason, decided_at, .. } => ("automatic", reason.clone(), Some(*decided_at)),
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
            over_budget: duration.is_some_and(|d| d > planned.budget),
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
            let (Some(a), Some(b)) = (rec.started_at, rec.finished_at) else { continue };
            if a >= stop {
                continue;
            }
            let d = millis(between(a, b.min(stop)));
            match planned.action {
                Action::ScaleAsgs { .. } => breakdown.scale_ms += d,
                Action::Verify { .. } => breakdown.verify_ms += d,
                Action::FlipDns { .. } => breakdown.dns_ms += d,
                Action::Preflight | Action::Report => {}
            }
        }
        let accounted = breakdown.detect_ms + breakdown.decide_ms + breakdown.scale_ms + breakdown.verify_ms + breakdown.dns_ms;
        breakdown.other_ms = measured.map(millis).unwrap_or(0).saturating_sub(accounted);
    }
    let ttl = Duration::from_secs(u64::from(run.dns_ttl_s));
    let effective = measured.map(|m| m + ttl);
    let objective_met = run.status == RunStatus::Succeeded && effective.is_some_and(|e| e <= run.rto_objective);

    Report {
        schema_version: SCHEMA_VERSION,
        run_id: run.id.clone(),
        kind: run.kind.as_str().to_string(),
        service: run.service.clone(),
        result: run.status,
        reason: run.reason.clone(),
        started_at: run.created_at,
        finished_at: run.finished_at,
        trigger: TriggerSection { kind: trigger_kind.into(), reason: trigger_reason, clock_start, decided_at, evidence: run.evidence.clone() },
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
        runbook: Provenance { path: run.runbook_path.clone(), digest: Some(run.runbook_digest.clone()) },
        config: Provenance { path: run.config_path.clone(), digest: None },
        resumed_at: run.resumed_at.clone(),
        notes: run.notes.iter().map(|n| format!("{} {}", n.at.format("%H:%M:%S%.3f"), n.text)).collect(),
    }
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
    let _ = writeln!(o, "Run `{}`, started {}, {}.\n", r.run_id, r.started_at.to_rfc3339(), r.reason);
    let _ = writeln!(o, "## RTO\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| objective | {} |", ms(r.rto.objective_ms));
    match (r.rto.measured_ms, r.rto.effective_ms) {
        (Some(m), Some(e)) => {
            let _ = writeln!(o, "| measured (first failing probe → last verify) | {} |", ms(m));
            let _ = writeln!(o, "| effective (+ DNS TTL {}) | {} |", ms(r.rto.dns_ttl_ms), ms(e));
        }
        _ => {
            let _ = writeln!(o, "| measured | not recovered: no verify step succeeded |");
        }
    }
    let _ = writeln!(o, "| objective met | {} |", if r.rto.objective_met { "yes" } else { "**NO**" });
    let _ = writeln!(o, "| clock start | {} |", r.rto.clock_start.to_rfc3339());
    if let Some(stop) = r.rto.clock_stop {
        let _ = writeln!(o, "| clock stop | {} |", stop.to_rfc3339());
    }
    let b = &r.rto.breakdown;
    let _ = writeln!(o, "\n| detect | decide | scale | verify | DNS | other |\n|---|---|---|---|---|---|");
    let _ = writeln!(o, "| {} | {} | {} | {} | {} | {} |", ms(b.detect_ms), ms(b.decide_ms), ms(b.scale_ms), ms(b.verify_ms), ms(b.dns_ms), ms(b.other_ms));

    let _ = writeln!(o, "\n## Steps\n");
    let _ = writeln!(o, "| # | step | action | status | duration | budget | attempts | reason |\n|---|---|---|---|---|---|---|---|");
    for (i, s) in r.steps.iter().enumerate() {
        let dur = s.duration_ms.map(ms).unwrap_or_else(|| "—".into());
        let flag = if s.over_budget { " ⚠ over budget" } else { "" };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:?} | {dur}{flag} | {} | {} | {} |",
            i + 1,
            s.name,
            s.action,
            s.status,
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
                    let from = g.from.map(|c| format!("desired {} (min {}, max {})", c.desired, c.min, c.max)).unwrap_or_else(|| "not found".into());
                    let _ = writeln!(o, "- `{}`: ASG {} ({}): {from} → desired {} (min {}, max {})", s.name, g.name, g.region, g.desired, g.min, g.max);
                }
            }
            Changes::Dns(d) => {
                let change_id = s.details.get("change_id").and_then(|v| v.as_str()).unwrap_or("—");
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
            Changes::Probe { .. } | Changes::None => {}
        }
    }
    let _ = writeln!(o, "\n## Trigger\n");
    let _ = writeln!(o, "{} — {}\n", r.trigger.kind, r.trigger.reason);
    if !r.trigger.evidence.is_empty() {
        let _ = writeln!(o, "| probe at | outcome | status | latency | attempts | detail |\n|---|---|---|---|---|---|");
        for p in &r.trigger.evidence {
            let status = p.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into());
            let _ = writeln!(o, "| {} | {} | {status} | {} | {} | {} |", p.at.format("%H:%M:%S%.3f"), p.outcome.as_str(), human(p.latency), p.attempts, p.detail);
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
    let _ = writeln!(o, "- runbook: `{}` ({})", r.runbook.path, r.runbook.digest.as_deref().unwrap_or("—"));
    let _ = writeln!(o, "- config: `{}`", r.config.path);
    o
}

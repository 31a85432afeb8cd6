//! The records a run leaves behind: what each step did and when, the failed attempts, the
//! estimates behind a projected RTO. Pure data; the app's `journal` persists them with
//! compare-and-swap, the report builder reads them.

use chrono::{DateTime, Utc};

use crate::machine::Trigger;
use crate::outcome::ProbeResult;
use crate::plan::Plan;
use crate::runbook::RunbookKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Not run because an earlier step aborted the run.
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times the step was started: more than one means it was resumed after a crash.
    pub attempts: u32,
    pub reason: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub kind: RunbookKind,
    pub service: String,
    pub trigger: Trigger,
    pub evidence: Vec<ProbeResult>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub reason: String,
    pub config_path: String,
    pub runbook_path: String,
    pub runbook_digest: String,
    #[serde(with = "crate::serde_duration", rename = "rto_objective_ms")]
    pub rto_objective: std::time::Duration,
    pub dns_ttl_s: u32,
    pub plan: Plan,
    pub steps: Vec<StepRecord>,
    /// Each time a process picked the run up again after a crash or shutdown.
    pub resumed_at: Vec<DateTime<Utc>>,
    /// Timestamped notes: projected-RTO warnings, shutdown points.
    pub notes: Vec<Note>,
    /// When the run first projected an RTO over its objective (it warns once).
    #[serde(default)]
    pub breach_projected_at: Option<DateTime<Utc>>,
    /// The configured detection time (streak of failing rounds), for a drill's would-be RTO.
    #[serde(default)]
    pub detection_ms: u64,
    /// The detection time without the probe timeout (failure_threshold × interval): how soon a
    /// refused or erroring primary is judged down from its last good probe.
    #[serde(default)]
    pub detection_min_ms: u64,
    /// Step durations (by action key) from the latest drill, used by projected RTO.
    #[serde(default)]
    pub estimates: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    pub estimates_from: Option<String>,
    /// SHA-256 of the config text the run was planned with.
    #[serde(default)]
    pub config_digest: Option<String>,
    /// A standby drill: the failover runbook's steps, with the last measured duration of each,
    /// from which the report builds the RTO a failover would have had.
    #[serde(default)]
    pub failover_steps: Vec<StepEstimate>,
    /// `--flip-unverified` (journals from before it was split out of `--force` say `force`): a
    /// failed verify does not abort the run (the flip may follow anyway).
    #[serde(default, alias = "force")]
    pub flip_unverified: bool,
    /// Who and what started the run: the operator (or `automatic`), the host, the standby build.
    /// `None` in journals from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The standby groups' hourly prices when the run started (from the last readiness
    /// evaluation: no AWS call on a run's path), for a drill's cost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<crate::cost::GroupPrice>,
    /// A failover that started while a pre-warm held the standby at serving capacity: the
    /// pre-warm as it was then, for the RTO it saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prewarm: Option<crate::prewarm::HeadStart>,
    /// The last readiness evaluation when the run started (no AWS call on a run's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<crate::readiness::Evaluation>,
    /// Each failed attempt of a failover: retried at the failed step, or the last one.
    #[serde(default)]
    pub attempts: Vec<FailedAttempt>,
    /// The failed step runs again at this instant; kept so a restart waits out the same backoff.
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailedAttempt {
    /// 1-based.
    pub attempt: u32,
    pub step: String,
    pub at: DateTime<Utc>,
    /// Why the step failed.
    pub reason: String,
    /// What followed.
    pub next: AttemptNext,
    /// The retry policy's reason.
    pub then: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptNext {
    Retry,
    /// The primary recovered: an automatic failover lost its reason.
    Stop,
    /// The last attempt: the run failed and escalated.
    GiveUp,
}

impl RunRecord {
    /// The run used up its attempts (and escalated).
    pub fn gave_up(&self) -> bool {
        self.attempts
            .last()
            .is_some_and(|a| a.next == AttemptNext::GiveUp)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepEstimate {
    pub name: String,
    pub key: String,
    /// How many earlier steps of the runbook do the same thing.
    #[serde(default)]
    pub nth: usize,
    pub budget_ms: u64,
    pub last_ms: Option<u64>,
    pub last_from: Option<String>,
    /// A verify after the flip: its part of the RTO ends at its first good answer.
    #[serde(default)]
    pub restores: bool,
    /// For a step never measured on this setup: the stated model it is estimated from.
    #[serde(default)]
    pub model: Option<Model>,
}

/// An estimate from a stated model: its ends and, in words, the model and its numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    /// The figure the would-be RTO adds up.
    pub ms: u64,
    pub low_ms: u64,
    pub high_ms: u64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub at: DateTime<Utc>,
    pub text: String,
}

impl RunRecord {
    pub fn step_records_for(plan: &Plan) -> Vec<StepRecord> {
        plan.steps
            .iter()
            .map(|s| StepRecord {
                name: s.name.clone(),
                status: StepStatus::Pending,
                started_at: None,
                finished_at: None,
                attempts: 0,
                reason: String::new(),
                details: serde_json::Value::Null,
            })
            .collect()
    }

    /// The first step that has not finished: where a resumed run continues.
    pub fn next_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| matches!(s.status, StepStatus::Pending | StepStatus::Running))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_the_words_the_journal_stores() {
        for s in [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.to_string());
        }
        for s in [
            StepStatus::Pending,
            StepStatus::Running,
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Skipped,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.to_string());
        }
    }

    #[test]
    fn a_phase_is_read_back_strictly() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct P {
            #[serde(with = "crate::runbook::phase_words")]
            phase: RunbookKind,
        }
        let json = serde_json::to_string(&P {
            phase: RunbookKind::DrillStandby,
        })
        .unwrap();
        assert_eq!(json, r#"{"phase":"drill-standby"}"#);
        assert_eq!(
            serde_json::from_str::<P>(&json).unwrap().phase,
            RunbookKind::DrillStandby
        );
        // An unknown phase is an error, never a guess.
        let err = serde_json::from_str::<P>(r#"{"phase":"failovr"}"#)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("unknown phase \"failovr\""),
            "{err}"
        );
    }
}

/// Who and what started a run, for the report an auditor reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The login that ran the command (`SUDO_USER`, else `USER`), or `automatic` for the daemon.
    pub operator: String,
    pub host: String,
    /// standby's version and the commit it was built from.
    pub version: String,
    pub commit: String,
    /// The AWS account the credentials belong to (STS GetCallerIdentity); `None` when it was
    /// not read by the time the run started (STS unreachable or slow: the run does not wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

//! Run records and the machine state, persisted through a [`Store`] with compare-and-swap.
//!
//! A run's record is written before a step starts and after it ends, so after a crash the record
//! says exactly which steps finished (never run again) and which one was in flight (run again:
//! every step is idempotent).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::core::detector::Verdict;
use crate::core::machine::{State, Trigger};
use crate::core::outcome::ProbeResult;
use crate::plan::Plan;
use crate::runbook::RunbookKind;
use crate::store::{Expect, Store, StoreError, Version};

pub const STATE_KEY: &str = "state.json";
pub const VERDICT_KEY: &str = "verdict.json";

pub fn run_key(id: &str) -> String {
    format!("runs/{id}.json")
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{key} is not a valid record: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("run {0} not found")]
    NotFound(String),
    #[error("no state.json: it is derived from the DNS record and the journals before acting")]
    NoState,
}

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
    /// FNV-1a of the config text the run was planned with.
    #[serde(default)]
    pub config_digest: Option<String>,
    /// A standby drill: the failover runbook's steps, with the last measured duration of each,
    /// from which the report builds the RTO a failover would have had.
    #[serde(default)]
    pub failover_steps: Vec<StepEstimate>,
    /// `--force`: a failed verify does not abort the run (the flip may follow anyway).
    #[serde(default)]
    pub force: bool,
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

/// A run record bound to the store version it was read at.
pub struct Journal {
    store: Arc<dyn Store>,
    version: Version,
    pub record: RunRecord,
}

impl Journal {
    pub async fn create(store: Arc<dyn Store>, record: RunRecord) -> Result<Journal, JournalError> {
        let version = store
            .put(&run_key(&record.id), Expect::Absent, to_bytes(&record))
            .await?;
        Ok(Journal {
            store,
            version,
            record,
        })
    }

    pub async fn load(store: Arc<dyn Store>, id: &str) -> Result<Journal, JournalError> {
        let key = run_key(id);
        let got = store
            .get(&key)
            .await?
            .ok_or_else(|| JournalError::NotFound(id.to_string()))?;
        let record = serde_json::from_slice(&got.bytes)
            .map_err(|source| JournalError::Corrupt { key, source })?;
        Ok(Journal {
            store,
            version: got.version,
            record,
        })
    }

    /// Durably writes the record; fails if anyone else wrote it since we read it.
    pub async fn save(&mut self) -> Result<(), JournalError> {
        let key = run_key(&self.record.id);
        self.version = self
            .store
            .put(
                &key,
                Expect::Version(self.version.clone()),
                to_bytes(&self.record),
            )
            .await?;
        Ok(())
    }
}

fn to_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("journal records serialize");
    b.push(b'\n');
    b
}

pub async fn load_run(store: &Arc<dyn Store>, id: &str) -> Result<RunRecord, JournalError> {
    Ok(Journal::load(store.clone(), id).await?.record)
}

/// Every readable run record, oldest first (ids sort by creation time), and the keys that could
/// not be read with why. One junk file (a half-copied backup, a hand edit) must not blind
/// `status`, reports or the daemon to every other run.
pub async fn list_runs(store: &Arc<dyn Store>) -> Result<Runs, JournalError> {
    let mut out = Runs::default();
    for key in store.list("runs/").await? {
        let id = key.trim_start_matches("runs/").trim_end_matches(".json");
        match load_run(store, id).await {
            Ok(r) => out.records.push(r),
            Err(e @ (JournalError::Corrupt { .. } | JournalError::NotFound(_))) => {
                tracing::warn!("skipping {key}: {e}");
                out.skipped.push(format!("{key}: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub struct Runs {
    pub records: Vec<RunRecord>,
    /// `key: why` for each run file that is not a readable record.
    pub skipped: Vec<String>,
}

/// The machine state with the version it was read at (`None`: never written, default state).
pub async fn read_state(store: &Arc<dyn Store>) -> Result<(State, Option<Version>), JournalError> {
    match store.get(STATE_KEY).await? {
        None => Ok((State::default(), None)),
        Some(v) => {
            let s = serde_json::from_slice(&v.bytes).map_err(|source| JournalError::Corrupt {
                key: STATE_KEY.into(),
                source,
            })?;
            Ok((s, Some(v.version)))
        }
    }
}

/// Writes `next` only if the state is still what was read.
pub async fn write_state(
    store: &Arc<dyn Store>,
    next: &State,
    read_at: Option<Version>,
) -> Result<(), JournalError> {
    let expect = match read_at {
        Some(v) => Expect::Version(v),
        None => Expect::Absent,
    };
    store.put(STATE_KEY, expect, to_bytes(next)).await?;
    Ok(())
}

pub async fn write_verdict(store: &Arc<dyn Store>, verdict: &Verdict) -> Result<(), JournalError> {
    store
        .put(VERDICT_KEY, Expect::Any, to_bytes(verdict))
        .await?;
    Ok(())
}

pub async fn read_verdict(store: &Arc<dyn Store>) -> Result<Option<Verdict>, JournalError> {
    match store.get(VERDICT_KEY).await? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v.bytes)
            .map(Some)
            .map_err(|source| JournalError::Corrupt {
                key: VERDICT_KEY.into(),
                source,
            }),
    }
}

/// A run id that sorts by creation time and says what the run was: `20261124T184512Z-failover-3fa1`.
pub fn new_run_id(kind: RunbookKind, now: DateTime<Utc>) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!(
        "{}-{}-{salt:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        kind.as_str()
    )
}

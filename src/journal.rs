//! Run records and the machine state, persisted through a [`Store`] with compare-and-swap.
//!
//! A run's record is written before a step starts and after it ends, so after a crash the record
//! says exactly which steps finished (never run again) and which one was in flight (run again:
//! every step is idempotent).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use standby_core::detector::Verdict;
use standby_core::machine::State;
use standby_core::runbook::RunbookKind;

use crate::store::{Expect, Store, StoreError, Version};

pub use standby_core::record::*;

pub const STATE_KEY: &str = "state.json";
pub const VERDICT_KEY: &str = "verdict.json";

pub fn run_key(id: &str) -> String {
    format!("runs/{id}.json")
}

/// The run id in a key from [`run_key`].
pub fn run_id_of(key: &str) -> &str {
    key.trim_start_matches("runs/").trim_end_matches(".json")
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
        let id = run_id_of(&key);
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

/// Where an instance on a shared store publishes its own verdict (leader or follower).
pub fn peer_verdict_key(instance: &str) -> String {
    format!("peers/{instance}/verdict.json")
}

pub async fn write_peer_verdict(
    store: &Arc<dyn Store>,
    instance: &str,
    verdict: &Verdict,
) -> Result<(), JournalError> {
    store
        .put(&peer_verdict_key(instance), Expect::Any, to_bytes(verdict))
        .await?;
    Ok(())
}

/// One instance's published verdict, as read: its store version and the verdict (or why it is
/// not one).
pub struct PeerVerdict {
    pub instance: String,
    pub version: Version,
    pub verdict: Result<Verdict, serde_json::Error>,
}

/// Every instance's published verdict (the daemon's vantage check, `status`). The listing must
/// answer; a document that vanished or could not be read after it is left out, as a peer that
/// has not published.
pub async fn read_peer_verdicts(store: &Arc<dyn Store>) -> Result<Vec<PeerVerdict>, JournalError> {
    let mut out = Vec::new();
    for key in store.list("peers/").await? {
        let Ok(Some(doc)) = store.get(&key).await else {
            continue;
        };
        out.push(PeerVerdict {
            instance: key
                .trim_start_matches("peers/")
                .trim_end_matches("/verdict.json")
                .to_string(),
            version: doc.version,
            verdict: serde_json::from_slice(&doc.bytes),
        });
    }
    Ok(out)
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
    // Two runs created in the same second by one process differ by the sequence, by two
    // processes by the pid; `now`'s nanoseconds spread the rest. No second clock read.
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let salt = (now.timestamp_subsec_nanos()
        ^ std::process::id().rotate_left(16)
        ^ seq.wrapping_mul(0x9e37_79b9))
        & 0xffff;
    format!(
        "{}-{}-{salt:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        kind.as_str()
    )
}

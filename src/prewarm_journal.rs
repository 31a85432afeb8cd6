//! The pre-warms' journal: the pre-warm under way (`prewarm/current.json`, written before every
//! AWS change it makes), the ended ones (`prewarm/history.json`), a failover's adoption of the
//! one under way, and each ended pre-warm's own report. Store and files only: the acting is in
//! [`crate::prewarm`]; a failover's run reads and ends a pre-warm here without depending on it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use crate::store::{Expect, Store, StoreError, Version};
use standby_core::prewarm::{End, Episode, HeadStart, Phase};

/// The pre-warm under way (or the last one, ended).
pub const CURRENT: &str = "prewarm/current.json";
/// The ended pre-warms (the latest [`KEPT`]) and how many ended each way, ever.
pub const HISTORY: &str = "prewarm/history.json";
const KEPT: usize = 200;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// How each pre-warm ended (`released`, `failover`, `failed`) → count, since the first.
    pub totals: BTreeMap<String, u64>,
    pub episodes: Vec<Episode>,
}

fn end_word(e: &End) -> &'static str {
    match e {
        End::Released => "released",
        End::Failover { .. } => "failover",
        End::Failed { .. } => "failed",
    }
}

/// The current episode as stored (ended or not), with its version.
pub(crate) async fn read_current(
    store: &Arc<dyn Store>,
) -> Result<Option<(Episode, Version)>, StoreError> {
    let Some(v) = store.get(CURRENT).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&v.bytes) {
        Ok(e) => Ok(Some((e, v.version))),
        Err(err) => {
            // Unreadable (written by a newer version?): treated as none, said, never a panic.
            warn!("{CURRENT} is not a pre-warm record ({err}); ignoring it");
            Ok(None)
        }
    }
}

/// The pre-warm under way, if any (best effort: for status, metrics and preflight).
pub async fn active(store: &Arc<dyn Store>) -> Option<Episode> {
    read_current(store)
        .await
        .ok()
        .flatten()
        .map(|(e, _)| e)
        .filter(|e| e.end.is_none())
}

pub async fn history(store: &Arc<dyn Store>) -> History {
    match store.get(HISTORY).await {
        Ok(Some(v)) => serde_json::from_slice(&v.bytes).unwrap_or_default(),
        _ => History::default(),
    }
}

pub(crate) async fn save(
    store: &Arc<dyn Store>,
    e: &Episode,
    expect: Expect,
) -> Result<Version, StoreError> {
    let bytes = serde_json::to_vec_pretty(e).expect("an episode serializes");
    store.put(CURRENT, expect, bytes).await
}

/// Appends an ended episode to the history (once: an id already there is not added again).
async fn remember(store: &Arc<dyn Store>, e: &Episode) -> Result<(), StoreError> {
    for _ in 0..3 {
        let got = store.get(HISTORY).await?;
        let (mut h, expect) = match &got {
            Some(v) => (
                serde_json::from_slice::<History>(&v.bytes).unwrap_or_default(),
                Expect::Version(v.version.clone()),
            ),
            None => (History::default(), Expect::Absent),
        };
        if h.episodes.iter().any(|x| x.id == e.id) {
            return Ok(());
        }
        if let Some(end) = &e.end {
            *h.totals.entry(end_word(end).to_string()).or_default() += 1;
        }
        h.episodes.push(e.clone());
        let extra = h.episodes.len().saturating_sub(KEPT);
        h.episodes.drain(..extra);
        let bytes = serde_json::to_vec_pretty(&h).expect("a history serializes");
        match store.put(HISTORY, expect, bytes).await {
            Err(StoreError::Conflict { .. }) => continue,
            other => return other.map(|_| ()),
        }
    }
    Err(StoreError::Conflict {
        key: HISTORY.to_string(),
    })
}

/// Ends `e` (read at `version`): the current episode first (the compare-and-swap decides who
/// ends it), then the history.
pub(crate) async fn close(
    store: &Arc<dyn Store>,
    mut e: Episode,
    version: Version,
    end: End,
) -> Result<Episode, StoreError> {
    e.phase = Phase::Ended;
    e.end = Some(end);
    e.ended_at = Some(Utc::now());
    save(store, &e, Expect::Version(version)).await?;
    if let Err(err) = remember(store, &e).await {
        // The current record says how it ended; the next daemon start adds it (`reconcile`).
        warn!("adding pre-warm {} to the history: {err}", e.id);
    }
    Ok(e)
}

/// Where the pre-warms' reports go, under `reports_dir` (apart from the runs' directories).
pub const REPORTS: &str = "prewarms";

/// The ended pre-warm's own report: `reports_dir/prewarms/<id>.md` and `<id>.json`. Best
/// effort: said, never fatal.
pub fn write_report(cfg: &standby_core::config::Config, e: &Episode) {
    let dir = cfg.service.reports_dir.join(REPORTS);
    let now = Utc::now();
    let json = serde_json::json!({ "episode": e, "cost_usd": e.cost(now) });
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| {
            std::fs::write(
                dir.join(format!("{}.md", e.id)),
                e.markdown(&cfg.service.name, now),
            )
        })
        .and_then(|_| {
            std::fs::write(
                dir.join(format!("{}.json", e.id)),
                serde_json::to_string_pretty(&json).expect("an episode serializes") + "\n",
            )
        });
    if let Err(err) = written {
        warn!(
            "writing the report of pre-warm {} to {}: {err}",
            e.id,
            dir.display()
        );
    }
}

/// An ended episode a crash kept out of the history goes in.
pub(crate) async fn reconcile(store: &Arc<dyn Store>) {
    if let Ok(Some((e, _))) = read_current(store).await
        && e.end.is_some()
        && let Err(err) = remember(store, &e).await
    {
        warn!("adding pre-warm {} to the history: {err}", e.id);
    }
}

/// A failover starts: it takes over the pre-warm under way (the standby stays at serving, the
/// failover's plan reads it there). Returns the pre-warm as the failover found it, for the RTO
/// it saved. Never holds a failover back: a store error is said and the run goes on.
pub async fn adopt(
    store: &Arc<dyn Store>,
    run: &str,
    report_to: Option<&standby_core::config::Config>,
) -> Option<HeadStart> {
    for _ in 0..3 {
        let (e, version) = match read_current(store).await {
            Ok(Some(c)) if c.0.end.is_none() => c,
            Ok(_) => return None,
            Err(err) => {
                warn!("reading the pre-warm for failover {run}: {err}");
                return None;
            }
        };
        // A pre-warm going back to warm gave no head start worth counting.
        let head = (e.phase != Phase::Releasing).then(|| HeadStart {
            episode: e.id.clone(),
            reason: e.reason.clone(),
            started_at: e.started_at,
            ready_at: e.ready_at,
            warm_up_ms: e.warm_up_ms,
        });
        match close(
            store,
            e,
            version,
            End::Failover {
                run: run.to_string(),
            },
        )
        .await
        {
            Ok(e) => {
                info!(run, "failover {run} takes over pre-warm {}", e.id);
                if let Some(cfg) = report_to {
                    write_report(cfg, &e);
                }
                return head;
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => {
                warn!("closing the pre-warm for failover {run}: {err}");
                return head;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn episode(phase: Phase) -> Episode {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Episode {
            id: "prewarm-1".into(),
            started_at: at,
            reason: "median latency 556ms of good rounds above 350ms for 6.0s".into(),
            phase,
            groups: vec!["gpu-usw2".into()],
            ready_at: (phase == Phase::Serving).then_some(at + chrono::Duration::seconds(12)),
            warm_up_ms: (phase == Phase::Serving).then_some(11_600),
            hourly_usd: Some(3.018),
            price_basis: "list".into(),
            release_reason: None,
            ended_at: None,
            end: None,
        }
    }

    #[tokio::test]
    async fn a_failover_adopts_a_ready_pre_warm_once_and_it_is_counted_once() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        assert_eq!(adopt(&store, "r1", None).await, None, "nothing to adopt");
        save(&store, &episode(Phase::Serving), Expect::Absent)
            .await
            .unwrap();
        assert!(active(&store).await.is_some());
        let head = adopt(&store, "r1", None).await.expect("a head start");
        assert_eq!(head.warm_up_ms, Some(11_600));
        assert!(head.ready_at.is_some());
        // Ended as taken over; a second failover finds nothing; the history has it once.
        assert!(active(&store).await.is_none());
        assert_eq!(adopt(&store, "r2", None).await, None);
        let (e, _) = read_current(&store).await.unwrap().unwrap();
        assert_eq!(e.end, Some(End::Failover { run: "r1".into() }));
        reconcile(&store).await;
        let h = history(&store).await;
        assert_eq!(h.episodes.len(), 1);
        assert_eq!(h.totals.get("failover"), Some(&1));
    }

    #[tokio::test]
    async fn a_pre_warm_going_back_to_warm_gives_a_failover_no_head_start() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        save(&store, &episode(Phase::Releasing), Expect::Absent)
            .await
            .unwrap();
        assert_eq!(adopt(&store, "r1", None).await, None);
        assert!(
            active(&store).await.is_none(),
            "still ended: the failover owns the standby"
        );
        assert_eq!(history(&store).await.totals.get("failover"), Some(&1));
    }

    #[tokio::test]
    async fn an_unreadable_record_is_no_pre_warm_and_never_a_panic() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        store
            .put(CURRENT, Expect::Any, b"{\"id\": 7}".to_vec())
            .await
            .unwrap();
        assert!(active(&store).await.is_none());
        assert_eq!(adopt(&store, "r1", None).await, None);
    }
}

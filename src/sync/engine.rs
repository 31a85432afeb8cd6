//! Applying a sync plan: server-side copies with bounded concurrency and retries, deletes, a HEAD
//! of every copy, and the manifest written last.
//!
//! Guarantees: the manifest is written only after every planned change succeeded and every copy
//! was verified, so a crashed or failed sync leaves the previous manifest (and the objects its
//! version ids pin) as it was; the next run re-plans from the listings and completes.
//! Caveats: without bucket versioning on the standby, an object overwritten in place by a sync that
//! then crashed is visible under its key before a manifest names it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::store::{Expect, Store};
use standby_aws::{AwsError, Clients, s3};
use standby_core::config::{ArtifactSet, Config, Side, SyncMode, SyncTuning};
use standby_core::duration::human;
use standby_core::sync::manifest::{self, Entry, Manifest, Rpo};
use standby_core::sync::planner::{self, Op, Plan};
use standby_core::sync::{Direction, Object};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("listing {side} s3://{bucket}/{prefix}: {source}")]
    List {
        side: Side,
        bucket: String,
        prefix: String,
        source: AwsError,
    },
    #[error("{failed} of {total} changes failed; first: {first}")]
    Apply {
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("reading or writing the manifest: {0}")]
    Manifest(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error(
        "a sync of set {0} is already running (the daemon's schedule, a failover's final sync, or another `standby sync`)"
    )]
    Busy(String),
}

/// Live counters for progress on a terminal.
#[derive(Debug, Default)]
pub struct Progress {
    pub objects_done: AtomicU64,
    pub objects_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_total: AtomicU64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SetOutcome {
    pub set: String,
    pub sync_id: String,
    pub direction: Direction,
    pub dry_run: bool,
    pub plan: Plan,
    pub published: bool,
    /// Nothing changed: the published manifest was confirmed current, not rewritten.
    pub confirmed: bool,
    /// Whether this run listed the destination (rather than trusting the manifest).
    pub verified_destination: bool,
    /// For replication mode: why the set is not complete yet.
    pub incomplete: Option<String>,
    pub rpo: Option<Rpo>,
    pub duration_ms: u64,
}

impl SetOutcome {
    pub fn publication(&self) -> &'static str {
        match (self.published, self.confirmed) {
            (true, _) => "; manifest published",
            (false, true) => "; manifest confirmed (unchanged)",
            _ => "",
        }
    }
}

/// Per-set state kept in the store: the daemon schedules from it and `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SetState {
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_finished_at: Option<DateTime<Utc>>,
    pub last_ok: Option<bool>,
    pub last_message: String,
    pub last_published_at: Option<DateTime<Utc>>,
    /// Start of the last run that listed the destination in full.
    #[serde(default)]
    pub last_verified_at: Option<DateTime<Utc>>,
    pub last_rpo: Option<Rpo>,
    /// Bytes the last complete sync copied across regions (the cost estimate's transfer).
    #[serde(default)]
    pub last_copied_bytes: Option<u64>,
}

impl SetState {
    /// The set's RPO now, without reading the buckets: the last figure (taken after each sync
    /// published) carried forward to `now` as a true upper bound; `None` when never measured.
    pub fn rpo_bound(&self, now: DateTime<Utc>) -> Option<std::time::Duration> {
        self.last_rpo
            .as_ref()
            .and_then(|r| standby_core::sync::manifest::bound_since(r, now))
            .and_then(|r| r.value)
    }
}

pub fn state_key(set: &str) -> String {
    format!("sync/{set}.json")
}

pub async fn read_state(store: &Arc<dyn Store>, set: &str) -> SetState {
    match store.get(&state_key(set)).await {
        Ok(Some(v)) => serde_json::from_slice(&v.bytes).unwrap_or_default(),
        _ => SetState::default(),
    }
}

pub async fn write_state(
    store: &Arc<dyn Store>,
    set: &str,
    st: &SetState,
) -> Result<(), SyncError> {
    store
        .put(
            &state_key(set),
            Expect::Any,
            serde_json::to_vec_pretty(st).expect("state serializes"),
        )
        .await?;
    Ok(())
}

/// The published manifest of a set, if any.
pub async fn read_manifest(
    clients: &Clients,
    set: &ArtifactSet,
) -> Result<Option<Manifest>, SyncError> {
    let client = clients.s3(Side::Standby);
    let bucket = &set.standby_bucket;
    let (mkey, ckey) = (
        manifest::key(&set.name),
        manifest::confirmation_key(&set.name),
    );
    let (m, c) = tokio::join!(
        s3::get_bytes(client, bucket, &mkey),
        s3::get_bytes(client, bucket, &ckey)
    );
    let Some(bytes) = m.map_err(|e| SyncError::Manifest(e.to_string()))? else {
        return Ok(None);
    };
    let mut m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        SyncError::Manifest(format!(
            "{} is not a manifest: {e}",
            manifest::key(&set.name)
        ))
    })?;
    // A confirmation counts only for the manifest it confirmed.
    if let Ok(Some(c)) = c
        && let Ok(c) = serde_json::from_slice::<manifest::Confirmation>(&c)
        && c.manifest_sync_id == m.sync_id
    {
        m.confirmed_at = Some(c.confirmed_at);
    }
    Ok(Some(m))
}

/// The primary's write history for a set: every version when ListObjectVersions answers, the
/// current versions (as null versions, so an RPO from them is labelled at least) when only
/// ListObjectsV2 does, `None` when the bucket cannot be read.
pub async fn primary_history(
    clients: &Clients,
    set: &ArtifactSet,
) -> Option<Vec<standby_core::sync::Version>> {
    let client = clients.s3(Side::Primary);
    match s3::list_versions(client, &set.primary_bucket, &set.prefix).await {
        Ok(v) => Some(v),
        // The region is unreachable, timing out or failing: current versions would fail the
        // same way after the same retries, and RPO must not wait for that in an outage.
        Err(e) if e.kind.unavailable() => {
            warn!(set = %set.name, "primary bucket unavailable ({:?}), RPO is a bound: {e}", e.kind);
            None
        }
        // Denied (no s3:ListBucketVersions) or not versioned: current versions still say a lot.
        Err(e) => {
            warn!(set = %set.name, "primary version history unreadable, trying current versions: {e}");
            match s3::list(client, &set.primary_bucket, &set.prefix).await {
                Ok(objects) => Some(
                    objects
                        .iter()
                        .map(standby_core::sync::Version::from_current)
                        .collect(),
                ),
                Err(e) => {
                    warn!(set = %set.name, "primary bucket unreadable, RPO is a bound: {e}");
                    None
                }
            }
        }
    }
}

/// The set's RPO at `at` (now, or an earlier instant such as a failure's onset), from a fresh
/// read of the primary's history and the published manifest: measured, or a labelled bound.
pub async fn measure_rpo(
    clients: &Clients,
    set: &ArtifactSet,
    at: Option<DateTime<Utc>>,
) -> Result<Rpo, SyncError> {
    let (last, history) = tokio::join!(read_manifest(clients, set), primary_history(clients, set));
    let last = last?;
    Ok(manifest::rpo_at(
        set,
        history.as_deref(),
        last.as_ref(),
        at.unwrap_or_else(Utc::now),
    ))
}

pub struct Engine {
    pub cfg: Arc<Config>,
    pub clients: Clients,
    pub store: Arc<dyn Store>,
    pub progress: Arc<Progress>,
}

impl Engine {
    /// Runs one set once; records the outcome in the set's state.
    pub async fn run(
        &self,
        set: &ArtifactSet,
        direction: Direction,
        dry_run: bool,
    ) -> Result<SetOutcome, SyncError> {
        // One run of a set at a time, across processes: two syncs would race to publish.
        let _lock = if dry_run {
            None
        } else {
            let lock = self.store.lock_run(&format!("sync-{}", set.name)).await?;
            Some(lock.ok_or_else(|| SyncError::Busy(set.name.clone()))?)
        };
        let mut st = read_state(&self.store, &set.name).await;
        let started = Utc::now();
        if !dry_run {
            st.last_started_at = Some(started);
            write_state(&self.store, &set.name, &st).await?;
        }
        let trust = st.last_verified_at.is_some_and(|v| {
            standby_core::duration::between(v, started) < self.cfg.sync.verify_every
        });
        let result = self
            .run_inner(set, direction, dry_run, started, trust)
            .await;
        if !dry_run {
            st.last_finished_at = Some(Utc::now());
            match &result {
                Ok(o) => {
                    st.last_ok = Some(o.incomplete.is_none());
                    st.last_message = o.incomplete.clone().unwrap_or_else(|| o.plan.summary());
                    if o.published || o.confirmed {
                        st.last_published_at = Some(started);
                    }
                    if o.verified_destination && o.incomplete.is_none() {
                        st.last_verified_at = Some(started);
                    }
                    if o.rpo.is_some() {
                        st.last_rpo = o.rpo.clone();
                    }
                    if o.incomplete.is_none() {
                        st.last_copied_bytes = Some(o.plan.bytes);
                    }
                }
                Err(e) => {
                    st.last_ok = Some(false);
                    st.last_message = e.to_string();
                }
            }
            write_state(&self.store, &set.name, &st).await?;
        }
        result
    }

    /// RPO now against a manifest already in hand (the one just published, or the last one):
    /// a fresh read of the primary's history, so writes that landed while this run listed count.
    async fn rpo_now(&self, set: &ArtifactSet, published: Option<&Manifest>) -> Rpo {
        let history = primary_history(&self.clients, set).await;
        manifest::rpo_at(set, history.as_deref(), published, Utc::now())
    }

    async fn run_inner(
        &self,
        set: &ArtifactSet,
        direction: Direction,
        dry_run: bool,
        started: DateTime<Utc>,
        trust_destination: bool,
    ) -> Result<SetOutcome, SyncError> {
        let t0 = Instant::now();
        let sync_id = format!("{}-{}", started.format("%Y%m%dT%H%M%SZ"), set.name);
        let (src_side, dst_side) = match direction {
            Direction::Forward => (Side::Primary, Side::Standby),
            Direction::Reverse => (Side::Standby, Side::Primary),
        };
        let bucket_of = |side| {
            if side == Side::Primary {
                &set.primary_bucket
            } else {
                &set.standby_bucket
            }
        };
        let (src_bucket, dst_bucket) = (bucket_of(src_side).clone(), bucket_of(dst_side).clone());
        let list = |side: Side| {
            let bucket = bucket_of(side).clone();
            let client = self.clients.s3(side).clone();
            let prefix = set.prefix.clone();
            async move {
                s3::list(&client, &bucket, &prefix)
                    .await
                    .map_err(|source| SyncError::List {
                        side,
                        bucket,
                        prefix,
                        source,
                    })
            }
        };
        // The destination is listed in full when its state was last verified longer ago than
        // `sync.verify_every` (and on a first run); in between, the published manifest, which
        // records what standby itself wrote, stands in for it. That halves the LIST work of
        // every scheduled run, and catches out-of-band changes on the standby within
        // verify_every.
        let (src, last) = tokio::join!(list(src_side), read_manifest(&self.clients, set));
        let (src, last) = (src?, last?);
        let trusted = match (&last, trust_destination) {
            (Some(m), true) if direction == Direction::Forward => Some(m.as_listing()),
            _ => None,
        };
        let verified_destination = trusted.is_none();
        let dst = match trusted {
            Some(d) => d,
            None => list(dst_side).await?,
        };
        let plan = match direction {
            Direction::Forward => planner::plan(&src, &dst, last.as_ref(), set.delete),
            Direction::Reverse => planner::plan_reverse(&src, &dst, last.as_ref()),
        };
        info!(set = %set.name, ?direction, "plan: {}", plan.summary());
        let mut outcome = SetOutcome {
            set: set.name.clone(),
            sync_id: sync_id.clone(),
            direction,
            dry_run,
            plan: plan.clone(),
            published: false,
            confirmed: false,
            verified_destination,
            incomplete: None,
            rpo: None,
            duration_ms: 0,
        };
        if dry_run {
            if direction == Direction::Forward {
                outcome.rpo = Some(self.rpo_now(set, last.as_ref()).await);
            }
            outcome.duration_ms = standby_core::duration::millis(t0.elapsed());
            return Ok(outcome);
        }

        if set.mode == SyncMode::Replication && direction == Direction::Forward {
            // CRR moves the bytes; a key whose replica is missing or differs means "not yet".
            let pending: Vec<&Op> = plan
                .ops
                .iter()
                .filter(|o| matches!(o, Op::Copy { .. } | Op::Overwrite { .. }))
                .collect();
            if !pending.is_empty() {
                let oldest = pending
                    .iter()
                    .filter_map(|o| {
                        src.binary_search_by(|s| s.key.as_str().cmp(o.key()))
                            .ok()
                            .map(|i| &src[i])
                    })
                    .min_by_key(|o| o.last_modified);
                let lag = oldest
                    .map(|o| human(standby_core::duration::between(o.last_modified, Utc::now())))
                    .unwrap_or_default();
                outcome.incomplete = Some(format!(
                    "replication incomplete: {} object(s) not yet replicated, oldest {} ({lag} ago); manifest not published",
                    pending.len(),
                    oldest.map(|o| o.key.as_str()).unwrap_or("?")
                ));
                outcome.rpo = Some(self.rpo_now(set, last.as_ref()).await);
                outcome.duration_ms = standby_core::duration::millis(t0.elapsed());
                warn!(set = %set.name, "{}", outcome.incomplete.as_deref().unwrap_or_default());
                return Ok(outcome);
            }
        }

        let copied = self
            .apply(set, &plan, &src, &src_bucket, &dst_bucket, dst_side)
            .await?;
        crate::failpoint::hold(
            &self.cfg.service.state_dir,
            &format!("sync:{}:before-publish", set.name),
        )
        .await;

        if direction == Direction::Forward {
            let m = build_manifest(
                set,
                &sync_id,
                started,
                &src,
                &dst,
                last.as_ref(),
                &copied,
                &src_bucket,
                &dst_bucket,
            );
            // Nothing changed: confirm the published manifest with a small marker instead of
            // rewriting it, so the RPO bound still counts from this run's listing.
            let unchanged = last.as_ref().is_some_and(|l| l.objects == m.objects);
            let (key, bytes) = if unchanged {
                let marker = manifest::Confirmation {
                    manifest_sync_id: last.as_ref().map(|l| l.sync_id.clone()).unwrap_or_default(),
                    sync_id: sync_id.clone(),
                    confirmed_at: started,
                };
                (
                    manifest::confirmation_key(&set.name),
                    serde_json::to_vec(&marker).expect("serializes"),
                )
            } else {
                (
                    manifest::key(&set.name),
                    serde_json::to_vec_pretty(&m).expect("manifest serializes"),
                )
            };
            s3::put_bytes(
                self.clients.s3(Side::Standby),
                &dst_bucket,
                &key,
                bytes,
                "application/json",
            )
            .await
            .map_err(|e| SyncError::Manifest(e.to_string()))?;
            outcome.published = !unchanged;
            outcome.confirmed = unchanged;
            // Read again after publishing: writes that landed while this sync listed are not in
            // what it published, and the figure must say so.
            outcome.rpo = Some(self.rpo_now(set, Some(&m)).await);
        }
        outcome.duration_ms = standby_core::duration::millis(t0.elapsed());
        info!(set = %set.name, ?direction, "synced in {}: {}{}", human(t0.elapsed()), plan.summary(), outcome.publication());
        Ok(outcome)
    }

    /// Copies, then deletes; verifies every copy with HEAD. Returns what each copy wrote.
    async fn apply(
        &self,
        set: &ArtifactSet,
        plan: &Plan,
        src: &[Object],
        src_bucket: &str,
        dst_bucket: &str,
        dst_side: Side,
    ) -> Result<Vec<(String, s3::Copied)>, SyncError> {
        let tuning = self.cfg.sync.clone();
        let permits = Arc::new(Semaphore::new(tuning.concurrency));
        let client = self.clients.s3(dst_side).clone();
        let copies: Vec<&Op> = plan
            .ops
            .iter()
            .filter(|o| matches!(o, Op::Copy { .. } | Op::Overwrite { .. }))
            .collect();
        self.progress
            .objects_total
            .fetch_add(copies.len() as u64, Ordering::Relaxed);
        self.progress
            .bytes_total
            .fetch_add(plan.bytes, Ordering::Relaxed);
        let half = copies.len().div_ceil(2);
        let mut set_tasks = tokio::task::JoinSet::new();
        for op in &copies {
            let key = op.key().to_string();
            let size = src
                .binary_search_by(|s| s.key.as_str().cmp(&key))
                .ok()
                .map(|i| src[i].size)
                .unwrap_or(0);
            let (client, permits, tuning, progress) = (
                client.clone(),
                permits.clone(),
                tuning.clone(),
                self.progress.clone(),
            );
            let (src_bucket, dst_bucket) = (src_bucket.to_string(), dst_bucket.to_string());
            set_tasks.spawn(standby_aws::calls::carry(async move {
                let r = copy_one(
                    &client,
                    &permits,
                    &tuning,
                    &src_bucket,
                    &dst_bucket,
                    &key,
                    size,
                )
                .await;
                if r.is_ok() {
                    progress.objects_done.fetch_add(1, Ordering::Relaxed);
                    progress.bytes_done.fetch_add(size, Ordering::Relaxed);
                }
                (key, size, r)
            }));
        }
        let mut copied = Vec::new();
        let mut failures = Vec::new();
        while let Some(j) = set_tasks.join_next().await {
            match j {
                Ok((key, size, Ok(c))) => copied.push((key, size, c)),
                Ok((key, _, Err(e))) => failures.push(format!("{key}: {e}")),
                Err(e) => failures.push(format!("copy task: {e}")),
            }
            if copied.len() == half && failures.is_empty() {
                crate::failpoint::hold(
                    &self.cfg.service.state_dir,
                    &format!("sync:{}:mid-copy", set.name),
                )
                .await;
            }
        }
        let total = copies.len() + plan.delete;
        if !failures.is_empty() {
            failures.sort();
            return Err(SyncError::Apply {
                failed: failures.len(),
                total,
                first: failures[0].clone(),
            });
        }
        for op in plan.ops.iter().filter(|o| matches!(o, Op::Delete { .. })) {
            let key = op.key();
            s3::delete(&client, dst_bucket, key)
                .await
                .map_err(|e| SyncError::Apply {
                    failed: 1,
                    total,
                    first: format!("{key}: {e}"),
                })?;
        }
        // Verify before publishing: the manifest must never name a copy that is not what it says.
        // A single-part copy's ETag is the MD5 of its bytes, so the copy's answer proves it holds
        // the source as listed (a mismatch means the source changed mid-sync). A multipart copy's
        // ETag is ours by construction, so those few large objects get a HEAD for their size.
        let mut verified = Vec::with_capacity(copied.len());
        let mut heads = tokio::task::JoinSet::new();
        for (key, size, mut c) in copied {
            let src_etag = src
                .binary_search_by(|s| s.key.as_str().cmp(&key))
                .ok()
                .map(|i| src[i].etag.clone())
                .unwrap_or_default();
            let ours_multipart = Object::multipart_etag(&c.etag) && c.etag != src_etag;
            if !ours_multipart {
                if !Object::multipart_etag(&src_etag) && c.etag != src_etag {
                    // Written again after the listing. A single CopyObject copies one version
                    // whole and names it: the entry records that version (the set stays
                    // consistent, and RPO counts only what came after it). Without its version
                    // id nothing says what the copy holds, so the set is not published.
                    if c.source_version_id.is_none() {
                        return Err(SyncError::Verify(format!(
                            "{key}: the copy has ETag {}, the source was listed with {src_etag}: it changed during the sync; the next run copies it again",
                            c.etag
                        )));
                    }
                    let (got, _, _) = s3::head(&client, dst_bucket, &key)
                        .await
                        .map_err(|e| SyncError::Verify(e.to_string()))?;
                    info!(set = %set.name, "{key} was written again during the sync; the copy holds the newer version {}", c.source_version_id.as_deref().unwrap_or_default());
                    c.newer_than_listed = Some(got);
                }
                verified.push((key, c));
                continue;
            }
            let (client, permits, dst_bucket) =
                (client.clone(), permits.clone(), dst_bucket.to_string());
            heads.spawn(standby_aws::calls::carry(async move {
                let _p = permits.acquire_owned().await;
                let h = s3::head(&client, &dst_bucket, &key).await;
                (key, size, c, h)
            }));
        }
        while let Some(j) = heads.join_next().await {
            let Ok((key, size, mut c, h)) = j else {
                continue;
            };
            match h {
                Ok((got, etag, version)) if got == size && etag == c.etag => {
                    c.version_id = c.version_id.or(version);
                    verified.push((key, c));
                }
                Ok((got, etag, _)) => {
                    return Err(SyncError::Verify(format!(
                        "{key}: HEAD says {got} bytes, ETag {etag}; expected {size} bytes, ETag {}",
                        c.etag
                    )));
                }
                Err(e) => return Err(SyncError::Verify(e.to_string())),
            }
        }
        verified.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(verified)
    }
}

async fn copy_one(
    client: &aws_sdk_s3::Client,
    permits: &Arc<Semaphore>,
    t: &SyncTuning,
    src_bucket: &str,
    dst_bucket: &str,
    key: &str,
    size: u64,
) -> Result<s3::Copied, String> {
    if size < t.multipart_threshold {
        let _p = permits.acquire().await.map_err(|e| e.to_string())?;
        return s3::copy(client, src_bucket, key, dst_bucket)
            .await
            .map_err(|e| e.to_string());
    }
    let upload_id = {
        let _p = permits.acquire().await.map_err(|e| e.to_string())?;
        s3::create_multipart(client, dst_bucket, key)
            .await
            .map_err(|e| e.to_string())?
    };
    let mut parts = tokio::task::JoinSet::new();
    let mut first = 0u64;
    let mut n = 1i32;
    while first < size {
        let last = (first + t.part_size).min(size) - 1;
        let (client, permits) = (client.clone(), permits.clone());
        let (src_bucket, dst_bucket, key, upload_id) = (
            src_bucket.to_string(),
            dst_bucket.to_string(),
            key.to_string(),
            upload_id.clone(),
        );
        parts.spawn(standby_aws::calls::carry(async move {
            let _p = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            s3::copy_part(
                &client,
                &src_bucket,
                &key,
                &dst_bucket,
                &upload_id,
                n,
                first,
                last,
            )
            .await
            .map(|etag| (n, etag))
            .map_err(|e| e.to_string())
        }));
        first = last + 1;
        n += 1;
    }
    let mut done = Vec::new();
    let mut error = None;
    while let Some(j) = parts.join_next().await {
        match j {
            Ok(Ok(p)) => done.push(p),
            Ok(Err(e)) => error = error.or(Some(e)),
            Err(e) => error = error.or(Some(e.to_string())),
        }
    }
    if let Some(e) = error {
        // Leave no billed, invisible parts behind.
        let _ = s3::abort_multipart(client, dst_bucket, key, &upload_id).await;
        return Err(e);
    }
    done.sort_by_key(|p| p.0);
    let _p = permits.acquire().await.map_err(|e| e.to_string())?;
    let mut c = s3::complete_multipart(client, dst_bucket, key, &upload_id, done)
        .await
        .map_err(|e| e.to_string())?;
    // The multipart ETag is ours (our part size); the HEAD check compares against it.
    c.source_version_id = None;
    Ok(c)
}

/// The manifest for a forward sync: every source object, with what the standby holds for it.
#[allow(clippy::too_many_arguments)]
fn build_manifest(
    set: &ArtifactSet,
    sync_id: &str,
    started: DateTime<Utc>,
    src: &[Object],
    dst: &[Object],
    last: Option<&Manifest>,
    copied: &[(String, s3::Copied)],
    src_bucket: &str,
    dst_bucket: &str,
) -> Manifest {
    let mut objects = Vec::with_capacity(src.len());
    for o in src {
        let entry = if let Ok(i) = copied.binary_search_by(|(k, _)| k.as_str().cmp(&o.key)) {
            let c = &copied[i].1;
            // A copy of a version newer than listed describes that version (its ETag is the
            // source's: a single-part copy of a single-part object).
            let (size, source_etag) = match c.newer_than_listed {
                Some(size) => (size, c.etag.clone()),
                None => (o.size, o.etag.clone()),
            };
            Entry {
                key: o.key.clone(),
                size,
                etag: c.etag.clone(),
                source_etag,
                source_last_modified: o.last_modified,
                version_id: c.version_id.clone(),
                source_version_id: c.source_version_id.clone(),
            }
        } else if let Some(prev) = last
            .and_then(|m| m.entry(&o.key))
            .filter(|e| e.source_etag == o.etag && e.size == o.size)
        {
            prev.clone()
        } else {
            let d = dst
                .binary_search_by(|d| d.key.as_str().cmp(&o.key))
                .ok()
                .map(|i| &dst[i]);
            Entry {
                key: o.key.clone(),
                size: o.size,
                etag: d.map(|d| d.etag.clone()).unwrap_or_default(),
                source_etag: o.etag.clone(),
                source_last_modified: o.last_modified,
                version_id: None,
                source_version_id: None,
            }
        };
        objects.push(entry);
    }
    Manifest {
        schema_version: manifest::SCHEMA_VERSION,
        set: set.name.clone(),
        prefix: set.prefix.clone(),
        mode: set.mode,
        source_bucket: src_bucket.to_string(),
        bucket: dst_bucket.to_string(),
        sync_id: sync_id.to_string(),
        started_at: started,
        finished_at: Utc::now(),
        total_bytes: objects.iter().map(|e| e.size).sum(),
        objects,
        confirmed_at: None,
    }
}

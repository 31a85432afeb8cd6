//! What a plan reads of the world before it acts, without waiting on what the region event may
//! have taken down: each region's groups are read on their own (a failing region leaves only
//! its own groups out), and the record is read from Route 53's control plane only when the
//! method needs it, for at most [`RECORD_WAIT`]; past that the last record read stands in,
//! labelled as such. With `method = "failover_records"` no Route 53 call is made at all: the
//! gate object (S3, data plane) says where the name points.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::context::Ctx;
use crate::store::{Expect, Store};
use standby_aws::AwsError;
use standby_core::config::DnsMethod;
use standby_core::dns_setup::FailoverSetup;
use standby_core::plan::{AsgObservation, RecordObservation, World};

/// How long a plan or a preflight waits for Route 53 to answer a read before using what it
/// last read. Scaling the standby must not wait on the control plane; a healthy Route 53
/// answers a read in well under a second (the SDK's own deadline, `[aws] call_timeout`, is 30s).
pub const RECORD_WAIT: Duration = Duration::from_secs(1);

/// The last record value read from Route 53, for when it cannot be read.
pub const LAST_KNOWN_KEY: &str = "dns/last-known.json";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct LastKnown {
    value: String,
    ttl: Option<i64>,
    read_at: DateTime<Utc>,
}

/// The value of the record as last read from Route 53 (any command's or the daemon's read).
pub async fn last_known_value(store: &Arc<dyn Store>) -> Option<String> {
    read_doc::<LastKnown>(store, LAST_KNOWN_KEY)
        .await
        .map(|l| l.value)
}

/// The failover records and health check, as last read from Route 53.
pub const SETUP_KEY: &str = "dns/failover-setup.json";

/// The groups' capacity as last read (by a plan, a preflight or the daemon's scheduled standby
/// probe), for `/metrics`: one entry per group, each with the instant it was read.
pub const GROUPS_KEY: &str = "asgs/last-observed.json";

/// One group as last read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedGroup {
    #[serde(flatten)]
    pub group: AsgObservation,
    pub read_at: DateTime<Utc>,
}

/// What a plan needs: both sides' groups and where the name points, read concurrently. No
/// Route 53 call with `failover_records`; at most [`RECORD_WAIT`] on one with `record`.
pub async fn observe_for_plan(ctx: &Ctx) -> Result<World, AwsError> {
    let ((asgs, unreadable), record) = tokio::join!(
        standby_aws::observe_asgs(&ctx.clients, &ctx.cfg),
        answer(ctx)
    );
    for u in &unreadable {
        warn!("cannot read the {u}");
    }
    // Kept for the metrics, off the run's path: a failover does not wait on this write.
    let (keep, seen) = (ctx.clone(), asgs.clone());
    tokio::spawn(async move { remember_groups(&keep, &seen).await });
    Ok(World {
        asgs,
        record: record?,
        unreadable,
        ..World::default()
    })
}

/// What a preflight checks: [`observe_for_plan`] and, with `failover_records`, the failover
/// setup (read within [`RECORD_WAIT`], else as remembered), all concurrently.
pub async fn observe(ctx: &Ctx) -> Result<World, AwsError> {
    let (world, (failover_setup, failover_setup_unread)) =
        tokio::join!(observe_for_plan(ctx), read_setup_within(ctx, RECORD_WAIT));
    Ok(World {
        failover_setup,
        failover_setup_unread,
        ..world?
    })
}

/// `failover_records`: the records and health check read within [`RECORD_WAIT`] (control
/// plane), else the last reading with its instant, and why; nothing for `record`.
/// The daemon's periodic reading, off any run's path: it may wait longer.
pub async fn read_setup(ctx: &Ctx) -> (Option<FailoverSetup>, Option<String>) {
    read_setup_within(ctx, Duration::from_secs(5)).await
}

async fn read_setup_within(ctx: &Ctx, wait: Duration) -> (Option<FailoverSetup>, Option<String>) {
    let DnsMethod::FailoverRecords(gate) = &ctx.cfg.dns.method else {
        return (None, None);
    };
    let read = tokio::time::timeout(
        wait,
        standby_aws::dns::failover_setup(
            &ctx.clients.route53,
            &ctx.cfg.dns.zone_id,
            &ctx.cfg.dns.name,
            ctx.cfg.dns.record_type,
            gate.health_check_id.as_deref(),
        ),
    )
    .await;
    let why = match read {
        Ok(Ok(s)) => {
            let stored = FailoverSetup {
                read_at: Some(Utc::now()),
                ..s.clone()
            };
            if remembered_setup(&ctx.store)
                .await
                .is_none_or(|r| r.records != s.records || r.check != s.check)
            {
                let bytes = serde_json::to_vec_pretty(&stored).expect("serializes");
                if let Err(e) = ctx.store.put(SETUP_KEY, Expect::Any, bytes).await {
                    warn!("keeping the failover setup as read: {e}");
                }
            }
            return (Some(s), None);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "Route 53 did not answer within {}",
            standby_core::duration::human(wait)
        ),
    };
    (remembered_setup(&ctx.store).await, Some(why))
}

/// Both sides' groups read now and remembered (the daemon's scheduled standby probe: off any
/// run's path). Unreadable regions are said, and keep what was read of them before.
pub async fn read_groups(ctx: &Ctx) {
    let (seen, unreadable) = standby_aws::observe_asgs(&ctx.clients, &ctx.cfg).await;
    for u in &unreadable {
        warn!("cannot read the {u}");
    }
    remember_groups(ctx, &seen).await;
}

/// The groups as last read, each with its instant (none read yet: empty).
pub async fn remembered_groups(store: &Arc<dyn Store>) -> Vec<ObservedGroup> {
    read_doc(store, GROUPS_KEY).await.unwrap_or_default()
}

/// Merges a reading into the memory: groups read now replace their old entry; groups of a
/// region that could not be read keep theirs (with their older instant); groups no longer in
/// the config are dropped.
async fn remember_groups(ctx: &Ctx, seen: &[AsgObservation]) {
    let now = Utc::now();
    let mut kept = remembered_groups(&ctx.store).await;
    kept.retain(|k| {
        ctx.cfg
            .side(k.group.side)
            .asgs
            .iter()
            .any(|a| a.name == k.group.name || a.fallback.contains(&k.group.name))
            && !seen
                .iter()
                .any(|g| g.side == k.group.side && g.name == k.group.name)
    });
    kept.extend(seen.iter().map(|g| ObservedGroup {
        group: g.clone(),
        read_at: now,
    }));
    kept.sort_by(|a, b| {
        (a.group.side.as_str(), &a.group.name).cmp(&(b.group.side.as_str(), &b.group.name))
    });
    let bytes = serde_json::to_vec_pretty(&kept).expect("serializes");
    // A follower's or a command's store may refuse writes; the holder keeps it current.
    if let Err(e) = ctx.store.put(GROUPS_KEY, Expect::Any, bytes).await {
        tracing::debug!("keeping the groups as read: {e}");
    }
}

/// The failover setup as last recorded (`read_at` set), if any.
pub async fn remembered_setup(store: &Arc<dyn Store>) -> Option<FailoverSetup> {
    read_doc(store, SETUP_KEY).await
}

/// A document this module keeps; an unreadable or missing one is `None` (it is only a memory).
async fn read_doc<T: serde::de::DeserializeOwned>(store: &Arc<dyn Store>, key: &str) -> Option<T> {
    let got = store.get(key).await.ok()??;
    serde_json::from_slice(&got.bytes).ok()
}

/// Where the name points: the gate (data plane), or the record read within [`RECORD_WAIT`],
/// else the last record read, labelled with when it was read and why it was not read now.
pub async fn answer(ctx: &Ctx) -> Result<Option<RecordObservation>, AwsError> {
    if let DnsMethod::FailoverRecords(_) = ctx.cfg.dns.method {
        return standby_aws::observe_answer(&ctx.clients, &ctx.cfg).await;
    }
    let read = tokio::time::timeout(
        RECORD_WAIT,
        standby_aws::observe_answer(&ctx.clients, &ctx.cfg),
    )
    .await;
    let why = match read {
        Ok(Ok(record)) => {
            if let Some(r) = &record {
                remember(ctx, r).await;
            }
            return Ok(record);
        }
        Ok(Err(e)) => e,
        Err(_) => AwsError {
            op: "ListResourceRecordSets",
            target: format!("{} {}", ctx.cfg.dns.zone_id, ctx.cfg.dns.name),
            kind: standby_aws::ErrorKind::Unreachable,
            message: format!(
                "no answer within {} (Route 53's control plane, us-east-1)",
                standby_core::duration::human(RECORD_WAIT)
            ),
        },
    };
    match last_known(ctx).await {
        Some(k) => {
            let source = format!(
                "LAST KNOWN record, read {}: Route 53 could not be read now ({why})",
                k.read_at.to_rfc3339()
            );
            warn!("{source}");
            Ok(Some(RecordObservation {
                value: k.value,
                ttl: k.ttl,
                source: Some(source),
                last_known: true,
            }))
        }
        None => Err(why),
    }
}

async fn last_known(ctx: &Ctx) -> Option<LastKnown> {
    read_doc(&ctx.store, LAST_KNOWN_KEY).await
}

/// Keeps the record just read for a later read that fails; written only when it changed.
async fn remember(ctx: &Ctx, r: &RecordObservation) {
    if last_known(ctx)
        .await
        .is_some_and(|k| k.value == r.value && k.ttl == r.ttl)
    {
        return;
    }
    let k = LastKnown {
        value: r.value.clone(),
        ttl: r.ttl,
        read_at: Utc::now(),
    };
    let bytes = serde_json::to_vec_pretty(&k).expect("serializes");
    match ctx.store.put(LAST_KNOWN_KEY, Expect::Any, bytes).await {
        Ok(_) => info!("record {} remembered as the last known", r.value),
        // A follower's or a command's store may refuse writes; the holder keeps it current.
        Err(e) => warn!("keeping the last known record: {e}"),
    }
}

//! What a plan reads of the world before it acts, without waiting on what the region event may
//! have taken down: each region's groups are read on their own (a failing region leaves only
//! its own groups out), and the record is read from Route 53's control plane only when the
//! method needs it, for at most [`RECORD_WAIT`]; past that the last record read stands in,
//! labelled as such. With `method = "failover_records"` no Route 53 call is made at all: the
//! gate object (S3, data plane) says where the name points.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::context::Ctx;
use crate::store::Expect;
use standby_aws::AwsError;
use standby_core::config::DnsMethod;
use standby_core::plan::{RecordObservation, World};

/// How long a plan waits for Route 53 to answer a read before using the last known record.
/// Scaling the standby must not wait on the control plane; a healthy Route 53 answers a read in
/// well under a second.
pub const RECORD_WAIT: Duration = Duration::from_secs(3);

/// The last record value read from Route 53, for when it cannot be read.
pub const LAST_KNOWN_KEY: &str = "dns/last-known.json";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct LastKnown {
    value: String,
    ttl: Option<i64>,
    read_at: DateTime<Utc>,
}

/// Both sides' groups and where the name points, read concurrently.
pub async fn observe(ctx: &Ctx) -> Result<World, AwsError> {
    let ((asgs, unreadable), record) = tokio::join!(
        standby_aws::observe_asgs(&ctx.clients, &ctx.cfg),
        answer(ctx)
    );
    for u in &unreadable {
        warn!("cannot read the {u}");
    }
    Ok(World {
        asgs,
        record: record?,
        unreadable,
    })
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
    let got = ctx.store.get(LAST_KNOWN_KEY).await.ok()??;
    serde_json::from_slice(&got.bytes).ok()
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

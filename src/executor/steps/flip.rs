//! Move the DNS record (UPSERT), then wait for INSYNC only while Route 53 says PENDING.

use std::time::Duration;

use serde_json::json;
use tracing::warn;

use crate::context::Ctx;
use standby_core::plan::{self};

use super::StepOutcome;

pub async fn run(ctx: &Ctx, change: &plan::DnsChange, run_id: &str) -> StepOutcome {
    let r53 = &ctx.clients.route53;
    let before =
        standby_aws::dns::current(r53, &change.zone_id, &change.name, ctx.cfg.dns.record_type)
            .await
            .ok()
            .flatten()
            .map(|r| r.value);
    let comment = format!("standby run {run_id}");
    // Before this call the record surely pointed elsewhere: the lower end of the restoration.
    let submitted_at = chrono::Utc::now();
    let submitted = match standby_aws::dns::upsert(
        r53,
        &change.zone_id,
        &change.name,
        ctx.cfg.dns.record_type,
        change.ttl,
        &change.to,
        &comment,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return StepOutcome::failed(e.to_string(), json!({ "from": before, "to": change.to }));
        }
    };
    let (id, mut insync) = (submitted.id, submitted.insync);
    let started = std::time::Instant::now();
    // Polled only while PENDING: each GetChange round trip would add to the RTO.
    while !insync {
        match standby_aws::dns::in_sync(r53, &id).await {
            Ok(true) => insync = true,
            Ok(false) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                warn!("GetChange {id}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let details = json!({ "change_id": id, "from": before, "to": change.to, "submitted_at": submitted_at, "insync_at": chrono::Utc::now(), "insync_ms": standby_core::duration::millis(started.elapsed()) });
    StepOutcome::ok(
        format!(
            "{} {} -> {} (change {id} INSYNC)",
            change.name,
            before.as_deref().unwrap_or("(none)"),
            change.to
        ),
        details,
    )
}

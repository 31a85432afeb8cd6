//! Preflight: the world still looks like the plan assumed (groups exist, the record points where
//! this phase starts from), re-read from AWS.

use serde_json::json;
use tracing::warn;

use crate::context::Ctx;
use crate::journal::RunRecord;
use standby_core::plan::{self};

use standby_core::config::Side;
use standby_core::runbook::RunbookKind;

use super::StepOutcome;

pub async fn run(ctx: &Ctx, run: &RunRecord, phase: RunbookKind) -> StepOutcome {
    // Boxed: both are deep futures (every region's reads, EC2's), and inline in the step's
    // future they overflowed a worker thread's stack in debug builds.
    let (world, reserved) = tokio::join!(
        Box::pin(crate::world::observe(ctx)),
        Box::pin(crate::reservations::checks(ctx, &run.plan, phase))
    );
    let world = match world {
        Ok(w) => w,
        Err(e) => return StepOutcome::failed(format!("cannot observe the world: {e}"), json!({})),
    };
    let readiness = crate::smoke::client::standby_readiness(&ctx.cfg, &ctx.store)
        .await
        .map_err(|e| warn!("reading the standby's readiness: {e}"))
        .ok();
    let mut checks = plan::preflight(&run.plan, phase, &ctx.cfg, &world, readiness.as_ref());
    checks.extend(reserved);
    if phase != RunbookKind::Failback {
        let last = crate::readiness::last(&ctx.store).await;
        checks.push(standby_core::readiness::preflight_check(
            last.as_ref(),
            &ctx.cfg,
            chrono::Utc::now(),
        ));
    }
    if phase == RunbookKind::DrillStandby {
        checks.extend(gate_checks(ctx, &world).await);
    }
    let details = json!({ "checks": checks, "world": world });
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.reason))
        .collect();
    if failed.is_empty() {
        StepOutcome::ok(format!("{} checks passed", checks.len()), details)
    } else {
        StepOutcome::failed(failed.join("; "), details)
    }
}

/// A standby drill proves the data-plane flip's parts without moving traffic: the gate takes a
/// write (the primary's word again, which Route 53 reads as before) and every DNS server the
/// flip would ask answers the primary now.
async fn gate_checks(ctx: &Ctx, world: &plan::World) -> Vec<plan::Check> {
    let standby_core::config::DnsMethod::FailoverRecords(gate) = &ctx.cfg.dns.method else {
        return vec![];
    };
    let Some(client) = &ctx.clients.gate_s3 else {
        return vec![];
    };
    let check = |name: String, ok: bool, reason: String| plan::Check {
        name,
        ok,
        reason,
        warning: false,
    };
    let url = format!("s3://{}/{}", gate.bucket, gate.key);
    let mut out = Vec::new();
    let on_primary = world
        .record
        .as_ref()
        .is_some_and(|r| !r.last_known && ctx.cfg.dns.side_of(&r.value) == Some(Side::Primary));
    if on_primary {
        let t0 = std::time::Instant::now();
        out.push(match standby_aws::gate::write(client, gate, Side::Primary).await {
            Ok(_) => check(
                format!("gate {url} writable"),
                true,
                format!(
                    "rewrote \"serve=primary\" in {} (traffic not moved): a failover's flip is one such write",
                    standby_core::duration::human(t0.elapsed())
                ),
            ),
            Err(e) => check(
                format!("gate {url} writable"),
                false,
                format!("a failover could not flip: {e}"),
            ),
        });
    }
    let servers = crate::resolve::servers(&ctx.cfg.dns.resolvers);
    if servers.is_empty() {
        out.push(check(
            "dns resolvers".into(),
            false,
            "no DNS server to ask (dns.resolvers is empty and /etc/resolv.conf names none): a failover's flip could not be verified".into(),
        ));
    }
    for server in servers {
        let got = crate::resolve::ask(
            server,
            &ctx.cfg.dns.name,
            ctx.cfg.dns.record_type,
            std::time::Duration::from_secs(2),
        )
        .await;
        out.push(match got {
            Ok(values) if !values.is_empty() && values.iter().all(|v| ctx.cfg.dns.side_of(v) == Some(Side::Primary)) => check(
                format!("dns resolver {server}"),
                true,
                format!("answers {} (the primary)", values.join(",")),
            ),
            Ok(values) => check(
                format!("dns resolver {server}"),
                false,
                format!(
                    "answers {} for {}, not the primary ({}): a failover's flip would not be seen there as expected",
                    if values.is_empty() { "nothing".to_string() } else { values.join(",") },
                    ctx.cfg.dns.name,
                    ctx.cfg.dns.primary
                ),
            ),
            Err(e) => check(
                format!("dns resolver {server}"),
                false,
                format!("{e}: a failover's flip could not be verified there"),
            ),
        });
    }
    out
}

//! Preflight: the world still looks like the plan assumed (groups exist, the record points where
//! this phase starts from), re-read from AWS.

use serde_json::json;
use tracing::warn;

use crate::context::Ctx;
use crate::journal::RunRecord;
use standby_core::plan::{self};

use standby_core::runbook::RunbookKind;

use super::StepOutcome;

pub async fn run(ctx: &Ctx, run: &RunRecord, phase: RunbookKind) -> StepOutcome {
    let world = match standby_aws::observe(&ctx.clients, &ctx.cfg).await {
        Ok(w) => w,
        Err(e) => return StepOutcome::failed(format!("cannot observe the world: {e}"), json!({})),
    };
    let readiness = crate::smoke::client::standby_readiness(&ctx.cfg, &ctx.store)
        .await
        .map_err(|e| warn!("reading the standby's readiness: {e}"))
        .ok();
    let checks = plan::preflight(&run.plan, phase, &ctx.cfg, &world, readiness.as_ref());
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

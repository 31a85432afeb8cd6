//! Synthetic smoke traffic against one side.

use tracing::warn;

use crate::context::Ctx;
use standby_core::config::Side;

use super::StepOutcome;

/// A synthetic inference request; a standby result also becomes its latest for readiness.
pub async fn run(ctx: &Ctx, side: Side) -> StepOutcome {
    let r = crate::smoke::client::probe(&ctx.cfg, &ctx.clients, side).await;
    if side == Side::Standby
        && let Err(e) = crate::smoke::client::record(&ctx.store, &r).await
    {
        warn!("recording the standby probe: {e}");
    }
    let details = serde_json::to_value(&r).unwrap_or_default();
    if r.ok {
        StepOutcome::ok(r.reason, details)
    } else {
        StepOutcome::failed(r.reason, details)
    }
}

//! Freeze each artifact set's RPO at the failure instant.

use serde_json::json;

use crate::context::Ctx;
use crate::journal::RunRecord;

use super::StepOutcome;

/// Each set's RPO at the failure: the data at risk when the primary failed, measured now from the
/// primary's history as it stood at the trigger's last good probe (or the command).
pub async fn run(ctx: &Ctx, run: &RunRecord) -> StepOutcome {
    if ctx.cfg.artifacts.is_empty() {
        return StepOutcome::ok("no artifact sets configured".into(), json!({ "rpo": [] }));
    }
    let at = run.trigger.failure_instant();
    let mut set = tokio::task::JoinSet::new();
    for a in ctx.cfg.artifacts.iter().cloned() {
        let clients = ctx.clients.clone();
        set.spawn(standby_aws::calls::carry(async move {
            (
                a.name.clone(),
                crate::sync::engine::measure_rpo(&clients, &a, Some(at)).await,
            )
        }));
    }
    let mut rpos = Vec::new();
    let mut errors = Vec::new();
    while let Some(Ok((name, r))) = set.join_next().await {
        match r {
            Ok(r) => rpos.push(r),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    rpos.sort_by(|a, b| a.set.cmp(&b.set));
    let summary: Vec<String> = rpos
        .iter()
        .map(|r| {
            format!(
                "{} {}{}",
                r.set,
                r.figure(),
                if r.over_objective {
                    " (over objective)"
                } else {
                    ""
                }
            )
        })
        .chain(errors.iter().cloned())
        .collect();
    let details = json!({ "rpo": rpos, "errors": errors });
    if errors.is_empty() {
        StepOutcome::ok(summary.join(", "), details)
    } else {
        StepOutcome::failed(summary.join(", "), details)
    }
}

//! The final (or reverse) artifact sync inside a run, bounded by the step's timeout.

use std::time::Duration;

use serde_json::json;

use crate::context::Ctx;
use standby_core::config::Side;
use standby_core::duration::human;

use super::StepOutcome;

/// Every set in parallel, each its own failure domain. A forward (final) sync is best effort: a
/// set whose primary bucket cannot be read is skipped, and the whole step stops a little before
/// its timeout with whatever finished. A reverse sync must complete: failing back without it
/// would lose what was written on the standby during the outage.
pub async fn run(
    ctx: &Ctx,
    direction: standby_core::sync::Direction,
    timeout: Duration,
) -> StepOutcome {
    use crate::sync::engine::SyncError;
    use standby_core::sync::Direction;
    if ctx.cfg.artifacts.is_empty() {
        return StepOutcome::ok("no artifact sets configured".into(), json!({ "sets": {} }));
    }
    let deadline = timeout.saturating_sub(timeout / 10);
    let mut set = tokio::task::JoinSet::new();
    let started = tokio::time::Instant::now();
    for a in ctx.cfg.artifacts.iter().cloned() {
        let engine = ctx.sync_engine();
        set.spawn(standby_aws::calls::carry(async move {
            let r = tokio::time::timeout(deadline, engine.run(&a, direction, false)).await;
            // After a final sync: the data actually lost if traffic moves now. A sync that
            // published measured it after publishing; otherwise read it again, within the time
            // box (an unreadable primary gives the labelled bound).
            let after = match (&r, direction) {
                (_, Direction::Reverse) => None,
                (Ok(Ok(o)), _) if o.rpo.is_some() => o.rpo.clone(),
                _ => {
                    let left = deadline
                        .saturating_sub(started.elapsed())
                        .max(Duration::from_secs(5));
                    tokio::time::timeout(
                        left,
                        crate::sync::engine::measure_rpo(&engine.clients, &a, None),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok)
                }
            };
            (a.name.clone(), r, after)
        }));
    }
    let mut results = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    let mut failed = Vec::new();
    while let Some(Ok((name, r, rpo_after))) = set.join_next().await {
        if let Some(rpo) = rpo_after {
            after.insert(name.clone(), json!(rpo));
        }
        let text = match r {
            Ok(Ok(o)) => o.incomplete.unwrap_or_else(|| o.plan.summary()),
            Ok(Err(SyncError::Busy(_))) if direction == Direction::Forward => {
                "skipped: a scheduled sync of this set is running right now".to_string()
            }
            Ok(Err(SyncError::List {
                side: Side::Primary,
                source,
                ..
            })) if direction == Direction::Forward => {
                format!("skipped: primary bucket unreadable ({source})")
            }
            Ok(Err(e)) => {
                failed.push(name.clone());
                format!("failed: {e}")
            }
            Err(_) => {
                failed.push(name.clone());
                format!("did not finish within {}", human(deadline))
            }
        };
        results.insert(name, serde_json::Value::String(text));
    }
    let summary = results
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    let details = json!({ "direction": direction, "sets": results, "rpo_after": after });
    match (direction, failed.is_empty()) {
        (_, true) => StepOutcome::ok(summary, details),
        // Best effort: the run goes on; the report shows which sets did not make it.
        (Direction::Forward, false) => StepOutcome::ok(
            format!("best effort, {} set(s) not synced: {summary}", failed.len()),
            details,
        ),
        (Direction::Reverse, false) => StepOutcome::failed(summary, details),
    }
}

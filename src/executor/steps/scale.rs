//! Scale Auto Scaling groups to the planned capacity and wait for InService.

use std::time::Duration;

use serde_json::json;
use tracing::warn;

use crate::context::Ctx;
use standby_core::plan::{self};

use super::StepOutcome;

pub async fn run(ctx: &Ctx, groups: &[plan::AsgChange]) -> StepOutcome {
    let mut set = tokio::task::JoinSet::new();
    for g in groups.iter().cloned() {
        let client = ctx.clients.asg(g.side).clone();
        set.spawn(async move {
            let started = std::time::Instant::now();
            if let Err(e) =
                standby_aws::asg::set_capacity(&client, &g.name, g.desired, g.min, g.max).await
            {
                return (g, Err(e.to_string()), started.elapsed());
            }
            // Up: wait for enough InService instances. Down: wait for the surplus to leave, so a
            // report never says "warm" while serving capacity is still billed.
            let up = g.from.is_none_or(|f| g.desired >= f.desired);
            loop {
                match standby_aws::asg::describe(&client, std::slice::from_ref(&g.name)).await {
                    Ok(found) => match found.first().and_then(|(_, c)| *c) {
                        Some(c)
                            if (up && c.in_service >= g.desired)
                                || (!up && c.in_service <= g.desired) =>
                        {
                            return (g, Ok(c), started.elapsed());
                        }
                        Some(_) => {}
                        None => {
                            return (
                                g.clone(),
                                Err(format!("group {} disappeared", g.name)),
                                started.elapsed(),
                            );
                        }
                    },
                    Err(e) => warn!("describing {} while waiting: {e}", g.name),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok((g, res, took)) = joined else { continue };
        match res {
            Ok(c) => results.push(json!({
                "name": g.name, "region": g.region,
                "before": g.from, "after": c, "target_desired": g.desired, "waited_ms": standby_core::duration::millis(took)
            })),
            Err(e) => errors.push(format!("{}: {e}", g.name)),
        }
    }
    let details = json!({ "groups": results });
    if errors.is_empty() {
        let summary: Vec<String> = groups
            .iter()
            .map(|g| format!("{} -> {}", g.name, g.desired))
            .collect();
        StepOutcome::ok(
            format!(
                "{} at target InService ({})",
                if groups.len() == 1 {
                    "group"
                } else {
                    "all groups"
                },
                summary.join(", ")
            ),
            details,
        )
    } else {
        StepOutcome::failed(errors.join("; "), details)
    }
}

//! Scale Auto Scaling groups to the planned capacity and wait for InService.
//!
//! Scaling up follows the launches, not only the counts: a launch that failed (no GPU capacity
//! for the type or zone, a quota) shows in the group's scaling activities within seconds, and
//! [`standby_core::capacity::next`] decides whether to ask a spare group, go on at
//! `min_serving`, or fail now with AWS's reason rather than wait out the step's timeout.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tracing::{info, warn};

use crate::context::Ctx;
use standby_core::capacity::{self, GroupProgress, Next};
use standby_core::plan::{self, AsgCapacity};

use super::StepOutcome;

/// How often a group is looked at while it scales.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// What one group's scaling came to, for the step's reason and details.
struct Scaled {
    group: plan::AsgChange,
    outcome: Result<String, String>,
    took: Duration,
    details: serde_json::Value,
}

pub async fn run(ctx: &Ctx, groups: &[plan::AsgChange]) -> StepOutcome {
    let mut set = tokio::task::JoinSet::new();
    for g in groups.iter().cloned() {
        let client = ctx.clients.asg(g.side).clone();
        set.spawn(standby_aws::calls::carry(async move {
            let started = Instant::now();
            let (outcome, details) = if g.scales_up() {
                scale_up(&client, &g).await
            } else {
                scale_down(&client, &g).await
            };
            Scaled {
                group: g,
                outcome,
                took: started.elapsed(),
                details,
            }
        }));
    }
    let mut results = Vec::new();
    let mut done = Vec::new();
    let mut errors = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok(s) = joined else { continue };
        let mut d = s.details;
        d["name"] = json!(s.group.name);
        d["region"] = json!(s.group.region);
        d["before"] = json!(s.group.from);
        d["target_desired"] = json!(s.group.desired);
        d["waited_ms"] = json!(standby_core::duration::millis(s.took));
        results.push(d);
        match s.outcome {
            Ok(how) => done.push(how),
            Err(e) => errors.push(e),
        }
    }
    let details = json!({ "groups": results });
    if errors.is_empty() {
        StepOutcome::ok(done.join("; "), details)
    } else {
        StepOutcome::failed(errors.join("; "), details)
    }
}

/// Down: wait for the surplus to leave, so a report never says "warm" while serving capacity
/// is still billed.
async fn scale_down(
    client: &aws_sdk_autoscaling::Client,
    g: &plan::AsgChange,
) -> (Result<String, String>, serde_json::Value) {
    if let Err(e) = standby_aws::asg::set_capacity(client, &g.name, g.desired, g.min, g.max).await {
        return (Err(format!("{}: {e}", g.name)), json!({}));
    }
    loop {
        match observe(client, &g.name).await {
            Ok(c) if c.in_service + c.pending <= g.desired => {
                return (
                    Ok(format!("{} at {} InService", g.name, c.in_service)),
                    json!({ "after": c }),
                );
            }
            Ok(_) => {}
            Err(Gone(e)) => return (Err(e), json!({})),
            Err(Unread(e)) => warn!("describing {} while waiting: {e}", g.name),
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Up: ask, follow the launches, fall back to spares, stop at enough.
async fn scale_up(
    client: &aws_sdk_autoscaling::Client,
    g: &plan::AsgChange,
) -> (Result<String, String>, serde_json::Value) {
    if let Err(e) = standby_aws::asg::set_capacity(client, &g.name, g.desired, g.min, g.max).await {
        return (Err(format!("{}: {e}", g.name)), json!({}));
    }
    let mut engaged = vec![GroupProgress {
        name: g.name.clone(),
        asked: g.desired,
        in_service: 0,
        pending: 0,
        failed: Vec::new(),
    }];
    let mut fallbacks = Vec::new();
    let mut said = String::new();
    loop {
        let mut unread = None;
        // One describe for the group and every spare asked so far.
        let names: Vec<String> = engaged.iter().map(|p| p.name.clone()).collect();
        match standby_aws::asg::describe(client, &names).await {
            Ok(found) => {
                for (p, (name, c)) in engaged.iter_mut().zip(found) {
                    let Some(c) = c else {
                        let gone = format!("group {name} disappeared");
                        return (Err(gone), details(g, &engaged, &fallbacks, false));
                    };
                    (p.in_service, p.pending) = (c.in_service, c.pending);
                }
            }
            Err(e) => unread = Some(e.to_string()),
        }
        let reachable: u32 = engaged.iter().map(|p| p.in_service + p.pending).sum();
        // Launches are only worth reading while capacity is missing: a group that has all its
        // instances launched has nothing failing that matters.
        if reachable < g.desired
            && let Some(last) = engaged.last_mut()
        {
            match standby_aws::asg::failed_launches(client, &last.name).await {
                Ok(f) => last.failed = f,
                Err(e) => unread = Some(e.to_string()),
            }
        }
        if let Some(e) = unread {
            warn!("reading the groups while scaling {}: {e}", g.name);
            tokio::time::sleep(LOOK_EVERY).await;
            continue;
        }
        match capacity::next(g, &engaged) {
            Next::Done { reason, short } => {
                info!("{}: {reason}", g.name);
                let how = format!("{}: {reason}", g.name);
                return (Ok(how), details(g, &engaged, &fallbacks, short));
            }
            Next::Wait { reason } => {
                if reason != said {
                    info!("scaling {}: {reason}", g.name);
                    said = reason;
                }
            }
            Next::Engage { spare, ask, reason } => {
                warn!("{reason}");
                let from = g
                    .fallback
                    .iter()
                    .find(|s| s.name == spare)
                    .and_then(|s| s.from);
                // Absolute, from the plan's view of the spare: a resumed step asks the same.
                let base = from.map_or(0, |c| c.desired);
                let target = base + ask;
                let (min, max) = (
                    from.map_or(0, |c| c.min),
                    from.map_or(target, |c| c.max.max(target)),
                );
                if let Err(e) =
                    standby_aws::asg::set_capacity(client, &spare, target, min, max).await
                {
                    let why = format!("{reason}; but the spare could not be scaled: {e}");
                    return (Err(why), details(g, &engaged, &fallbacks, false));
                }
                fallbacks.push(json!({
                    "group": spare, "asked": ask, "desired": target, "at": Utc::now(), "reason": reason,
                }));
                engaged.push(GroupProgress {
                    name: spare,
                    asked: target,
                    in_service: 0,
                    pending: 0,
                    failed: Vec::new(),
                });
            }
            Next::Fail { reason } => {
                warn!("scaling {}: {reason}", g.name);
                return (Err(reason), details(g, &engaged, &fallbacks, false));
            }
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// The step's record of one scale-up: per group engaged, what it was asked, what serves, what
/// failed and why; the spares asked; whether it went on at `min_serving`.
fn details(
    g: &plan::AsgChange,
    engaged: &[GroupProgress],
    fallbacks: &[serde_json::Value],
    short: bool,
) -> serde_json::Value {
    let in_service: u32 = engaged.iter().map(|p| p.in_service).sum();
    json!({
        "min_serving": g.enough(),
        "in_service": in_service,
        "went_on_short": short,
        "engaged": engaged.iter().map(|p| json!({
            "group": p.name, "asked": p.asked, "in_service": p.in_service, "pending": p.pending,
            "failed_launches": p.failed.len(),
            "capacity_errors": p.failed.iter().filter(|f| f.is_capacity()).count(),
            "last_failure": p.failed.first(),
        })).collect::<Vec<_>>(),
        "fallbacks": fallbacks,
        "progress": capacity::summary(engaged),
    })
}

/// Why a group's capacity is not known.
enum Unseen {
    /// Deleted under us: the step fails.
    Gone(String),
    /// The call failed: look again.
    Unread(String),
}
use Unseen::{Gone, Unread};

async fn observe(client: &aws_sdk_autoscaling::Client, name: &str) -> Result<AsgCapacity, Unseen> {
    match standby_aws::asg::describe(client, &[name.to_string()]).await {
        Ok(found) => match found.first().and_then(|(_, c)| *c) {
            Some(c) => Ok(c),
            None => Err(Gone(format!("group {name} disappeared"))),
        },
        Err(e) => Err(Unread(e.to_string())),
    }
}

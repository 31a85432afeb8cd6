//! The capacity reservations a plan's scale-ups count on, read from EC2 and judged by
//! [`standby_core::reservations`]: shared by a run's preflight and the readiness evaluation.

use std::time::Duration;

use crate::context::Ctx;
use standby_core::config::Side;
use standby_core::plan;
use standby_core::runbook::RunbookKind;

/// How long the preflight waits for the capacity reservation reads (one describe of the
/// groups, their launch templates, the reservations; run alongside the world's own reads).
/// Past it the check says it was not made rather than holding the failover.
pub const RESERVATIONS_WAIT: Duration = Duration::from_secs(5);

/// The capacity reservations (ODCR, Capacity Blocks) that the groups this phase scales up
/// point their launches at: there, active, of their type and zone, with room for this run's
/// launches ([`standby_core::reservations`]). Read within [`RESERVATIONS_WAIT`]; what could not
/// be read is a warning that says so, never a refusal.
pub async fn checks(ctx: &Ctx, plan: &plan::Plan, phase: RunbookKind) -> Vec<plan::Check> {
    let ups: Vec<&plan::AsgChange> = plan
        .steps
        .iter()
        .filter(|s| s.phase == phase)
        .filter_map(|s| match &s.changes {
            plan::Changes::Asgs { groups } => Some(groups),
            _ => None,
        })
        .flatten()
        .filter(|g| g.scales_up())
        .collect();
    let mut out = Vec::new();
    for side in [Side::Primary, Side::Standby] {
        let mut names: Vec<String> = ups
            .iter()
            .filter(|g| g.side == side)
            .map(|g| g.name.clone())
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let read = tokio::time::timeout(
            RESERVATIONS_WAIT,
            standby_aws::ec2::observe(ctx.clients.asg(side), ctx.clients.ec2(side), &names),
        )
        .await;
        let not_checked = |why: String| plan::Check {
            name: format!("capacity reservations ({side} groups)"),
            ok: true,
            warning: true,
            reason: format!("not checked: {why}"),
        };
        let (groups, found) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => {
                out.push(not_checked(e.to_string()));
                continue;
            }
            Err(_) => {
                out.push(not_checked(format!(
                    "EC2 and Auto Scaling did not answer within {}",
                    standby_core::duration::human(RESERVATIONS_WAIT)
                )));
                continue;
            }
        };
        for (name, group) in groups {
            let Some(change) = ups.iter().find(|g| g.side == side && g.name == name) else {
                continue;
            };
            match group {
                Ok(g) => out.extend(standby_core::reservations::checks(
                    change,
                    &g,
                    &found,
                    chrono::Utc::now(),
                )),
                Err(why) => out.push(plan::Check {
                    name: format!("capacity reservations of asg {name}"),
                    ok: true,
                    warning: true,
                    reason: format!("not checked: its launch template could not be read: {why}"),
                }),
            }
        }
    }
    out
}

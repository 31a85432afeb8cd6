//! The step kinds, one file each, behind [`StepRunner`]: the executor's loop asks a runner to
//! carry out one attempt at one step and journals what it says. [`Aws`] is the product's runner;
//! the loop's unit tests drive it with scripted ones.

mod flip;
mod freeze_rpo;
mod hook;
mod preflight;
mod scale;
mod smoke;
mod sync;
mod verify;

use std::future::Future;

use serde_json::json;

use crate::context::Ctx;
use crate::journal::RunRecord;
use standby_core::plan::{Changes, PlannedStep};
use standby_core::report;
use standby_core::runbook::Action;

/// The standby's scale step on its own, for a pre-warm: the same launches, spares and capacity
/// errors as a run's.
pub async fn scale(ctx: &Ctx, groups: &[standby_core::plan::AsgChange]) -> StepOutcome {
    scale::run(ctx, groups).await
}

/// The verify step on its own, for a pre-warm.
pub async fn verify(
    ctx: &Ctx,
    side: standby_core::config::Side,
    successes: u32,
    interval: std::time::Duration,
    timeout: std::time::Duration,
) -> StepOutcome {
    verify::run(ctx, side, successes, interval, timeout).await
}

/// What one attempt at a step did: the journal keeps all three.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub ok: bool,
    /// For people: the log, the journal, the report.
    pub reason: String,
    /// For the report's figures: instants and measurements the step took.
    pub details: serde_json::Value,
}

impl StepOutcome {
    pub fn ok(reason: String, details: serde_json::Value) -> Self {
        StepOutcome {
            ok: true,
            reason,
            details,
        }
    }
    pub fn failed(reason: String, details: serde_json::Value) -> Self {
        StepOutcome {
            ok: false,
            reason,
            details,
        }
    }
}

/// Carries out one attempt at one step. Every step is idempotent: the loop may run it again after
/// a crash or a failed attempt.
pub trait StepRunner: Sync {
    fn run(
        &self,
        ctx: &Ctx,
        run: &RunRecord,
        step: &PlannedStep,
    ) -> impl Future<Output = StepOutcome> + Send;
}

/// The product's steps: AWS, the probes, the hooks, the report files.
pub struct Aws;

impl StepRunner for Aws {
    async fn run(&self, ctx: &Ctx, run: &RunRecord, step: &PlannedStep) -> StepOutcome {
        match (&step.action, &step.changes) {
            (Action::Preflight, _) => preflight::run(ctx, run, step.phase).await,
            (Action::ScaleAsgs { .. }, Changes::Asgs { groups }) => scale::run(ctx, groups).await,
            (
                Action::Verify {
                    side,
                    interval,
                    successes,
                },
                _,
            ) => verify::run(ctx, *side, *successes, *interval, step.timeout).await,
            (Action::FlipDns { .. }, Changes::Dns(change)) => {
                flip::run(ctx, change, &run.id, step.timeout).await
            }
            (Action::FreezeRpo, _) => freeze_rpo::run(ctx, run).await,
            (Action::Smoke { side }, _) => smoke::run(ctx, *side).await,
            (Action::Hook { command }, _) => hook::run(ctx, run, step, command).await,
            (Action::FinalSync, _) => {
                sync::run(ctx, standby_core::sync::Direction::Forward, step.timeout).await
            }
            (Action::ReverseSync, _) => {
                sync::run(ctx, standby_core::sync::Direction::Reverse, step.timeout).await
            }
            (Action::Report, _) => match crate::reports::write_local(&ctx.cfg, &report::build(run))
            {
                Ok(dir) => StepOutcome::ok(
                    format!("interim report written to {}", dir.display()),
                    json!({ "dir": dir.display().to_string() }),
                ),
                Err(e) => StepOutcome::failed(e.to_string(), json!({})),
            },
            (action, changes) => StepOutcome::failed(
                format!(
                    "plan mismatch: action {} with changes {changes:?}",
                    action.name()
                ),
                json!({}),
            ),
        }
    }
}

//! The shell around [`standby_core::rederive`]: when `state.json` is missing, observe the world
//! (the DNS record, the run journals, the last verdict) and write the state that follows, with a
//! reason that says it was re-derived (or, on a first start, derived). Nothing is written when
//! the world does not say where traffic is; nothing acts on a missing state meanwhile.

use chrono::Utc;
use tracing::warn;

use crate::context::Ctx;
use crate::executor::ExecError;
use crate::journal::{self, JournalError, RunStatus};
use crate::store::StoreError;
use standby_core::machine::Trigger;
use standby_core::rederive::{Observed, rederive};
use standby_core::runbook::RunbookKind;

/// Re-derives and writes a missing (or unreadable) state; a no-op when the state reads.
/// `Ok(Some(why))` when the world does not say where traffic is (nothing written). An unreadable
/// state is kept, under `state.corrupt-<time>.json`, for people to look at.
pub async fn heal_lost_state(ctx: &Ctx) -> Result<Option<String>, ExecError> {
    let current = ctx
        .store
        .get(journal::STATE_KEY)
        .await
        .map_err(JournalError::from)?;
    let replaces = match &current {
        None => None,
        Some(v) => match serde_json::from_slice::<standby_core::machine::State>(&v.bytes) {
            Ok(_) => return Ok(None),
            Err(e) => {
                warn!("state.json is not a state ({e}); re-deriving it from the world");
                Some(v.clone())
            }
        },
    };
    let runs = journal::list_runs(&ctx.store).await?.records;
    // A store that has never recorded anything is a first start, not a loss: derived the same
    // way (a first start in the middle of a DR sees the standby), without an alarm.
    let verdict = journal::read_verdict(&ctx.store).await.ok().flatten();
    let lost = !runs.is_empty() || verdict.is_some() || replaces.is_some();
    let record = crate::world::answer(ctx).await?;
    let unfinished = runs
        .iter()
        .rev()
        .find(|r| r.status == RunStatus::Running)
        .map(|r| (r.id.clone(), r.kind, r.trigger.clone()));
    let last_auto_failover = runs
        .iter()
        .rev()
        .find(|r| {
            r.kind == RunbookKind::Failover
                && r.status == RunStatus::Succeeded
                && matches!(r.trigger, Trigger::Automatic { .. })
        })
        .and_then(|r| r.finished_at);
    let observed = Observed {
        lost,
        record_side: record.as_ref().and_then(|r| ctx.cfg.dns.side_of(&r.value)),
        record_value: record.map(|r| r.value),
        unfinished,
        last_auto_failover,
        last_good: verdict
            .and_then(|v| v.last_good)
            .map(|at| (at, ctx.cfg.primary.endpoint.clone())),
    };
    match rederive(&observed, ctx.cfg.failover.cooldown, Utc::now()) {
        Ok(state) => {
            if let Some(old) = &replaces {
                let key = format!(
                    "state.corrupt-{}.json",
                    Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
                );
                ctx.store
                    .put(&key, crate::store::Expect::Absent, old.bytes.clone())
                    .await
                    .map_err(JournalError::from)?;
                warn!("the unreadable state.json is kept as {key}");
            }
            write_derived(ctx, state, replaces.map(|v| v.version), lost).await
        }
        Err(why) => Ok(Some(why)),
    }
}

async fn write_derived(
    ctx: &Ctx,
    state: standby_core::machine::State,
    replaces: Option<crate::store::Version>,
    lost: bool,
) -> Result<Option<String>, ExecError> {
    match journal::write_state(&ctx.store, &state, replaces).await {
        Ok(()) if !lost => {
            tracing::info!("{}", state.reason);
            Ok(None)
        }
        Ok(()) => {
            warn!("{}", state.reason);
            ctx.notifier.send(
                "state_rederived",
                format!("{}: {}", ctx.cfg.service.name, state.reason),
                None,
                serde_json::json!({ "serving": state.serving, "reason": state.reason }),
            );
            Ok(None)
        }
        // Someone wrote it meanwhile: theirs stands.
        Err(JournalError::Store(StoreError::Conflict { .. })) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

//! Starting, resuming and finishing runs: the glue between the state machine, the journal and
//! the executor, shared by `standby serve` and the CLI commands so both follow one protocol:
//!
//! 1. compare-and-swap the state to `FailingOver{run}` / `FailingBack{run}` (the decision),
//! 2. take the run lock (so exactly one live process executes a run),
//! 3. create the journal with the plan, 4. execute, 5. record where traffic ended up.
//!
//! A crash after 1 leaves a state naming a run; whoever next holds the lock creates the journal
//! from the trigger kept in the state and carries on.

use chrono::Utc;
use tracing::{info, warn};

use crate::context::Ctx;
use crate::executor::{self, ExecError, RunEnd};
use crate::journal::{self, Journal, JournalError};
use crate::store::{RunLock, StoreError};
use standby_core::machine::{Decision, Event, Policy, State, decide};
use standby_core::outcome::ProbeResult;
use standby_core::runbook::RunbookKind;

pub fn policy(ctx: &Ctx) -> Policy {
    Policy {
        mode: ctx.cfg.failover.mode,
        cooldown: ctx.cfg.failover.cooldown,
        failback: ctx.cfg.failback.mode,
    }
}

/// Applies an event to the persisted state with a compare-and-swap loop; a missing state is
/// taken as the default one (an operator's `pause` before any daemon ran).
pub async fn apply(
    ctx: &Ctx,
    event: &Event,
    run_id: &str,
) -> Result<(Decision, State), JournalError> {
    apply_checked(ctx, event, run_id, false).await
}

/// `require_state`: a missing state is [`JournalError::NoState`] instead of the default, so
/// nothing that may start a run assumes traffic is on the primary (see [`crate::heal`]).
async fn apply_checked(
    ctx: &Ctx,
    event: &Event,
    run_id: &str,
    require_state: bool,
) -> Result<(Decision, State), JournalError> {
    loop {
        let (state, version) = journal::read_state(&ctx.store).await?;
        if require_state && version.is_none() {
            return Err(JournalError::NoState);
        }
        let d = decide(&state, event, Utc::now(), &policy(ctx), run_id);
        if d.next == state {
            return Ok((d, state));
        }
        match journal::write_state(&ctx.store, &d.next, version).await {
            Ok(()) => return Ok((d, state)),
            Err(JournalError::Store(StoreError::Conflict { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A run this process may execute: its lock is held for as long as this lives.
pub struct OwnedRun {
    pub journal: Journal,
    _lock: RunLock,
}

/// How long a run decided by another process may stay unjournaled before it counts as that
/// process's crash.
const DECIDER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Loads (or, after a crash right after the decision, creates) the journal of the run the state
/// names, if no other live process holds it.
pub async fn adopt_unfinished(ctx: &Ctx) -> Result<Option<OwnedRun>, ExecError> {
    let (state, _) = journal::read_state(&ctx.store).await?;
    let Some(run) = state.serving.running().map(str::to_string) else {
        return Ok(None);
    };
    // A run decided moments ago and not journaled yet belongs to the process that decided it: it
    // locks and journals it within milliseconds. Taking it (even the lock, for a moment) would
    // turn that process's command into "adopted by another process"; only a decision left
    // unjournaled for longer is a crash to take over.
    let fresh = state
        .changed_at
        .is_some_and(|t| standby_core::duration::between(t, Utc::now()) < DECIDER_GRACE);
    if fresh
        && ctx
            .store
            .get(&journal::run_key(&run))
            .await
            .map_err(JournalError::from)?
            .is_none()
    {
        return Ok(None);
    }
    let Some(lock) = ctx.store.lock_run(&run).await.map_err(JournalError::from)? else {
        return Ok(None);
    };
    let journal = match Journal::load(ctx.store.clone(), &run).await {
        Ok(j) => j,
        Err(JournalError::NotFound(_)) => {
            use standby_core::machine::Serving;
            let kind = match &state.serving {
                Serving::FailingOver { .. } => RunbookKind::Failover,
                Serving::Drilling { kind, .. } => *kind,
                Serving::FailingBack { .. } | Serving::Primary | Serving::Standby => {
                    RunbookKind::Failback
                }
            };
            let trigger = state
                .trigger
                .clone()
                .unwrap_or(standby_core::machine::Trigger::Manual {
                    command: "unknown (state without trigger)".into(),
                    at: Utc::now(),
                });
            info!(run = %run, "run decided but never journaled (crash after the decision); creating its journal now");
            let world = crate::world::observe_for_plan(ctx).await?;
            executor::create_run(ctx, &run, kind, trigger, vec![], &world).await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Some(OwnedRun {
        journal,
        _lock: lock,
    }))
}

/// The run a decision started, before it is locked and journaled.
#[derive(Debug, Clone)]
pub struct Started {
    pub run: String,
    pub kind: RunbookKind,
    pub trigger: standby_core::machine::Trigger,
}

/// Applies `event` to the persisted state (local I/O only: the daemon calls this from its main
/// loop); `changed` says whether the state moved. A missing state is
/// [`JournalError::NoState`]: it is derived from the world ([`crate::heal`]) before anything acts.
pub async fn decide_on(
    ctx: &Ctx,
    event: &Event,
    kind: RunbookKind,
) -> Result<(Decision, bool, Option<Started>), JournalError> {
    let run_id = journal::new_run_id(kind, Utc::now());
    let (decision, before) = apply_checked(ctx, event, &run_id, true).await?;
    let changed = decision.next != before;
    let started = match decision.actions.first().cloned() {
        Some(standby_core::machine::Action::StartRun { run, kind, trigger }) => {
            Some(Started { run, kind, trigger })
        }
        _ => None,
    };
    Ok((decision, changed, started))
}

/// Locks and journals a run a decision started (AWS calls: the daemon runs this off its loop).
/// `None` when another process adopted it first.
pub async fn begin(
    ctx: &Ctx,
    started: Started,
    evidence: Vec<ProbeResult>,
    world: Option<&standby_core::plan::World>,
) -> Result<Option<OwnedRun>, ExecError> {
    let Started { run, kind, trigger } = started;
    // The lock is taken only once the decision stands, so refused requests leave no lock files.
    // Between the decision and the lock, another process may have adopted the run (it sees the
    // state name it, finds it unlocked); then that process executes it and this one stands back.
    let Some(lock) = ctx.store.lock_run(&run).await.map_err(JournalError::from)? else {
        if ctx.shared() && ctx.lease.is_none() {
            // A command on a shared store decides and journals; the lease holder executes.
            let world = match world {
                Some(w) => w.clone(),
                None => crate::world::observe_for_plan(ctx).await?,
            };
            match executor::create_run(ctx, &run, kind, trigger, evidence, &world).await {
                Ok(_) => info!(run = %run, "run journaled; the lease holder executes it"),
                Err(ExecError::Journal(JournalError::Store(StoreError::Conflict { .. }))) => {
                    info!(run = %run, "run already journaled by the lease holder")
                }
                Err(e) => return Err(e),
            }
        } else {
            info!(run = %run, "run adopted by another process before this one could lock it");
        }
        return Ok(None);
    };
    let observed;
    let world = match world {
        Some(w) => w,
        None => {
            observed = crate::world::observe_for_plan(ctx).await?;
            &observed
        }
    };
    let journal = executor::create_run(ctx, &run, kind, trigger, evidence, world).await?;
    Ok(Some(OwnedRun {
        journal,
        _lock: lock,
    }))
}

/// Decides on `event` and, if that starts a run, locks and journals it.
pub async fn start(
    ctx: &Ctx,
    event: &Event,
    kind: RunbookKind,
    evidence: Vec<ProbeResult>,
    world: Option<&standby_core::plan::World>,
) -> Result<(Decision, Option<OwnedRun>), ExecError> {
    let (decision, _, started) = decide_on(ctx, event, kind).await?;
    let Some(started) = started else {
        return Ok((decision, None));
    };
    Ok((decision, begin(ctx, started, evidence, world).await?))
}

/// Executes an owned run to its end and records in the state where traffic ended up.
pub async fn drive(ctx: &Ctx, mut owned: OwnedRun) -> Result<RunEnd, ExecError> {
    let end = executor::execute(ctx, &mut owned.journal).await?;
    if let RunEnd::Finished(rec) = &end {
        let side = executor::traffic_side(ctx, rec).await;
        let succeeded = rec.status == journal::RunStatus::Succeeded;
        // A drill that yielded to a real failure hands over to a failover: it gets its own id.
        let next_id = journal::new_run_id(RunbookKind::Failover, Utc::now());
        let (d, _) = apply(
            ctx,
            &Event::RunFinished {
                run: rec.id.clone(),
                succeeded,
                traffic_on: side,
                gave_up: rec.gave_up(),
            },
            &next_id,
        )
        .await?;
        info!("{}", d.reason);
        // A drill that yielded hands over to the failover this decision started: journal it
        // now (as every decider does), so whoever adopts it next finds it ready.
        if let Some(standby_core::machine::Action::StartRun { run, kind, trigger }) =
            d.actions.into_iter().next()
        {
            let started = Started {
                run: run.clone(),
                kind,
                trigger,
            };
            if let Err(e) = begin(ctx, started, vec![], None).await {
                // Not lost: once the grace has passed, whoever adopts it journals it.
                warn!(run = %run, "journaling the failover the drill handed over to failed: {e}");
            }
        }
    }
    Ok(end)
}

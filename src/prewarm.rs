//! Pre-warm, the shell: carries out what [`standby_core::prewarm::Watch`] decides. On a
//! degradation it scales the standby to serving capacity and verifies it (the drill's own scale
//! and verify steps: spares, capacity errors and the warm-up measured alike); when the primary
//! has looked well for the hold, it puts the standby back to warm. DNS is never touched.
//!
//! Guarantees:
//! - **Journaled before acting.** The episode is written (`ScalingUp`, `Releasing`) before any
//!   AWS change; a daemon killed at any point finds it at start and carries it on (a scale-up
//!   goes on, a release is done again: both set the same sizes, so repeating is harmless).
//! - **A failover owns what a pre-warm started.** A failover's run adopts the episode
//!   ([`adopt`]: a compare-and-swap on the current episode, so a release and an adoption cannot
//!   both win); from then on nothing here scales the standby down. The daemon aborts a release
//!   in flight before it applies a down verdict.
//! - **Only from a calm state.** Nothing starts while traffic is not on the primary, a run is in
//!   progress, actions are paused, or (shared store) this instance does not hold the lease.
//!
//! Caveats: a release aborted by a failover may have set the smaller size already; the failover
//! plans on what it reads and scales up again. A drill is refused while a pre-warm holds the
//! standby (its return to warm would undo the pre-warm).

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::context::Ctx;
use crate::prewarm_journal::{active, close, history, read_current, reconcile, save, write_report};
use crate::store::{Expect, StoreError, Version};
use standby_core::duration::{human, millis};
use standby_core::machine::Serving;
use standby_core::outcome::ProbeResult;
use standby_core::plan::{AsgChange, Changes};
use standby_core::prewarm::{Budget, Decision, End, Episode, Phase, Watch};
use standby_core::runbook::{Action, Capacity, RunbookKind};
use standby_core::side::Side;

/// How often the daemon reads the store's current pre-warm and the last evaluation's prices.
const REREAD: Duration = Duration::from_secs(30);
/// A release that failed (AWS refused, throttled) is tried again after this.
const RETRY: Duration = Duration::from_secs(30);

/// What a pre-warm task came to.
#[derive(Debug)]
pub enum Done {
    /// The standby serves and answered: the episode as it now stands.
    Ready(Episode),
    /// Back to warm.
    Released(Episode),
    /// Not started or not carried on, and why (not an error: the state said no).
    Skipped(String),
    /// A failover adopted it meanwhile.
    TakenOver,
    Failed(String),
}

/// Why nothing may start or release now, if so: traffic elsewhere, a run, a pause, no lease.
async fn calm(ctx: &Ctx) -> Result<(), String> {
    if !ctx.may_act() {
        return Err("this instance does not hold the lease".into());
    }
    let (state, _) = crate::journal::read_state(&ctx.store)
        .await
        .map_err(|e| format!("the state cannot be read: {e}"))?;
    if let Some(run) = state.serving.running() {
        return Err(format!("run {run} is in progress"));
    }
    if state.serving != Serving::Primary {
        return Err(format!("traffic is on the {}", state.serving.label()));
    }
    if state.paused {
        return Err("actions are paused".into());
    }
    Ok(())
}

/// The standby's way to serving and back, as the standby drill plans it now: the groups to
/// scale up, the verification, the groups back to warm.
struct Moves {
    up: Vec<AsgChange>,
    verify: (u32, Duration, Duration),
    down: Vec<AsgChange>,
}

async fn moves(ctx: &Ctx) -> Result<Moves, String> {
    let world = crate::world::observe(ctx)
        .await
        .map_err(|e| format!("cannot read the standby's groups: {e}"))?;
    let plan = standby_core::plan::plan_for(RunbookKind::DrillStandby, &ctx.cfg, &world);
    let (mut up, mut verify, mut down) = (None, None, None);
    for s in &plan.steps {
        match (&s.action, &s.changes) {
            (
                Action::ScaleAsgs {
                    side: Side::Standby,
                    target,
                },
                Changes::Asgs { groups },
            ) => match target {
                Capacity::Serving if up.is_none() => up = Some(groups.clone()),
                Capacity::Warm => down = Some(groups.clone()),
                Capacity::Serving => {}
            },
            (
                Action::Verify {
                    side: Side::Standby,
                    successes,
                    interval,
                },
                _,
            ) if verify.is_none() => verify = Some((*successes, *interval, s.timeout)),
            _ => {}
        }
    }
    match (up, verify, down) {
        (Some(up), Some(verify), Some(down)) => Ok(Moves { up, verify, down }),
        _ => Err("the standby drill runbook has no scale-up, verify and return to warm of the standby: a pre-warm uses those steps".into()),
    }
}

/// Scales the standby to serving and verifies it: a new pre-warm (`reason`), or the one a
/// restart left scaling up.
pub async fn scale_up(ctx: &Ctx, reason: String, price: (Option<f64>, String)) -> Done {
    if let Err(why) = calm(ctx).await {
        return Done::Skipped(why);
    }
    let store = &ctx.store;
    let (mut e, version) = match read_current(store).await {
        Err(err) => return Done::Failed(format!("reading the pre-warm: {err}")),
        Ok(Some((e, _))) if e.end.is_none() && e.phase == Phase::Serving => {
            return Done::Ready(e);
        }
        // A restart's scale-up goes on; an interrupted release becomes a scale-up again (the
        // capacity was asked for all along: the same episode, the same cost clock).
        Ok(Some((mut e, v))) if e.end.is_none() => {
            if e.phase == Phase::ScalingUp {
                (e, v)
            } else {
                e.phase = Phase::ScalingUp;
                e.release_reason = None;
                match save(store, &e, Expect::Version(v)).await {
                    Ok(v) => (e, v),
                    Err(StoreError::Conflict { .. }) => return Done::TakenOver,
                    Err(err) => return Done::Failed(format!("journaling the pre-warm: {err}")),
                }
            }
        }
        Ok(prior) => {
            // Priced from the last readiness evaluation, read again here when the daemon's
            // copy had none (the first evaluation may have finished since).
            let price = match price {
                (None, _) => match crate::readiness::last(store).await.and_then(|e| e.cost) {
                    Some(c) => c.added_hourly(),
                    None => (None, "no readiness evaluation yet: not priced".to_string()),
                },
                known => known,
            };
            let now = Utc::now();
            let e = Episode {
                id: format!("prewarm-{}", now.format("%Y%m%dT%H%M%S%.3fZ")),
                started_at: now,
                reason,
                phase: Phase::ScalingUp,
                groups: ctx
                    .cfg
                    .standby
                    .asgs
                    .iter()
                    .map(|g| g.name.clone())
                    .collect(),
                ready_at: None,
                warm_up_ms: None,
                hourly_usd: price.0,
                price_basis: price.1,
                release_reason: None,
                ended_at: None,
                end: None,
            };
            let expect = prior.map_or(Expect::Absent, |(_, v)| Expect::Version(v));
            match save(store, &e, expect).await {
                Ok(v) => {
                    let text = format!(
                        "PRE-WARM {}: {}: scaling the standby to serving capacity (DNS untouched)",
                        e.id, e.reason
                    );
                    warn!("{text}");
                    ctx.notifier.send(
                        "prewarm",
                        format!("{}: {text}", ctx.cfg.service.name),
                        None,
                        serde_json::json!({ "prewarm": "started", "episode": e }),
                    );
                    (e, v)
                }
                Err(err) => return Done::Failed(format!("journaling the pre-warm: {err}")),
            }
        }
    };
    let m = match moves(ctx).await {
        Ok(m) => m,
        Err(why) => return fail(ctx, e, version, why, None).await,
    };
    let started = Utc::now();
    let scaled = crate::executor::steps::scale(ctx, &m.up).await;
    if !scaled.ok {
        return fail(ctx, e, version, scaled.reason, Some(&m.down)).await;
    }
    let (successes, interval, timeout) = m.verify;
    let verified =
        crate::executor::steps::verify(ctx, Side::Standby, successes, interval, timeout).await;
    if !verified.ok {
        return fail(ctx, e, version, verified.reason, Some(&m.down)).await;
    }
    let first_ok = standby_core::report::first_ok_in(&verified.details).unwrap_or_else(Utc::now);
    e.phase = Phase::Serving;
    e.ready_at = Some(first_ok);
    e.warm_up_ms = Some(millis(standby_core::duration::between(started, first_ok)));
    match save(store, &e, Expect::Version(version)).await {
        Ok(_) => Done::Ready(e),
        // Written meanwhile: a failover adopted it (its run owns the standby now), or another
        // scale-up of the same pre-warm finished first.
        Err(StoreError::Conflict { .. }) => match read_current(store).await {
            Ok(Some((now, _))) if now.end.is_none() && now.phase == Phase::Serving => {
                Done::Ready(now)
            }
            _ => Done::TakenOver,
        },
        Err(err) => Done::Failed(format!("journaling the ready pre-warm: {err}")),
    }
}

/// A pre-warm that could not be carried out: the standby back to warm (when something was
/// scaled) and the episode ended as failed, unless a failover took it over meanwhile.
async fn fail(
    ctx: &Ctx,
    e: Episode,
    version: Version,
    why: String,
    down: Option<&[AsgChange]>,
) -> Done {
    if let Some(down) = down {
        if calm(ctx).await.is_err() {
            // A failover (or an operator) acts on the standby now: leave it as it is.
            return Done::Failed(why);
        }
        let back = crate::executor::steps::scale(ctx, down).await;
        if !back.ok {
            warn!(
                "putting the standby back to warm after a failed pre-warm: {}",
                back.reason
            );
        }
    }
    match close(
        &ctx.store,
        e,
        version,
        End::Failed {
            reason: why.clone(),
        },
    )
    .await
    {
        Err(StoreError::Conflict { .. }) => Done::TakenOver,
        Ok(e) => {
            write_report(&ctx.cfg, &e);
            Done::Failed(why)
        }
        Err(_) => Done::Failed(why),
    }
}

/// Puts the standby back to warm and ends the pre-warm.
pub async fn release(ctx: &Ctx, why: String) -> Done {
    let store = &ctx.store;
    let (mut e, version) = match read_current(store).await {
        Err(err) => return Done::Failed(format!("reading the pre-warm: {err}")),
        Ok(Some(c)) if c.0.end.is_none() => c,
        Ok(_) => return Done::Skipped("no pre-warm under way".into()),
    };
    if let Err(reason) = calm(ctx).await {
        return Done::Skipped(format!("not going back to warm: {reason}"));
    }
    if e.phase != Phase::Releasing {
        e.phase = Phase::Releasing;
        e.release_reason = Some(why);
    }
    let version = match save(store, &e, Expect::Version(version)).await {
        Ok(v) => v,
        Err(StoreError::Conflict { .. }) => return Done::TakenOver,
        Err(err) => return Done::Failed(format!("journaling the release: {err}")),
    };
    let m = match moves(ctx).await {
        Ok(m) => m,
        Err(why) => return Done::Failed(why),
    };
    let back = crate::executor::steps::scale(ctx, &m.down).await;
    if !back.ok {
        return Done::Failed(format!("back to warm: {}", back.reason));
    }
    match close(store, e, version, End::Released).await {
        Ok(e) => Done::Released(e),
        Err(StoreError::Conflict { .. }) => Done::TakenOver,
        Err(err) => Done::Failed(format!("ending the pre-warm: {err}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// The daemon's side: the watch, the task carrying out its last decision, the month's spend.
pub struct Prewarmer {
    watch: Watch,
    task: Option<(Direction, JoinHandle<Done>)>,
    /// The pre-warm under way as last known here.
    active: Option<Episode>,
    /// Ended pre-warms (for the month's spend).
    ended: Vec<Episode>,
    /// The added capacity's price per hour, and its basis.
    price: (Option<f64>, String),
    release_reason: String,
    retry_at: Option<tokio::time::Instant>,
    /// The last thing said at info or above, so a held reason is said once.
    said: String,
    /// `[prewarm] enabled`: off, nothing starts, and a pre-warm under way goes back to warm.
    enabled: bool,
    /// When the store was last read ([`REREAD`]): another instance (a lease holder before
    /// this one) may have started a pre-warm, and a new evaluation may have priced it.
    read_at: tokio::time::Instant,
}

impl Prewarmer {
    /// The daemon's pre-warm at start: a pre-warm a previous process left is resumed (or, with
    /// `[prewarm]` now off, put back to warm).
    pub async fn start(ctx: &Ctx) -> Prewarmer {
        let cfg = &ctx.cfg;
        let policy = cfg.health.clone();
        let rules = standby_core::prewarm::Rules::derive(&cfg.prewarm, &policy);
        if cfg.prewarm.enabled {
            info!("pre-warm on: {}", rules.describe());
        }
        let mut p = Prewarmer {
            watch: Watch::new(rules, policy),
            task: None,
            active: None,
            ended: Vec::new(),
            price: (None, "no readiness evaluation yet".into()),
            release_reason: "resumed after a restart".into(),
            retry_at: None,
            said: String::new(),
            enabled: cfg.prewarm.enabled,
            read_at: tokio::time::Instant::now(),
        };
        reconcile(&ctx.store).await;
        p.ended = history(&ctx.store).await.episodes;
        p.read_active(ctx).await;
        if p.enabled {
            p.reprice(ctx).await;
        }
        p
    }

    /// Reads the store's current pre-warm; one this process did not know (left by a restart, or
    /// started by the previous lease holder) is resumed.
    async fn read_active(&mut self, ctx: &Ctx) {
        let now = active(&ctx.store).await;
        if let Some(e) = &now
            && self.active.as_ref().is_none_or(|a| a.id != e.id)
        {
            info!("pre-warm {} under way ({:?}): resuming it", e.id, e.phase);
            if self.enabled && e.phase != Phase::Releasing {
                self.watch.resume(e.started_at, e.reason.clone());
            } else if !self.enabled {
                self.release_reason = "[prewarm] is off".into();
            }
        }
        self.active = now;
    }

    /// A reloaded config: the watch's rules follow `[prewarm]` and `[health]`; a pre-warm under
    /// way stays (turned off: it goes back to warm).
    pub fn reconfigure(&mut self, ctx: &Ctx) {
        let cfg = &ctx.cfg;
        let rules = standby_core::prewarm::Rules::derive(&cfg.prewarm, &cfg.health);
        let warm = self.watch.warm().cloned();
        self.enabled = cfg.prewarm.enabled;
        if self.enabled {
            info!("pre-warm on: {}", rules.describe());
        } else {
            info!("pre-warm off");
            self.release_reason = "[prewarm] was turned off".into();
        }
        self.watch = Watch::new(rules, cfg.health.clone());
        if let (true, Some((since, reason))) = (self.enabled, warm) {
            self.watch.resume(since, reason);
        }
    }

    /// The added capacity's price, from the last readiness evaluation (no AWS call).
    async fn reprice(&mut self, ctx: &Ctx) {
        if let Some(c) = crate::readiness::last(&ctx.store)
            .await
            .and_then(|e| e.cost)
        {
            let (h, basis) = c.added_hourly();
            self.price = (h, basis);
        }
    }

    /// A pre-warm holds the standby (or is being carried out).
    pub fn holding(&self) -> bool {
        self.active.is_some() || self.task.is_some()
    }

    /// The primary is down: a release in flight stops here, so the failover starts from what
    /// is still running.
    pub fn primary_down(&mut self) {
        if let Some((Direction::Down, t)) = &self.task {
            t.abort();
            warn!("pre-warm: the primary is down; stopping the return to warm");
            self.task = None;
        }
    }

    fn say(&mut self, text: String, warn_level: bool) {
        if text == self.said {
            return;
        }
        if warn_level {
            warn!("{text}");
        } else {
            info!("{text}");
        }
        self.said = text;
    }

    /// Feeds a round of the primary; starts, resumes or ends a pre-warm as the watch says.
    pub async fn on_round(&mut self, ctx: &Ctx, round: &ProbeResult) {
        if !self.enabled && self.active.is_none() && self.task.is_none() {
            return;
        }
        self.collect(ctx).await;
        // What other processes write, read again every REREAD: the pre-warm under way and the
        // last readiness evaluation's prices.
        if self.read_at.elapsed() >= REREAD {
            self.read_at = tokio::time::Instant::now();
            if self.task.is_none() && ctx.may_act() {
                self.read_active(ctx).await;
            }
            self.reprice(ctx).await;
        }
        let now = Utc::now();
        let budget = Budget {
            spent_usd: standby_core::prewarm::month_spent(&self.ended, now),
            hourly_usd: self.price.0,
        };
        let decision = if self.enabled {
            self.watch.observe(round, budget)
        } else {
            Decision::Nothing
        };
        match decision {
            Decision::Nothing => {}
            // Started below, with the rest of what the watch and the episode ask for (and said
            // there, once the state allows it: a degraded primary while traffic is on the
            // standby asks again every `sustain`).
            Decision::ScaleUp { .. } => {}
            Decision::ScaleDown { reason } => self.release_reason = reason,
            Decision::Suppressed { reason } => {
                self.say(reason.clone(), true);
                ctx.notifier.send(
                    "prewarm",
                    format!("{}: {reason}", ctx.cfg.service.name),
                    None,
                    serde_json::json!({ "prewarm": "suppressed", "reason": reason }),
                );
            }
        }
        // Level, not edge: what the watch wants and what the store holds are brought together
        // here each round, so a decision taken while a task ran, a restart, or a lease taken
        // over is acted on too.
        if self.task.is_some() || !ctx.may_act() {
            return;
        }
        let up = match (&self.active, self.watch.warm()) {
            // Wanted and not there (or left scaling up by a restart): scale up.
            (None, Some((_, reason))) => Some(reason.clone()),
            (Some(e), Some(_)) if e.phase == Phase::ScalingUp => Some(e.reason.clone()),
            (Some(_), Some(_)) | (None, None) => return,
            // There and no longer wanted: back to warm.
            (Some(_), None) => None,
        };
        let c = ctx.clone();
        if let Some(reason) = up {
            let price = self.price.clone();
            self.task = Some((
                Direction::Up,
                tokio::spawn(async move { scale_up(&c, reason, price).await }),
            ));
            return;
        }
        if self
            .retry_at
            .is_some_and(|t| tokio::time::Instant::now() < t)
        {
            return;
        }
        let why = self.release_reason.clone();
        self.task = Some((
            Direction::Down,
            tokio::spawn(async move { release(&c, why).await }),
        ));
    }

    /// Takes in what a finished task came to.
    async fn collect(&mut self, ctx: &Ctx) {
        if !self.task.as_ref().is_some_and(|(_, t)| t.is_finished()) {
            return;
        }
        let Some((direction, task)) = self.task.take() else {
            return;
        };
        let done = match task.await {
            Ok(d) => d,
            Err(e) => Done::Failed(format!("the pre-warm task ended abnormally: {e}")),
        };
        let name = &ctx.cfg.service.name;
        let now = Utc::now();
        match done {
            Done::Ready(e) => {
                let text = format!(
                    "pre-warm {}: the standby serves at serving capacity, warm-up {} ({}); a failover now starts from warm capacity",
                    e.id,
                    e.warm_up_ms
                        .map_or("unknown".into(), |m| human(Duration::from_millis(m))),
                    e.reason
                );
                self.say(text.clone(), true);
                ctx.notifier.send(
                    "prewarm",
                    format!("{name}: {text}"),
                    None,
                    serde_json::json!({ "prewarm": "ready", "episode": e }),
                );
                self.active = Some(e);
            }
            Done::Released(e) => {
                write_report(&ctx.cfg, &e);
                let text = format!(
                    "pre-warm ended, the standby is back to warm: {} (released: {})",
                    e.line(now),
                    e.release_reason.as_deref().unwrap_or("")
                );
                self.say(text.clone(), false);
                ctx.notifier.send(
                    "prewarm",
                    format!("{name}: {text}"),
                    None,
                    serde_json::json!({ "prewarm": "released", "episode": e, "cost_usd": e.cost(now) }),
                );
                self.ended.push(e);
                self.active = None;
                self.retry_at = None;
            }
            Done::TakenOver => {
                self.say(
                    "pre-warm taken over by a failover: the standby stays at serving".into(),
                    false,
                );
                self.watch.end();
                self.active = None;
                self.ended = history(&ctx.store).await.episodes;
            }
            Done::Skipped(why) => {
                if direction == Direction::Up {
                    self.say(format!("pre-warm not started: {why}"), false);
                    self.watch.end();
                } else {
                    self.say(format!("pre-warm: {why}"), false);
                    self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                }
                self.active = active(&ctx.store).await;
            }
            Done::Failed(why) => {
                error!("pre-warm: {why}");
                ctx.notifier.send(
                    "prewarm",
                    format!("{name}: pre-warm FAILED: {why}"),
                    None,
                    serde_json::json!({ "prewarm": "failed", "reason": why }),
                );
                if direction == Direction::Up {
                    self.watch.end();
                } else {
                    self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                }
                self.active = active(&ctx.store).await;
                self.ended = history(&ctx.store).await.episodes;
            }
        }
    }
}

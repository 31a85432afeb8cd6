//! `standby serve`: probe the primary on an interval, feed the detector, act on its verdicts,
//! and resume any run a previous process left unfinished.
//!
//! Guarantees:
//! - **Nothing stalls probing.** The main loop does only local work (probe bookkeeping, the
//!   detector, state reads and writes); every AWS call (planning, runs, healing) happens in the
//!   *acting* tasks (one at a time, except that a run a verdict starts while the periodic
//!   resume check is still looking joins it: the run lock keeps them from doing the same run
//!   twice), and every probe round in its own task. The systemd watchdog is pinged
//!   from its own task, and only while probe rounds are being judged.
//! - **Intent persists.** A `down` verdict is applied every round, not only when it changes:
//!   a failover that could not be decided (a failed state write), a run that failed to start
//!   (an AWS error before the plan) or an unfinished run is tried again each interval, until
//!   traffic is on the standby or the state machine says why not (cooldown, pause, escalated).
//! - **This host's faults are its own.** Probes this host could not send (out of file
//!   descriptors) and state it could not write are reported as `orchestrator_impaired`
//!   (`/healthz`, `/metrics`, a webhook) and never counted against the primary.
//!
//! Shutdown is passed in (as in mini-redis's `server::run`): when it fires, a running step is
//! allowed to finish, the journal is written, and `run` returns, so systemd's stop is a clean exit.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::context::Ctx;
use crate::executor::{ExecError, RunEnd};
use crate::journal;
use crate::live::{Impairment, Live};
use crate::prober::Prober;
use crate::runner;
use standby_core::detector::{Detector, Health};
use standby_core::machine::Event;
use standby_core::runbook::RunbookKind;

/// Why `standby serve` stopped with an error: it could not open its endpoint, or the store
/// failed in a way it cannot ride out.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The daemon's first readiness evaluation comes at most this long after its start.
const FIRST_EVALUATION: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn run(
    mut ctx: Ctx,
    mut shutdown: watch::Receiver<bool>,
    mut reload: watch::Receiver<u64>,
) -> Result<(), DaemonError> {
    match journal::read_state(&ctx.store).await {
        Ok((state, _)) => info!(
            service = %ctx.cfg.service.name,
            "serving state {} (paused: {}); probing {} every {}",
            state.serving.label(), state.paused, ctx.cfg.primary.endpoint, standby_core::duration::human(ctx.cfg.health.interval)
        ),
        // Not fatal: probing goes on, and acting retries each interval once it reads again.
        Err(e) => error!(
            "reading the state: {e}; probing {} anyway",
            ctx.cfg.primary.endpoint
        ),
    }
    if let Some(w) =
        standby_core::config::dns::control_plane_warning(&ctx.cfg.dns, &ctx.cfg.primary)
    {
        warn!("{w}");
    }
    let live = Arc::new(Live::new(ctx.cfg.health.stale_after()));
    crate::control::start(&ctx, live.clone(), shutdown.clone()).await?;
    let watchdog = crate::sdnotify::watchdog_interval().map(|every| {
        let live = live.clone();
        tokio::spawn(watchdog_pings(live, every))
    });
    let mut prober = Prober::new(&ctx.cfg.health);
    let mut watch = Watch::new(&ctx.cfg.health);
    let mut rounds: std::collections::VecDeque<JoinHandle<standby_core::outcome::ProbeResult>> =
        Default::default();
    let mut ticker = tokio::time::interval(ctx.cfg.health.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The tasks that talk to AWS about runs: start, adopt, resume, heal.
    let mut acting: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    let mut syncs = SyncScheduler::new(&ctx, live.clone());
    let mut sync_tick = tokio::time::interval(std::time::Duration::from_secs(1));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probing: Option<JoinHandle<()>> = None;
    let mut drills =
        standby_core::drills::DrillScheduler::new(&ctx.cfg.drills.scheduled, chrono::Utc::now());
    // Readiness: every `[readiness] every` and after each reload (the lease holder); the first
    // one once the start-up syncs published (`reevaluate`), or FIRST_EVALUATION after start:
    // not at once, where it would judge sets not synced yet and compete with the first probe
    // rounds and syncs for this host and for the API (a dozen reads).
    let mut readiness_tick = tokio::time::interval_at(
        tokio::time::Instant::now() + FIRST_EVALUATION,
        ctx.cfg.readiness.every,
    );
    readiness_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut evaluating: Option<JoinHandle<()>> = None;
    // A sync published since the last evaluation started.
    let mut reevaluate = false;
    // Pre-warm (`[prewarm] enabled`): fed every judged round; resumes a pre-warm a restart left.
    let mut prewarm = crate::prewarm::Prewarmer::start(&ctx).await;

    loop {
        live.beat();
        tokio::select! {
            _ = shutdown.changed() => {
                crate::sdnotify::stopping();
                if !acting.is_empty() {
                    info!("shutdown: letting the current step finish, then stopping at a safe point");
                    while acting.join_next().await.is_some() {}
                }
                if let Some(w) = watchdog {
                    w.abort();
                }
                // Nothing acts any more: give the lease up so a follower takes it at once.
                if let Some(lease) = &ctx.lease {
                    lease.stop().await;
                }
                // Here, not only in the endpoint's task: the process may end before that runs.
                let _ = std::fs::remove_file(&ctx.cfg.control.socket);
                info!("shutdown complete");
                return Ok(());
            }
            Ok(()) = reload.changed() => {
                crate::sdnotify::reloading();
                match crate::config_file::load(&ctx.cfg.path) {
                    Ok((cfg, warnings)) => {
                        for w in &warnings.items {
                            warn!("config reload: {w}");
                        }
                        if cfg.health != ctx.cfg.health {
                            watch.detector = Detector::new(cfg.health.clone());
                            ticker = tokio::time::interval(cfg.health.interval);
                            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            prober = Prober::new(&cfg.health);
                            live.round_limit_ms.store(
                                standby_core::duration::millis(cfg.health.stale_after()) as i64,
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                        drills = standby_core::drills::DrillScheduler::new(&cfg.drills.scheduled, chrono::Utc::now());
                        if cfg.dns.method != ctx.cfg.dns.method {
                            // A new gate (or none) needs its own region's client; the rest stay.
                            let fence = ctx.lease.clone().map(|l| l as Arc<dyn standby_aws::fence::Fence>);
                            ctx.clients.gate_s3 = standby_aws::Clients::fenced(&cfg, fence).await.gate_s3;
                            info!("config reload: dns.method or [dns.gate] changed; the gate's client follows");
                        }
                        if cfg.readiness.every != ctx.cfg.readiness.every {
                            readiness_tick = tokio::time::interval(cfg.readiness.every);
                            readiness_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        } else {
                            // A new config is evaluated at once (the first tick is immediate).
                            readiness_tick.reset_immediately();
                        }
                        let rewatch = cfg.prewarm != ctx.cfg.prewarm || cfg.health != ctx.cfg.health;
                        ctx.cfg = Arc::new(cfg);
                        syncs.engine = Arc::new(ctx.sync_engine());
                        if rewatch {
                            // A pre-warm under way goes on (or, turned off, back to warm).
                            prewarm.reconfigure(&ctx);
                        }
                        live.metrics.reloaded(true);
                        info!("config reloaded from {} ({}); a run in progress keeps the config it started with; [aws] and [control] changes need a restart", ctx.cfg.path.display(), ctx.cfg.digest);
                    }
                    Err(diags) => {
                        let n = diags.errors().count();
                        for d in &diags.items {
                            error!("config reload: {d}");
                        }
                        error!("config reload rejected: {n} error(s) in {}; the running config stays", ctx.cfg.path.display());
                        live.metrics.reloaded(false);
                    }
                }
                crate::sdnotify::ready("config reloaded");
            }
            // Syncs, standby probes and drills act: on a shared store only the lease holder.
            _ = sync_tick.tick(), if ctx.may_act() => {
                syncs.start_due().await;
                if reevaluate && evaluating.as_ref().is_none_or(|t| t.is_finished()) {
                    reevaluate = false;
                    let ctx = ctx.clone();
                    evaluating = Some(tokio::spawn(async move { crate::readiness::after_sync(&ctx).await }));
                }
                if probing.as_ref().is_none_or(|p| p.is_finished()) {
                    probing = probe_if_due(&ctx, &live).await;
                }
                // A drill's return to warm would undo a pre-warm: a due drill waits it out.
                if acting.is_empty()
                    && !prewarm.holding()
                    && let Some(event) = scheduled_drill(drills.due(chrono::Utc::now()))
                {
                    act(&ctx, &live, &mut watch, &event, RunbookKind::DrillStandby, vec![], &mut acting).await;
                }
            }
            _ = readiness_tick.tick(), if ctx.may_act() => {
                if evaluating.as_ref().is_none_or(|t| t.is_finished()) {
                    let ctx = ctx.clone();
                    evaluating = Some(tokio::spawn(async move { crate::readiness::scheduled(&ctx).await }));
                }
            }
            Some(done) = syncs.tasks.join_next(), if !syncs.tasks.is_empty() => {
                // Evaluated again (when it found a set unsynced) once no evaluation runs.
                reevaluate |= syncs.finished(done);
            }
            Some(joined) = acting.join_next(), if !acting.is_empty() => {
                if let Err(e) = joined {
                    warn!("acting task ended abnormally: {e}; acting resumes on the next tick");
                }
            }
            _ = ticker.tick() => {
                if acting.is_empty() && ctx.may_act() {
                    acting.spawn(resume(ctx.clone(), live.clone()));
                }
                if rounds.len() >= max_in_flight(&ctx.cfg.health) {
                    warn!("{} probe rounds of the primary still in flight; skipping this round (is this host overloaded?)", rounds.len());
                    continue;
                }
                let (prober, url) = (prober.clone(), ctx.cfg.primary.endpoint.clone());
                rounds.push_back(tokio::spawn(async move { prober.round(&url).await }));
            }
            // Rounds run concurrently (a hanging one never delays the next) and are judged in the
            // order they started.
            joined = async { rounds.front_mut().expect("guarded").await }, if !rounds.is_empty() => {
                rounds.pop_front();
                let round = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        error!("probe round task ended abnormally: {e}");
                        continue;
                    }
                };
                live.round_judged();
                prewarm.on_round(&ctx, &round).await;
                let Some((event, evidence)) = watch.on_round(&ctx, &live, round).await else {
                    continue;
                };
                if let Event::PrimaryDown { .. } = &event {
                    prewarm.primary_down();
                }
                act(&ctx, &live, &mut watch, &event, RunbookKind::Failover, evidence, &mut acting).await;
            }
        }
    }
}

/// Pings systemd's watchdog while probe rounds are being judged: a loop that stopped probing
/// (hung, starved) stops the pings and systemd restarts it; a loop busy with a slow AWS call
/// cannot, because AWS calls never run on it.
async fn watchdog_pings(live: Arc<Live>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut silent = false;
    loop {
        tick.tick().await;
        if live.probing_alive() {
            crate::sdnotify::watchdog();
            silent = false;
        } else if !silent {
            silent = true;
            error!(
                "no probe round judged for {} ms: not pinging the watchdog (systemd restarts a stalled daemon)",
                live.round_age_ms()
            );
        }
    }
}

/// Applies an event to the state (local I/O, on the main loop) and, when that starts a run,
/// spawns the task that plans (AWS) and executes it. A failed state write is this host's fault:
/// it marks `persist` impaired, and the next round applies the verdict again.
async fn act(
    ctx: &Ctx,
    live: &Arc<Live>,
    watch: &mut Watch,
    event: &Event,
    kind: RunbookKind,
    evidence: Vec<standby_core::outcome::ProbeResult>,
    acting: &mut tokio::task::JoinSet<()>,
) {
    // A follower judges and publishes its verdicts but decides nothing: the lease holder does.
    if !ctx.may_act() {
        return;
    }
    // A second vantage: other instances must see the primary down too (`health.vantage`); their
    // evidence joins the trigger.
    let seconded;
    let event = match event {
        Event::PrimaryDown {
            reason,
            streak_start,
            last_good,
            probe,
        } if ctx.shared() && ctx.cfg.health.vantage != standby_core::vantage::Vantage::SelfOnly => {
            let a = watch.peers_agree(ctx).await;
            if !a.agree {
                let text = format!("primary down here, but not failing over: {}", a.reason);
                if text != watch.last_reason {
                    warn!("{text}");
                    watch.last_reason = text;
                }
                return;
            }
            seconded = Event::PrimaryDown {
                reason: format!("{reason}; {}", a.reason),
                streak_start: a
                    .streak_start
                    .map_or(*streak_start, |p| p.max(*streak_start)),
                last_good: (*last_good).max(a.last_good),
                probe: probe.clone(),
            };
            &seconded
        }
        other => other,
    };
    let last_reason = &mut watch.last_reason;
    match runner::decide_on(ctx, event, kind).await {
        Ok((decision, changed, started)) => {
            // Only a write proves the state can be written again: a decision that changed
            // nothing read the state and wrote nothing.
            if changed {
                mend(ctx, live, Impairment::Persist);
            }
            if changed || started.is_some() || decision.reason != *last_reason {
                info!("decision: {}", decision.reason);
                *last_reason = decision.reason.clone();
            } else {
                debug!("decision: {}", decision.reason);
            }
            if let Event::PrimaryDown { reason, probe, .. } = event
                && ctx.cfg.failover.mode == standby_core::config::Mode::Automatic
                && !decision.next.armed_for(probe)
                && !watch.unarmed_sent
            {
                watch.unarmed_sent = true;
                let text = format!(
                    "primary down ({reason}); automatic failover is UNARMED: the primary has never been seen healthy at {probe} (check the probe URL and path, the TLS name, the firewall; `standby failover` still works by hand)"
                );
                warn!("{text}");
                ctx.notifier.send(
                    "unarmed",
                    format!("{}: {text}", ctx.cfg.service.name),
                    None,
                    serde_json::json!({ "probe": probe, "reason": text }),
                );
            }
            let Some(started) = started else { return };
            let (ctx, live) = (ctx.clone(), live.clone());
            acting.spawn(async move {
                match runner::begin(&ctx, started, evidence, None).await {
                    Ok(Some(owned)) => {
                        live.act_ok();
                        drive(&ctx, &live, owned).await
                    }
                    Ok(None) => live.act_ok(),
                    Err(e) => acting_failed(&ctx, &live, &e, "starting the run"),
                }
            });
        }
        // No state (a first start, or one deleted under us): acting on the default would assume
        // traffic is on the primary. The next tick derives it from the world first.
        Err(e @ journal::JournalError::NoState) => {
            let text = e.to_string();
            if text != *last_reason {
                info!("{text}");
                *last_reason = text;
            }
        }
        Err(e) => {
            let text = format!("applying {}: {e}", event_name(event));
            if matches!(&e, journal::JournalError::Store(s) if s.is_local()) {
                impair(ctx, live, Impairment::Persist, text.clone());
            }
            if text != *last_reason {
                error!("{text}; tried again next round");
                *last_reason = text;
            }
        }
    }
}

fn event_name(e: &Event) -> &'static str {
    match e {
        Event::PrimaryDown { .. } => "the primary's down verdict",
        Event::PrimaryUp { .. } => "the primary's up verdict",
        Event::PrimaryStable { .. } => "the primary's stability",
        Event::ScheduledDrill { .. } => "a scheduled drill",
        _ => "an event",
    }
}

/// Each interval, when nothing is acting: resume a run the state names (left by a crash, a
/// failed start or a failed journal write), and heal a lost state from the world.
async fn resume(ctx: Ctx, live: Arc<Live>) {
    match crate::heal::heal_lost_state(&ctx).await {
        Ok(None) => {}
        Ok(Some(why)) => {
            if live.conditions().act_error.is_none_or(|e| e.reason != why) {
                error!("{why}");
            }
            live.act_failed(why);
            return;
        }
        Err(e) => {
            acting_failed(&ctx, &live, &e, "re-deriving the lost state");
            return;
        }
    }
    match runner::adopt_unfinished(&ctx).await {
        Ok(Some(owned)) => {
            info!(run = %owned.journal.record.id, "found an unfinished run; resuming it");
            live.act_ok();
            drive(&ctx, &live, owned).await;
        }
        // Nothing written here: `persist` is mended by the next write that works (the verdict's,
        // at least every stale_after/3), so it does not flicker while writes still fail.
        Ok(None) => live.act_ok(),
        Err(e) => acting_failed(&ctx, &live, &e, "checking for unfinished runs"),
    }
}

async fn drive(ctx: &Ctx, live: &Arc<Live>, owned: runner::OwnedRun) {
    match runner::drive(ctx, owned).await {
        Ok(RunEnd::Interrupted(r)) if !ctx.may_act() => {
            warn!(run = %r.id, "this instance lost its lease: the run stopped at a safe point and the new lease holder resumes it from the journal")
        }
        Err(ExecError::Journal(journal::JournalError::Store(
            e @ (crate::store::StoreError::Fenced { .. }
            | crate::store::StoreError::Conflict { .. }),
        ))) if !ctx.may_act() => {
            warn!(
                "this instance lost its lease mid-run ({e}); the new lease holder resumes the run from the journal"
            )
        }
        Ok(RunEnd::Finished(r)) => {
            info!(run = %r.id, "run finished: {:?}, {}", r.status, r.reason)
        }
        Ok(RunEnd::Interrupted(r)) => {
            info!(run = %r.id, "run interrupted at a safe point; it resumes on restart")
        }
        Err(e) => acting_failed(ctx, live, &e, "executing the run"),
    }
}

/// An attempt to act failed: a local store fault impairs `persist`; anything else is the last
/// action error. Either way the next tick tries again.
fn acting_failed(ctx: &Ctx, live: &Arc<Live>, e: &ExecError, what: &str) {
    let text = format!("{what}: {e}; tried again next interval");
    let c = live.conditions();
    let known = c
        .act_error
        .iter()
        .chain(c.impaired.values())
        .any(|k| k.reason == text);
    if !known {
        error!("{text}");
    }
    match e {
        ExecError::Journal(journal::JournalError::Store(s)) if s.is_local() => {
            impair(ctx, live, Impairment::Persist, text)
        }
        _ => live.act_failed(text),
    }
}

fn impair(ctx: &Ctx, live: &Live, kind: Impairment, reason: String) {
    if live.impair(kind, reason.clone()) {
        warn!("ORCHESTRATOR IMPAIRED ({kind}): {reason}");
        ctx.notifier.send(
            "orchestrator_impaired",
            format!(
                "{}: the orchestrator itself is impaired ({kind}): {reason}",
                ctx.cfg.service.name
            ),
            None,
            serde_json::json!({ "impaired": true, "kind": kind, "reason": reason }),
        );
    }
}

fn mend(ctx: &Ctx, live: &Live, kind: Impairment) {
    if let Some(was) = live.mend(kind) {
        info!(
            "orchestrator no longer impaired ({kind}) since {}",
            was.since.to_rfc3339()
        );
        ctx.notifier.send(
            "orchestrator_impaired",
            format!(
                "{}: the orchestrator is no longer impaired ({kind}); it was since {}: {}",
                ctx.cfg.service.name,
                was.since.to_rfc3339(),
                was.reason
            ),
            None,
            serde_json::json!({ "impaired": false, "kind": kind, "since": was.since, "reason": was.reason }),
        );
    }
}

/// How many rounds may be in flight at once: enough for rounds that each run to their deadline.
fn max_in_flight(h: &standby_core::config::Health) -> usize {
    (h.timeout.as_secs_f64() / h.interval.as_secs_f64().max(1e-3)).ceil() as usize + 2
}

/// The watch on the primary: the detector, and what its verdicts set in motion (state-machine
/// events, persisted verdicts, notifications).
struct Watch {
    detector: Detector,
    ready_sent: bool,
    /// How long the primary has been up, for automatic failback.
    stability: standby_core::failback::Stability,
    last_persisted: Option<chrono::DateTime<chrono::Utc>>,
    /// The unarmed warning went out for this process (once, not per round).
    unarmed_sent: bool,
    /// The last decision logged at info: a verdict applied every round logs only news.
    last_reason: String,
    /// Each peer's verdict document as last read and since when (this host's clock) it has
    /// not changed.
    peers: std::collections::HashMap<String, (crate::store::Version, tokio::time::Instant)>,
}

impl Watch {
    fn new(health: &standby_core::config::Health) -> Watch {
        Watch {
            detector: Detector::new(health.clone()),
            ready_sent: false,
            stability: Default::default(),
            last_persisted: None,
            unarmed_sent: false,
            last_reason: String::new(),
            peers: Default::default(),
        }
    }

    /// Reads the other instances' published verdicts and judges them as `health.vantage` says.
    async fn peers_agree(&mut self, ctx: &Ctx) -> standby_core::vantage::Agreement {
        let me = ctx
            .lease
            .as_ref()
            .map(|l| l.instance.clone())
            .unwrap_or_default();
        let published = match journal::read_peer_verdicts(&ctx.store).await {
            Ok(p) => p,
            Err(e) => {
                return standby_core::vantage::Agreement {
                    agree: false,
                    reason: format!("the peers' verdicts could not be read: {e}"),
                    streak_start: None,
                    last_good: None,
                };
            }
        };
        let now = tokio::time::Instant::now();
        let mut read = Vec::new();
        for p in published {
            let (name, Ok(v)) = (p.instance, p.verdict) else {
                continue;
            };
            if name == me {
                continue;
            }
            let since = match self.peers.get(&name) {
                Some((version, since)) if *version == p.version => *since,
                _ => {
                    self.peers.insert(name.clone(), (p.version, now));
                    now
                }
            };
            read.push((name, v, now - since));
        }
        let peers: Vec<standby_core::vantage::Peer<'_>> = read
            .iter()
            .map(
                |(instance, verdict, unchanged_for)| standby_core::vantage::Peer {
                    instance,
                    verdict,
                    unchanged_for: *unchanged_for,
                },
            )
            .collect();
        standby_core::vantage::judge(ctx.cfg.health.vantage, &peers, ctx.cfg.health.stale_after())
    }

    /// Judges a round; the event to apply, if any, with the evidence for a run it may start.
    /// `down` and `up` are applied every round they hold (level, not edge): what a failed write
    /// or a lost state missed is done on the next round.
    async fn on_round(
        &mut self,
        ctx: &Ctx,
        live: &Arc<Live>,
        round: standby_core::outcome::ProbeResult,
    ) -> Option<(Event, Vec<standby_core::outcome::ProbeResult>)> {
        use standby_core::outcome::OutcomeClass;
        live.metrics
            .probe("primary", "health", round.latency, round.outcome.as_str());
        if round.outcome == OutcomeClass::Local {
            impair(
                ctx,
                live,
                Impairment::Probe,
                format!(
                    "this host could not send the probe of the primary: {}",
                    round.detail
                ),
            );
        } else {
            mend(ctx, live, Impairment::Probe);
        }
        let verdict = self.detector.observe(&round);
        if !self.ready_sent {
            self.ready_sent = true;
            crate::sdnotify::ready(&format!("probing the primary: {}", verdict.reason));
        }
        self.notify(ctx, &verdict);
        if verdict.changed {
            live.metrics
                .verdict_changed(&format!("{:?}", verdict.health).to_lowercase());
            crate::sdnotify::status(&format!("primary {:?}: {}", verdict.health, verdict.reason));
        } else if round.outcome != OutcomeClass::Ok && verdict.health != Health::Down {
            info!(health = ?verdict.health, "{}", verdict.reason);
        } else {
            debug!(health = ?verdict.health, "{}", verdict.reason);
        }
        // Persisted on every change and often enough between them that it never goes stale
        // while this daemon probes: readers treat a verdict past `fresh_until` as unknown.
        let refresh =
            chrono::Duration::from_std(ctx.cfg.health.stale_after() / 3).unwrap_or_default();
        if verdict.changed
            || self
                .last_persisted
                .is_none_or(|p| verdict.at - p >= refresh)
        {
            if let Some(lease) = &ctx.lease
                && let Err(e) =
                    journal::write_peer_verdict(&ctx.store, &lease.instance, &verdict).await
            {
                warn!("publishing this instance's verdict: {e}");
            }
            let written = if ctx.may_act() {
                journal::write_verdict(&ctx.store, &verdict).await
            } else {
                Ok(())
            };
            match written {
                Ok(()) => {
                    self.last_persisted = Some(verdict.at);
                    if ctx.may_act() {
                        mend(ctx, live, Impairment::Persist);
                    }
                }
                Err(e) => {
                    error!("persisting the verdict: {e}");
                    if let journal::JournalError::Store(s) = &e
                        && s.is_local()
                    {
                        impair(
                            ctx,
                            live,
                            Impairment::Persist,
                            format!("persisting the verdict: {e}"),
                        );
                    }
                }
            }
        }
        let stable = self
            .stability
            .observe(
                verdict.health,
                verdict.at,
                chrono::Utc::now(),
                ctx.cfg.failback.stable_for,
            )
            .filter(|_| ctx.cfg.failback.mode == standby_core::config::Mode::Automatic);
        let probe = ctx.cfg.primary.endpoint.clone();
        let event = match verdict.health {
            Health::Down => Event::PrimaryDown {
                reason: verdict.reason.clone(),
                streak_start: verdict.streak_start.unwrap_or(verdict.at),
                last_good: verdict.last_good,
                probe: probe.clone(),
            },
            Health::Up if stable.is_some() => Event::PrimaryStable {
                reason: format!(
                    "the primary has been healthy since {} (stable_for {})",
                    stable.unwrap_or(verdict.at).to_rfc3339(),
                    standby_core::duration::human(ctx.cfg.failback.stable_for)
                ),
            },
            Health::Up => Event::PrimaryUp {
                reason: verdict.reason.clone(),
                probe: probe.clone(),
            },
            Health::Unknown => return None,
        };
        if matches!(event, Event::PrimaryStable { .. }) {
            let (state, _) = journal::read_state(&ctx.store).await.ok()?;
            if state.serving != standby_core::machine::Serving::Standby {
                return None;
            }
            self.stability.reported();
        }
        Some((event, verdict.evidence.clone()))
    }

    /// One webhook per verdict change, except inside a flapping episode: one when it begins
    /// (with the count so far) and one when it ends.
    fn notify(&self, ctx: &Ctx, verdict: &standby_core::detector::Verdict) {
        use standby_core::detector::Notice;
        let name = &ctx.cfg.service.name;
        let health = format!("{:?}", verdict.health).to_lowercase();
        match verdict.notice {
            Notice::Quiet => {}
            Notice::Send => {
                info!(health = ?verdict.health, "verdict changed: {}", verdict.reason);
                ctx.notifier.send(
                    "verdict",
                    format!("{name}: primary {health}: {}", verdict.reason),
                    None,
                    serde_json::json!({ "health": verdict.health, "reason": verdict.reason, "rule": verdict.rule }),
                );
            }
            Notice::FlappingBegan { changes } => {
                let text = format!(
                    "{name}: primary FLAPPING: {changes} verdict changes within {}; now {health}: {}; further changes are counted, not sent, until it is quiet for {}",
                    standby_core::duration::human(ctx.cfg.health.flap_window),
                    verdict.reason,
                    standby_core::duration::human(ctx.cfg.health.flap_window)
                );
                warn!("{text}");
                ctx.notifier.send(
                    "flapping",
                    text,
                    None,
                    serde_json::json!({ "flapping": true, "changes": changes, "health": verdict.health, "reason": verdict.reason }),
                );
            }
            Notice::Suppressed => {
                info!(health = ?verdict.health, "verdict changed (flapping: counted, not notified): {}", verdict.reason);
            }
        }
        if let Some(e) = &verdict.flap_ended {
            let text = format!(
                "{name}: primary no longer flapping: {} verdict changes from {} to {}; now {health}",
                e.changes,
                e.since.to_rfc3339(),
                e.last_change.to_rfc3339()
            );
            info!("{text}");
            ctx.notifier.send(
                "flapping",
                text,
                None,
                serde_json::json!({ "flapping": false, "changes": e.changes, "since": e.since, "last_change": e.last_change, "health": verdict.health }),
            );
        }
    }
}

/// Starts a synthetic probe of the standby when `[probes] schedule` says one is due.
async fn probe_if_due(ctx: &Ctx, live: &Arc<Live>) -> Option<JoinHandle<()>> {
    let schedule = ctx.cfg.probes.schedule.as_ref()?;
    let log = crate::smoke::client::read_log(&ctx.store, standby_core::config::Side::Standby)
        .await
        .ok()?;
    if !schedule.due(log.last.as_ref().map(|l| l.at), chrono::Utc::now()) {
        return None;
    }
    let (ctx, live) = (ctx.clone(), live.clone());
    Some(tokio::spawn(async move {
        let r = crate::smoke::client::probe(
            &ctx.cfg,
            &ctx.clients,
            standby_core::config::Side::Standby,
        )
        .await;
        let class = if r.ok {
            "ok"
        } else if r.drift {
            "drift"
        } else {
            "failed"
        };
        let latency = std::time::Duration::from_millis(r.latency_ms.unwrap_or(0));
        live.metrics.probe("standby", "synthetic", latency, class);
        if r.drift {
            warn!("standby DRIFT: {}", r.reason);
        } else if r.ok {
            info!("{}", r.reason);
        } else {
            warn!("{}", r.reason);
        }
        if let Err(e) = crate::smoke::client::record(&ctx.store, &r).await {
            error!("recording the standby probe: {e}");
        }
        // With the standby's probe, the capacity behind it: both sides' groups, for /metrics.
        crate::world::read_groups(&ctx).await;
        // With the standby's probe, the data-plane flip's other half: the failover records and
        // the gate's health check, read (and remembered) while Route 53's control plane answers.
        if let standby_core::config::DnsMethod::FailoverRecords(_) = ctx.cfg.dns.method {
            let (setup, unread) = crate::world::read_setup(&ctx).await;
            for c in standby_core::dns_setup::checks(&ctx.cfg, setup.as_ref(), unread.as_deref()) {
                if !c.ok || c.warning {
                    warn!("dns setup: {}: {}", c.name, c.reason);
                }
            }
        }
    }))
}

/// The event for a drill that is due; a missed one is only said.
fn scheduled_drill(due: Option<standby_core::drills::Due>) -> Option<Event> {
    use standby_core::drills::Due;
    match due? {
        Due::Start { kind, schedule } => Some(Event::ScheduledDrill { kind, schedule }),
        Due::Missed { kind, firing } => {
            warn!(
                "scheduled {} at {} missed its window (more than {} late); waiting for the next firing",
                kind.as_str(),
                firing.to_rfc3339(),
                standby_core::drills::GRACE
            );
            None
        }
    }
}

/// Runs each artifact set on its own cron schedule: one run of a set at a time, a missed firing
/// once, and an interrupted run (the daemon stopped mid-sync) again at once, since only a
/// published manifest counts.
struct SyncScheduler {
    live: Arc<Live>,
    paused: bool,
    engine: Arc<crate::sync::engine::Engine>,
    running: std::collections::BTreeSet<String>,
    tasks: tokio::task::JoinSet<(
        String,
        Result<crate::sync::engine::SetOutcome, crate::sync::engine::SyncError>,
    )>,
}

impl SyncScheduler {
    fn new(ctx: &Ctx, live: Arc<Live>) -> Self {
        SyncScheduler {
            engine: Arc::new(ctx.sync_engine()),
            running: Default::default(),
            tasks: tokio::task::JoinSet::new(),
            live,
            paused: false,
        }
    }

    async fn start_due(&mut self) {
        let now = chrono::Utc::now();
        // A sync writes to the standby: an action, so `pause` holds it (a primary whose
        // artifacts went bad must not be copied over the good standby while people look).
        let paused = journal::read_state(&self.engine.store)
            .await
            .map(|(s, _)| s.paused)
            .unwrap_or(false);
        if paused != self.paused {
            self.paused = paused;
            if paused {
                info!("actions paused: scheduled artifact syncs wait until `standby resume`");
            }
        }
        if paused {
            return;
        }
        for set in self.engine.cfg.artifacts.clone() {
            if self.running.contains(&set.name) {
                continue;
            }
            let st = crate::sync::engine::read_state(&self.engine.store, &set.name).await;
            let interrupted = st
                .last_started_at
                .is_some_and(|s| st.last_finished_at.is_none_or(|f| f < s));
            if !(interrupted || set.schedule.due(st.last_started_at, now)) {
                continue;
            }
            info!(set = %set.name, "artifact sync due ({}){}", set.schedule.text(), if interrupted { "; the last run was interrupted" } else { "" });
            self.running.insert(set.name.clone());
            let engine = self.engine.clone();
            self.tasks.spawn(async move {
                (
                    set.name.clone(),
                    engine
                        .run(&set, standby_core::sync::Direction::Forward, false)
                        .await,
                )
            });
        }
    }

    /// Takes in a finished sync; `true` when it published.
    fn finished(
        &mut self,
        done: Result<
            (
                String,
                Result<crate::sync::engine::SetOutcome, crate::sync::engine::SyncError>,
            ),
            tokio::task::JoinError,
        >,
    ) -> bool {
        match done {
            Ok((name, result)) => {
                self.running.remove(&name);
                match result {
                    Ok(o) => {
                        self.live.metrics.sync(
                            &name,
                            o.incomplete.is_none(),
                            o.plan.bytes,
                            std::time::Duration::from_millis(o.duration_ms),
                        );
                        if let Some(r) = &o.rpo {
                            let line = r.line();
                            if r.over_objective {
                                warn!(set = %name, "{line}")
                            } else {
                                info!(set = %name, "{line}")
                            }
                        }
                        o.incomplete.is_none()
                    }
                    Err(e) => {
                        self.live
                            .metrics
                            .sync(&name, false, 0, std::time::Duration::ZERO);
                        error!(set = %name, "artifact sync failed: {e}");
                        false
                    }
                }
            }
            Err(e) => {
                error!("artifact sync task ended abnormally: {e}");
                false
            }
        }
    }
}

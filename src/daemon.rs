//! `standby serve`: probe the primary on an interval, feed the detector, act on its verdicts,
//! and resume any run a previous process left unfinished.
//!
//! Shutdown is passed in (as in mini-redis's `server::run`): when it fires, a running step is
//! allowed to finish, the journal is written, and `run` returns, so systemd's stop is a clean exit.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::core::detector::{Detector, Health};
use crate::core::machine::Event;
use crate::executor::{Ctx, ExecError, RunEnd};
use crate::journal;
use crate::prober::Prober;
use crate::runbook::RunbookKind;
use crate::runner;

pub async fn run(
    mut ctx: Ctx,
    mut shutdown: watch::Receiver<bool>,
    mut reload: watch::Receiver<u64>,
) -> Result<(), ExecError> {
    let (state, _) = journal::read_state(&ctx.store).await?;
    info!(
        service = %ctx.cfg.service.name,
        "serving state {} (paused: {}); probing {} every {}",
        state.serving.label(), state.paused, ctx.cfg.primary.endpoint, crate::duration::human(ctx.cfg.health.interval)
    );
    let live = Arc::new(crate::control::Live::default());
    live.beat();
    crate::control::start(&ctx, live.clone(), shutdown.clone()).await?;
    let mut prober = Prober::new(&ctx.cfg.health);
    let mut watch = Watch::new(&ctx.cfg.health);
    let mut rounds: std::collections::VecDeque<JoinHandle<crate::core::outcome::ProbeResult>> =
        Default::default();
    let mut ticker = tokio::time::interval(ctx.cfg.health.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running: Option<JoinHandle<Result<RunEnd, ExecError>>> = None;
    let mut syncs = SyncScheduler::new(&ctx, live.clone());
    let mut sync_tick = tokio::time::interval(std::time::Duration::from_secs(1));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probing: Option<JoinHandle<()>> = None;
    let mut drills = DrillScheduler::new(&ctx.cfg.drills.scheduled, chrono::Utc::now());
    let watchdog = crate::sdnotify::watchdog_interval();

    loop {
        live.beat();
        if watchdog.is_some() {
            crate::sdnotify::watchdog();
        }
        tokio::select! {
            _ = shutdown.changed() => {
                crate::sdnotify::stopping();
                if let Some(handle) = running.take() {
                    info!("shutdown: letting the current step finish, then stopping at a safe point");
                    report_end(handle.await);
                }
                // Here, not only in the endpoint's task: the process may end before that runs.
                let _ = std::fs::remove_file(&ctx.cfg.control.socket);
                info!("shutdown complete");
                return Ok(());
            }
            Ok(()) = reload.changed() => {
                crate::sdnotify::reloading();
                match crate::config::Config::load(&ctx.cfg.path) {
                    Ok((cfg, warnings)) => {
                        for w in &warnings.items {
                            warn!("config reload: {w}");
                        }
                        if cfg.health != ctx.cfg.health {
                            watch.detector = Detector::new(cfg.health.clone());
                            ticker = tokio::time::interval(cfg.health.interval);
                            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            prober = Prober::new(&cfg.health);
                        }
                        drills = DrillScheduler::new(&cfg.drills.scheduled, chrono::Utc::now());
                        ctx.cfg = Arc::new(cfg);
                        syncs.engine = Arc::new(ctx.sync_engine());
                        info!("config reloaded from {} ({}); a run in progress keeps the config it started with; [aws] and [control] changes need a restart", ctx.cfg.path.display(), ctx.cfg.digest);
                    }
                    Err(diags) => {
                        let n = diags.errors().count();
                        for d in &diags.items {
                            error!("config reload: {d}");
                        }
                        error!("config reload rejected: {n} error(s) in {}; the running config stays", ctx.cfg.path.display());
                    }
                }
                crate::sdnotify::ready("config reloaded");
            }
            _ = sync_tick.tick() => {
                syncs.start_due().await;
                if probing.as_ref().is_none_or(|p| p.is_finished()) {
                    probing = probe_if_due(&ctx, &live).await;
                }
                if running.is_none()
                    && let Some(event) = drills.due(chrono::Utc::now())
                {
                    match runner::start(&ctx, &event, RunbookKind::DrillStandby, vec![], None).await {
                        Ok((decision, owned)) => {
                            info!("scheduled drill: {}", decision.reason);
                            if let Some(owned) = owned {
                                running = Some(spawn_drive(&ctx, owned));
                            }
                        }
                        Err(e) => error!("starting the scheduled drill: {e}"),
                    }
                }
            }
            Some(done) = syncs.tasks.join_next(), if !syncs.tasks.is_empty() => syncs.finished(done),
            joined = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                running = None;
                report_end(joined);
            }
            _ = ticker.tick() => {
                if running.is_none() {
                    match runner::adopt_unfinished(&ctx).await {
                        Ok(Some(owned)) => {
                            info!(run = %owned.journal.record.id, "found an unfinished run; resuming it");
                            running = Some(spawn_drive(&ctx, owned));
                        }
                        Ok(None) => {}
                        Err(e) => error!("checking for unfinished runs: {e}"),
                    }
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
                if let Some(handle) = watch.on_round(&ctx, &live, round).await? {
                    running = Some(handle);
                }
            }
        }
    }
}

/// How many rounds may be in flight at once: enough for rounds that each run to their deadline.
fn max_in_flight(h: &crate::config::Health) -> usize {
    (h.timeout.as_secs_f64() / h.interval.as_secs_f64().max(1e-3)).ceil() as usize + 2
}

/// The watch on the primary: the detector, and what its verdicts set in motion (state-machine
/// events, persisted verdicts, notifications).
struct Watch {
    detector: Detector,
    ready_sent: bool,
    /// Since when the primary has been up without interruption, for automatic failback.
    up_since: Option<chrono::DateTime<chrono::Utc>>,
    stable_sent: bool,
    last_persisted: Option<chrono::DateTime<chrono::Utc>>,
    /// The unarmed warning went out for this process (once, not per round).
    unarmed_sent: bool,
}

impl Watch {
    fn new(health: &crate::config::Health) -> Watch {
        Watch {
            detector: Detector::new(health.clone()),
            ready_sent: false,
            up_since: None,
            stable_sent: false,
            last_persisted: None,
            unarmed_sent: false,
        }
    }

    async fn on_round(
        &mut self,
        ctx: &Ctx,
        live: &Arc<crate::control::Live>,
        round: crate::core::outcome::ProbeResult,
    ) -> Result<Option<JoinHandle<Result<RunEnd, ExecError>>>, ExecError> {
        live.metrics
            .probe("primary", "health", round.latency, round.outcome.as_str());
        let verdict = self.detector.observe(&round);
        if !self.ready_sent {
            self.ready_sent = true;
            crate::sdnotify::ready(&format!("probing the primary: {}", verdict.reason));
        }
        self.notify(ctx, &verdict);
        if verdict.changed {
            crate::sdnotify::status(&format!("primary {:?}: {}", verdict.health, verdict.reason));
        } else if round.outcome != crate::core::outcome::OutcomeClass::Ok
            && verdict.health != Health::Down
        {
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
            match journal::write_verdict(&ctx.store, &verdict).await {
                Ok(()) => self.last_persisted = Some(verdict.at),
                Err(e) => error!("persisting the verdict: {e}"),
            }
        }
        match verdict.health {
            Health::Up => {
                self.up_since.get_or_insert(verdict.at);
            }
            _ => {
                self.up_since = None;
                self.stable_sent = false;
            }
        }
        let stable = self.up_since.filter(|since| {
            !self.stable_sent
                && ctx.cfg.failback.mode == crate::config::Mode::Automatic
                && crate::duration::between(*since, chrono::Utc::now())
                    >= ctx.cfg.failback.stable_for
        });
        let probe = ctx.cfg.primary.endpoint.clone();
        let event = match (verdict.changed, verdict.health) {
            (true, Health::Down) => Some(Event::PrimaryDown {
                reason: verdict.reason.clone(),
                streak_start: verdict.streak_start.unwrap_or(verdict.at),
                probe: probe.clone(),
            }),
            (true, Health::Up) => Some(Event::PrimaryUp {
                reason: verdict.reason.clone(),
                probe: probe.clone(),
            }),
            _ => stable.map(|since| Event::PrimaryStable {
                reason: format!(
                    "the primary has been healthy since {} (stable_for {})",
                    since.to_rfc3339(),
                    crate::duration::human(ctx.cfg.failback.stable_for)
                ),
            }),
        };
        let Some(event) = event else { return Ok(None) };
        if matches!(event, Event::PrimaryStable { .. }) {
            let (state, _) = journal::read_state(&ctx.store).await?;
            if state.serving != crate::core::machine::Serving::Standby {
                return Ok(None);
            }
            self.stable_sent = true;
        }
        // Applied even while this process runs something: a drill must learn that the
        // primary failed (it yields), and the decision refuses anything else.
        match runner::start(
            ctx,
            &event,
            RunbookKind::Failover,
            verdict.evidence.clone(),
            None,
        )
        .await
        {
            Ok((decision, owned)) => {
                info!("decision: {}", decision.reason);
                let unarmed = matches!(event, Event::PrimaryDown { .. })
                    && ctx.cfg.failover.mode == crate::config::Mode::Automatic
                    && !decision.next.armed_for(&probe);
                if unarmed && !self.unarmed_sent {
                    self.unarmed_sent = true;
                    warn!("{}", decision.reason);
                    ctx.notifier.send(
                        "unarmed",
                        format!(
                            "{}: automatic failover is unarmed: {}",
                            ctx.cfg.service.name, decision.reason
                        ),
                        None,
                        serde_json::json!({ "probe": probe, "reason": decision.reason }),
                    );
                }
                Ok(owned.map(|owned| spawn_drive(ctx, owned)))
            }
            Err(e) => {
                error!("acting on the verdict: {e}");
                Ok(None)
            }
        }
    }

    /// One webhook per verdict change, except inside a flapping episode: one when it begins
    /// (with the count so far) and one when it ends.
    fn notify(&self, ctx: &Ctx, verdict: &crate::core::detector::Verdict) {
        use crate::core::detector::Notice;
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
                    crate::duration::human(ctx.cfg.health.flap_window),
                    verdict.reason,
                    crate::duration::human(ctx.cfg.health.flap_window)
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
async fn probe_if_due(ctx: &Ctx, live: &Arc<crate::control::Live>) -> Option<JoinHandle<()>> {
    let schedule = ctx.cfg.probes.schedule.as_ref()?;
    let log = crate::smoke::client::read_log(&ctx.store, crate::config::Side::Standby)
        .await
        .ok()?;
    if !schedule.due(log.last.as_ref().map(|l| l.at), chrono::Utc::now()) {
        return None;
    }
    let (ctx, live) = (ctx.clone(), live.clone());
    Some(tokio::spawn(async move {
        let r =
            crate::smoke::client::probe(&ctx.cfg, &ctx.clients, crate::config::Side::Standby).await;
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
    }))
}

/// `[[drills]]` schedules. A drill fires only close to its scheduled time: a daemon that was
/// down at 03:00 does not start a full drill at 10:00, when the operator's window is over.
struct DrillScheduler {
    entries: Vec<(crate::config::ScheduledDrill, chrono::DateTime<chrono::Utc>)>,
}

/// How late after its firing a scheduled drill may still start.
const DRILL_GRACE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

impl DrillScheduler {
    fn new(
        scheduled: &[crate::config::ScheduledDrill],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        DrillScheduler {
            entries: scheduled.iter().map(|d| (d.clone(), now)).collect(),
        }
    }

    fn due(&mut self, now: chrono::DateTime<chrono::Utc>) -> Option<Event> {
        for (d, armed) in &mut self.entries {
            let Some(firing) = d.schedule.next_after(*armed) else {
                continue;
            };
            if firing > now {
                continue;
            }
            *armed = now;
            if now - firing > DRILL_GRACE {
                warn!(
                    "scheduled {} at {} missed its window (now {}); waiting for the next firing",
                    d.kind.as_str(),
                    firing.to_rfc3339(),
                    now.to_rfc3339()
                );
                continue;
            }
            return Some(Event::ScheduledDrill {
                kind: d.kind,
                schedule: d.schedule.text().to_string(),
            });
        }
        None
    }
}

fn spawn_drive(ctx: &Ctx, owned: runner::OwnedRun) -> JoinHandle<Result<RunEnd, ExecError>> {
    let ctx = ctx.clone();
    tokio::spawn(async move { runner::drive(&ctx, owned).await })
}

fn report_end(joined: Result<Result<RunEnd, ExecError>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(RunEnd::Finished(r))) => {
            info!(run = %r.id, "run finished: {:?}, {}", r.status, r.reason)
        }
        Ok(Ok(RunEnd::Interrupted(r))) => {
            info!(run = %r.id, "run interrupted at a safe point; it resumes on restart")
        }
        Ok(Err(e)) => error!("run failed to execute: {e}; it resumes on the next tick or restart"),
        Err(e) => warn!("run task ended abnormally: {e}"),
    }
}

/// Runs each artifact set on its own cron schedule: one run of a set at a time, a missed firing
/// once, and an interrupted run (the daemon stopped mid-sync) again at once, since only a
/// published manifest counts.
struct SyncScheduler {
    live: Arc<crate::control::Live>,
    paused: bool,
    engine: Arc<crate::sync::engine::Engine>,
    running: std::collections::BTreeSet<String>,
    tasks: tokio::task::JoinSet<(
        String,
        Result<crate::sync::engine::SetOutcome, crate::sync::engine::SyncError>,
    )>,
}

impl SyncScheduler {
    fn new(ctx: &Ctx, live: Arc<crate::control::Live>) -> Self {
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
                        .run(&set, crate::sync::Direction::Forward, false)
                        .await,
                )
            });
        }
    }

    fn finished(
        &mut self,
        done: Result<
            (
                String,
                Result<crate::sync::engine::SetOutcome, crate::sync::engine::SyncError>,
            ),
            tokio::task::JoinError,
        >,
    ) {
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
                            let line = crate::ops::rpo_line(r);
                            if r.over_objective {
                                warn!(set = %name, "{line}")
                            } else {
                                info!(set = %name, "{line}")
                            }
                        }
                    }
                    Err(e) => {
                        self.live
                            .metrics
                            .sync(&name, false, 0, std::time::Duration::ZERO);
                        error!(set = %name, "artifact sync failed: {e}")
                    }
                }
            }
            Err(e) => error!("artifact sync task ended abnormally: {e}"),
        }
    }
}

//! The runbook executor: follows a journaled plan step by step.
//!
//! Guarantees: each step's start is durable before the step acts and its end is durable before
//! the next step starts; a finished step is never run again; an unfinished one is run again from
//! the top, which is safe because every action is idempotent (set capacity, UPSERT, probe).
//! Shutdown is honoured only between steps, so a step never stops half-way by request.
//!
//! A failover's step that fails (throttling past the SDK's retries, a timeout, a standby not
//! healthy yet) is retried at that step under `[failover]`'s retry policy
//! ([`standby_core::retry`]): each failed attempt is journaled with what followed, the wait is
//! journaled too (a restart waits out the same backoff), and the last one escalates. Resuming
//! at the failed step rather than from the top is safe for the same reason a crash resume is:
//! the steps before it finished and every step is idempotent.
//!
//! Caveats: a step interrupted by a crash is re-run, so its duration in the report covers the
//! attempt that finished; the time lost to the crash shows up as `other` in the RTO breakdown.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tracing::{info, warn};

use crate::context::Ctx;
use crate::journal::{Journal, JournalError, Note, RunRecord, RunStatus, StepStatus};
use standby_core::config::{Config, Side};
use standby_core::duration::human;
use standby_core::machine::Trigger;
use standby_core::outcome::{OutcomeClass, ProbeResult};
use standby_core::plan::{self, Changes, PlannedStep};
use standby_core::report;
use standby_core::runbook::{Action, OnFailure, RunbookKind};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("observing the world before planning: {0}")]
    Observe(#[from] standby_aws::AwsError),
    #[error(transparent)]
    Report(#[from] crate::reports::ReportsError),
}

#[derive(Debug)]
pub enum RunEnd {
    Finished(RunRecord),
    /// Stopped at a safe point by shutdown; resumes on the next start.
    Interrupted(RunRecord),
}

/// Creates a run: observe, plan, journal. Nothing in AWS changes here.
pub async fn create_run(
    ctx: &Ctx,
    id: &str,
    kind: RunbookKind,
    trigger: Trigger,
    evidence: Vec<ProbeResult>,
    world: &plan::World,
) -> Result<Journal, ExecError> {
    let cfg = &ctx.cfg;
    let books = plan::runbooks(kind, cfg);
    let plan = plan::plan_for(kind, cfg, world);
    let runs = crate::journal::list_runs(&ctx.store)
        .await
        .map(|r| r.records)
        .unwrap_or_default();
    let (estimates, estimates_from) = last_drill_estimates(&runs, &plan);
    let failover_steps = if kind == RunbookKind::DrillStandby {
        let models = models(ctx).await;
        failover_estimates(cfg, &runs, &models)
    } else {
        vec![]
    };
    let record = RunRecord {
        id: id.to_string(),
        kind,
        service: cfg.service.name.clone(),
        trigger,
        evidence,
        created_at: Utc::now(),
        finished_at: None,
        status: RunStatus::Running,
        reason: "running".into(),
        config_path: cfg.path.display().to_string(),
        runbook_path: books
            .iter()
            .map(|b| b.path.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        runbook_digest: books
            .iter()
            .map(|b| b.digest.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        rto_objective: cfg.service.rto,
        dns_ttl_s: cfg.dns.ttl,
        steps: RunRecord::step_records_for(&plan),
        plan,
        resumed_at: vec![],
        notes: vec![],
        breach_projected_at: None,
        detection_ms: standby_core::duration::millis(cfg.health.detection_time()),
        detection_min_ms: standby_core::duration::millis(cfg.health.streak_time()),
        estimates,
        estimates_from,
        config_digest: Some(cfg.digest.clone()),
        failover_steps,
        force: false,
        attempts: vec![],
        retry_at: None,
    };
    Ok(Journal::create(ctx.store.clone(), record).await?)
}

/// Step durations measured by the latest finished drill, keyed by what the step does, for the
/// steps of `plan`: projected RTO uses them in place of budgets.
fn last_drill_estimates(
    runs: &[RunRecord],
    plan: &plan::Plan,
) -> (std::collections::BTreeMap<String, u64>, Option<String>) {
    let Some(drill) = runs
        .iter()
        .rev()
        .find(|r| r.kind.is_drill() && r.finished_at.is_some())
    else {
        return Default::default();
    };
    let wanted: std::collections::BTreeSet<String> =
        plan.steps.iter().map(|s| s.action.key()).collect();
    let mut out = std::collections::BTreeMap::new();
    for (p, r) in drill.plan.steps.iter().zip(&drill.steps) {
        let key = p.action.key();
        if r.status == StepStatus::Succeeded
            && wanted.contains(&key)
            && let (Some(a), Some(b)) = (r.started_at, r.finished_at)
        {
            out.insert(
                key,
                standby_core::duration::millis(standby_core::duration::between(a, b)),
            );
        }
    }
    let from = (!out.is_empty()).then(|| drill.id.clone());
    (out, from)
}

/// Models for what a standby drill cannot run, by action key: each states its numbers.
async fn models(ctx: &Ctx) -> std::collections::BTreeMap<String, crate::journal::Model> {
    use crate::journal::Model;
    let cfg = &ctx.cfg;
    let mut out = std::collections::BTreeMap::new();
    // DNS: the API round trip measured now (UPSERT + one GetChange at best), and AWS's
    // statement that changes reach every authoritative server within 60 s under normal
    // conditions (the INSYNC wait at worst).
    let t0 = std::time::Instant::now();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        standby_aws::dns::current(
            &ctx.clients.route53,
            &cfg.dns.zone_id,
            &cfg.dns.name,
            cfg.dns.record_type,
        ),
    )
    .await;
    let rt = standby_core::duration::millis(t0.elapsed());
    const PROPAGATION_MS: u64 = 60_000;
    let (low, why) = match read {
        Ok(Ok(_)) => (
            2 * rt,
            format!(
                "a Route 53 read took {} from here now",
                standby_core::duration::human(Duration::from_millis(rt))
            ),
        ),
        _ => (
            0,
            "Route 53 did not answer a read within 5s from here now".to_string(),
        ),
    };
    out.insert(
        Action::FlipDns { to: Side::Standby }.key(),
        Model {
            ms: low + PROPAGATION_MS,
            low_ms: low,
            high_ms: low + PROPAGATION_MS,
            source: format!(
                "model: UPSERT + GetChange until INSYNC; {why}; AWS: changes reach all Route 53 authoritative servers within 60s under normal conditions, counted in full"
            ),
        },
    );
    // Final sync: best effort and time-boxed; the slowest set's last scheduled sync is the
    // figure, the time box the high end.
    if let Some(step) = cfg
        .failover
        .runbook
        .steps
        .iter()
        .find(|s| s.action == Action::FinalSync)
    {
        let bx = standby_core::duration::millis(step.timeout.saturating_sub(step.timeout / 10));
        let mut slowest: Option<(u64, String)> = None;
        for a in &cfg.artifacts {
            let st = crate::sync::engine::read_state(&ctx.store, &a.name).await;
            if let (Some(s), Some(f), Some(true)) =
                (st.last_started_at, st.last_finished_at, st.last_ok)
            {
                let d = standby_core::duration::millis(standby_core::duration::between(s, f));
                if slowest.as_ref().is_none_or(|(m, _)| d > *m) {
                    slowest = Some((d, a.name.clone()));
                }
            }
        }
        let (ms, why) = match (cfg.artifacts.is_empty(), slowest) {
            (true, _) => (0, "no artifact sets configured".to_string()),
            (false, Some((d, set))) => (
                d.min(bx),
                format!(
                    "the slowest set's last scheduled sync ({set}) took {}",
                    standby_core::duration::human(Duration::from_millis(d))
                ),
            ),
            (false, None) => (bx, "no set has synced yet".to_string()),
        };
        out.insert(
            Action::FinalSync.key(),
            Model {
                ms,
                // Every branch above keeps the figure within the time box.
                low_ms: ms,
                high_ms: if cfg.artifacts.is_empty() { 0 } else { bx },
                source: format!(
                    "model: {why}; the final sync is best effort and stops at its time box ({})",
                    standby_core::duration::human(Duration::from_millis(bx))
                ),
            },
        );
    }
    out
}

/// The failover runbook's steps with the latest duration a failover (or full drill) measured
/// for each, else a model: what a standby drill cannot measure itself (final sync, DNS flip).
fn failover_estimates(
    cfg: &Config,
    runs: &[RunRecord],
    models: &std::collections::BTreeMap<String, crate::journal::Model>,
) -> Vec<crate::journal::StepEstimate> {
    let budget = plan::action_budget(cfg);
    let steps: Vec<&standby_core::runbook::Step> = cfg
        .failover
        .runbook
        .steps
        .iter()
        .filter(|s| s.action != Action::Report && !s.cleanup)
        .collect();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let key = s.action.key();
            // The n-th step doing this (a failover verifies the standby twice, the second time
            // already warm): matched with the n-th such step of an earlier run.
            let nth = steps[..i].iter().filter(|o| o.action.key() == key).count();
            // A verify after the flip restores service at its first good answer.
            let restores = matches!(s.action, Action::Verify { .. })
                && steps[..i]
                    .iter()
                    .any(|o| matches!(o.action, Action::FlipDns { .. }));
            let last = runs.iter().rev().find_map(|r| {
                if !matches!(r.kind, RunbookKind::Failover | RunbookKind::DrillFull) {
                    return None;
                }
                let (_, rec) = r
                    .plan
                    .steps
                    .iter()
                    .zip(&r.steps)
                    .filter(|(p, _)| p.phase == "failover" && p.action.key() == key)
                    .nth(nth)?;
                let end = if restores {
                    report::first_ok_at(rec).or(rec.finished_at)
                } else {
                    rec.finished_at
                };
                match (rec.status, rec.started_at, end) {
                    (StepStatus::Succeeded, Some(a), Some(b)) => Some((
                        standby_core::duration::millis(standby_core::duration::between(a, b)),
                        r.id.clone(),
                    )),
                    _ => None,
                }
            });
            crate::journal::StepEstimate {
                name: s.name.clone(),
                nth,
                key,
                budget_ms: standby_core::duration::millis(budget.mul_f64(s.budget)),
                last_ms: last.as_ref().map(|l| l.0),
                last_from: last.map(|l| l.1),
                restores,
                model: models.get(&s.action.key()).cloned(),
            }
        })
        .collect()
}

/// Runs (or resumes) a journaled run to its end or to a requested stop.
pub async fn execute(ctx: &Ctx, journal: &mut Journal) -> Result<RunEnd, ExecError> {
    let total = journal.record.steps.len();
    let mut warned_breach = journal.record.breach_projected_at.is_some();
    if journal
        .record
        .steps
        .iter()
        .any(|s| s.status != StepStatus::Pending)
        && journal.record.status == RunStatus::Running
    {
        journal.record.resumed_at.push(Utc::now());
        info!(run = %journal.record.id, "resuming run at step {}", journal.record.next_step().map(|i| i + 1).unwrap_or(total));
        journal.save().await?;
    } else if journal
        .record
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Pending)
    {
        ctx.notifier.send(
            "run_started",
            format!(
                "{} {} started: {}",
                ctx.cfg.service.name,
                journal.record.kind.as_str(),
                trigger_text(&journal.record)
            ),
            Some(&journal.record.id),
            json!({ "kind": journal.record.kind, "trigger": journal.record.trigger }),
        );
    }
    if !wait_for_approval(ctx, journal).await? {
        let r = journal.record.clone();
        return Ok(RunEnd::Interrupted(r));
    }
    while let Some(i) = journal.record.next_step() {
        if *ctx.shutdown.borrow() {
            let name = journal.record.steps[i].name.clone();
            journal.record.notes.push(Note {
                at: Utc::now(),
                text: format!("shutdown requested: stopped before step {name}; resumes on restart"),
            });
            journal.save().await?;
            info!(run = %journal.record.id, "stopped at a safe point before step {name}; the run resumes on restart");
            return Ok(RunEnd::Interrupted(journal.record.clone()));
        }
        if journal.record.status == RunStatus::Running
            && let Some(why) = abort_requested(ctx, &journal.record).await
        {
            abort(&mut journal.record, i, &why);
            warn!(run = %journal.record.id, "{}", journal.record.reason);
            journal.save().await?;
            continue;
        }
        if let Some(at) = journal.record.retry_at {
            if !wait_until(ctx, at).await {
                let name = journal.record.steps[i].name.clone();
                journal.record.notes.push(Note {
                    at: Utc::now(),
                    text: format!(
                        "shutdown requested while waiting to retry step {name}; the wait and the retry resume on restart"
                    ),
                });
                journal.save().await?;
                return Ok(RunEnd::Interrupted(journal.record.clone()));
            }
            journal.record.retry_at = None;
            let automatic = matches!(journal.record.trigger, Trigger::Automatic { .. });
            if let (true, standby_core::retry::Primary::Up { reason }) =
                (automatic, primary_now(ctx).await)
            {
                let why = format!(
                    "the primary is healthy again ({reason}) while step {} waited for its retry",
                    journal.record.steps[i].name
                );
                abort(&mut journal.record, i, &why);
                warn!(run = %journal.record.id, "{}", journal.record.reason);
            }
            journal.save().await?;
            continue;
        }
        let step = journal.record.plan.steps[i].clone();
        test_hold(ctx, &format!("before:{}", step.name)).await;

        let now = Utc::now();
        {
            let rec = &mut journal.record.steps[i];
            rec.status = StepStatus::Running;
            rec.started_at = Some(now);
            rec.attempts += 1;
        }
        journal.save().await?;
        let projected = report::projected_rto(&journal.record, now);
        info!(
            run = %journal.record.id,
            "step {}/{total} {} [{}] started: budget {}, projected RTO {} / objective {}",
            i + 1, step.name, step.action.name(), human(step.budget), human(projected), human(ctx.cfg.service.rto)
        );
        if !warned_breach && projected > ctx.cfg.service.rto {
            warned_breach = true;
            breach_note(
                ctx,
                journal,
                projected,
                &format!("at the start of step {}", step.name),
            );
            journal.save().await?;
        }
        test_hold(ctx, &format!("started:{}", step.name)).await;

        let timed = tokio::time::timeout(step.timeout, run_step(ctx, &journal.record, &step));
        // A drill's own steps yield to a real failure at once; cleanup steps always finish.
        let yields = journal.record.kind.is_drill() && !step.cleanup;
        let outcome = tokio::select! {
            o = timed => match o {
                Ok(o) => o,
                Err(_) => StepOutcome::failed(
                    format!("timed out after {}", human(step.timeout)),
                    json!({}),
                ),
            },
            why = wait_for_abort(ctx, &journal.record), if yields => {
                StepOutcome::failed(format!("interrupted: {why}"), json!({}))
            }
        };
        let finished = Utc::now();
        let took = standby_core::duration::between(now, finished);
        {
            let rec = &mut journal.record.steps[i];
            rec.finished_at = Some(finished);
            rec.status = if outcome.ok {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            };
            rec.reason = outcome.reason.clone();
            rec.details = outcome.details;
        }
        if outcome.ok {
            info!(run = %journal.record.id, "step {}/{total} {} succeeded in {}: {}", i + 1, step.name, human(took), outcome.reason);
        } else {
            warn!(run = %journal.record.id, "step {}/{total} {} FAILED after {}: {}", i + 1, step.name, human(took), outcome.reason);
            ctx.notifier.send(
                "step_failed",
                format!(
                    "{} {}: step {} failed: {}",
                    ctx.cfg.service.name,
                    journal.record.kind.as_str(),
                    step.name,
                    outcome.reason
                ),
                Some(&journal.record.id),
                json!({ "step": step.name, "reason": outcome.reason }),
            );
        }
        let projected = report::projected_rto(&journal.record, finished);
        if !warned_breach && projected > ctx.cfg.service.rto {
            warned_breach = true;
            breach_note(
                ctx,
                journal,
                projected,
                &format!("after step {}", step.name),
            );
        }
        if !outcome.ok
            && journal.record.status == RunStatus::Running
            && let Some(why) = abort_requested(ctx, &journal.record).await
        {
            abort(&mut journal.record, i + 1, &why);
        } else if !outcome.ok
            && journal.record.force
            && matches!(step.action, Action::Verify { .. })
            && journal.record.status == RunStatus::Running
        {
            let text = format!(
                "step {} failed but the run goes on: --force (the next flip may point DNS at a side that failed verification)",
                step.name
            );
            warn!(run = %journal.record.id, "{text}");
            journal.record.notes.push(Note { at: finished, text });
        } else if !outcome.ok
            && step.on_failure == OnFailure::Abort
            && journal.record.status == RunStatus::Running
        {
            let why = format!("step {} failed: {}", step.name, outcome.reason);
            if journal.record.kind == RunbookKind::Failover {
                retry_or_give_up(ctx, journal, i, &outcome.reason, finished).await;
            } else {
                abort(&mut journal.record, i + 1, &why);
            }
        }
        journal.save().await?;
        test_hold(ctx, &format!("after:{}", step.name)).await;
    }
    finish(ctx, journal).await?;
    Ok(RunEnd::Finished(journal.record.clone()))
}

/// Ends the run as failed and skips every later step but the cleanup steps, which still run.
fn abort(run: &mut RunRecord, from: usize, why: &str) {
    for (p, later) in run.plan.steps.iter().zip(run.steps.iter_mut()).skip(from) {
        if !p.cleanup && matches!(later.status, StepStatus::Pending | StepStatus::Running) {
            later.status = StepStatus::Skipped;
            later.reason = format!("skipped: the run was aborted ({why})");
        }
    }
    run.status = RunStatus::Failed;
    run.reason = format!("aborted: {why}");
}

/// A failover's step failed: journal the attempt and either set the step up to run again after
/// the policy's wait (escalating when the policy says so), or end the run and escalate.
async fn retry_or_give_up(
    ctx: &Ctx,
    journal: &mut Journal,
    i: usize,
    failure: &str,
    now: chrono::DateTime<Utc>,
) {
    use crate::journal::{AttemptNext, FailedAttempt};
    use standby_core::retry::{Next, after_failure};
    let run = &mut journal.record;
    // Attempts are counted per step: a step that went through proved the run is not stuck, so
    // the next step's troubles get their own attempts (the run stays bounded: steps × attempts).
    let step_name = run.steps[i].name.clone();
    let failed = u32::try_from(run.attempts.iter().filter(|a| a.step == step_name).count())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let automatic = matches!(run.trigger, Trigger::Automatic { .. });
    let policy = ctx.cfg.failover.retry;
    let d = after_failure(&policy, failed, automatic, &primary_now(ctx).await, now);
    let step = run.steps[i].name.clone();
    let next = match d.next {
        Next::Retry { .. } => AttemptNext::Retry,
        Next::Stop => AttemptNext::Stop,
        Next::GiveUp => AttemptNext::GiveUp,
    };
    run.attempts.push(FailedAttempt {
        attempt: failed,
        step: step.clone(),
        at: now,
        reason: failure.to_string(),
        next,
        then: d.reason.clone(),
    });
    let why = format!("step {step} failed: {failure}");
    let id = run.id.clone();
    let escalate = |text: String| {
        warn!(run = %id, "ESCALATION: {text}");
        ctx.notifier.send(
            "escalation",
            format!("{}: {text}", ctx.cfg.service.name),
            Some(&id),
            json!({ "attempt": failed, "attempts": policy.attempts, "step": step, "reason": failure, "then": d.reason }),
        );
    };
    match d.next {
        Next::Retry {
            at, escalate: e, ..
        } => {
            warn!(run = %run.id, "{why}; {}", d.reason);
            if e {
                escalate(format!(
                    "failover {id}: {failed} attempts failed, the last at step {step} ({failure}); still retrying: {}",
                    d.reason
                ));
            }
            let rec = &mut run.steps[i];
            rec.status = StepStatus::Pending;
            rec.reason = format!("attempt {failed} failed: {failure}; retrying");
            run.retry_at = Some(at);
        }
        Next::Stop => abort(run, i + 1, &format!("{why}; {}", d.reason)),
        Next::GiveUp => {
            abort(run, i + 1, &format!("{why}; {}", d.reason));
            escalate(format!(
                "failover {id} GAVE UP after {failed} attempts; the last failed at step {step}: {failure}; traffic was not moved to a verified standby: act now"
            ));
        }
    }
}

/// How the primary looks to the retry policy: up only on a fresh `up` verdict.
async fn primary_now(ctx: &Ctx) -> standby_core::retry::Primary {
    use standby_core::retry::Primary;
    match crate::journal::read_verdict(&ctx.store).await {
        Ok(Some(v)) if v.health_at(Utc::now()) == standby_core::detector::Health::Up => {
            Primary::Up { reason: v.reason }
        }
        _ => Primary::NotUp,
    }
}

/// Sleeps until `at`, and on while actions are paused (a retry is an action: `standby pause`
/// holds it, `resume` lets it go); `false` if shutdown came first.
async fn wait_until(ctx: &Ctx, at: chrono::DateTime<Utc>) -> bool {
    let mut shutdown = ctx.shutdown.clone();
    let wait = async {
        tokio::time::sleep(standby_core::duration::between(Utc::now(), at)).await;
        let mut said = false;
        while crate::journal::read_state(&ctx.store)
            .await
            .is_ok_and(|(s, _)| s.paused)
        {
            if !said {
                said = true;
                info!("actions are paused: the retry waits for `standby resume`");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::select! {
        _ = wait => true,
        _ = async {
            // A dropped sender is no shutdown: wait on.
            if shutdown.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await
            }
        } => false,
    }
}

fn trigger_text(run: &RunRecord) -> String {
    match &run.trigger {
        Trigger::Automatic { reason, .. } => reason.clone(),
        Trigger::Manual { command, .. } => format!("`{command}`"),
    }
}

/// Manual mode: a run waits before its first step until `standby approve RUN` (or until the
/// primary recovers, which cancels it). Each `approval_timeout` without an answer escalates by
/// webhook; it never approves itself. `false`: shutdown came first (the wait resumes on restart).
async fn wait_for_approval(ctx: &Ctx, journal: &mut Journal) -> Result<bool, ExecError> {
    let id = journal.record.id.clone();
    let waiting =
        |s: &standby_core::machine::State| s.awaiting_approval.as_deref() == Some(id.as_str());
    let (state, _) = crate::journal::read_state(&ctx.store).await?;
    if !waiting(&state) {
        return Ok(true);
    }
    let since = Utc::now();
    let text = format!(
        "{}: failover {id} waits for approval: `standby approve {id}` ({})",
        ctx.cfg.service.name,
        trigger_text(&journal.record)
    );
    warn!(run = %id, "{text}");
    ctx.notifier
        .send("approval_needed", text, Some(&id), json!({}));
    let mut escalations = 0u32;
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (state, _) = crate::journal::read_state(&ctx.store).await?;
        if !waiting(&state) || state.abort_run.as_deref() == Some(id.as_str()) {
            let waited = standby_core::duration::between(since, Utc::now());
            journal.record.notes.push(Note {
                at: Utc::now(),
                text: format!("waited {} for approval: {}", human(waited), state.reason),
            });
            journal.save().await?;
            return Ok(true);
        }
        let waited = standby_core::duration::between(since, Utc::now());
        let due = ctx.cfg.failover.approval_timeout * (escalations + 1);
        if waited >= due {
            escalations += 1;
            let text = format!(
                "{}: failover {id} has waited {} for approval (escalation {escalations}); the primary is still down and nothing moves until `standby approve {id}`",
                ctx.cfg.service.name,
                human(waited)
            );
            warn!(run = %id, "{text}");
            ctx.notifier.send(
                "approval_escalation",
                text.clone(),
                Some(&id),
                json!({ "waited_ms": standby_core::duration::millis(waited), "escalation": escalations }),
            );
            journal.record.notes.push(Note {
                at: Utc::now(),
                text,
            });
            journal.save().await?;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = shutdown.changed() => return Ok(false),
        }
    }
}

fn breach_note(ctx: &Ctx, journal: &mut Journal, projected: Duration, when: &str) {
    let text = format!(
        "projected RTO {} exceeds the objective {} {when}: a breach is likely",
        human(projected),
        human(ctx.cfg.service.rto),
    );
    warn!(run = %journal.record.id, "{text}");
    ctx.notifier.send(
        "rto_breach_projected",
        text.clone(),
        Some(&journal.record.id),
        json!({ "projected_ms": standby_core::duration::millis(projected) }),
    );
    let at = Utc::now();
    journal.record.breach_projected_at.get_or_insert(at);
    journal.record.notes.push(Note { at, text });
}

/// Whether the state asks this run to stop, and why: a drill the primary's failure interrupts,
/// or a run cancelled before its first step (a manual-mode failover whose primary recovered).
async fn abort_requested(ctx: &Ctx, run: &RunRecord) -> Option<String> {
    let started = run.steps.iter().any(|s| s.status != StepStatus::Pending);
    if !run.kind.is_drill() && started {
        return None;
    }
    match crate::journal::read_state(&ctx.store).await {
        Ok((state, _)) if state.abort_run.as_deref() == Some(run.id.as_str()) => Some(state.reason),
        _ => None,
    }
}

async fn wait_for_abort(ctx: &Ctx, run: &RunRecord) -> String {
    loop {
        if let Some(why) = abort_requested(ctx, run).await {
            return why;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn finish(ctx: &Ctx, journal: &mut Journal) -> Result<(), ExecError> {
    let r = &mut journal.record;
    if r.status == RunStatus::Running {
        let failed = |abort: bool| {
            r.plan
                .steps
                .iter()
                .zip(&r.steps)
                .filter(|(p, s)| {
                    s.status == StepStatus::Failed && (p.on_failure == OnFailure::Abort) == abort
                })
                .count()
        };
        let (forced, soft) = (failed(true), failed(false));
        if forced > 0 {
            r.status = RunStatus::Failed;
            r.reason = format!(
                "forced past {forced} failed step(s) that would have aborted the run: traffic may be on a side that failed verification"
            );
        } else {
            r.status = RunStatus::Succeeded;
            r.reason = if soft == 0 {
                "all steps succeeded".into()
            } else {
                format!("succeeded, but {soft} step(s) with on_failure = \"continue\" failed")
            };
        }
    }
    r.finished_at = Some(Utc::now());
    journal.save().await?;
    let rep = report::build(&journal.record);
    ctx.notifier.send(
        "run_finished",
        format!("{}: {}", ctx.cfg.service.name, rep.summary()),
        Some(&journal.record.id),
        json!({ "result": rep.result, "reason": rep.reason, "rto": rep.rto }),
    );
    let dir = crate::reports::write_local(&ctx.cfg, &rep)?;
    info!(run = %journal.record.id, "{}; {}; report {}", rep.summary(), journal.record.reason, dir.join("report.html").display());
    // The copy in the standby region outlives this host; failing to upload it fails nothing.
    match crate::reports::upload(&ctx.cfg, &ctx.clients, &rep).await {
        Ok(url) => info!(run = %journal.record.id, "report uploaded to {url}"),
        Err(crate::reports::ReportsError::NoBucket) => {}
        Err(e) => warn!(run = %journal.record.id, "report not uploaded (kept locally): {e}"),
    }
    Ok(())
}

struct StepOutcome {
    ok: bool,
    reason: String,
    details: serde_json::Value,
}

impl StepOutcome {
    fn ok(reason: String, details: serde_json::Value) -> Self {
        StepOutcome {
            ok: true,
            reason,
            details,
        }
    }
    fn failed(reason: String, details: serde_json::Value) -> Self {
        StepOutcome {
            ok: false,
            reason,
            details,
        }
    }
}

async fn run_step(ctx: &Ctx, run: &RunRecord, step: &PlannedStep) -> StepOutcome {
    match (&step.action, &step.changes) {
        (Action::Preflight, _) => preflight(ctx, run, &step.phase).await,
        (Action::ScaleAsgs { .. }, Changes::Asgs { groups }) => scale(ctx, groups).await,
        (
            Action::Verify {
                side,
                interval,
                successes,
            },
            _,
        ) => verify(ctx, *side, *successes, *interval, step.timeout).await,
        (Action::FlipDns { .. }, Changes::Dns(change)) => flip(ctx, change, &run.id).await,
        (Action::FreezeRpo, _) => freeze_rpo(ctx, run).await,
        (Action::Smoke { side }, _) => smoke(ctx, *side).await,
        (Action::Hook { command }, _) => hook(ctx, run, step, command).await,
        (Action::FinalSync, _) => {
            sync_sets(ctx, standby_core::sync::Direction::Forward, step.timeout).await
        }
        (Action::ReverseSync, _) => {
            sync_sets(ctx, standby_core::sync::Direction::Reverse, step.timeout).await
        }
        (Action::Report, _) => match crate::reports::write_local(&ctx.cfg, &report::build(run)) {
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

/// Each set's RPO at the failure: the data at risk when the primary failed, measured now from the
/// primary's history as it stood at the trigger's last good probe (or the command).
async fn freeze_rpo(ctx: &Ctx, run: &RunRecord) -> StepOutcome {
    if ctx.cfg.artifacts.is_empty() {
        return StepOutcome::ok("no artifact sets configured".into(), json!({ "rpo": [] }));
    }
    let at = run.trigger.failure_instant();
    let mut set = tokio::task::JoinSet::new();
    for a in ctx.cfg.artifacts.iter().cloned() {
        let clients = ctx.clients.clone();
        set.spawn(async move {
            (
                a.name.clone(),
                crate::sync::engine::measure_rpo(&clients, &a, Some(at)).await,
            )
        });
    }
    let mut rpos = Vec::new();
    let mut errors = Vec::new();
    while let Some(Ok((name, r))) = set.join_next().await {
        match r {
            Ok(r) => rpos.push(r),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    rpos.sort_by(|a, b| a.set.cmp(&b.set));
    let summary: Vec<String> = rpos
        .iter()
        .map(|r| {
            format!(
                "{} {}{}",
                r.set,
                r.figure(),
                if r.over_objective {
                    " (over objective)"
                } else {
                    ""
                }
            )
        })
        .chain(errors.iter().cloned())
        .collect();
    let details = json!({ "rpo": rpos, "errors": errors });
    if errors.is_empty() {
        StepOutcome::ok(summary.join(", "), details)
    } else {
        StepOutcome::failed(summary.join(", "), details)
    }
}

/// Every set in parallel, each its own failure domain. A forward (final) sync is best effort: a
/// set whose primary bucket cannot be read is skipped, and the whole step stops a little before
/// its timeout with whatever finished. A reverse sync must complete: failing back without it
/// would lose what was written on the standby during the outage.
async fn sync_sets(
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
        set.spawn(async move {
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
        });
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

async fn preflight(ctx: &Ctx, run: &RunRecord, phase: &str) -> StepOutcome {
    let world = match standby_aws::observe(&ctx.clients, &ctx.cfg).await {
        Ok(w) => w,
        Err(e) => return StepOutcome::failed(format!("cannot observe the world: {e}"), json!({})),
    };
    let readiness = crate::smoke::client::standby_readiness(&ctx.cfg, &ctx.store)
        .await
        .map_err(|e| warn!("reading the standby's readiness: {e}"))
        .ok();
    let checks = plan::preflight(&run.plan, phase, &ctx.cfg, &world, readiness.as_ref());
    let details = json!({ "checks": checks, "world": world });
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.reason))
        .collect();
    if failed.is_empty() {
        StepOutcome::ok(format!("{} checks passed", checks.len()), details)
    } else {
        StepOutcome::failed(failed.join("; "), details)
    }
}

/// A `[[pre]]`/`[[post]]` command: no shell; the run's identity in its environment; its exit
/// status decides the step and its output (bounded) goes into the report. A hook still running
/// when the step times out is killed.
async fn hook(ctx: &Ctx, run: &RunRecord, step: &PlannedStep, command: &[String]) -> StepOutcome {
    const KEEP: usize = 4096;
    let Some((program, args)) = command.split_first() else {
        return StepOutcome::failed("empty command".into(), json!({}));
    };
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("STANDBY_RUN_ID", &run.id)
        .env("STANDBY_RUN_KIND", run.kind.as_str())
        .env("STANDBY_PHASE", &step.phase)
        .env("STANDBY_SERVICE", &ctx.cfg.service.name)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let start = s.len().saturating_sub(KEEP);
        let start = (start..=s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(s.len());
        s[start..].to_string()
    };
    match out {
        Err(e) => StepOutcome::failed(
            format!("{program:?} could not start: {e}"),
            json!({ "command": command }),
        ),
        Ok(o) => {
            let details = json!({
                "command": command,
                "exit_code": o.status.code(),
                "stdout": tail(&o.stdout),
                "stderr": tail(&o.stderr),
                "took_ms": standby_core::duration::millis(started.elapsed()),
            });
            let last_line = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string()
            };
            if o.status.success() {
                StepOutcome::ok(format!("{program} exited 0"), details)
            } else {
                let why = match o.status.code() {
                    Some(c) => format!("exited {c}"),
                    None => "was killed by a signal".into(),
                };
                let said = last_line(&o.stderr);
                StepOutcome::failed(
                    if said.is_empty() {
                        format!("{program} {why}")
                    } else {
                        format!("{program} {why}: {said}")
                    },
                    details,
                )
            }
        }
    }
}

/// A synthetic inference request; a standby result also becomes its latest for readiness.
async fn smoke(ctx: &Ctx, side: Side) -> StepOutcome {
    let r = crate::smoke::client::probe(&ctx.cfg, &ctx.clients, side).await;
    if side == Side::Standby
        && let Err(e) = crate::smoke::client::record(&ctx.store, &r).await
    {
        warn!("recording the standby probe: {e}");
    }
    let details = serde_json::to_value(&r).unwrap_or_default();
    if r.ok {
        StepOutcome::ok(r.reason, details)
    } else {
        StepOutcome::failed(r.reason, details)
    }
}

async fn scale(ctx: &Ctx, groups: &[plan::AsgChange]) -> StepOutcome {
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

async fn verify(
    ctx: &Ctx,
    side: Side,
    successes: u32,
    interval: Duration,
    timeout: Duration,
) -> StepOutcome {
    let url = ctx.cfg.side(side).endpoint.clone();
    let prober = &ctx.prober;
    // Stop a little before the step's hard timeout so the reason can say what the probes saw.
    let deadline = tokio::time::Instant::now() + timeout.saturating_sub(timeout / 20);
    let mut streak = 0;
    let mut rounds = 0;
    // The first good answer of the streak that verified: the moment service was back (the RTO
    // clock stops here); the confirming rounds after it only make the verdict sure.
    let mut first_ok: Option<ProbeResult> = None;
    loop {
        let r = prober.round(&url).await;
        rounds += 1;
        if r.outcome == OutcomeClass::Ok {
            streak += 1;
            if streak == 1 {
                first_ok = Some(r.clone());
            }
        } else {
            streak = 0;
            first_ok = None;
        }
        let last = Some(r);
        if streak >= successes {
            let first_ok_at = first_ok.as_ref().map(|f| f.at);
            return StepOutcome::ok(
                format!(
                    "{side} answered {successes} consecutive probes ok ({rounds} rounds); first good answer at {}",
                    first_ok_at
                        .map(|t| t.format("%H:%M:%S%.3f").to_string())
                        .unwrap_or_default()
                ),
                json!({ "url": url, "rounds": rounds, "first_ok_at": first_ok_at, "first_ok": first_ok, "last": last }),
            );
        }
        if tokio::time::Instant::now() + interval >= deadline {
            let l = last
                .as_ref()
                .map(|l| format!("{} ({})", l.outcome.as_str(), l.detail))
                .unwrap_or_default();
            return StepOutcome::failed(
                format!(
                    "{side} not verified within {}: {streak}/{successes} consecutive ok after {rounds} rounds; last {l}",
                    human(timeout)
                ),
                json!({ "url": url, "rounds": rounds, "last": last }),
            );
        }
        tokio::time::sleep(interval).await;
    }
}

async fn flip(ctx: &Ctx, change: &plan::DnsChange, run_id: &str) -> StepOutcome {
    let r53 = &ctx.clients.route53;
    let before =
        standby_aws::dns::current(r53, &change.zone_id, &change.name, ctx.cfg.dns.record_type)
            .await
            .ok()
            .flatten()
            .map(|r| r.value);
    let comment = format!("standby run {run_id}");
    // Before this call the record surely pointed elsewhere: the lower end of the restoration.
    let submitted_at = chrono::Utc::now();
    let submitted = match standby_aws::dns::upsert(
        r53,
        &change.zone_id,
        &change.name,
        ctx.cfg.dns.record_type,
        change.ttl,
        &change.to,
        &comment,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return StepOutcome::failed(e.to_string(), json!({ "from": before, "to": change.to }));
        }
    };
    let (id, mut insync) = (submitted.id, submitted.insync);
    let started = std::time::Instant::now();
    // Polled only while PENDING: each GetChange round trip would add to the RTO.
    while !insync {
        match standby_aws::dns::in_sync(r53, &id).await {
            Ok(true) => insync = true,
            Ok(false) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                warn!("GetChange {id}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let details = json!({ "change_id": id, "from": before, "to": change.to, "submitted_at": submitted_at, "insync_at": chrono::Utc::now(), "insync_ms": standby_core::duration::millis(started.elapsed()) });
    StepOutcome::ok(
        format!(
            "{} {} -> {} (change {id} INSYNC)",
            change.name,
            before.as_deref().unwrap_or("(none)"),
            change.to
        ),
        details,
    )
}

async fn test_hold(ctx: &Ctx, boundary: &str) {
    crate::failpoint::hold(&ctx.cfg.service.state_dir, boundary).await;
}

/// Which side the DNS record points at now, read back from Route 53; the plan's view when the
/// read fails.
pub async fn traffic_side(ctx: &Ctx, run: &RunRecord) -> Side {
    let before = run.kind.target().other();
    match standby_aws::dns::current(
        &ctx.clients.route53,
        &ctx.cfg.dns.zone_id,
        &ctx.cfg.dns.name,
        ctx.cfg.dns.record_type,
    )
    .await
    {
        Ok(Some(r)) => ctx.cfg.dns.side_of(&r.value).unwrap_or(before),
        _ => plan::traffic_after(
            &run.plan,
            |i| run.steps[i].status == StepStatus::Succeeded,
            before,
        ),
    }
}

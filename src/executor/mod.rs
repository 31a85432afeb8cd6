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
use standby_core::config::Side;
use standby_core::duration::human;
use standby_core::machine::Trigger;
use standby_core::plan::{self};
use standby_core::report;
use standby_core::runbook::{Action, OnFailure, RunbookKind};

mod create;
pub mod steps;
#[cfg(test)]
mod tests;

pub use create::{account, create_run, origin};
use steps::{StepOutcome, StepRunner};

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

/// Runs (or resumes) a journaled run to its end or to a requested stop.
pub async fn execute(ctx: &Ctx, journal: &mut Journal) -> Result<RunEnd, ExecError> {
    execute_with(ctx, journal, &steps::Aws).await
}

/// [`execute`] with the steps carried out by `steps`.
pub async fn execute_with<S: StepRunner>(
    ctx: &Ctx,
    journal: &mut Journal,
    steps: &S,
) -> Result<RunEnd, ExecError> {
    let total = journal.record.steps.len();
    let mut warned_breach = journal.record.breach_projected_at.is_some();
    if journal
        .record
        .steps
        .iter()
        .any(|s| s.status != StepStatus::Pending)
        && journal.record.status == RunStatus::Running
    {
        let now = Utc::now();
        journal.record.resumed_at.push(now);
        info!(run = %journal.record.id, "resuming run at step {}", journal.record.next_step().map(|i| i + 1).unwrap_or(total));
        if let Some(lease) = &ctx.lease {
            // On a shared store a resume is a takeover: say who, under which epoch, and how
            // long the run stood still (that gap is inside the run's RTO).
            let last = journal
                .record
                .steps
                .iter()
                .flat_map(|s| [s.started_at, s.finished_at])
                .flatten()
                .chain(journal.record.notes.iter().map(|n| n.at))
                .max();
            let gap = last.map_or(String::new(), |t| {
                format!(
                    "; {} since the run's last recorded progress ({} by that holder's clock)",
                    human(standby_core::duration::between(t, now)),
                    t.to_rfc3339()
                )
            });
            journal.record.notes.push(Note {
                at: now,
                text: format!(
                    "taken over by instance {} at lease epoch {}{}{gap}",
                    lease.instance,
                    lease.acting_epoch().map_or("?".into(), |e| e.to_string()),
                    lease
                        .taken_because()
                        .map_or(String::new(), |why| format!(" ({why})"))
                ),
            });
        }
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
        if !ctx.may_act() {
            // Not even a note: the journal is the new lease holder's now.
            warn!(run = %journal.record.id, "this instance no longer holds the lease: stopped before step {}; the lease holder resumes the run", journal.record.steps[i].name);
            return Ok(RunEnd::Interrupted(journal.record.clone()));
        }
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

        // The step's AWS requests, retries and throttling, for its record and the report.
        let tally = std::sync::Arc::new(standby_aws::calls::Tally::default());
        let timed = tokio::time::timeout(
            step.timeout,
            standby_aws::calls::counted(tally.clone(), steps.run(ctx, &journal.record, &step)),
        );
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
            // Parked as a crash would leave it (the step marked running; steps are idempotent):
            // the new holder runs it again, and this instance's AWS calls are refused anyway.
            _ = lease_lost(ctx), if ctx.lease.is_some() => {
                warn!(run = %journal.record.id, "this instance lost its lease during step {}: stopped; the lease holder runs it again", step.name);
                return Ok(RunEnd::Interrupted(journal.record.clone()));
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
            let (requests, retries, throttled) = tally.totals();
            if requests > 0 {
                if !rec.details.is_object() {
                    rec.details = json!({});
                }
                rec.details["aws"] = json!({
                    "requests": requests, "retries": retries, "throttled": throttled,
                    "by_operation": tally.snapshot().into_iter().map(|((svc, op), c)| json!({
                        "service": svc, "operation": op, "requests": c.requests,
                        "retries": c.retries, "outcomes": c.by_outcome,
                    })).collect::<Vec<_>>(),
                });
            }
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
            && journal.record.flip_unverified
            && matches!(step.action, Action::Verify { .. })
            && journal.record.status == RunStatus::Running
        {
            let text = format!(
                "step {} failed but the run goes on: --flip-unverified (the next flip may point DNS at a side that failed verification)",
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
            } else if step.cleanup {
                // A cleanup that gives up leaves serving capacity running (and billed): it gets
                // the same attempts and backoff as a failover's step, whatever the trigger.
                retry_cleanup(ctx, journal, i, &outcome.reason, finished);
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

/// Resolves once this instance may no longer act (checked every 50 ms, and at once after a
/// pause, since [`crate::lease::Lease::may_act`] reads the clock).
async fn lease_lost(ctx: &Ctx) {
    while ctx.may_act() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// Journals a failed attempt at step `i` with what `decide` says follows it (given the attempt's
/// number). Attempts are counted per step: a step that went through proved the run is not stuck,
/// so the next step's troubles get their own attempts (the run stays bounded: steps × attempts).
fn journal_attempt(
    run: &mut RunRecord,
    i: usize,
    failure: &str,
    now: chrono::DateTime<Utc>,
    decide: impl FnOnce(u32) -> standby_core::retry::RetryDecision,
) -> (u32, standby_core::retry::RetryDecision) {
    use crate::journal::{AttemptNext, FailedAttempt};
    use standby_core::retry::Next;
    let step = run.steps[i].name.clone();
    let failed = u32::try_from(run.attempts.iter().filter(|a| a.step == step).count())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let d = decide(failed);
    run.attempts.push(FailedAttempt {
        attempt: failed,
        step,
        at: now,
        reason: failure.to_string(),
        next: match d.next {
            Next::Retry { .. } => AttemptNext::Retry,
            Next::Stop => AttemptNext::Stop,
            Next::GiveUp => AttemptNext::GiveUp,
        },
        then: d.reason.clone(),
    });
    (failed, d)
}

/// Sets step `i` up to run again at `at` (the loop waits for it, journaled).
fn retry_at(run: &mut RunRecord, i: usize, failed: u32, failure: &str, at: chrono::DateTime<Utc>) {
    let rec = &mut run.steps[i];
    rec.status = StepStatus::Pending;
    rec.reason = format!("attempt {failed} failed: {failure}; retrying");
    run.retry_at = Some(at);
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
    use standby_core::retry::{Next, after_failure};
    let run = &mut journal.record;
    let automatic = matches!(run.trigger, Trigger::Automatic { .. });
    let policy = ctx.cfg.failover.retry;
    let primary = primary_now(ctx).await;
    let (failed, d) = journal_attempt(run, i, failure, now, |failed| {
        after_failure(&policy, failed, automatic, &primary, now)
    });
    let step = run.steps[i].name.clone();
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
            retry_at(run, i, failed, failure, at);
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

/// A cleanup step failed (a throttled scale-back, say): run it again after the policy's wait,
/// or, with its attempts used up, end the run saying what may be left running.
fn retry_cleanup(
    ctx: &Ctx,
    journal: &mut Journal,
    i: usize,
    failure: &str,
    now: chrono::DateTime<Utc>,
) {
    use standby_core::retry::{Next, Primary, after_failure};
    let run = &mut journal.record;
    // Not automatic: the primary's health does not make a cleanup unnecessary.
    let (failed, d) = journal_attempt(run, i, failure, now, |failed| {
        after_failure(&ctx.cfg.failover.retry, failed, false, &Primary::NotUp, now)
    });
    let step = run.steps[i].name.clone();
    match d.next {
        Next::Retry { at, .. } => {
            warn!(run = %run.id, "cleanup step {step} failed: {failure}; {}", d.reason);
            retry_at(run, i, failed, failure, at);
        }
        Next::Stop | Next::GiveUp => {
            let text = format!(
                "{} {}: cleanup step {step} failed {failed} times, the last: {failure}; what it scales may still run at serving capacity: act now",
                ctx.cfg.service.name, run.id
            );
            warn!(run = %run.id, "ESCALATION: {text}");
            ctx.notifier.send(
                "escalation",
                text,
                Some(&run.id),
                json!({ "attempt": failed, "step": step, "reason": failure }),
            );
            abort(run, i + 1, &format!("step {step} failed: {failure}"));
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

async fn test_hold(ctx: &Ctx, boundary: &str) {
    crate::failpoint::hold(&ctx.cfg.service.state_dir, boundary).await;
}

/// Which side the name points at now, read back (the record from Route 53, or the gate); the
/// plan's view when it cannot be read now.
pub async fn traffic_side(ctx: &Ctx, run: &RunRecord) -> Side {
    let before = run.kind.target().other();
    match crate::world::answer(ctx).await {
        Ok(Some(r)) if !r.last_known => ctx.cfg.dns.side_of(&r.value).unwrap_or(before),
        _ => plan::traffic_after(
            &run.plan,
            |i| run.steps[i].status == StepStatus::Succeeded,
            before,
        ),
    }
}

//! Creating a run: observe, plan, estimate each step from earlier runs and models, journal.
//! Nothing in AWS changes here.

use std::time::Duration;

use chrono::Utc;

use crate::context::Ctx;
use crate::journal::{Journal, RunRecord, RunStatus, StepStatus};
use standby_core::config::{Config, Side};
use standby_core::machine::Trigger;
use standby_core::outcome::ProbeResult;
use standby_core::plan::{self};
use standby_core::report;
use standby_core::runbook::{Action, RunbookKind};

use super::ExecError;

/// Who and what starts a run: the login behind a command (`SUDO_USER` first: the person, not
/// root), `automatic` for the daemon's own decisions, this host, this build, the AWS account.
pub fn origin(trigger: &Trigger, account: Option<String>) -> standby_core::record::Origin {
    let operator = match trigger {
        Trigger::Manual { command, .. } if !command.starts_with("[[drills]]") => {
            ["SUDO_USER", "USER", "LOGNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "unknown".to_string())
        }
        _ => "automatic".to_string(),
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    standby_core::record::Origin {
        operator,
        host,
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: env!("STANDBY_COMMIT").to_string(),
        account,
    }
}

/// The account for the run's origin: read in the background since the context was built, waited
/// for at most [`standby_aws::identity::ACCOUNT_WAIT`].
pub async fn account(ctx: &Ctx) -> Option<String> {
    match ctx
        .clients
        .identity
        .account_within(standby_aws::identity::ACCOUNT_WAIT)
        .await
    {
        Ok(a) => Some(a),
        Err(why) => {
            tracing::warn!("the run's report will not name the AWS account: {why}");
            None
        }
    }
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
    let trigger_for_origin = trigger.clone();
    let readiness = crate::readiness::last(&ctx.store).await;
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
        flip_unverified: false,
        origin: Some(origin(&trigger_for_origin, account(ctx).await)),
        // A drill's cost: the prices the last readiness evaluation read (no AWS call here).
        prices: if kind.is_drill() {
            readiness
                .as_ref()
                .and_then(|e| e.cost.clone())
                .map(|c| c.groups)
                .unwrap_or_default()
        } else {
            Vec::new()
        },
        // A failover takes over a pre-warm under way: the standby stays at serving.
        prewarm: if kind == RunbookKind::Failover {
            crate::prewarm_journal::adopt(&ctx.store, id, Some(cfg)).await
        } else {
            None
        },
        readiness: readiness.map(|e| standby_core::readiness::Evaluation { cost: None, ..e }),
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

/// The DNS flip a standby drill does not make. `record`: the API round trip measured now
/// (UPSERT + one GetChange at best), and AWS's statement that changes reach every authoritative
/// server within 60 s under normal conditions (the INSYNC wait at worst). `failover_records`:
/// a gate read measured now (the write is the same request size), and the health check's
/// interval x (threshold + 1) at worst.
async fn flip_model(ctx: &Ctx) -> crate::journal::Model {
    use crate::journal::Model;
    let cfg = &ctx.cfg;
    let t0 = std::time::Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(5), crate::world::answer(ctx)).await;
    let rt = standby_core::duration::millis(t0.elapsed());
    let fresh = matches!(&read, Ok(Ok(Some(r))) if !r.last_known);
    if let standby_core::config::DnsMethod::FailoverRecords(g) = &cfg.dns.method {
        let bound = standby_core::duration::millis(g.reaction_bound());
        let why = if fresh {
            format!(
                "a gate read (S3 in {}) took {} from here now",
                g.region,
                standby_core::duration::human(Duration::from_millis(rt))
            )
        } else {
            format!(
                "the gate (S3 in {}) did not answer a read within 5s from here now",
                g.region
            )
        };
        let low = if fresh { rt } else { 0 };
        return Model {
            ms: low + bound,
            low_ms: low,
            high_ms: low + bound,
            source: format!(
                "model: gate write (data plane, no Route 53 call); {why}; Route 53 acts on it after the health check's {} observation(s) {} apart, within {} counted in full",
                g.failure_threshold,
                standby_core::duration::human(g.check_interval),
                standby_core::duration::human(g.reaction_bound())
            ),
        };
    }
    const PROPAGATION_MS: u64 = 60_000;
    let (low, why) = if fresh {
        (
            2 * rt,
            format!(
                "a Route 53 read took {} from here now",
                standby_core::duration::human(Duration::from_millis(rt))
            ),
        )
    } else {
        (
            0,
            "Route 53 did not answer a read within 5s from here now".to_string(),
        )
    };
    Model {
        ms: low + PROPAGATION_MS,
        low_ms: low,
        high_ms: low + PROPAGATION_MS,
        source: format!(
            "model: UPSERT + GetChange until INSYNC; {why}; AWS: changes reach all Route 53 authoritative servers within 60s under normal conditions, counted in full"
        ),
    }
}

/// Models for what a standby drill cannot run, by action key: each states its numbers.
async fn models(ctx: &Ctx) -> std::collections::BTreeMap<String, crate::journal::Model> {
    use crate::journal::Model;
    let cfg = &ctx.cfg;
    let mut out = std::collections::BTreeMap::new();
    out.insert(
        Action::FlipDns { to: Side::Standby }.key(),
        flip_model(ctx).await,
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
                    .filter(|(p, _)| p.phase == RunbookKind::Failover && p.action.key() == key)
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

//! Reads what a readiness evaluation judges ([`standby_core::readiness`]) and keeps the last
//! evaluation in the store, where `status`, `/metrics` and a failover's preflight read it.
//! Read-only towards AWS: it plans a failover on what it reads, and never runs it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::context::Ctx;
use crate::store::{Expect, Store};
use standby_core::config::Side;
use standby_core::readiness::{ArtifactView, Evaluation, Inputs, LeaseView, ProbeView};
use standby_core::runbook::RunbookKind;

/// The last evaluation.
pub const KEY: &str = "readiness/last.json";

/// Each region's EC2 and Auto Scaling reads: an evaluation is off any run's path and may wait
/// this long, but not for the SDK's full deadline per call.
const READ_WAIT: Duration = Duration::from_secs(15);

/// Reads everything and evaluates it now.
pub async fn evaluate(ctx: &Ctx) -> Evaluation {
    let cfg = &ctx.cfg;
    let (world, types, artifacts, (probe_readiness, probe), last_drill, lease) = tokio::join!(
        Box::pin(crate::world::observe(ctx)),
        Box::pin(group_types(ctx)),
        artifacts(ctx),
        probe(ctx),
        last_drill(ctx),
        lease(ctx),
    );
    let (preflight, reservations, groups, groups_unread) = match world {
        Ok(world) => {
            let plan = standby_core::plan::plan_for(RunbookKind::Failover, cfg, &world);
            let checks = standby_core::plan::preflight(
                &plan,
                RunbookKind::Failover,
                cfg,
                &world,
                probe_readiness.as_ref(),
            );
            let reservations = Box::pin(crate::reservations::checks(
                ctx,
                &plan,
                RunbookKind::Failover,
            ))
            .await;
            (checks, reservations, world.asgs, world.unreadable)
        }
        Err(e) => (
            vec![standby_core::check::Check {
                name: "world".into(),
                ok: false,
                warning: false,
                reason: format!("cannot observe the world: {e}"),
            }],
            vec![],
            vec![],
            vec![],
        ),
    };
    let (group_types, types) = types;
    let (quotas, sets) = tokio::join!(quotas(ctx, &group_types), set_bytes(ctx));
    let cost = standby_core::cost::standby(cfg, &group_types, &sets);
    let inputs = Inputs {
        preflight,
        groups,
        groups_unread,
        group_types,
        types,
        reservations,
        quotas,
        artifacts,
        probe,
        last_drill,
        lease,
        iam: Err(
            "not simulated: `standby iam-policy` prints the policy the orchestrator needs; compare it with its role"
                .into(),
        ),
    };
    let mut e = standby_core::readiness::evaluate(cfg, &inputs, Utc::now());
    e.cost = Some(cost);
    e
}

/// Each set's published size on the standby (its manifest), its last sync's copied bytes and
/// its schedule's period: what the cost estimate prices.
async fn set_bytes(ctx: &Ctx) -> Vec<standby_core::cost::SetBytes> {
    let read = ctx.cfg.artifacts.iter().map(|a| async move {
        let st = crate::sync::engine::read_state(&ctx.store, &a.name).await;
        let stored = tokio::time::timeout(
            READ_WAIT,
            crate::sync::engine::read_manifest(&ctx.clients, a),
        )
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten()
        .map(|m| m.total_bytes);
        standby_core::cost::SetBytes {
            name: a.name.clone(),
            stored,
            last_copied: st.last_copied_bytes,
            period: a.schedule.period(),
        }
    });
    futures_util::future::join_all(read).await
}

type GroupTypes = BTreeMap<(Side, String), Result<Vec<String>, String>>;

/// Every configured group's instance types, both sides, and what EC2 says of those types.
async fn group_types(
    ctx: &Ctx,
) -> (
    GroupTypes,
    Result<BTreeMap<String, standby_core::readiness::InstanceType>, String>,
) {
    let mut out = GroupTypes::new();
    let read = |side: Side| async move {
        let names: Vec<String> = ctx
            .cfg
            .side(side)
            .asgs
            .iter()
            .map(|a| a.name.clone())
            .collect();
        let got = tokio::time::timeout(
            READ_WAIT,
            standby_aws::ec2::group_types(ctx.clients.asg(side), ctx.clients.ec2(side), &names),
        )
        .await;
        (side, names, got)
    };
    let (p, s) = tokio::join!(read(Side::Primary), read(Side::Standby));
    for (side, names, got) in [p, s] {
        match got {
            Ok(Ok(groups)) => {
                for (name, types) in groups {
                    out.insert((side, name), types);
                }
            }
            Ok(Err(e)) => {
                for n in names {
                    out.insert((side, n), Err(e.to_string()));
                }
            }
            Err(_) => {
                for n in names {
                    out.insert(
                        (side, n),
                        Err(format!(
                            "no answer within {}",
                            standby_core::duration::human(READ_WAIT)
                        )),
                    );
                }
            }
        }
    }
    let mut names: Vec<String> = out.values().flatten().flatten().cloned().collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return (out, Ok(BTreeMap::new()));
    }
    // Instance types are the same in every region that offers them: the standby's EC2 answers.
    let types = tokio::time::timeout(
        READ_WAIT,
        standby_aws::ec2::instance_types(ctx.clients.ec2(Side::Standby), &names),
    )
    .await
    .map_err(|_| {
        format!(
            "no answer within {}",
            standby_core::duration::human(READ_WAIT)
        )
    })
    .and_then(|r| r.map_err(|e| e.to_string()));
    (out, types)
}

/// The EC2 On-Demand quotas of the families the standby groups launch, in the standby region.
async fn quotas(ctx: &Ctx, group_types: &GroupTypes) -> Result<Vec<(String, String, f64)>, String> {
    let mut codes: Vec<&str> = group_types
        .iter()
        .filter(|((side, _), _)| *side == Side::Standby)
        .flat_map(|(_, t)| t.iter().flatten())
        .filter_map(|t| standby_core::readiness::quota_code(t))
        .collect();
    codes.sort();
    codes.dedup();
    if codes.is_empty() {
        return Err("the standby groups' instance types are not known".into());
    }
    tokio::time::timeout(
        READ_WAIT,
        standby_aws::quotas::ec2_vcpus(&ctx.clients.standby_quotas, &codes),
    )
    .await
    .map_err(|_| {
        format!(
            "Service Quotas did not answer within {}",
            standby_core::duration::human(READ_WAIT)
        )
    })?
    .map_err(|e| e.to_string())
}

async fn artifacts(ctx: &Ctx) -> Vec<ArtifactView> {
    let now = Utc::now();
    let mut out = Vec::new();
    for a in &ctx.cfg.artifacts {
        let st = crate::sync::engine::read_state(&ctx.store, &a.name).await;
        out.push(ArtifactView {
            name: a.name.clone(),
            rpo_bound: st.rpo_bound(now),
            objective: a.rpo,
        });
    }
    out
}

/// The standby's last synthetic probe, read once: its readiness as a preflight judges it
/// (`None`: the probe log could not be read) and the evaluation's view of it (`None`: never
/// probed).
async fn probe(ctx: &Ctx) -> (Option<standby_core::smoke::Readiness>, Option<ProbeView>) {
    let Ok(log) = crate::smoke::client::read_log(&ctx.store, Side::Standby).await else {
        return (None, None);
    };
    let r = standby_core::smoke::readiness(log.last.as_ref(), Utc::now(), ctx.cfg.probes.fresh_for);
    let view = log.last.as_ref().map(|last| ProbeView {
        ready: r.ready,
        drift: last.drift,
        reason: r.reason.clone(),
    });
    (Some(r), view)
}

/// When the last successful drill that scaled the standby up finished.
async fn last_drill(ctx: &Ctx) -> Option<chrono::DateTime<Utc>> {
    let runs = crate::journal::list_runs(&ctx.store).await.ok()?;
    runs.records
        .iter()
        .filter(|r| matches!(r.kind, RunbookKind::DrillStandby | RunbookKind::DrillFull))
        .filter(|r| r.status == crate::journal::RunStatus::Succeeded)
        .filter_map(|r| r.finished_at)
        .max()
}

async fn lease(ctx: &Ctx) -> Option<LeaseView> {
    if !ctx.shared() {
        return None;
    }
    let ttl = ctx.cfg.lease.ttl;
    let held_here = ctx.lease.as_ref().is_some_and(|l| l.may_act());
    let view = match crate::lease::read_doc(&ctx.store).await {
        Ok(Some((Ok(d), _))) if !d.released => LeaseView {
            held_here,
            holder: Some(d.holder.clone()),
            renewed_ago: Some(standby_core::duration::between(d.renewed_at, Utc::now())),
            ttl: d.ttl(),
        },
        _ => LeaseView {
            held_here,
            holder: None,
            renewed_ago: None,
            ttl,
        },
    };
    Some(view)
}

/// The last evaluation kept, if any.
pub async fn last(store: &Arc<dyn Store>) -> Option<Evaluation> {
    let got = store.get(KEY).await.ok()??;
    serde_json::from_slice(&got.bytes).ok()
}

/// Keeps `e` as the last evaluation.
pub async fn keep(store: &Arc<dyn Store>, e: &Evaluation) -> Result<(), crate::store::StoreError> {
    let bytes = serde_json::to_vec_pretty(e).expect("an evaluation serializes");
    store.put(KEY, Expect::Any, bytes).await.map(|_| ())
}

/// A sync published: with no evaluation yet (the daemon's first comes after its start-up
/// syncs), or when the last one found an artifact set not synced or over its RPO, evaluate now
/// rather than say "not ready" until the next period.
pub async fn after_sync(ctx: &Ctx) {
    let stale = last(&ctx.store).await.is_none_or(|e| {
        e.findings
            .iter()
            .any(|f| f.check == "artifacts" && f.severity != standby_core::readiness::Severity::Ok)
    });
    if stale {
        scheduled(ctx).await;
    }
}

/// The daemon's scheduled evaluation: evaluate, say what changed since the last one (log and the
/// `readiness` webhook), keep it.
pub async fn scheduled(ctx: &Ctx) {
    let before = last(&ctx.store).await;
    let e = evaluate(ctx).await;
    let changes = e.changes_since(before.as_ref());
    if e.ready() {
        tracing::info!("readiness: {}", e.summary());
    } else {
        tracing::warn!("readiness: {}", e.summary());
    }
    if !changes.is_empty() || before.as_ref().is_some_and(|b| b.ready() != e.ready()) {
        ctx.notifier.send(
            "readiness",
            format!(
                "{}: readiness changed ({}): {}",
                ctx.cfg.service.name,
                changes.join("; "),
                e.summary()
            ),
            None,
            serde_json::json!({ "ready": e.ready(), "changes": changes, "evaluation": e }),
        );
    }
    if let Err(err) = keep(&ctx.store, &e).await {
        tracing::warn!("keeping the readiness evaluation: {err}");
    }
}

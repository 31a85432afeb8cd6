//! Runbook planning: the runbook, the config and the observed world in, the exact changes out.
//! A plan is data: `--dry-run` prints it, the journal stores it, the executor follows it, and the
//! report shows its before/after values. Also the preflight safety checks, as pure functions.

use std::time::Duration;

use crate::config::{Config, Side};
use crate::runbook::{Action, Capacity, OnFailure, Runbook, RunbookKind};

/// What the adapters saw before the run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct World {
    pub asgs: Vec<AsgObservation>,
    /// `None` when the record does not exist.
    pub record: Option<RecordObservation>,
    /// Regions whose groups could not be read, and why ("standby groups (us-west-2): ...").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// `method = "failover_records"`: the failover records and their health check, read now
    /// or remembered (`read_at` set), and why they could not be read now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_setup: Option<crate::dns_setup::FailoverSetup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_setup_unread: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AsgObservation {
    pub side: Side,
    pub region: String,
    pub name: String,
    /// `None` when the group does not exist.
    pub capacity: Option<AsgCapacity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AsgCapacity {
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    pub in_service: u32,
    /// Launched, not InService yet (booting, lifecycle hooks).
    #[serde(default)]
    pub pending: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordObservation {
    /// The value Route 53 answers (with `method = "failover_records"`: the one the gate selects).
    pub value: String,
    pub ttl: Option<i64>,
    /// Where the value came from, for people: the record read, the gate object, or the last
    /// known record when Route 53's control plane could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Not read now: the last value read, kept from an earlier read (see `source`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last_known: bool,
}

impl RecordObservation {
    pub fn read(value: String, ttl: Option<i64>) -> RecordObservation {
        RecordObservation {
            value,
            ttl,
            source: None,
            last_known: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub kind: RunbookKind,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedStep {
    pub name: String,
    pub action: Action,
    #[serde(with = "crate::serde_duration", rename = "timeout_ms")]
    pub timeout: Duration,
    /// The step's share of the RTO objective, as a duration.
    #[serde(with = "crate::serde_duration", rename = "budget_ms")]
    pub budget: Duration,
    pub on_failure: OnFailure,
    /// Runs even after the run aborted.
    #[serde(default)]
    pub cleanup: bool,
    /// Which runbook of the run the step comes from: `failover`, `failback`, `drill-standby`.
    /// A full drill has two phases; its RTO is the failover phase's.
    #[serde(with = "crate::runbook::phase_words")]
    pub phase: RunbookKind,
    pub changes: Changes,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Changes {
    None,
    Asgs {
        groups: Vec<AsgChange>,
    },
    Dns(DnsChange),
    Probe {
        url: String,
        successes: u32,
    },
    Smoke {
        url: String,
    },
    Sync {
        direction: crate::sync::Direction,
        sets: Vec<SyncTarget>,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyncTarget {
    pub set: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AsgChange {
    pub side: Side,
    pub region: String,
    pub name: String,
    /// `None` when the group was not found at planning time (preflight fails on it).
    pub from: Option<AsgCapacity>,
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    /// Scaling up: InService instances enough to go on to verify and flip while the rest keeps
    /// launching. `None` (and in journals from before it existed): `desired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_serving: Option<u32>,
    /// Scaling up: spare groups asked, in order, for what is still missing once this group's
    /// launches fail (no capacity for its instance type, a quota).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<Spare>,
    /// `true`: to serving capacity (wait for it InService); `false`: back to warm (wait only for
    /// the surplus to leave: a warm level the region cannot launch now must not hold a drill's
    /// cleanup or a failback). `None` in journals from before it existed: inferred from `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_serving: Option<bool>,
}

/// A pre-created spare group a scale-up may fall back to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spare {
    pub name: String,
    /// As observed at planning time; `None`: not found (preflight fails on it).
    pub from: Option<AsgCapacity>,
}

/// What each group's capacity is before a step of a plan changes it: the size observed at
/// planning time, or, once an earlier step of the same plan changed the group, that step's
/// target. A drill's return to warm starts from serving, not from the warm size observed
/// before the drill (which would read "desired 1 -> desired 1").
#[derive(Debug, Default)]
pub struct SizesBefore(std::collections::BTreeMap<(&'static str, String), (u32, u32, u32)>);

impl SizesBefore {
    /// "desired 4 (min 0, max 4)" (or `missing` when the group was not found), then remembers
    /// this change's target for the steps after it.
    pub fn describe(&mut self, g: &AsgChange, missing: &str) -> String {
        let key = (g.side.as_str(), g.name.clone());
        let text = match self.0.get(&key) {
            Some((desired, min, max)) => format!("desired {desired} (min {min}, max {max})"),
            None => match g.from {
                Some(c) => format!("desired {} (min {}, max {})", c.desired, c.min, c.max),
                None => missing.to_string(),
            },
        };
        self.0.insert(key, (g.desired, g.min, g.max));
        text
    }
}

impl AsgChange {
    /// To serving capacity (as opposed to back to warm); journals from before `to_serving`
    /// existed infer it from the capacity observed at planning time.
    pub fn scales_up(&self) -> bool {
        self.to_serving.unwrap_or_else(|| {
            self.desired > 0 && self.from.is_none_or(|f| self.desired >= f.desired)
        })
    }

    /// The InService count at which the scale step may end.
    pub fn enough(&self) -> u32 {
        self.min_serving.unwrap_or(self.desired).min(self.desired)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DnsChange {
    pub zone_id: String,
    pub name: String,
    pub record_type: String,
    pub ttl: u32,
    pub from: Option<String>,
    pub to: String,
    /// `method = "failover_records"`: the flip is this gate write (data plane), not an UPSERT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Box<GateWrite>>,
}

/// The gate object a data-plane flip writes (S3 PutObject in the gate's region).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GateWrite {
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub body: String,
    /// How long Route 53 may take to act on the write: (threshold + 1) x the check interval.
    pub reaction_bound_ms: u64,
}

/// The time a run's steps may use: the objective less detection and the DNS TTL, which every
/// failover pays whatever the steps do. Step budgets are shares of this, so a run whose steps
/// stay within budget meets the objective including the TTL.
pub fn action_budget(cfg: &Config) -> Duration {
    cfg.service
        .rto
        .saturating_sub(cfg.health.detection_time() + Duration::from_secs(u64::from(cfg.dns.ttl)))
}

/// The runbooks a kind of run follows, in order: a full drill is the failover runbook then the
/// failback runbook.
pub fn runbooks(kind: RunbookKind, cfg: &Config) -> Vec<&Runbook> {
    match kind {
        RunbookKind::Failover => vec![&cfg.failover.runbook],
        RunbookKind::Failback => vec![&cfg.failback.runbook],
        RunbookKind::DrillStandby => vec![&cfg.failover.drill_runbook],
        RunbookKind::DrillFull => vec![&cfg.failover.runbook, &cfg.failback.runbook],
    }
}

/// The plan for a kind of run: its runbooks' steps, each with the exact changes it will make.
pub fn plan_for(kind: RunbookKind, cfg: &Config, world: &World) -> Plan {
    let books = runbooks(kind, cfg);
    if kind != RunbookKind::DrillFull {
        return build(kind, cfg, books[0], world);
    }
    // One run, two phases: step names carry their phase so the journal keys stay unique, and the
    // failover phase's report step is dropped (the run writes one report at its end).
    let mut steps = Vec::new();
    for (phase, book) in [
        (RunbookKind::Failover, books[0]),
        (RunbookKind::Failback, books[1]),
    ] {
        for mut s in build(phase, cfg, book, world).steps {
            if phase == RunbookKind::Failover && s.action == Action::Report {
                continue;
            }
            s.name = format!("{}/{}", phase.as_str(), s.name);
            steps.push(s);
        }
    }
    Plan { kind, steps }
}

pub fn build(kind: RunbookKind, cfg: &Config, runbook: &Runbook, world: &World) -> Plan {
    let budget = action_budget(cfg);
    let hook = |when: &str, i: usize, h: &crate::runbook::Hook| PlannedStep {
        name: format!("{when}-hook-{}", i + 1),
        action: Action::Hook {
            command: h.command.clone(),
        },
        timeout: h.timeout,
        budget: Duration::ZERO,
        on_failure: OnFailure::Abort,
        cleanup: false,
        phase: kind,
        changes: Changes::None,
    };
    let mut steps: Vec<PlannedStep> = runbook
        .pre
        .iter()
        .enumerate()
        .map(|(i, h)| hook("pre", i, h))
        .collect();
    steps.extend(runbook.steps.iter().map(|s| PlannedStep {
        name: s.name.clone(),
        action: s.action.clone(),
        timeout: s.timeout,
        budget: budget.mul_f64(s.budget),
        on_failure: s.on_failure,
        cleanup: s.cleanup,
        phase: kind,
        changes: changes(&s.action, cfg, world),
    }));
    // Post hooks run once the run's work is done: before the trailing cleanup and report steps.
    let at = steps
        .iter()
        .rposition(|s| !s.cleanup && s.action != Action::Report)
        .map(|i| i + 1)
        .unwrap_or(steps.len());
    for (i, h) in runbook.post.iter().enumerate() {
        steps.insert(at + i, hook("post", i, h));
    }
    Plan { kind, steps }
}

fn changes(action: &Action, cfg: &Config, world: &World) -> Changes {
    match action {
        Action::Preflight | Action::Report | Action::FreezeRpo | Action::Hook { .. } => {
            Changes::None
        }
        Action::FinalSync | Action::ReverseSync => {
            let direction = if matches!(action, Action::FinalSync) {
                crate::sync::Direction::Forward
            } else {
                crate::sync::Direction::Reverse
            };
            let sets = cfg
                .artifacts
                .iter()
                .map(|a| {
                    let p = format!("s3://{}/{}", a.primary_bucket, a.prefix);
                    let st = format!("s3://{}/{}", a.standby_bucket, a.prefix);
                    let (from, to) = if direction == crate::sync::Direction::Forward {
                        (p, st)
                    } else {
                        (st, p)
                    };
                    SyncTarget {
                        set: a.name.clone(),
                        from,
                        to,
                    }
                })
                .collect();
            Changes::Sync { direction, sets }
        }
        Action::ScaleAsgs { side, target } => {
            let region = cfg.side(*side);
            let groups = region
                .asgs
                .iter()
                .map(|spec| {
                    let desired = match target {
                        Capacity::Serving => spec.serving,
                        Capacity::Warm => spec.warm,
                    };
                    let from = observed(world, *side, &spec.name);
                    // Widen the bounds only as far as the target needs; never narrow them on the
                    // way up, so a group someone sized larger by hand keeps its headroom.
                    let (min, max) = match from {
                        Some(c) => (c.min.min(desired), c.max.max(desired)),
                        None => (desired.min(spec.warm), desired),
                    };
                    let up = *target == Capacity::Serving;
                    AsgChange {
                        side: *side,
                        region: region.region.clone(),
                        name: spec.name.clone(),
                        from,
                        desired,
                        min,
                        max,
                        min_serving: (up && spec.min_serving < desired).then_some(spec.min_serving),
                        to_serving: Some(up),
                        fallback: if up {
                            spec.fallback
                                .iter()
                                .map(|f| Spare {
                                    name: f.clone(),
                                    from: observed(world, *side, f),
                                })
                                .collect()
                        } else {
                            Vec::new()
                        },
                    }
                })
                .collect::<Vec<_>>();
            // Back to warm: spares a scale-up may have used go back to 0 (at planning time no
            // one knows yet whether the scale-up will need them).
            let spares = match target {
                Capacity::Warm => region
                    .asgs
                    .iter()
                    .flat_map(|spec| &spec.fallback)
                    .map(|f| {
                        let from = observed(world, *side, f);
                        AsgChange {
                            side: *side,
                            region: region.region.clone(),
                            name: f.clone(),
                            from,
                            desired: 0,
                            min: 0,
                            max: from.map_or(0, |c| c.max),
                            min_serving: None,
                            fallback: Vec::new(),
                            to_serving: Some(false),
                        }
                    })
                    .collect(),
                Capacity::Serving => Vec::new(),
            };
            let mut groups = groups;
            groups.extend(spares);
            Changes::Asgs { groups }
        }
        Action::Verify {
            side, successes, ..
        } => Changes::Probe {
            url: cfg.side(*side).endpoint.clone(),
            successes: *successes,
        },
        Action::Smoke { side } => Changes::Smoke {
            url: cfg.smoke_url(*side),
        },
        Action::FlipDns { to } => Changes::Dns(DnsChange {
            zone_id: cfg.dns.zone_id.clone(),
            name: cfg.dns.name.clone(),
            record_type: cfg.dns.record_type.as_str().to_string(),
            ttl: cfg.dns.ttl,
            from: world.record.as_ref().map(|r| r.value.clone()),
            to: cfg.dns.value(*to).to_string(),
            gate: match &cfg.dns.method {
                crate::config::DnsMethod::Record => None,
                crate::config::DnsMethod::FailoverRecords(g) => Some(Box::new(GateWrite {
                    bucket: g.bucket.clone(),
                    region: g.region.clone(),
                    key: g.key.clone(),
                    body: crate::config::Gate::body(*to),
                    reaction_bound_ms: crate::duration::millis(g.reaction_bound()),
                })),
            },
        }),
    }
}

fn observed(world: &World, side: Side, name: &str) -> Option<AsgCapacity> {
    world
        .asgs
        .iter()
        .find(|a| a.side == side && a.name == name)
        .and_then(|a| a.capacity)
}

pub use crate::check::Check;

/// Safety checks before a run acts: every group the plan scales exists, the record exists and
/// points at one of the two sides we own (never overwrite a value somebody else set), a drill
/// finds traffic on the primary, and the standby's readiness (from its synthetic probes) when the
/// run is heading there.
///
/// `phase` is the phase whose preflight runs (a full drill has two): its groups are checked, and
/// the record must point where that phase starts from.
pub fn preflight(
    plan: &Plan,
    phase: RunbookKind,
    cfg: &Config,
    world: &World,
    readiness: Option<&crate::smoke::Readiness>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    // A group scaled by two steps (up, then back to warm) is checked once.
    let mut seen = std::collections::BTreeSet::new();
    for step in plan.steps.iter().filter(|s| s.phase == phase) {
        if let Changes::Asgs { groups } = &step.changes {
            // The spares too: a fallback that is not there is found now, not in the outage.
            let named = groups.iter().flat_map(|g| {
                std::iter::once((g, g.name.as_str()))
                    .chain(g.fallback.iter().map(move |f| (g, f.name.as_str())))
            });
            for (g, name) in named {
                if !seen.insert(name.to_string()) {
                    continue;
                }
                let found = observed(world, g.side, name);
                checks.push(match found {
                    Some(c) => Check {
                        name: format!("asg {name} ({})", g.region),
                        ok: true,
                        warning: false,
                        reason: format!(
                            "exists: desired {} (min {}, max {}), {} InService",
                            c.desired, c.min, c.max, c.in_service
                        ),
                    },
                    None => Check {
                        name: format!("asg {name} ({})", g.region),
                        ok: false,
                        warning: false,
                        reason: match world
                            .unreadable
                            .iter()
                            .find(|u| u.starts_with(g.side.as_str()))
                        {
                            Some(why) => {
                                format!("Auto Scaling group {name:?} could not be read: {why}")
                            }
                            None => {
                                format!("Auto Scaling group {name:?} not found in {}", g.region)
                            }
                        },
                    },
                });
            }
        }
    }
    let phase_kind = phase;
    // A drill starts from traffic on the primary; a full drill's failback phase from the standby.
    let drill_start = phase_kind == RunbookKind::DrillStandby
        || (plan.kind == RunbookKind::DrillFull && phase_kind == RunbookKind::Failover);
    let target = phase_kind.target();
    let name = match &cfg.dns.method {
        crate::config::DnsMethod::Record => {
            format!("dns {} {}", cfg.dns.record_type.as_str(), cfg.dns.name)
        }
        crate::config::DnsMethod::FailoverRecords(g) => format!(
            "dns {} {} (gate s3://{}/{})",
            cfg.dns.record_type.as_str(),
            cfg.dns.name,
            g.bucket,
            g.key
        ),
    };
    let check = |name: String, ok: bool, reason: String| Check {
        name,
        ok,
        reason,
        warning: false,
    };
    let mut record = match &world.record {
        None => check(
            name,
            false,
            format!("record not found in zone {}", cfg.dns.zone_id),
        ),
        Some(r) => match cfg.dns.side_of(&r.value) {
            Some(Side::Primary) if drill_start => check(
                name,
                true,
                format!("points at the primary ({}), as a drill needs", r.value),
            ),
            Some(side) if drill_start => check(
                name,
                false,
                format!(
                    "points at the {side} ({}): a drill needs traffic on the primary",
                    r.value
                ),
            ),
            Some(side) if side == target => check(
                name,
                true,
                format!(
                    "already points at the {side} ({}); the flip will be a no-op",
                    r.value
                ),
            ),
            Some(side) => check(name, true, format!("points at the {side} ({})", r.value)),
            None => Check {
                name,
                ok: false,
                warning: false,
                reason: format!(
                    "points at {:?}, which is neither dns.primary ({}) nor dns.standby ({}): refusing to overwrite a value standby does not own",
                    r.value, cfg.dns.primary, cfg.dns.standby
                ),
            },
        },
    };
    if let Some(src) = world.record.as_ref().and_then(|r| r.source.as_ref()) {
        record.reason = format!("{}; {src}", record.reason);
        record.warning |= world.record.as_ref().is_some_and(|r| r.last_known);
    }
    checks.push(record);
    checks.extend(crate::dns_setup::checks(
        cfg,
        world.failover_setup.as_ref(),
        world.failover_setup_unread.as_deref(),
    ));
    if phase_kind != RunbookKind::Failback
        && let Some(r) = readiness
    {
        use crate::smoke::ReadinessPolicy;
        let require = cfg.probes.readiness == ReadinessPolicy::Require;
        checks.push(Check {
            name: "standby readiness".into(),
            ok: r.ready || !require,
            warning: !r.ready && !require,
            reason: if r.ready || require {
                r.reason.clone()
            } else {
                format!(
                    "{} (readiness = \"warn\": going on; the verify steps still guard DNS)",
                    r.reason
                )
            },
        });
    }
    checks
}

/// The plan as an operator reads it before saying yes.
pub fn render(plan: &Plan, cfg: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut sizes = SizesBefore::default();
    let _ = writeln!(
        out,
        "{} plan for {} (RTO objective {}):",
        plan.kind.as_str(),
        cfg.service.name,
        crate::duration::human(cfg.service.rto)
    );
    for (i, s) in plan.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {} [{}] timeout {}, budget {}, on failure {}",
            i + 1,
            s.name,
            s.action.name(),
            crate::duration::human(s.timeout),
            crate::duration::human(s.budget),
            match s.on_failure {
                OnFailure::Abort => "abort",
                OnFailure::Continue => "continue",
            }
        );
        if let Action::Hook { command } = &s.action {
            let _ = writeln!(out, "       run {command:?}");
        }
        match &s.changes {
            Changes::None => {}
            Changes::Asgs { groups } => {
                for g in groups {
                    let from = sizes.describe(g, "NOT FOUND");
                    let _ = writeln!(
                        out,
                        "       {} {}: {from} -> desired {} (min {}, max {})",
                        g.region, g.name, g.desired, g.min, g.max
                    );
                    if let Some(m) = g.min_serving {
                        let _ = writeln!(
                            out,
                            "         goes on at {m} InService; the rest keeps launching"
                        );
                    }
                    for (i, f) in g.fallback.iter().enumerate() {
                        let _ = writeln!(
                            out,
                            "         if launches fail: {}. spare group {} ({}) asked for what is missing",
                            i + 1,
                            f.name,
                            match f.from {
                                Some(c) => format!("now desired {}, max {}", c.desired, c.max),
                                None => "NOT FOUND".to_string(),
                            }
                        );
                    }
                }
            }
            Changes::Dns(d) => {
                let from = d.from.as_deref().unwrap_or("(no record)");
                match &d.gate {
                    None => {
                        let _ = writeln!(
                            out,
                            "       {} {} in zone {}: {from} -> {} (UPSERT, TTL {}s)",
                            d.record_type, d.name, d.zone_id, d.to, d.ttl
                        );
                    }
                    Some(g) => {
                        let _ = writeln!(
                            out,
                            "       gate s3://{}/{} ({}): write {:?}, no Route 53 call; {} {} answers {from} -> {} within ~{} (health check) + TTL {}s",
                            g.bucket,
                            g.key,
                            g.region,
                            g.body.trim_end(),
                            d.record_type,
                            d.name,
                            d.to,
                            crate::duration::human(Duration::from_millis(g.reaction_bound_ms)),
                            d.ttl
                        );
                    }
                }
            }
            Changes::Smoke { url } => {
                let _ = writeln!(out, "       synthetic request {} {url}", cfg.probes.method);
            }
            Changes::Probe { url, successes } => {
                let _ = writeln!(
                    out,
                    "       probe {url} until {successes} consecutive successes"
                );
            }
            Changes::Sync { sets, .. } if sets.is_empty() => {
                let _ = writeln!(out, "       no artifact sets configured");
            }
            Changes::Sync { sets, .. } => {
                for t in sets {
                    let _ = writeln!(out, "       {}: {} -> {}", t.set, t.from, t.to);
                }
            }
        }
    }
    out
}

/// The side traffic is on once a plan's DNS steps up to `done` (exclusive) have run.
pub fn traffic_after(plan: &Plan, flipped: impl Fn(usize) -> bool, before: Side) -> Side {
    plan.steps
        .iter()
        .enumerate()
        .filter(|(i, _)| flipped(*i))
        .filter_map(|(_, s)| match s.action {
            Action::FlipDns { to } => Some(to),
            _ => None,
        })
        .last()
        .unwrap_or(before)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::compile::from_text;

    pub const CONFIG: &str = r#"
[service]
name = "chat"
rto = "5m"
state_dir = "/var/lib/standby"
[primary]
region = "us-east-1"
endpoint = "http://127.0.0.1:8081/health"
asgs = [{ name = "gpu-use1", warm = 0, serving = 4 }]
[standby]
region = "us-west-2"
endpoint = "http://127.0.0.1:8082/health"
asgs = [{ name = "gpu-usw2", warm = 1, serving = 4 }, { name = "gpu-usw2-b", warm = 0, serving = 2 }]
[dns]
zone_id = "Z0123456789"
name = "api.example.com."
ttl = 60
primary = "use1.example.com"
standby = "usw2.example.com"
"#;

    pub fn config() -> Config {
        from_text(std::path::Path::new("/etc/standby/standby.toml"), CONFIG)
            .expect("test config compiles")
    }

    fn world(record: Option<&str>) -> World {
        let cap = |desired, max| {
            Some(AsgCapacity {
                desired,
                min: 0,
                max,
                in_service: desired,
                pending: 0,
            })
        };
        World {
            asgs: vec![
                AsgObservation {
                    side: Side::Primary,
                    region: "us-east-1".into(),
                    name: "gpu-use1".into(),
                    capacity: cap(4, 4),
                },
                AsgObservation {
                    side: Side::Standby,
                    region: "us-west-2".into(),
                    name: "gpu-usw2".into(),
                    capacity: cap(1, 1),
                },
                AsgObservation {
                    side: Side::Standby,
                    region: "us-west-2".into(),
                    name: "gpu-usw2-b".into(),
                    capacity: None,
                },
            ],
            record: record.map(|v| RecordObservation::read(v.into(), Some(60))),
            ..World::default()
        }
    }

    #[test]
    fn failover_plan_names_every_change() {
        let cfg = config();
        let plan = build(
            RunbookKind::Failover,
            &cfg,
            &cfg.failover.runbook,
            &world(Some("use1.example.com")),
        );
        let text = render(&plan, &cfg);
        assert!(
            text.contains(
                "us-west-2 gpu-usw2: desired 1 (min 0, max 1) -> desired 4 (min 0, max 4)"
            ),
            "{text}"
        );
        assert!(
            text.contains("us-west-2 gpu-usw2-b: NOT FOUND -> desired 2 (min 0, max 2)"),
            "{text}"
        );
        assert!(text.contains("CNAME api.example.com. in zone Z0123456789: use1.example.com -> usw2.example.com (UPSERT, TTL 60s)"), "{text}");
        // 5m objective less detection (2 rounds × 2s interval + 1s timeout = 5s) and TTL (60s) =
        // 235s of action budget.
        assert_eq!(action_budget(&cfg), Duration::from_secs(235));
        let scale = plan
            .steps
            .iter()
            .find(|s| s.name == "scale-standby")
            .unwrap();
        assert_eq!(scale.budget, Duration::from_secs(235).mul_f64(0.35));
    }

    #[test]
    fn scaling_down_keeps_max_and_lowers_min() {
        let cfg = config();
        let plan = build(
            RunbookKind::Failback,
            &cfg,
            &cfg.failback.runbook,
            &world(Some("usw2.example.com")),
        );
        let Changes::Asgs { groups } = &plan
            .steps
            .iter()
            .find(|s| s.name == "standby-to-warm")
            .unwrap()
            .changes
        else {
            panic!()
        };
        let g = groups.iter().find(|g| g.name == "gpu-usw2").unwrap();
        assert_eq!((g.desired, g.min, g.max), (1, 0, 1));
    }

    #[test]
    fn preflight_refuses_missing_groups_and_foreign_records() {
        let cfg = config();
        let w = world(Some("somebody-else.example.net"));
        let plan = build(RunbookKind::Failover, &cfg, &cfg.failover.runbook, &w);
        let checks = preflight(&plan, plan.steps[0].phase, &cfg, &w, None);
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.reason.as_str())
            .collect();
        assert_eq!(failed.len(), 2, "{checks:?}");
        assert!(failed[0].contains("Auto Scaling group \"gpu-usw2-b\" not found in us-west-2"));
        assert!(failed[1].contains("refusing to overwrite a value standby does not own"));
        let w = world(None);
        let checks = preflight(&plan, plan.steps[0].phase, &cfg, &w, None);
        assert!(
            checks
                .iter()
                .any(|c| !c.ok && c.reason == "record not found in zone Z0123456789")
        );
    }

    #[test]
    fn flip_to_the_current_side_is_a_no_op_but_allowed() {
        let cfg = config();
        let w = world(Some("usw2.example.com."));
        let plan = build(RunbookKind::Failover, &cfg, &cfg.failover.runbook, &w);
        let checks = preflight(&plan, plan.steps[0].phase, &cfg, &w, None);
        let dns = checks.iter().find(|c| c.name.starts_with("dns")).unwrap();
        assert!(dns.ok);
        assert!(
            dns.reason.contains("already points at the standby"),
            "{}",
            dns.reason
        );
    }
}

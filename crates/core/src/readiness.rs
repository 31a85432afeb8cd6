//! Readiness evaluation: would a failover work now, and what would it meet? Each finding has a
//! check, a subject, a severity and a reason for people. The shell reads the world (groups, the
//! record, launch setups, instance types, reservations, sync state, the journal, the lease) and
//! this module judges it, with `now` passed in.
//!
//! Guarantees: every check in [`CHECKS`] yields at least one finding, so a check that could not
//! be made says so (`not_checked`, with why) instead of vanishing; an evaluation is `ready` only
//! when no finding is an error.
//!
//! Caveats: the failover's own preflight is part of it (the same pure function a run calls), so
//! readiness never says "ready" where a failover's preflight would refuse; but a readiness
//! evaluation is a reading at one instant, and the preflight reads again when a run starts.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::Check;
use crate::config::{Config, Side};
use crate::duration::human;
use crate::plan::AsgObservation;

/// Every check an evaluation makes, in the order it reports them.
pub const CHECKS: &[&str] = &[
    "preflight",
    "capacity",
    "parity",
    "quotas",
    "reservations",
    "artifacts",
    "standby_probe",
    "drill",
    "lease",
    "iam",
];

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    /// Could not be checked now (a read failed, an API the emulator or the account lacks).
    NotChecked,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::NotChecked => "not_checked",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub const ALL: [Severity; 4] = [
        Severity::Ok,
        Severity::NotChecked,
        Severity::Warning,
        Severity::Error,
    ];
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// One of [`CHECKS`].
    pub check: String,
    /// What it is about: a group, an artifact set, a record.
    pub subject: String,
    pub severity: Severity,
    pub reason: String,
}

impl Finding {
    /// "[error] capacity gpu-usw2: the standby group … does not exist", for terminals.
    pub fn line(&self) -> String {
        format!(
            "[{}] {} {}: {}",
            self.severity.as_str(),
            self.check,
            self.subject,
            self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    pub at: DateTime<Utc>,
    /// The config it was made against (a reload makes it stale).
    pub config_digest: String,
    pub findings: Vec<Finding>,
    /// What the standby costs, priced from the instance types this evaluation read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::StandbyCost>,
}

impl Evaluation {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn ready(&self) -> bool {
        self.count(Severity::Error) == 0
    }

    /// One line: "ready: 14 ok, 2 warnings, 1 not checked" or "NOT READY: …" with the errors.
    pub fn summary(&self) -> String {
        let counts = format!(
            "{} ok, {} warning(s), {} not checked, {} error(s)",
            self.count(Severity::Ok),
            self.count(Severity::Warning),
            self.count(Severity::NotChecked),
            self.count(Severity::Error)
        );
        if self.ready() {
            return format!("ready: {counts}");
        }
        let errors: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} {}: {}", f.check, f.subject, f.reason))
            .collect();
        format!("NOT READY: {counts}: {}", errors.join("; "))
    }

    /// Whether it can stand in for a new evaluation: made against this config, at most
    /// `max_age` ago.
    pub fn fresh(&self, digest: &str, now: DateTime<Utc>, max_age: Duration) -> bool {
        self.config_digest == digest && crate::duration::between(self.at, now) <= max_age
    }

    /// What changed in the judgement since `before` (a finding's severity, one appearing or
    /// going): the subjects whose webhook people should get. Reasons alone changing (a figure
    /// moving) is not a change.
    pub fn changes_since(&self, before: Option<&Evaluation>) -> Vec<String> {
        let key = |f: &Finding| (f.check.clone(), f.subject.clone());
        let old: BTreeMap<_, Severity> = before
            .map(|b| b.findings.iter().map(|f| (key(f), f.severity)).collect())
            .unwrap_or_default();
        let new: BTreeMap<_, Severity> =
            self.findings.iter().map(|f| (key(f), f.severity)).collect();
        let mut out = Vec::new();
        for ((check, subject), sev) in &new {
            match old.get(&(check.clone(), subject.clone())) {
                Some(was) if was == sev => {}
                Some(was) => out.push(format!(
                    "{check} {subject}: {} → {}",
                    was.as_str(),
                    sev.as_str()
                )),
                None if before.is_some() => {
                    out.push(format!("{check} {subject}: new, {}", sev.as_str()))
                }
                None => {}
            }
        }
        for (check, subject) in old.keys() {
            if !new.contains_key(&(check.clone(), subject.clone())) {
                out.push(format!("{check} {subject}: no longer reported"));
            }
        }
        out
    }
}

/// What a failover's (or a drill's) preflight makes of the last evaluation: reused when fresh
/// (this config, within [`Rules::fresh_for`]); its errors fail the preflight under
/// `[readiness] preflight = "require"` and are a warning under `"warn"`. None, or a stale one,
/// is a warning: the preflight's own reads still guard the run.
pub fn preflight_check(last: Option<&Evaluation>, cfg: &Config, now: DateTime<Utc>) -> Check {
    let rules = &cfg.readiness;
    let name = "readiness evaluation".to_string();
    let Some(e) = last.filter(|e| e.fresh(&cfg.digest, now, rules.fresh_for())) else {
        let why = match last {
            None => "none made yet".to_string(),
            Some(e) if e.config_digest != cfg.digest => {
                "the last one was made against another config".to_string()
            }
            Some(e) => format!(
                "the last one is {} old (fresh for {})",
                human(crate::duration::between(e.at, now)),
                human(rules.fresh_for())
            ),
        };
        return Check {
            name,
            ok: true,
            warning: true,
            reason: format!("not reused: {why} (`standby check --readiness` evaluates now)"),
        };
    };
    let when = format!(
        "evaluated {} ago",
        human(crate::duration::between(e.at, now))
    );
    if e.ready() {
        return Check {
            name,
            ok: true,
            warning: e.count(Severity::Warning) > 0,
            reason: format!("{when}: {}", e.summary()),
        };
    }
    Check {
        name,
        ok: !rules.require,
        warning: !rules.require,
        reason: if rules.require {
            format!(
                "{when}: {} ([readiness] preflight = \"require\")",
                e.summary()
            )
        } else {
            format!(
                "{when}: {} ([readiness] preflight = \"warn\": going on)",
                e.summary()
            )
        },
    }
}

/// An instance type as EC2 describes it: what parity compares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceType {
    pub name: String,
    pub vcpus: u32,
    pub gpus: u32,
    /// "NVIDIA H100", from the first GPU entry; empty for types without GPUs.
    pub gpu: String,
    pub gpu_memory_mib: u64,
}

/// The standby's last synthetic probe, as the preflight reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeView {
    pub ready: bool,
    pub drift: bool,
    pub reason: String,
}

/// An artifact set's RPO now (a true upper bound) against its objective.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactView {
    pub name: String,
    /// `None`: never synced (or its figure is unknown).
    pub rpo_bound: Option<Duration>,
    pub objective: Duration,
}

/// The lease, when several instances share the state.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseView {
    /// This instance holds it and may act.
    pub held_here: bool,
    /// Who holds it, as the lease object says (none: nobody).
    pub holder: Option<String>,
    /// How long ago the holder last renewed it, and the TTL it must renew within.
    pub renewed_ago: Option<Duration>,
    pub ttl: Duration,
}

/// A reading that could fail: the value, or why it could not be read.
pub type Read<T> = Result<T, String>;

/// What the shell read for an evaluation.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The failover's preflight checks, computed on this reading (`plan::preflight`) together
    /// with the dns setup and the standby's probe readiness: an error there is an error here.
    pub preflight: Vec<Check>,
    /// Both sides' groups (serving and spares) as read now.
    pub groups: Vec<AsgObservation>,
    /// Regions whose groups could not be read.
    pub groups_unread: Vec<String>,
    /// Per group (side, name): the instance types it launches.
    pub group_types: BTreeMap<(Side, String), Read<Vec<String>>>,
    /// What EC2 says of each type named above.
    pub types: Read<BTreeMap<String, InstanceType>>,
    /// Capacity reservation checks for a failover's scale-up, as the preflight makes them.
    pub reservations: Vec<Check>,
    /// Service quotas for the standby's instance families: (quota name, value in vCPUs), or why
    /// they could not be read.
    pub quotas: Read<Vec<(String, String, f64)>>,
    pub artifacts: Vec<ArtifactView>,
    /// `None`: never probed.
    pub probe: Option<ProbeView>,
    /// When the last successful drill that scaled the standby (standby or full) finished.
    pub last_drill: Option<DateTime<Utc>>,
    pub lease: Option<LeaseView>,
    /// IAM: the actions a failover needs, as simulated; or why not simulated.
    pub iam: Read<Vec<(String, bool)>>,
}

pub use crate::config::readiness::Rules;

/// The evaluation of `inputs` against `cfg` at `now`.
pub fn evaluate(cfg: &Config, inputs: &Inputs, now: DateTime<Utc>) -> Evaluation {
    let mut f = Vec::new();
    let mut push = |check: &str, subject: &str, severity: Severity, reason: String| {
        f.push(Finding {
            check: check.into(),
            subject: subject.into(),
            severity,
            reason,
        })
    };

    // The failover's preflight, as a run would make it now.
    for c in &inputs.preflight {
        let severity = if !c.ok {
            Severity::Error
        } else if c.warning {
            Severity::Warning
        } else {
            Severity::Ok
        };
        push("preflight", &c.name, severity, c.reason.clone());
    }

    // Capacity: the warm standby is really warm, and its groups can be read.
    for why in &inputs.groups_unread {
        push(
            "capacity",
            "groups",
            Severity::NotChecked,
            format!("cannot read the {why}"),
        );
    }
    for g in &cfg.standby.asgs {
        let seen = inputs
            .groups
            .iter()
            .find(|o| o.side == Side::Standby && o.name == g.name);
        let Some(seen) = seen else {
            continue; // unread region, said above
        };
        match &seen.capacity {
            None => push(
                "capacity",
                &g.name,
                Severity::Error,
                format!(
                    "the standby group {} does not exist in {}",
                    g.name, seen.region
                ),
            ),
            Some(c) if c.in_service < g.warm => push(
                "capacity",
                &g.name,
                Severity::Warning,
                format!(
                    "not warm: {} of the {} warm instances InService (desired {}, pending {}); a failover starts from {} and launches {}",
                    c.in_service,
                    g.warm,
                    c.desired,
                    c.pending,
                    c.in_service,
                    g.serving.saturating_sub(c.in_service)
                ),
            ),
            Some(c) => push(
                "capacity",
                &g.name,
                Severity::Ok,
                format!(
                    "warm: {} InService (warm {}, serving {}; max {} now, a failover sets it to {})",
                    c.in_service,
                    g.warm,
                    g.serving,
                    c.max,
                    c.max.max(g.serving)
                ),
            ),
        }
    }

    parity(cfg, inputs, &mut push);

    match &inputs.quotas {
        Err(why) => push("quotas", "ec2", Severity::NotChecked, why.clone()),
        Ok(quotas) => quota_findings(cfg, inputs, quotas, &mut push),
    }

    if inputs.reservations.is_empty() {
        push(
            "reservations",
            "standby groups",
            Severity::Ok,
            "no standby group points its launches at a capacity reservation".into(),
        );
    }
    for c in &inputs.reservations {
        let severity = if !c.ok {
            Severity::Error
        } else if c.reason.starts_with("not checked") {
            Severity::NotChecked
        } else if c.warning {
            Severity::Warning
        } else {
            Severity::Ok
        };
        push("reservations", &c.name, severity, c.reason.clone());
    }

    if inputs.artifacts.is_empty() {
        push(
            "artifacts",
            "sets",
            Severity::Ok,
            "no artifact sets configured".into(),
        );
    }
    for a in &inputs.artifacts {
        match a.rpo_bound {
            None => push(
                "artifacts",
                &a.name,
                Severity::Error,
                format!(
                    "never synced: the standby may lack this set (RPO objective {})",
                    human(a.objective)
                ),
            ),
            Some(b) if b > a.objective => push(
                "artifacts",
                &a.name,
                Severity::Error,
                format!(
                    "RPO at most {} now, over its objective {}",
                    human(b),
                    human(a.objective)
                ),
            ),
            Some(b) => push(
                "artifacts",
                &a.name,
                Severity::Ok,
                format!(
                    "RPO at most {} (objective {})",
                    human(b),
                    human(a.objective)
                ),
            ),
        }
    }

    match &inputs.probe {
        None => push(
            "standby_probe",
            "standby",
            Severity::Warning,
            "never probed: no synthetic request has reached the standby yet".into(),
        ),
        Some(p) if p.drift => push(
            "standby_probe",
            "standby",
            Severity::Error,
            format!("drift: {}", p.reason),
        ),
        Some(p) => push(
            "standby_probe",
            "standby",
            if p.ready {
                Severity::Ok
            } else {
                Severity::Warning
            },
            p.reason.clone(),
        ),
    }

    let max_age = cfg.readiness.drill_max_age;
    match inputs.last_drill {
        None => push(
            "drill",
            "last successful drill",
            Severity::Warning,
            format!(
                "no successful drill recorded: nothing has shown the standby can take the load (drill_max_age {})",
                human(max_age)
            ),
        ),
        Some(at) => {
            let age = crate::duration::between(at, now);
            let (severity, how) = if age > max_age {
                (Severity::Warning, "older than")
            } else {
                (Severity::Ok, "within")
            };
            push(
                "drill",
                "last successful drill",
                severity,
                format!(
                    "finished {} ({} ago), {how} drill_max_age {}",
                    crate::duration::stamp(at),
                    human(age),
                    human(max_age)
                ),
            );
        }
    }

    match &inputs.lease {
        None => push(
            "lease",
            "state",
            Severity::Ok,
            "one instance ([state] backend = \"file\"): no lease to hold".into(),
        ),
        Some(l) => {
            let renewed = l
                .renewed_ago
                .map(|a| format!(", renewed {} ago (ttl {})", human(a), human(l.ttl)))
                .unwrap_or_default();
            let (severity, reason) = match (&l.holder, l.renewed_ago) {
                (None, _) => (
                    Severity::Error,
                    "nobody holds the lease: no instance would act on a failure".to_string(),
                ),
                (Some(h), Some(a)) if a > l.ttl => (
                    Severity::Error,
                    format!("held by {h} but not renewed within its ttl{renewed}: it may be dead"),
                ),
                (Some(h), _) => (
                    Severity::Ok,
                    format!(
                        "held by {h}{}{renewed}",
                        if l.held_here { " (this instance)" } else { "" }
                    ),
                ),
            };
            push("lease", "state", severity, reason);
        }
    }

    match &inputs.iam {
        Err(why) => push("iam", "orchestrator", Severity::NotChecked, why.clone()),
        Ok(results) => {
            let denied: Vec<&str> = results
                .iter()
                .filter(|(_, allowed)| !allowed)
                .map(|(a, _)| a.as_str())
                .collect();
            if denied.is_empty() {
                push(
                    "iam",
                    "orchestrator",
                    Severity::Ok,
                    format!("all {} actions a failover needs are allowed", results.len()),
                );
            } else {
                push(
                    "iam",
                    "orchestrator",
                    Severity::Error,
                    format!("denied: {}", denied.join(", ")),
                );
            }
        }
    }

    Evaluation {
        at: now,
        config_digest: cfg.digest.clone(),
        findings: f,
        cost: None,
    }
}

/// Parity: what the standby launches can run what the primary runs. Compared per instance type
/// by GPU model, GPU count and GPU memory (the weights must fit); vCPUs only when neither has a
/// GPU.
fn parity(cfg: &Config, inputs: &Inputs, push: &mut impl FnMut(&str, &str, Severity, String)) {
    let types_of = |side: Side, name: &str| inputs.group_types.get(&(side, name.to_string()));
    let mut primary_types: Vec<String> = Vec::new();
    for g in &cfg.primary.asgs {
        if let Some(Ok(t)) = types_of(Side::Primary, &g.name) {
            primary_types.extend(t.iter().cloned());
        }
    }
    primary_types.sort();
    primary_types.dedup();
    let types = match &inputs.types {
        Ok(t) => t,
        Err(why) => {
            push(
                "parity",
                "instance types",
                Severity::NotChecked,
                format!("cannot describe the instance types: {why}"),
            );
            return;
        }
    };
    if primary_types.is_empty() {
        push(
            "parity",
            "instance types",
            Severity::NotChecked,
            "the primary's instance types could not be read (its region, or its launch templates)"
                .into(),
        );
        return;
    }
    for g in &cfg.standby.asgs {
        let standby_types = match types_of(Side::Standby, &g.name) {
            Some(Ok(t)) if !t.is_empty() => t,
            Some(Err(why)) => {
                push("parity", &g.name, Severity::NotChecked, why.clone());
                continue;
            }
            _ => {
                push(
                    "parity",
                    &g.name,
                    Severity::NotChecked,
                    "its instance types could not be read (the group was not found, or its region did not answer)".into(),
                );
                continue;
            }
        };
        // Every type the standby may launch must hold what the smallest primary type holds.
        let weakest_primary = primary_types
            .iter()
            .filter_map(|t| types.get(t))
            .min_by_key(|t| (t.gpu_memory_mib, t.gpus, t.vcpus));
        let Some(p) = weakest_primary else {
            push(
                "parity",
                &g.name,
                Severity::NotChecked,
                format!("EC2 did not describe {}", primary_types.join(", ")),
            );
            continue;
        };
        let mut short = Vec::new();
        let mut same = true;
        for name in standby_types {
            let Some(s) = types.get(name) else {
                short.push(format!("{name}: not described by EC2"));
                continue;
            };
            same &= s.name == p.name;
            if p.gpus > 0 {
                if s.gpu_memory_mib < p.gpu_memory_mib {
                    short.push(format!(
                        "{name}: {} GiB of GPU memory ({}× {}) for the primary's {} GiB ({}× {} on {})",
                        s.gpu_memory_mib / 1024,
                        s.gpus,
                        s.gpu,
                        p.gpu_memory_mib / 1024,
                        p.gpus,
                        p.gpu,
                        p.name
                    ));
                } else if s.gpu != p.gpu {
                    short.push(format!(
                        "{name}: {} GPUs where the primary runs {} ({}): memory suffices, speed and kernels differ",
                        s.gpu, p.gpu, p.name
                    ));
                }
            } else if s.vcpus < p.vcpus {
                short.push(format!(
                    "{name}: {} vCPUs for the primary's {} ({})",
                    s.vcpus, p.vcpus, p.name
                ));
            }
        }
        let memory_short = short
            .iter()
            .any(|s| s.contains("GiB of GPU memory") || s.contains("not described"));
        let (severity, reason) = if short.is_empty() {
            (
                Severity::Ok,
                if same {
                    format!("launches {}, as the primary", p.name)
                } else {
                    format!(
                        "launches {} (primary: {}): as much GPU memory, same GPU",
                        standby_types.join(", "),
                        primary_types.join(", ")
                    )
                },
            )
        } else if memory_short {
            (Severity::Error, short.join("; "))
        } else {
            (Severity::Warning, short.join("; "))
        };
        push("parity", &g.name, severity, reason);
    }
}

/// The Service Quotas EC2 On-Demand quotas (vCPUs per family and region, EC2 User Guide
/// "On-Demand Instance quotas"): code and name. A code Service Quotas does not answer for is
/// reported as not checked, never as a refusal.
pub const EC2_QUOTAS: &[(&str, &str)] = &[
    ("L-417A185B", "Running On-Demand P instances"),
    ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    (
        "L-1216C47A",
        "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
    ),
    ("L-1945791B", "Running On-Demand Inf instances"),
    ("L-6E869C2A", "Running On-Demand DL instances"),
    ("L-74FC7D96", "Running On-Demand F instances"),
    ("L-7295265B", "Running On-Demand X instances"),
    ("L-2C3B7624", "Running On-Demand Trn instances"),
];

/// The quota an instance type counts against, from its family letters (`p5.48xlarge` → P,
/// `g6e.xlarge` → G and VT, `inf2.xlarge` → Inf, `m7i.large` → Standard). `None`: a family with
/// a quota of its own not listed here (`u-`, `mac`, `hpc`).
pub fn quota_code(instance_type: &str) -> Option<&'static str> {
    let family: String = instance_type
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    Some(match family.as_str() {
        "p" => "L-417A185B",
        "g" | "vt" => "L-DB2E81BA",
        "inf" => "L-1945791B",
        "dl" => "L-6E869C2A",
        "f" => "L-74FC7D96",
        "x" => "L-7295265B",
        "trn" => "L-2C3B7624",
        f if (1..=2).contains(&f.len()) && "acdhimrtz".contains(&f[..1]) => "L-1216C47A",
        _ => return None,
    })
}

/// The standby's serving capacity in vCPUs per quota, against each quota's value.
fn quota_findings(
    cfg: &Config,
    inputs: &Inputs,
    quotas: &[(String, String, f64)],
    push: &mut impl FnMut(&str, &str, Severity, String),
) {
    let Ok(types) = &inputs.types else {
        push(
            "quotas",
            "ec2",
            Severity::NotChecked,
            "the instance types' vCPUs could not be read".into(),
        );
        return;
    };
    // code → vCPUs the standby needs at serving (its largest type, so the bound holds).
    let mut need: BTreeMap<&str, u64> = BTreeMap::new();
    for g in &cfg.standby.asgs {
        let Some(Ok(names)) = inputs.group_types.get(&(Side::Standby, g.name.clone())) else {
            continue;
        };
        let widest = names
            .iter()
            .filter_map(|n| types.get(n).map(|t| (n, t.vcpus)))
            .max_by_key(|(_, v)| *v);
        if let Some((name, vcpus)) = widest
            && let Some(code) = quota_code(name)
        {
            *need.entry(code).or_default() += u64::from(vcpus) * u64::from(g.serving);
        }
    }
    if need.is_empty() {
        push(
            "quotas",
            "ec2",
            Severity::NotChecked,
            "the standby groups' instance types are not known".into(),
        );
        return;
    }
    for (code, vcpus) in need {
        let name = EC2_QUOTAS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code, |(_, n)| *n);
        match quotas.iter().find(|(c, _, _)| c == code) {
            None => push(
                "quotas",
                name,
                Severity::NotChecked,
                format!(
                    "Service Quotas did not answer for {code} in {}",
                    cfg.standby.region
                ),
            ),
            Some((_, _, value)) => {
                let value = *value;
                let (severity, how) = if value < vcpus as f64 {
                    (Severity::Error, "below")
                } else {
                    (Severity::Ok, "covers")
                };
                push(
                    "quotas",
                    name,
                    severity,
                    format!(
                        "{code} in {}: {value:.0} vCPUs, {how} the {vcpus} vCPUs the standby's groups need at serving (instances of this family already running elsewhere in the account count against it too)",
                        cfg.standby.region
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AsgCapacity;
    use crate::plan::tests::config;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn gpu(name: &str, vcpus: u32, gpus: u32, gpu: &str, mib: u64) -> (String, InstanceType) {
        (
            name.to_string(),
            InstanceType {
                name: name.into(),
                vcpus,
                gpus,
                gpu: gpu.into(),
                gpu_memory_mib: mib,
            },
        )
    }

    fn group(side: Side, name: &str, in_service: u32) -> AsgObservation {
        AsgObservation {
            side,
            region: if side == Side::Primary {
                "us-east-1"
            } else {
                "us-west-2"
            }
            .into(),
            name: name.into(),
            capacity: Some(AsgCapacity {
                desired: in_service,
                min: 0,
                max: 4,
                in_service,
                pending: 0,
            }),
        }
    }

    /// Everything ready: the standby warm, same instance types, quotas cover serving, synced,
    /// probed, drilled last week.
    fn healthy() -> Inputs {
        let types = |t: &str| Ok(vec![t.to_string()]);
        Inputs {
            preflight: vec![Check {
                name: "record".into(),
                ok: true,
                warning: false,
                reason: "points at the primary".into(),
            }],
            groups: vec![
                group(Side::Primary, "gpu-use1", 4),
                group(Side::Standby, "gpu-usw2", 1),
                group(Side::Standby, "gpu-usw2-b", 0),
            ],
            groups_unread: vec![],
            group_types: [
                (
                    (Side::Primary, "gpu-use1".to_string()),
                    types("p5.48xlarge"),
                ),
                (
                    (Side::Standby, "gpu-usw2".to_string()),
                    types("p5.48xlarge"),
                ),
                (
                    (Side::Standby, "gpu-usw2-b".to_string()),
                    types("p5e.48xlarge"),
                ),
            ]
            .into(),
            types: Ok([
                gpu("p5.48xlarge", 192, 8, "NVIDIA H100", 655_360),
                gpu("p5e.48xlarge", 192, 8, "NVIDIA H200", 1_155_072),
                gpu("g5.12xlarge", 48, 4, "NVIDIA A10G", 91_552),
            ]
            .into()),
            reservations: vec![],
            quotas: Ok(vec![(
                "L-417A185B".into(),
                "Running On-Demand P instances".into(),
                1152.0,
            )]),
            artifacts: vec![ArtifactView {
                name: "weights".into(),
                rpo_bound: Some(Duration::from_secs(600)),
                objective: Duration::from_secs(3600),
            }],
            probe: Some(ProbeView {
                ready: true,
                drift: false,
                reason: "answered 200 in 812 ms".into(),
            }),
            last_drill: Some(at(20, 3)),
            lease: None,
            iam: Ok(vec![("autoscaling:UpdateAutoScalingGroup".into(), true)]),
        }
    }

    fn finding<'a>(e: &'a Evaluation, check: &str, subject: &str) -> &'a Finding {
        e.findings
            .iter()
            .find(|f| f.check == check && f.subject.contains(subject))
            .unwrap_or_else(|| panic!("no {check} {subject} in {:#?}", e.findings))
    }

    #[test]
    fn a_ready_standby_has_every_check_and_no_error() {
        let e = evaluate(&config(), &healthy(), at(26, 12));
        for check in CHECKS {
            assert!(
                e.findings.iter().any(|f| f.check == *check),
                "{check} missing: {:#?}",
                e.findings
            );
        }
        assert!(e.ready(), "{}", e.summary());
        assert!(e.summary().starts_with("ready: "), "{}", e.summary());
        let p = finding(&e, "parity", "gpu-usw2-b");
        assert_eq!(p.severity, Severity::Warning, "{p:?}");
        assert!(
            p.reason
                .contains("H200 GPUs where the primary runs NVIDIA H100"),
            "{p:?}"
        );
        let q = finding(&e, "quotas", "P instances");
        assert_eq!(q.severity, Severity::Ok);
        // 4 × 192 + 2 × 192 vCPUs at serving.
        assert!(
            q.reason.contains("1152 vCPUs, covers the 1152 vCPUs"),
            "{q:?}"
        );
        assert!(
            finding(&e, "drill", "").reason.contains("6d 9h ago"),
            "{:?}",
            finding(&e, "drill", "")
        );
    }

    #[test]
    fn each_check_fails_for_its_own_reason() {
        let cfg = config();
        let now = at(26, 12);
        let check = |edit: &dyn Fn(&mut Inputs),
                     check: &str,
                     subject: &str,
                     severity: Severity,
                     says: &str| {
            let mut i = healthy();
            edit(&mut i);
            let e = evaluate(&cfg, &i, now);
            let f = finding(&e, check, subject);
            assert_eq!(f.severity, severity, "{f:?}");
            assert!(
                f.reason.contains(says),
                "{check}: {:?} lacks {says:?}",
                f.reason
            );
            assert_eq!(e.ready(), severity != Severity::Error, "{}", e.summary());
        };
        check(
            &|i| i.preflight[0].ok = false,
            "preflight",
            "record",
            Severity::Error,
            "points at",
        );
        check(
            &|i| i.groups[1].capacity = None,
            "capacity",
            "gpu-usw2",
            Severity::Error,
            "does not exist in us-west-2",
        );
        check(
            &|i| i.groups[1].capacity.as_mut().unwrap().in_service = 0,
            "capacity",
            "gpu-usw2",
            Severity::Warning,
            "not warm: 0 of the 1 warm instances InService",
        );
        check(
            &|i| {
                i.group_types.insert(
                    (Side::Standby, "gpu-usw2".into()),
                    Ok(vec!["g5.12xlarge".into()]),
                );
            },
            "parity",
            "gpu-usw2",
            Severity::Error,
            "g5.12xlarge: 89 GiB of GPU memory (4× NVIDIA A10G) for the primary's 640 GiB",
        );
        check(
            &|i| i.quotas = Ok(vec![("L-417A185B".into(), "P".into(), 384.0)]),
            "quotas",
            "P instances",
            Severity::Error,
            "384 vCPUs, below the 1152 vCPUs",
        );
        check(
            &|i| i.quotas = Err("Service Quotas: AccessDenied".into()),
            "quotas",
            "ec2",
            Severity::NotChecked,
            "AccessDenied",
        );
        check(
            &|i| i.artifacts[0].rpo_bound = Some(Duration::from_secs(7200)),
            "artifacts",
            "weights",
            Severity::Error,
            "RPO at most 2h now, over its objective 1h",
        );
        check(
            &|i| i.artifacts[0].rpo_bound = None,
            "artifacts",
            "weights",
            Severity::Error,
            "never synced",
        );
        check(
            &|i| {
                i.probe = Some(ProbeView {
                    ready: false,
                    drift: true,
                    reason: "serves prompts v41, published v42".into(),
                })
            },
            "standby_probe",
            "standby",
            Severity::Error,
            "drift: serves prompts v41",
        );
        check(
            &|i| i.last_drill = Some(at(1, 3)),
            "drill",
            "",
            Severity::Warning,
            "older than drill_max_age 8d",
        );
        check(
            &|i| i.last_drill = None,
            "drill",
            "",
            Severity::Warning,
            "no successful drill recorded",
        );
        check(
            &|i| {
                i.lease = Some(LeaseView {
                    held_here: false,
                    holder: Some("dr-2".into()),
                    renewed_ago: Some(Duration::from_secs(40)),
                    ttl: Duration::from_secs(15),
                })
            },
            "lease",
            "state",
            Severity::Error,
            "held by dr-2 but not renewed within its ttl",
        );
        check(
            &|i| {
                i.lease = Some(LeaseView {
                    held_here: false,
                    holder: None,
                    renewed_ago: None,
                    ttl: Duration::from_secs(15),
                })
            },
            "lease",
            "state",
            Severity::Error,
            "nobody holds the lease",
        );
        check(
            &|i| i.iam = Ok(vec![("route53:ChangeResourceRecordSets".into(), false)]),
            "iam",
            "orchestrator",
            Severity::Error,
            "denied: route53:ChangeResourceRecordSets",
        );
        check(
            &|i| {
                i.reservations = vec![Check {
                    name: "capacity reservation cr-1 (asg gpu-usw2)".into(),
                    ok: false,
                    warning: false,
                    reason: "expired: launches cannot use it".into(),
                }]
            },
            "reservations",
            "cr-1",
            Severity::Error,
            "expired",
        );
    }

    #[test]
    fn a_preflight_reuses_a_fresh_evaluation_and_requires_it_when_told() {
        let mut cfg = config();
        let now = at(26, 12);
        let mut i = healthy();
        i.artifacts[0].rpo_bound = None;
        let bad = evaluate(&cfg, &i, now - chrono::Duration::minutes(10));
        let c = preflight_check(Some(&bad), &cfg, now);
        assert!(c.ok && c.warning, "{c:?}");
        assert!(
            c.reason.starts_with("evaluated 10m ago: NOT READY"),
            "{c:?}"
        );
        assert!(
            c.reason.ends_with("preflight = \"warn\": going on)"),
            "{c:?}"
        );
        cfg.readiness.require = true;
        let c = preflight_check(Some(&bad), &cfg, now);
        assert!(!c.ok, "{c:?}");
        let good = evaluate(&cfg, &healthy(), now - chrono::Duration::minutes(10));
        let c = preflight_check(Some(&good), &cfg, now);
        // Ready, with the H200 spare's parity warning carried as a warning.
        assert!(c.ok && c.warning && c.reason.contains(": ready: "), "{c:?}");
        // Stale, or made against another config, or none: a warning, never a refusal.
        let c = preflight_check(Some(&bad), &cfg, now + chrono::Duration::hours(2));
        assert!(
            c.ok && c.warning && c.reason.contains("fresh for 1h"),
            "{c:?}"
        );
        let mut other = bad.clone();
        other.config_digest = "sha256:other".into();
        let c = preflight_check(Some(&other), &cfg, now);
        assert!(c.ok && c.reason.contains("another config"), "{c:?}");
        let c = preflight_check(None, &cfg, now);
        assert!(
            c.ok && c.warning && c.reason.contains("none made yet"),
            "{c:?}"
        );
    }

    #[test]
    fn families_map_to_their_quotas() {
        for (t, code) in [
            ("p5.48xlarge", Some("L-417A185B")),
            ("p4d.24xlarge", Some("L-417A185B")),
            ("g6e.xlarge", Some("L-DB2E81BA")),
            ("g5.12xlarge", Some("L-DB2E81BA")),
            ("vt1.3xlarge", Some("L-DB2E81BA")),
            ("inf2.48xlarge", Some("L-1945791B")),
            ("trn1.32xlarge", Some("L-2C3B7624")),
            ("dl1.24xlarge", Some("L-6E869C2A")),
            ("m7i.large", Some("L-1216C47A")),
            ("c5.xlarge", Some("L-1216C47A")),
            ("im4gn.large", Some("L-1216C47A")),
            ("x2idn.32xlarge", Some("L-7295265B")),
            ("u-6tb1.metal", None),
            ("mac2.metal", None),
            ("hpc7g.16xlarge", None),
        ] {
            assert_eq!(quota_code(t), code, "{t}");
        }
    }

    #[test]
    fn changes_are_severities_not_figures() {
        let cfg = config();
        let first = evaluate(&cfg, &healthy(), at(26, 12));
        assert!(first.changes_since(None).is_empty());
        let mut i = healthy();
        i.artifacts[0].rpo_bound = Some(Duration::from_secs(900));
        let moved = evaluate(&cfg, &i, at(26, 12));
        assert!(
            moved.changes_since(Some(&first)).is_empty(),
            "a figure moved, nothing changed"
        );
        i.artifacts[0].rpo_bound = Some(Duration::from_secs(7200));
        let worse = evaluate(&cfg, &i, at(26, 12));
        assert_eq!(
            worse.changes_since(Some(&first)),
            vec!["artifacts weights: ok → error".to_string()]
        );
        assert!(first.fresh(
            &cfg.digest,
            at(26, 12) + chrono::Duration::minutes(59),
            cfg.readiness.fresh_for()
        ));
        assert!(!first.fresh(
            &cfg.digest,
            at(26, 13) + chrono::Duration::minutes(1),
            cfg.readiness.fresh_for()
        ));
        assert!(!first.fresh("sha256:other", at(26, 12), cfg.readiness.fresh_for()));
    }
}

//! Runbooks: ordered steps as data, loaded and validated like the config (every error at once,
//! with file:line:column and key path). The defaults ship in `runbooks/` and are embedded so a
//! config that names no runbook still gets the reviewed default.

use std::path::PathBuf;
use std::time::Duration;

use crate::diag::{Diagnostics, Source};
use crate::doc::Doc;
use crate::side::Side;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookKind {
    Failover,
    Failback,
    /// Non-disruptive: scale the standby to serving, verify and probe it, scale it back. DNS is
    /// never touched.
    DrillStandby,
    /// A real failover then failback in one run, with one report.
    DrillFull,
}

impl RunbookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunbookKind::Failover => "failover",
            RunbookKind::Failback => "failback",
            RunbookKind::DrillStandby => "drill-standby",
            RunbookKind::DrillFull => "drill-full",
        }
    }

    /// The command that starts a run of this kind: `failover`, `drill standby`.
    pub fn command(self) -> &'static str {
        match self {
            RunbookKind::Failover => "failover",
            RunbookKind::Failback => "failback",
            RunbookKind::DrillStandby => "drill standby",
            RunbookKind::DrillFull => "drill full",
        }
    }

    /// The kind named by [`as_str`](Self::as_str)'s word.
    pub fn parse(word: &str) -> Option<RunbookKind> {
        [
            RunbookKind::Failover,
            RunbookKind::Failback,
            RunbookKind::DrillStandby,
            RunbookKind::DrillFull,
        ]
        .into_iter()
        .find(|k| k.as_str() == word)
    }

    pub fn is_drill(self) -> bool {
        matches!(self, RunbookKind::DrillStandby | RunbookKind::DrillFull)
    }

    /// The side this kind of run moves traffic to.
    pub fn target(self) -> Side {
        match self {
            RunbookKind::Failover => Side::Standby,
            RunbookKind::Failback | RunbookKind::DrillStandby | RunbookKind::DrillFull => {
                Side::Primary
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Runbook {
    pub path: PathBuf,
    /// SHA-256 of the source text (`sha256sum` of the file), so a report says which runbook ran.
    pub digest: String,
    pub steps: Vec<Step>,
    /// `[[pre]]` commands: run first; a non-zero exit aborts the run.
    pub pre: Vec<Hook>,
    /// `[[post]]` commands: run after the last step that moves traffic; a failure fails the run.
    pub post: Vec<Hook>,
}

/// A command run as a step of its own (journaled, its output in the report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    /// argv: no shell, so nothing in it is interpreted.
    pub command: Vec<String>,
    #[serde(with = "crate::serde_duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    #[serde(with = "crate::serde_duration")]
    pub timeout: Duration,
    /// Share of the action budget (RTO objective less detection and DNS TTL) this step may use.
    pub budget: f64,
    pub on_failure: OnFailure,
    /// Runs even when the run was aborted (a failed step, or a drill the primary's failure
    /// interrupted): the steps that put the world back.
    #[serde(default)]
    pub cleanup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    Serving,
    Warm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    Abort,
    Continue,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Preflight,
    ScaleAsgs {
        side: Side,
        target: Capacity,
    },
    Verify {
        side: Side,
        successes: u32,
        #[serde(with = "crate::serde_duration")]
        interval: Duration,
    },
    FlipDns {
        to: Side,
    },
    /// Record each artifact set's RPO at the failure (the last good probe, or the command).
    FreezeRpo,
    /// Best effort, time-boxed forward sync of every set; skipped for a set whose primary bucket
    /// cannot be read.
    FinalSync,
    /// Copy back to the primary what changed on the standby during the outage.
    ReverseSync,
    /// A synthetic inference request (`[probes]`) to a side: status, latency, answer, versions.
    Smoke {
        side: Side,
    },
    /// A `[[pre]]` or `[[post]]` command of the runbook.
    Hook {
        command: Vec<String>,
    },
    Report,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Preflight => "preflight",
            Action::ScaleAsgs { .. } => "scale_asgs",
            Action::Verify { .. } => "verify",
            Action::FlipDns { .. } => "flip_dns",
            Action::FreezeRpo => "freeze_rpo",
            Action::FinalSync => "final_sync",
            Action::ReverseSync => "reverse_sync",
            Action::Smoke { .. } => "smoke",
            Action::Hook { .. } => "hook",
            Action::Report => "report",
        }
    }

    /// What the step does, independent of its name: how a drill's measured durations are
    /// matched to a failover's steps when projecting its RTO.
    pub fn key(&self) -> String {
        match self {
            Action::ScaleAsgs { side, target } => {
                format!(
                    "scale_asgs {side} {}",
                    match target {
                        Capacity::Serving => "serving",
                        Capacity::Warm => "warm",
                    }
                )
            }
            Action::Verify { side, .. } => format!("verify {side}"),
            Action::FlipDns { to } => format!("flip_dns {to}"),
            Action::Smoke { side } => format!("smoke {side}"),
            other => other.name().to_string(),
        }
    }

    fn default_timeout(name: &str) -> Duration {
        match name {
            "scale_asgs" => Duration::from_secs(600),
            "verify" => Duration::from_secs(120),
            "flip_dns" => Duration::from_secs(300),
            "final_sync" | "reverse_sync" => Duration::from_secs(120),
            _ => Duration::from_secs(30),
        }
    }
}

/// Where a step's keys are, for rules checked after the whole list is read.
struct Spans {
    table: usize,
    action: usize,
    name: Option<usize>,
    side: Option<usize>,
}

const ACTIONS: &[&str] = &[
    "preflight",
    "scale_asgs",
    "verify",
    "flip_dns",
    "freeze_rpo",
    "final_sync",
    "reverse_sync",
    "smoke",
    "report",
];

pub fn embedded(kind: RunbookKind) -> Source {
    match kind {
        RunbookKind::Failover => Source::new(
            "runbooks/failover.toml (built in)",
            include_str!("../../../runbooks/failover.toml").into(),
        ),
        RunbookKind::Failback => Source::new(
            "runbooks/failback.toml (built in)",
            include_str!("../../../runbooks/failback.toml").into(),
        ),
        // A full drill runs the failover and failback runbooks; this is the standby drill's.
        RunbookKind::DrillStandby | RunbookKind::DrillFull => Source::new(
            "runbooks/drill-standby.toml (built in)",
            include_str!("../../../runbooks/drill-standby.toml").into(),
        ),
    }
}

pub fn compile(src: &Source, kind: RunbookKind, diags: &mut Diagnostics) -> Option<Runbook> {
    let before = diags.errors().count();
    let doc = Doc::parse(src, diags)?;
    let mut root = doc.section(diags);
    if let Some(k) = root.choice(
        "kind",
        &["failover", "failback", "drill-standby"],
        Some(kind.as_str()),
    ) && k.value != kind.as_str()
    {
        root.error(
            k.offset,
            "kind",
            format!(
                "this runbook is for {:?} but is configured as the {} runbook",
                k.value,
                kind.as_str()
            ),
        );
    }
    let _ = root.opt_str("description");
    let steps = root.tables("steps", true, |t| {
        let name = t.opt_str("name");
        let action = t.choice("action", ACTIONS, None)?;
        let mut spans = Spans {
            table: t.offset,
            action: action.offset,
            name: name.as_ref().map(|n| n.offset),
            side: None,
        };
        let name = name
            .map(|n| n.value)
            .unwrap_or_else(|| action.value.clone());
        let timeout = t.duration("timeout", Some(Action::default_timeout(&action.value)));
        let budget = match t.opt_float("budget") {
            Some(b) if !(0.0..=1.0).contains(&b.value) => {
                t.error(
                    b.offset,
                    "budget",
                    format!(
                        "{} must be a share of the RTO objective between 0 and 1",
                        b.value
                    ),
                );
                None
            }
            Some(b) => Some(b.value),
            None if t.has("budget") => None,
            None => Some(0.0),
        };
        let on_failure = t.choice("on_failure", &["abort", "continue"], Some("abort"));
        let cleanup = t.opt_bool("cleanup").map(|b| b.value);
        let cleanup = if t.has("cleanup") {
            cleanup
        } else {
            Some(false)
        };
        let mut side = |t: &mut crate::doc::Section<'_, '_>, key: &str| {
            let s = t.choice(key, &["primary", "standby"], None)?;
            spans.side = Some(s.offset);
            Some(if s.value == "primary" {
                Side::Primary
            } else {
                Side::Standby
            })
        };
        let act = match action.value.as_str() {
            "preflight" => Some(Action::Preflight),
            "report" => Some(Action::Report),
            "freeze_rpo" => Some(Action::FreezeRpo),
            "final_sync" => Some(Action::FinalSync),
            "reverse_sync" => Some(Action::ReverseSync),
            "scale_asgs" => {
                let side = side(t, "side");
                let target = t.choice("target", &["serving", "warm"], None);
                let target = target.map(|c| {
                    if c.value == "serving" {
                        Capacity::Serving
                    } else {
                        Capacity::Warm
                    }
                });
                Some(Action::ScaleAsgs {
                    side: side?,
                    target: target?,
                })
            }
            "verify" => {
                let side = side(t, "side");
                let successes = t.int_in("successes", 1, 100, Some(3));
                let interval = t.duration("interval", Some(Duration::from_secs(1)));
                Some(Action::Verify {
                    side: side?,
                    successes: successes?.value as u32,
                    interval: interval?.value,
                })
            }
            "flip_dns" => side(t, "to").map(|to| Action::FlipDns { to }),
            "smoke" => side(t, "side").map(|side| Action::Smoke { side }),
            _ => None,
        };
        if let Some(t0) = &timeout
            && t0.value.is_zero()
        {
            t.error(t0.offset, "timeout", "must be greater than zero");
            return None;
        }
        let on_failure = if on_failure?.value == "continue" {
            OnFailure::Continue
        } else {
            OnFailure::Abort
        };
        Some((
            Step {
                name,
                action: act?,
                timeout: timeout?.value,
                budget: budget?,
                on_failure,
                cleanup: cleanup?,
            },
            spans,
        ))
    });
    let mut hooks = |key: &str| match root.tables(key, false, |t| {
        let command = t.strings("command");
        if !t.has("command") {
            let off = t.offset;
            t.error(off, "command", "is required");
        }
        let timeout = t.duration("timeout", Some(Duration::from_secs(30)));
        match command {
            Some(c) if c.is_empty() => {
                let off = t.offset;
                t.error(off, "command", "is empty");
                None
            }
            Some(c) => Some(Hook {
                command: c.into_iter().map(|a| a.value).collect(),
                timeout: timeout?.value,
            }),
            None => None,
        }
    }) {
        Some((items, _)) if items.iter().any(Option::is_none) => None,
        Some((items, _)) => Some(items.into_iter().flatten().collect::<Vec<Hook>>()),
        None if root.has(key) => None,
        None => Some(vec![]),
    };
    let pre = hooks("pre");
    let post = hooks("post");
    root.finish();
    let (items, steps_offset) = steps?;
    let (pre, post) = (pre?, post?);
    if items.is_empty() {
        diags.error(src, steps_offset, "steps", "the runbook has no steps");
    }
    if items.iter().any(Option::is_none) || diags.errors().count() > before {
        return None;
    }
    let steps: Vec<(Step, Spans)> = items.into_iter().flatten().collect();
    check_rules(src, kind, &steps, diags);
    if diags.errors().count() > before {
        return None;
    }
    Some(Runbook {
        path: src.path.clone(),
        digest: crate::digest::sha256(src.text.as_bytes()),
        steps: steps.into_iter().map(|(s, _)| s).collect(),
        pre,
        post,
    })
}

/// Rules that need the whole step list: names unique, budgets within the objective, and the
/// safety rule that DNS only ever moves to a side an earlier step verified.
fn check_rules(src: &Source, kind: RunbookKind, steps: &[(Step, Spans)], diags: &mut Diagnostics) {
    let mut names = std::collections::BTreeSet::new();
    for (i, (s, spans)) in steps.iter().enumerate() {
        if !names.insert(s.name.as_str()) {
            diags.error(src, spans.name.unwrap_or(spans.table), &format!("steps[{i}].name"), format!("{:?} is used by an earlier step; step names identify journal entries and must be unique", s.name));
        }
    }
    let total: f64 = steps.iter().map(|(s, _)| s.budget).sum();
    if total > 1.0 + 1e-9 {
        diags.error(src, steps.first().map(|s| s.1.table).unwrap_or(0), "steps", format!("budgets add up to {total:.2}; they are shares of the action budget (RTO objective less detection and DNS TTL) and must total at most 1"));
    }
    let target = kind.target();
    let mut verified = Vec::new();
    let mut flips = 0;
    for (i, (s, spans)) in steps.iter().enumerate() {
        let off = &spans.side.unwrap_or(spans.table);
        match &s.action {
            Action::Verify { side, .. } if s.on_failure == OnFailure::Abort => verified.push(*side),
            Action::FlipDns { .. } if kind == RunbookKind::DrillStandby => {
                diags.error(src, spans.action, &format!("steps[{i}].action"), "a standby drill never touches DNS; `standby drill full` runs the failover and failback runbooks for that");
            }
            Action::FlipDns { to } => {
                flips += 1;
                if *to != target {
                    diags.error(
                        src,
                        *off,
                        &format!("steps[{i}].to"),
                        format!(
                            "a {} runbook moves traffic to the {target}, not the {to}",
                            kind.as_str()
                        ),
                    );
                } else if !verified.contains(to) {
                    diags.error(src, spans.table, &format!("steps[{i}]"), format!("flip_dns to {to} has no earlier `verify` of {to} with on_failure = \"abort\": DNS could point at a side that failed verification"));
                }
            }
            _ => {}
        }
    }
    for (i, (s, spans)) in steps.iter().enumerate() {
        let wrong = match (&s.action, kind) {
            (Action::FinalSync, RunbookKind::Failback) => {
                Some("final_sync copies primary → standby; a failback runbook wants reverse_sync")
            }
            (Action::ReverseSync, RunbookKind::Failover) => {
                Some("reverse_sync copies standby → primary; a failover runbook wants final_sync")
            }
            (Action::FinalSync | Action::ReverseSync, RunbookKind::DrillStandby) => Some(
                "a standby drill does not sync artifacts; the scheduled syncs keep them current",
            ),
            _ => None,
        };
        if let Some(msg) = wrong {
            diags.error(src, spans.action, &format!("steps[{i}].action"), msg);
        }
    }
    if kind == RunbookKind::DrillStandby {
        let restores = steps.iter().any(|(s, _)| {
            s.cleanup
                && matches!(
                    s.action,
                    Action::ScaleAsgs {
                        side: Side::Standby,
                        target: Capacity::Warm
                    }
                )
        });
        if !restores {
            diags.error(src, 0, "steps", "a standby drill needs a `scale_asgs` step with side = \"standby\", target = \"warm\" and cleanup = true, so the standby goes back to warm even when the drill is aborted");
        }
    } else if flips == 0 {
        diags.warning(
            src,
            0,
            "steps",
            format!(
                "no flip_dns step: this {} runbook never moves traffic",
                kind.as_str()
            ),
        );
    }
    if !matches!(
        steps.first(),
        Some((
            Step {
                action: Action::Preflight,
                ..
            },
            _
        ))
    ) {
        diags.warning(
            src,
            0,
            "steps",
            "the first step is not `preflight`: nothing checks the world before acting",
        );
    }
}

/// A run phase as journals and reports write it: the kind's word (`drill-standby`), read back
/// strictly, so an unknown phase is an error, never a guess.
pub mod phase_words {
    use super::RunbookKind;

    pub fn serialize<S: serde::Serializer>(k: &RunbookKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RunbookKind, D::Error> {
        let word: String = serde::Deserialize::deserialize(d)?;
        RunbookKind::parse(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown phase {word:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_text(text: &str, kind: RunbookKind) -> (Option<Runbook>, Diagnostics) {
        let src = Source::new("rb.toml", text.into());
        let mut d = Diagnostics::default();
        (compile(&src, kind, &mut d), d)
    }

    #[test]
    fn embedded_runbooks_compile_clean() {
        for kind in [
            RunbookKind::Failover,
            RunbookKind::Failback,
            RunbookKind::DrillStandby,
        ] {
            let mut d = Diagnostics::default();
            let rb = compile(&embedded(kind), kind, &mut d).expect("embedded runbook compiles");
            assert!(d.items.is_empty(), "{d}");
            assert!(rb.steps.len() >= 5);
        }
    }

    #[test]
    fn flip_without_verify_is_refused() {
        let (rb, d) = compile_text(
            "[[steps]]\naction = \"preflight\"\n[[steps]]\naction = \"flip_dns\"\nto = \"standby\"\n",
            RunbookKind::Failover,
        );
        assert!(rb.is_none());
        assert!(
            d.to_string()
                .contains("rb.toml:3:1 steps[1]: flip_dns to standby has no earlier `verify`"),
            "{d}"
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let text = "[[steps]]\naction = \"scale_asgs\"\nside = \"west\"\ntarget = \"max\"\ntimout = \"1m\"\n[[steps]]\naction = \"reboot\"\n";
        let (rb, d) = compile_text(text, RunbookKind::Failover);
        assert!(rb.is_none());
        let s = d.to_string();
        assert!(
            s.contains("rb.toml:3:8 steps[0].side: \"west\" is not one of"),
            "{s}"
        );
        assert!(
            s.contains("rb.toml:4:10 steps[0].target: \"max\" is not one of"),
            "{s}"
        );
        assert!(
            s.contains("rb.toml:5:1 steps[0].timout: unknown key (did you mean \"timeout\"?)"),
            "{s}"
        );
        assert!(
            s.contains("rb.toml:7:10 steps[1].action: \"reboot\" is not one of"),
            "{s}"
        );
    }

    #[test]
    fn budgets_must_fit_the_objective() {
        let text = "[[steps]]\naction = \"preflight\"\nbudget = 0.7\n[[steps]]\naction = \"report\"\nbudget = 0.5\n";
        let (_, d) = compile_text(text, RunbookKind::Failover);
        assert!(d.to_string().contains("budgets add up to 1.20"), "{d}");
    }
}

//! The state machine: `state + event → next state + actions + reason`.
//!
//! `Primary → FailingOver{run} → Standby → FailingBack{run} → Primary`, with `paused` and the
//! automatic-failover cooldown orthogonal to it. The state is persisted as-is, so a cooldown or a
//! pause survives a restart.
//!
//! Guarantees (property-tested below): no second automatic failover inside the cooldown unless it
//! was acknowledged; no run starts while another runs; nothing starts while paused.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::runbook::RunbookKind;
use crate::side::Side;

/// Whether failover (or failback) starts on its own or waits for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Automatic,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Serving {
    Primary,
    FailingOver {
        run: String,
    },
    Standby,
    FailingBack {
        run: String,
    },
    /// A drill runs; traffic is on the primary when it starts (a full drill moves it and back).
    Drilling {
        run: String,
        kind: RunbookKind,
    },
}

impl Serving {
    pub fn running(&self) -> Option<&str> {
        match self {
            Serving::FailingOver { run }
            | Serving::FailingBack { run }
            | Serving::Drilling { run, .. } => Some(run),
            Serving::Primary | Serving::Standby => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Serving::Primary => "primary".into(),
            Serving::Standby => "standby".into(),
            Serving::FailingOver { run } => format!("failing over ({run})"),
            Serving::FailingBack { run } => format!("failing back ({run})"),
            Serving::Drilling { run, kind } => {
                format!("primary, {} running ({run})", kind.as_str())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub serving: Serving,
    pub paused: bool,
    /// No automatic failover before this instant unless acknowledged.
    pub cooldown_until: Option<DateTime<Utc>>,
    pub last_run: Option<String>,
    /// What started the current run, kept with the state so a run whose journal was never
    /// created (a crash right after the decision) can still be created on resume.
    #[serde(default)]
    pub trigger: Option<Trigger>,
    pub reason: String,
    pub changed_at: Option<DateTime<Utc>>,
    /// A drill asked to stop at its next safe point (its cleanup steps still run).
    #[serde(default)]
    pub abort_run: Option<String>,
    /// A failover waiting for an aborted drill's cleanup, with the trigger it will carry.
    #[serde(default)]
    pub pending: Option<Trigger>,
    /// Manual mode: the run that waits for `standby approve` before its first step.
    #[serde(default)]
    pub awaiting_approval: Option<String>,
    /// Automatic failover acts only once the primary has been seen healthy through the probe
    /// it is watched by: a primary never seen healthy is a probe or config problem (wrong URL,
    /// TLS name, firewall) until proven otherwise. Persisted, so a restart during a real outage
    /// still acts; a new probe target starts unarmed again.
    #[serde(default)]
    pub armed: Option<Armed>,
    /// The last failover used up its attempts and escalated: automatic failover does not start
    /// another one on the same outage (people are on it) until `standby ack`, the primary's
    /// recovery, or an operator's `standby failover`.
    #[serde(default)]
    pub gave_up: Option<GaveUp>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaveUp {
    pub run: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Armed {
    /// The probe target the primary answered healthy on.
    pub probe: String,
    pub at: DateTime<Utc>,
}

impl State {
    pub fn armed_for(&self, probe: &str) -> bool {
        self.armed.as_ref().is_some_and(|a| a.probe == probe)
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            serving: Serving::Primary,
            paused: false,
            cooldown_until: None,
            last_run: None,
            trigger: None,
            reason: "initial state: serving from the primary".into(),
            changed_at: None,
            abort_run: None,
            pending: None,
            awaiting_approval: None,
            armed: None,
            gave_up: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// The detector's down verdict.
    Automatic {
        reason: String,
        streak_start: DateTime<Utc>,
        decided_at: DateTime<Utc>,
        /// The last good round before the streak: the onset lies between it and `streak_start`.
        /// `None` when the detector never saw the primary healthy in this process.
        #[serde(default)]
        last_good: Option<DateTime<Utc>>,
    },
    /// An operator's command.
    Manual { command: String, at: DateTime<Utc> },
}

impl Trigger {
    /// When the RTO headline's clock starts: the last good probe before the streak (the onset is
    /// no earlier), else its first failing probe, or the command.
    pub fn clock_start(&self) -> DateTime<Utc> {
        match self {
            Trigger::Automatic {
                streak_start,
                last_good,
                ..
            } => last_good.unwrap_or(*streak_start),
            Trigger::Manual { at, .. } => *at,
        }
    }

    /// The first failing probe of the streak (the onset's latest possible instant), or the
    /// command.
    pub fn first_failing(&self) -> DateTime<Utc> {
        match self {
            Trigger::Automatic { streak_start, .. } => *streak_start,
            Trigger::Manual { at, .. } => *at,
        }
    }

    /// The instant RPO "at the failure" is measured at: the last moment the primary was seen
    /// serving (its last good probe; else the first failing one), or the command. The data at
    /// risk is what the standby lacked then, plus what the primary accepted in the onset gap
    /// (under one probe interval) — the closest instant anything vouches for.
    /// The same instant the RTO headline counts from.
    pub fn failure_instant(&self) -> DateTime<Utc> {
        self.clock_start()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The detector's `down`; `probe` is the target it watches (the primary's health URL).
    PrimaryDown {
        reason: String,
        streak_start: DateTime<Utc>,
        /// The last good round before the streak (the onset's lower end).
        last_good: Option<DateTime<Utc>>,
        probe: String,
    },
    /// The detector's `up` (also the first `up` after a start): arms automatic failover.
    PrimaryUp {
        reason: String,
        probe: String,
    },
    /// An operator asks for a run; `rerun`: even if traffic is already on its target side.
    Requested {
        kind: RunbookKind,
        rerun: bool,
    },
    /// A `[[drills]]` schedule fired.
    ScheduledDrill {
        kind: RunbookKind,
        schedule: String,
    },
    RunFinished {
        run: String,
        succeeded: bool,
        traffic_on: Side,
        /// A failover that used up its attempts (and escalated), as opposed to one stopped
        /// because the primary recovered or an operator aborted it.
        gave_up: bool,
    },
    /// The primary has been healthy for `[failback] stable_for` while traffic is on the standby.
    PrimaryStable {
        reason: String,
    },
    /// An operator approved a run that waits for approval (manual mode).
    Approve {
        run: String,
    },
    Pause,
    Resume,
    Ack,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    StartRun {
        run: String,
        kind: RunbookKind,
        trigger: Trigger,
    },
    /// Ask a running drill to stop at its next safe point (its cleanup steps still run).
    AbortRun { run: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub next: State,
    pub actions: Vec<Action>,
    /// What happened to the event: callers branch on this, people read `reason`.
    pub outcome: Outcome,
    pub reason: String,
}

/// What a decision did with its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The state changed or actions follow.
    Applied,
    /// Nothing to do: the state already says it (a healthy round, a repeated command).
    Unchanged,
    /// A command that cannot be carried out now (paused, a run in progress, the wrong run to
    /// approve, already serving there): the caller reports a failure (exit 1, HTTP 409).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Refused => "refused",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub mode: Mode,
    pub cooldown: Duration,
    /// `[failback] mode`: automatic failback once the primary is stable; manual by default.
    pub failback: Mode,
}

/// Decides what an event means in a state. `run_id` names the run this event would start, so the
/// function stays pure; it is ignored when no run starts.
pub fn decide(
    state: &State,
    event: &Event,
    now: DateTime<Utc>,
    policy: &Policy,
    run_id: &str,
) -> Decision {
    let mut d = decide_event(state, event, now, policy, run_id);
    if d.outcome == Outcome::Applied && d.next == *state && d.actions.is_empty() {
        d.outcome = Outcome::Unchanged;
    }
    d
}

fn decide_event(
    state: &State,
    event: &Event,
    now: DateTime<Utc>,
    policy: &Policy,
    run_id: &str,
) -> Decision {
    let d = Deciding {
        state,
        now,
        policy,
        run_id,
    };
    match event {
        Event::PrimaryDown {
            reason,
            streak_start,
            last_good,
            probe,
        } => d.primary_down(reason, streak_start, last_good, probe),
        Event::PrimaryUp { reason, probe } => d.primary_up_event(reason, probe),
        Event::PrimaryStable { reason } => d.primary_stable(reason),
        Event::Approve { run } => d.approve(run),
        Event::Requested { kind, rerun } => d.requested(kind, rerun),
        Event::ScheduledDrill { kind, schedule } => d.scheduled_drill(kind, schedule),
        Event::RunFinished {
            run,
            succeeded,
            traffic_on,
            gave_up,
        } => d.run_finished(run, succeeded, traffic_on, gave_up),
        Event::Pause => d.pause(),
        Event::Resume => d.resume(),
        Event::Ack => d.ack(),
    }
}

/// What every decision reads: the state, the time, the policy and the id a new run gets.
#[derive(Clone, Copy)]
struct Deciding<'a> {
    state: &'a State,
    now: DateTime<Utc>,
    policy: &'a Policy,
    run_id: &'a str,
}

impl Deciding<'_> {
    /// Nothing changes.
    fn stay(&self, reason: String) -> Decision {
        Decision {
            outcome: Outcome::Unchanged,
            next: self.state.clone(),
            actions: vec![],
            reason,
        }
    }

    /// A command that cannot be carried out now.
    fn refuse(&self, reason: String) -> Decision {
        Decision {
            outcome: Outcome::Refused,
            ..self.stay(reason)
        }
    }

    /// Starts a run of `kind`, with the trigger it carries; `cooldown` starts the cooldown too.
    fn start(
        &self,
        serving: Serving,
        kind: RunbookKind,
        trigger: Trigger,
        cooldown: bool,
        reason: String,
    ) -> Decision {
        let mut next = self.state.clone();
        next.serving = serving;
        next.last_run = Some(self.run_id.to_string());
        next.trigger = Some(trigger.clone());
        next.reason = reason.clone();
        next.changed_at = Some(self.now);
        if cooldown {
            next.cooldown_until = Some(cooldown_end(self.now, self.policy.cooldown));
        }
        if kind == RunbookKind::Failover {
            // A new failover is a new try: its own attempts, its own escalation.
            next.gave_up = None;
        }
        Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![Action::StartRun {
                run: self.run_id.to_string(),
                kind,
                trigger,
            }],
            reason,
        }
    }

    /// The primary is judged down: fail over now, ask for approval, or say why not.
    fn primary_down(
        &self,
        reason: &str,
        streak_start: &DateTime<Utc>,
        last_good: &Option<DateTime<Utc>>,
        probe: &str,
    ) -> Decision {
        let Deciding {
            state,
            now,
            policy,
            run_id,
        } = *self;
        if let Serving::Drilling { run, kind } = &state.serving {
            let mut d = abort_drill(state, now, policy, run, *kind, reason, || {
                Trigger::Automatic {
                    reason: reason.to_string(),
                    streak_start: *streak_start,
                    last_good: *last_good,
                    decided_at: now,
                }
            });
            // Unarmed: the drill still stops (something is wrong), but no failover follows.
            if d.next.pending.is_some() && !state.armed_for(probe) {
                d.next.pending = None;
                d.reason = format!(
                    "{}; but not failing over after it: UNARMED: the primary has never been seen healthy at {probe}",
                    d.reason.replace(
                        "; its cleanup runs, then the failover starts",
                        "; its cleanup runs"
                    )
                );
                d.next.reason = d.reason.to_string();
            }
            return d;
        }
        if let Some(run) = state.serving.running() {
            return self.stay(format!(
                "primary down ({reason}); run {run} is already in progress"
            ));
        }
        if state.serving == Serving::Standby {
            return self.stay(format!(
                "primary down ({reason}); already serving from the standby"
            ));
        }
        if state.paused {
            return self.stay(format!(
                "primary down ({reason}); not failing over: actions are paused (`standby resume` to act)"
            ));
        }
        if policy.mode == Mode::Manual {
            // The run is created (planned, journaled) so approving it is one command; it never
            // starts on its own, and an escalation goes out if nobody answers.
            let trigger = Trigger::Automatic {
                reason: reason.to_string(),
                streak_start: *streak_start,
                last_good: *last_good,
                decided_at: now,
            };
            let mut d = self.start(
                Serving::FailingOver {
                    run: run_id.to_string(),
                },
                RunbookKind::Failover,
                trigger,
                false,
                format!(
                    "primary down ({reason}); manual mode: failover {run_id} waits for `standby approve {run_id}`"
                ),
            );
            d.next.awaiting_approval = Some(run_id.to_string());
            return d;
        }
        if !state.armed_for(probe) {
            return self.stay(format!(
                "primary down ({reason}); not failing over: UNARMED: the primary has never been seen healthy at {probe} since it was first watched; check the probe URL and path, the TLS name and the firewall (`standby failover` still works by hand)"
            ));
        }
        if let Some(until) = state.cooldown_until.filter(|u| *u > now) {
            return self.stay(format!(
                "primary down ({reason}); not failing over: inside the cooldown of the last automatic failover until {} (`standby ack` lifts it)",
                until.to_rfc3339()
            ));
        }
        if let Some(g) = &state.gave_up {
            return self.stay(format!(
                "primary down ({reason}); not failing over again on its own: failover {} used up its attempts at {} and escalated (`standby failover` tries again now; `standby ack` lets automatic failover try again)",
                g.run,
                g.at.to_rfc3339()
            ));
        }
        let trigger = Trigger::Automatic {
            reason: reason.to_string(),
            streak_start: *streak_start,
            last_good: *last_good,
            decided_at: now,
        };
        // The cooldown starts when the failover succeeds (RunFinished): a failed one must
        // not hold the next attempt back.
        self.start(
            Serving::FailingOver {
                run: run_id.to_string(),
            },
            RunbookKind::Failover,
            trigger,
            false,
            format!("failing over automatically: {reason}"),
        )
    }

    /// The primary answered healthy: arm, cancel a waiting failover, clear an escalation.
    fn primary_up_event(&self, reason: &str, probe: &str) -> Decision {
        let Deciding {
            state, now, policy, ..
        } = *self;
        let mut d = primary_up(state, reason, now, policy);
        if d.next.gave_up.take().is_some() {
            d.reason = format!(
                "{}; the escalated failover is behind us: automatic failover may act on the next outage",
                d.reason
            );
        }
        if !d.next.armed_for(probe) {
            d.next.armed = Some(Armed {
                probe: probe.to_string(),
                at: now,
            });
            d.reason = format!(
                "{}; automatic failover armed: the primary answered healthy at {probe}",
                d.reason
            );
        }
        d
    }

    /// The primary has been healthy for `stable_for`: fail back when automatic.
    fn primary_stable(&self, reason: &str) -> Decision {
        let Deciding {
            state,
            now,
            policy,
            run_id,
        } = *self;
        if state.serving != Serving::Standby {
            return self.stay(format!(
                "primary stable ({reason}); traffic is not on the standby"
            ));
        }
        if policy.failback != Mode::Automatic {
            return self.stay(format!(
                "primary stable ({reason}); automatic failback is off: run `standby failback` when ready"
            ));
        }
        if state.paused {
            return self.stay(format!(
                "primary stable ({reason}); not failing back: actions are paused"
            ));
        }
        let trigger = Trigger::Automatic {
            reason: reason.to_string(),
            streak_start: now,
            last_good: None,
            decided_at: now,
        };
        self.start(
            Serving::FailingBack {
                run: run_id.to_string(),
            },
            RunbookKind::Failback,
            trigger,
            false,
            format!("failing back automatically: {reason}"),
        )
    }

    /// An operator approves a waiting failover.
    fn approve(&self, run: &str) -> Decision {
        let Deciding { state, now, .. } = *self;
        match &state.awaiting_approval {
            Some(waiting) if waiting == run => {
                let mut next = state.clone();
                next.awaiting_approval = None;
                next.changed_at = Some(now);
                next.reason = format!("failover {run} approved by an operator");
                Decision {
                    outcome: Outcome::Applied,
                    reason: next.reason.to_string(),
                    next,
                    actions: vec![],
                }
            }
            Some(waiting) => self.refuse(format!(
                "refused: run {waiting} waits for approval, not {run}"
            )),
            None => self.refuse(format!(
                "refused: no run waits for approval (asked to approve {run})"
            )),
        }
    }

    /// An operator asks for a run.
    fn requested(&self, kind: &RunbookKind, rerun: &bool) -> Decision {
        let Deciding {
            state,
            now,
            policy,
            run_id,
        } = *self;
        let command = format!(
            "standby {}{}",
            kind.command(),
            if *rerun { " --rerun" } else { "" }
        );
        if let (Serving::Drilling { run, kind: drill }, RunbookKind::Failover) =
            (&state.serving, kind)
        {
            if state.paused {
                return self.refuse("refused: actions are paused (`standby resume` first)".into());
            }
            let (run, drill) = (run.to_string(), *drill);
            let mut d = abort_drill(
                state,
                now,
                policy,
                &run,
                drill,
                "operator requested a failover",
                || Trigger::Manual {
                    command: command.clone(),
                    at: now,
                },
            );
            // The operator asked; mode and cooldown do not hold a manual failover back.
            d.next.pending = Some(Trigger::Manual {
                command: command.clone(),
                at: now,
            });
            d.reason = format!(
                "aborting {} {run} first: the failover starts as soon as its cleanup is done",
                drill.as_str()
            );
            return d;
        }
        if let Some(run) = state.serving.running() {
            return self.refuse(format!("refused: run {run} is already in progress"));
        }
        if state.paused {
            return self.refuse("refused: actions are paused (`standby resume` first)".into());
        }
        let trigger = Trigger::Manual { command, at: now };
        match (kind, &state.serving) {
            (RunbookKind::DrillStandby | RunbookKind::DrillFull, _) => {
                self.start_drill(*kind, trigger)
            }
            (RunbookKind::Failover, Serving::Standby) if !*rerun => self.refuse(
                "refused: already serving from the standby (--rerun to run the failover runbook anyway)"
                    .into(),
            ),
            (RunbookKind::Failback, Serving::Primary) if !*rerun => self.refuse(
                "refused: already serving from the primary (--rerun to run the failback runbook anyway)"
                    .into(),
            ),
            (RunbookKind::Failover, _) => self.start(
                Serving::FailingOver {
                    run: run_id.to_string(),
                },
                *kind,
                trigger,
                false,
                "failing over on operator request".into(),
            ),
            (RunbookKind::Failback, _) => self.start(
                Serving::FailingBack {
                    run: run_id.to_string(),
                },
                *kind,
                trigger,
                false,
                "failing back on operator request".into(),
            ),
        }
    }

    /// A `[[drills]]` schedule fired.
    fn scheduled_drill(&self, kind: &RunbookKind, schedule: &str) -> Decision {
        let Deciding { state, now, .. } = *self;
        if let Some(run) = state.serving.running() {
            return self.stay(format!(
                "scheduled {} skipped: run {run} is in progress",
                kind.as_str()
            ));
        }
        if state.paused {
            return self.stay(format!(
                "scheduled {} skipped: actions are paused",
                kind.as_str()
            ));
        }
        let trigger = Trigger::Manual {
            command: format!("[[drills]] schedule `{schedule}`"),
            at: now,
        };
        self.start_drill(*kind, trigger)
    }

    /// A run ended: where traffic is, cooldown, escalation, a failover that waited.
    fn run_finished(
        &self,
        run: &str,
        succeeded: &bool,
        traffic_on: &Side,
        gave_up: &bool,
    ) -> Decision {
        let Deciding {
            state,
            now,
            policy,
            run_id,
        } = *self;
        if state.serving.running() != Some(run) {
            return self.stay(format!(
                "run {run} finished but is not the current run ({}); ignored",
                state.serving.label()
            ));
        }
        let mut next = state.clone();
        let failover = matches!(state.serving, Serving::FailingOver { .. });
        let automatic = matches!(state.trigger, Some(Trigger::Automatic { .. }));
        // The cooldown guards against a second automatic failover after one that worked.
        if failover && automatic && *succeeded && *traffic_on == Side::Standby {
            next.cooldown_until = Some(cooldown_end(now, policy.cooldown));
        }
        if failover && *gave_up {
            next.gave_up = Some(GaveUp {
                run: run.to_string(),
                at: now,
            });
        }
        next.serving = match traffic_on {
            Side::Primary => Serving::Primary,
            Side::Standby => Serving::Standby,
        };
        let verb = if *succeeded { "succeeded" } else { "failed" };
        next.trigger = None;
        next.abort_run = None;
        next.awaiting_approval = None;
        next.reason = format!("run {run} {verb}; traffic is on the {traffic_on}");
        next.changed_at = Some(now);
        let pending = next.pending.take();
        match (pending, traffic_on) {
            (Some(_), Side::Standby) => {
                next.reason.push_str("; the waiting failover is not needed");
            }
            (Some(_), Side::Primary) if next.paused => {
                next.reason
                    .push_str("; the waiting failover is dropped: actions are paused");
            }
            (Some(trigger), Side::Primary) => {
                let reason = format!(
                    "{}; failing over now, as the primary failed during it",
                    next.reason
                );
                // The failover starts from the state this run's end left.
                let after = Deciding {
                    state: &next,
                    ..*self
                };
                return after.start(
                    Serving::FailingOver {
                        run: run_id.to_string(),
                    },
                    RunbookKind::Failover,
                    trigger,
                    false,
                    reason,
                );
            }
            (None, _) => {}
        }
        Decision {
            outcome: Outcome::Applied,
            reason: next.reason.to_string(),
            next,
            actions: vec![],
        }
    }

    /// `standby pause`.
    fn pause(&self) -> Decision {
        let Deciding { state, .. } = *self;
        let mut next = state.clone();
        next.paused = true;
        Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![],
            reason: "paused: observing only, no action will be taken".into(),
        }
    }

    /// `standby resume`.
    fn resume(&self) -> Decision {
        let Deciding { state, .. } = *self;
        let mut next = state.clone();
        next.paused = false;
        Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![],
            reason: "resumed: actions allowed again".into(),
        }
    }

    /// `standby ack`: lift the cooldown, clear an escalation.
    fn ack(&self) -> Decision {
        let Deciding { state, .. } = *self;
        let mut next = state.clone();
        next.cooldown_until = None;
        let gave_up = next.gave_up.take();
        Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![],
            reason: match gave_up {
                Some(g) => format!(
                    "acknowledged: cooldown lifted, and the escalation of failover {} cleared: automatic failover may try again",
                    g.run
                ),
                None => "cooldown acknowledged and lifted".into(),
            },
        }
    }

    /// A drill needs traffic on the primary: scaling the standby back to warm while it serves
    /// would take the service down.
    fn start_drill(&self, kind: RunbookKind, trigger: Trigger) -> Decision {
        match &self.state.serving {
            Serving::Primary => self.start(
                Serving::Drilling {
                    run: self.run_id.to_string(),
                    kind,
                },
                kind,
                trigger,
                false,
                format!("starting {}", kind.as_str()),
            ),
            other => self.refuse(format!(
                "refused: a drill needs traffic on the primary, and the state is {}",
                other.label()
            )),
        }
    }
}

/// The primary answered healthy: cancel a failover still waiting for approval, say what happens
/// to traffic on the standby.
fn primary_up(state: &State, reason: &str, now: DateTime<Utc>, policy: &Policy) -> Decision {
    let stay = |reason: String| Decision {
        outcome: Outcome::Applied,
        next: state.clone(),
        actions: vec![],
        reason,
    };
    match (&state.serving, &state.awaiting_approval) {
        (Serving::FailingOver { run }, Some(waiting))
            if run == waiting && state.abort_run.as_deref() != Some(run.as_str()) =>
        {
            let mut next = state.clone();
            next.abort_run = Some(run.clone());
            next.changed_at = Some(now);
            next.reason = format!(
                "primary recovered ({reason}) before failover {run} was approved: cancelling it"
            );
            Decision {
                outcome: Outcome::Applied,
                reason: next.reason.clone(),
                next,
                actions: vec![Action::AbortRun { run: run.clone() }],
            }
        }
        (Serving::Standby, _) if policy.failback == Mode::Automatic => stay(format!(
            "primary healthy ({reason}); automatic failback once it has been stable for `stable_for`"
        )),
        (Serving::Standby, _) => stay(format!(
            "primary healthy ({reason}); automatic failback is off: run `standby failback` when ready"
        )),
        _ => stay(format!("primary healthy ({reason})")),
    }
}

/// `now + cooldown`, saturating: `cooldown = "100000000d"` is valid config and means "never
/// again without `standby ack`", not a panic at the moment of the failover.
fn cooldown_end(now: DateTime<Utc>, cooldown: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(cooldown)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The primary failed (or an operator asked for a failover) while a drill runs: the drill stops
/// at its next safe point, runs its cleanup, and a failover follows if one would have started.
fn abort_drill(
    state: &State,
    now: DateTime<Utc>,
    policy: &Policy,
    run: &str,
    kind: RunbookKind,
    why: &str,
    trigger: impl Fn() -> Trigger,
) -> Decision {
    let mut next = state.clone();
    if state.abort_run.as_deref() == Some(run) {
        return Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![],
            reason: format!("{why}; {} {run} is already being aborted", kind.as_str()),
        };
    }
    if state.paused {
        return Decision {
            outcome: Outcome::Applied,
            next,
            actions: vec![],
            reason: format!(
                "{why}; actions are paused, so {} {run} is not aborted",
                kind.as_str()
            ),
        };
    }
    next.abort_run = Some(run.to_string());
    next.changed_at = Some(now);
    let in_cooldown = state.cooldown_until.is_some_and(|u| u > now);
    let reason = if policy.mode == Mode::Manual {
        format!(
            "{why}: aborting {} {run} (its cleanup still runs); manual mode: then waiting for `standby failover`",
            kind.as_str()
        )
    } else if in_cooldown {
        format!(
            "{why}: aborting {} {run} (its cleanup still runs); no automatic failover inside the cooldown",
            kind.as_str()
        )
    } else {
        next.pending = Some(trigger());
        format!(
            "{why}: aborting {} {run}; its cleanup runs, then the failover starts",
            kind.as_str()
        )
    };
    next.reason = reason.clone();
    Decision {
        outcome: Outcome::Applied,
        next,
        actions: vec![Action::AbortRun {
            run: run.to_string(),
        }],
        reason,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    const AUTO: Policy = Policy {
        mode: Mode::Automatic,
        cooldown: Duration::from_secs(1800),
        failback: Mode::Manual,
    };

    const PROBE: &str = "http://primary/health";

    /// The state of a daemon that has seen the primary healthy: automatic failover is armed.
    fn armed() -> State {
        State {
            armed: Some(Armed {
                probe: PROBE.into(),
                at: t(-100),
            }),
            ..State::default()
        }
    }

    fn finished(run: &str, succeeded: bool, traffic_on: Side) -> Event {
        Event::RunFinished {
            run: run.into(),
            succeeded,
            traffic_on,
            gave_up: false,
        }
    }

    #[test]
    fn an_absurd_cooldown_is_forever_not_a_panic() {
        let policy = Policy {
            cooldown: Duration::from_secs(100_000_000 * 86_400 * 1000),
            ..AUTO
        };
        let d = decide(&armed(), &down(), t(0), &policy, "r1");
        assert_eq!(d.actions.len(), 1);
        let d = decide(
            &d.next,
            &finished("r1", true, Side::Standby),
            t(5),
            &policy,
            "-",
        );
        assert_eq!(d.next.cooldown_until, Some(DateTime::<Utc>::MAX_UTC));
        let back = State {
            serving: Serving::Primary,
            ..d.next
        };
        let d = decide(&back, &down(), t(10), &policy, "r2");
        assert!(d.actions.is_empty());
        assert!(d.reason.contains("inside the cooldown"), "{}", d.reason);
    }

    #[test]
    fn never_seen_healthy_means_unarmed_and_no_automatic_failover() {
        let cold = State::default();
        let d = decide(&cold, &down(), t(1), &AUTO, "r1");
        assert!(d.actions.is_empty());
        assert_eq!(d.next, cold);
        assert!(
            d.reason.contains("not failing over: UNARMED: the primary has never been seen healthy at http://primary/health"),
            "{}",
            d.reason
        );
        // An operator can still fail over by hand.
        let d = decide(
            &cold,
            &Event::Requested {
                kind: RunbookKind::Failover,
                rerun: false,
            },
            t(2),
            &AUTO,
            "r2",
        );
        assert_eq!(d.actions.len(), 1);
        // The first healthy answer arms it, persisted in the state.
        let up = Event::PrimaryUp {
            reason: "up: ok".into(),
            probe: PROBE.into(),
        };
        let d = decide(&cold, &up, t(3), &AUTO, "-");
        assert_eq!(d.next.armed.as_ref().map(|a| a.at), Some(t(3)));
        assert!(
            d.reason.ends_with(
                "automatic failover armed: the primary answered healthy at http://primary/health"
            ),
            "{}",
            d.reason
        );
        let d2 = decide(&d.next, &up, t(9), &AUTO, "-");
        assert_eq!(d2.next.armed, d.next.armed, "arming again changes nothing");
        let d = decide(&d.next, &down(), t(10), &AUTO, "r3");
        assert_eq!(
            d.reason,
            "failing over automatically: down: 2 consecutive failing rounds"
        );
        // A new probe target starts unarmed again: a typo in a reloaded URL must not fail over.
        let moved = Event::PrimaryDown {
            reason: "down".into(),
            streak_start: t(20),
            last_good: None,
            probe: "http://typo/health".into(),
        };
        assert!(
            decide(&armed(), &moved, t(21), &AUTO, "r4")
                .actions
                .is_empty()
        );
    }

    fn down() -> Event {
        Event::PrimaryDown {
            reason: "down: 2 consecutive failing rounds".into(),
            streak_start: t(0),
            last_good: None,
            probe: PROBE.into(),
        }
    }

    fn drill_requested() -> Event {
        Event::Requested {
            kind: RunbookKind::DrillStandby,
            rerun: false,
        }
    }

    #[test]
    fn a_drill_needs_traffic_on_the_primary() {
        let d = decide(&armed(), &drill_requested(), t(0), &AUTO, "d1");
        assert_eq!(d.reason, "starting drill-standby");
        let standby = State {
            serving: Serving::Standby,
            ..armed()
        };
        let d = decide(&standby, &drill_requested(), t(0), &AUTO, "d1");
        assert!(d.actions.is_empty());
        assert_eq!(d.outcome, Outcome::Refused);
        assert_eq!(
            d.reason,
            "refused: a drill needs traffic on the primary, and the state is standby"
        );
        let failing = decide(&armed(), &down(), t(0), &AUTO, "r1").next;
        let d = decide(&failing, &drill_requested(), t(1), &AUTO, "d1");
        assert_eq!(d.reason, "refused: run r1 is already in progress");
        assert_eq!(d.outcome, Outcome::Refused);
    }

    #[test]
    fn a_primary_failure_aborts_the_drill_and_the_failover_follows_its_cleanup() {
        let s = decide(&armed(), &drill_requested(), t(0), &AUTO, "d1").next;
        let d = decide(&s, &down(), t(10), &AUTO, "-");
        assert_eq!(d.actions, vec![Action::AbortRun { run: "d1".into() }]);
        assert_eq!(
            d.reason,
            "down: 2 consecutive failing rounds: aborting drill-standby d1; its cleanup runs, then the failover starts"
        );
        assert_eq!(d.next.abort_run.as_deref(), Some("d1"));
        // Repeated verdicts do not stack.
        let again = decide(&d.next, &down(), t(11), &AUTO, "-");
        assert!(again.actions.is_empty());
        let done = decide(
            &d.next,
            &finished("d1", false, Side::Primary),
            t(20),
            &AUTO,
            "r2",
        );
        assert_eq!(done.next.serving, Serving::FailingOver { run: "r2".into() });
        assert!(
            done.reason
                .ends_with("failing over now, as the primary failed during it"),
            "{}",
            done.reason
        );
        match &done.actions[..] {
            // The failover's clock starts at the first failing probe, before the drill yielded.
            [Action::StartRun { trigger, .. }] => assert_eq!(trigger.clock_start(), t(0)),
            other => panic!("{other:?}"),
        }
        assert_eq!(done.next.pending, None);
        assert_eq!(done.next.abort_run, None);
    }

    #[test]
    fn manual_mode_aborts_the_drill_but_waits_for_the_operator() {
        let manual = Policy {
            mode: Mode::Manual,
            cooldown: Duration::from_secs(1800),
            failback: Mode::Manual,
        };
        let s = decide(&armed(), &drill_requested(), t(0), &manual, "d1").next;
        let d = decide(&s, &down(), t(10), &manual, "-");
        assert!(
            d.reason
                .contains("manual mode: then waiting for `standby failover`"),
            "{}",
            d.reason
        );
        let done = decide(
            &d.next,
            &finished("d1", false, Side::Primary),
            t(20),
            &manual,
            "r2",
        );
        assert_eq!(done.next.serving, Serving::Primary);
        assert!(done.actions.is_empty());
    }

    #[test]
    fn primary_down_starts_an_automatic_failover_and_its_success_the_cooldown() {
        let d = decide(&armed(), &down(), t(4), &AUTO, "r1");
        assert_eq!(d.next.serving, Serving::FailingOver { run: "r1".into() });
        assert_eq!(
            d.reason,
            "failing over automatically: down: 2 consecutive failing rounds"
        );
        assert_eq!(
            d.next.cooldown_until, None,
            "the cooldown starts when the failover succeeds, not before"
        );
        let done = decide(
            &d.next,
            &finished("r1", true, Side::Standby),
            t(60),
            &AUTO,
            "-",
        );
        assert_eq!(done.next.cooldown_until, Some(t(60 + 1800)));
        match &d.actions[..] {
            [
                Action::StartRun {
                    run,
                    kind: RunbookKind::Failover,
                    trigger,
                },
            ] => {
                assert_eq!(run, "r1");
                assert_eq!(trigger.clock_start(), t(0));
            }
            other => panic!("unexpected actions {other:?}"),
        }
    }

    #[test]
    fn finished_failover_serves_from_standby_and_failback_returns() {
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        let s = decide(&s, &finished("r1", true, Side::Standby), t(60), &AUTO, "-").next;
        assert_eq!(s.serving, Serving::Standby);
        let d = decide(
            &s,
            &Event::PrimaryUp {
                reason: "up".into(),
                probe: PROBE.into(),
            },
            t(70),
            &AUTO,
            "-",
        );
        assert!(d.actions.is_empty());
        assert!(d.reason.contains("automatic failback is off"));
        let d = decide(
            &s,
            &Event::Requested {
                kind: RunbookKind::Failback,
                rerun: false,
            },
            t(80),
            &AUTO,
            "r2",
        );
        assert_eq!(d.next.serving, Serving::FailingBack { run: "r2".into() });
        let s = decide(
            &d.next,
            &finished("r2", true, Side::Primary),
            t(90),
            &AUTO,
            "-",
        )
        .next;
        assert_eq!(s.serving, Serving::Primary);
    }

    #[test]
    fn failed_failover_before_the_flip_stays_on_primary() {
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        let d = decide(&s, &finished("r1", false, Side::Primary), t(60), &AUTO, "-");
        assert_eq!(d.next.serving, Serving::Primary);
        assert_eq!(d.reason, "run r1 failed; traffic is on the primary");
    }

    #[test]
    fn cooldown_blocks_a_second_automatic_failover_until_acknowledged() {
        // A successful automatic failover, then a failback by hand: the primary fails again
        // inside the cooldown.
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        let s = decide(&s, &finished("r1", true, Side::Standby), t(60), &AUTO, "-").next;
        let s = State {
            serving: Serving::Primary,
            ..s
        };
        let d = decide(&s, &down(), t(120), &AUTO, "r2");
        assert!(d.actions.is_empty());
        assert!(d.reason.contains("inside the cooldown"), "{}", d.reason);
        let acked = decide(&s, &Event::Ack, t(130), &AUTO, "-").next;
        assert_eq!(
            decide(&acked, &down(), t(140), &AUTO, "r2").actions.len(),
            1
        );
        // And without an ack, once the cooldown is over.
        assert_eq!(
            decide(&s, &down(), t(60 + 1801), &AUTO, "r3").actions.len(),
            1
        );
    }

    #[test]
    fn a_failed_failover_is_tried_again_until_one_gives_up() {
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        let s = decide(&s, &finished("r1", false, Side::Primary), t(60), &AUTO, "-").next;
        assert_eq!(
            s.cooldown_until, None,
            "a failed failover starts no cooldown"
        );
        let d = decide(&s, &down(), t(61), &AUTO, "r2");
        assert_eq!(d.next.serving, Serving::FailingOver { run: "r2".into() });
        // r2 uses up its attempts: no third run on its own.
        let s = decide(
            &d.next,
            &Event::RunFinished {
                run: "r2".into(),
                succeeded: false,
                traffic_on: Side::Primary,
                gave_up: true,
            },
            t(200),
            &AUTO,
            "-",
        )
        .next;
        assert_eq!(
            s.gave_up,
            Some(GaveUp {
                run: "r2".into(),
                at: t(200)
            })
        );
        let d = decide(&s, &down(), t(201), &AUTO, "r3");
        assert!(d.actions.is_empty());
        assert!(
            d.reason.contains("failover r2 used up its attempts"),
            "{}",
            d.reason
        );
        // An operator's failover, an ack, or the primary's recovery each lift it.
        let d = decide(
            &s,
            &Event::Requested {
                kind: RunbookKind::Failover,
                rerun: false,
            },
            t(202),
            &AUTO,
            "r4",
        );
        assert_eq!(d.actions.len(), 1);
        assert_eq!(d.next.gave_up, None);
        let acked = decide(&s, &Event::Ack, t(202), &AUTO, "-");
        assert!(
            acked.reason.contains("escalation of failover r2 cleared"),
            "{}",
            acked.reason
        );
        assert_eq!(
            decide(&acked.next, &down(), t(203), &AUTO, "r5")
                .actions
                .len(),
            1
        );
        let up = decide(
            &s,
            &Event::PrimaryUp {
                reason: "up".into(),
                probe: PROBE.into(),
            },
            t(202),
            &AUTO,
            "-",
        );
        assert_eq!(up.next.gave_up, None);
        assert!(
            up.reason.contains("escalated failover is behind us"),
            "{}",
            up.reason
        );
    }

    #[test]
    fn manual_mode_plans_a_run_that_waits_for_approval_and_pause_never_acts() {
        let manual = Policy {
            mode: Mode::Manual,
            ..AUTO
        };
        let d = decide(&armed(), &down(), t(4), &manual, "r1");
        assert_eq!(
            d.reason,
            "primary down (down: 2 consecutive failing rounds); manual mode: failover r1 waits for `standby approve r1`"
        );
        assert_eq!(d.next.awaiting_approval.as_deref(), Some("r1"));
        assert_eq!(d.next.cooldown_until, None, "a human decides: no cooldown");
        let waiting = d.next;
        let wrong = decide(
            &waiting,
            &Event::Approve { run: "r9".into() },
            t(5),
            &manual,
            "-",
        );
        assert_eq!(wrong.reason, "refused: run r1 waits for approval, not r9");
        assert_eq!(wrong.next, waiting);
        let ok = decide(
            &waiting,
            &Event::Approve { run: "r1".into() },
            t(6),
            &manual,
            "-",
        );
        assert_eq!(ok.reason, "failover r1 approved by an operator");
        assert_eq!(ok.next.awaiting_approval, None);
        // The primary recovers before anyone approves: the run is cancelled, not started.
        let up = decide(
            &waiting,
            &Event::PrimaryUp {
                reason: "up: 3 good rounds".into(),
                probe: PROBE.into(),
            },
            t(7),
            &manual,
            "-",
        );
        assert_eq!(up.actions, vec![Action::AbortRun { run: "r1".into() }]);
        assert_eq!(
            up.reason,
            "primary recovered (up: 3 good rounds) before failover r1 was approved: cancelling it"
        );
        let paused = decide(&armed(), &Event::Pause, t(1), &AUTO, "-").next;
        let d = decide(&paused, &down(), t(4), &AUTO, "r1");
        assert!(d.actions.is_empty());
        assert!(d.reason.contains("actions are paused"));
        let d = decide(
            &paused,
            &Event::Requested {
                kind: RunbookKind::Failover,
                rerun: false,
            },
            t(4),
            &AUTO,
            "r1",
        );
        assert!(d.reason.starts_with("refused: actions are paused"));
        let resumed = decide(&paused, &Event::Resume, t(5), &AUTO, "-").next;
        assert_eq!(
            decide(&resumed, &down(), t(6), &AUTO, "r1").actions.len(),
            1
        );
    }

    #[test]
    fn automatic_failback_only_when_configured_and_not_paused() {
        let standby = State {
            serving: Serving::Standby,
            ..armed()
        };
        let stable = Event::PrimaryStable {
            reason: "healthy for 10m".into(),
        };
        let d = decide(&standby, &stable, t(0), &AUTO, "b1");
        assert!(d.actions.is_empty());
        assert!(
            d.reason.contains("automatic failback is off"),
            "{}",
            d.reason
        );
        let auto_back = Policy {
            failback: Mode::Automatic,
            ..AUTO
        };
        let d = decide(&standby, &stable, t(0), &auto_back, "b1");
        assert_eq!(d.reason, "failing back automatically: healthy for 10m");
        assert_eq!(d.next.serving, Serving::FailingBack { run: "b1".into() });
        let paused = State {
            paused: true,
            ..standby.clone()
        };
        assert!(
            decide(&paused, &stable, t(0), &auto_back, "b1")
                .actions
                .is_empty()
        );
        assert!(
            decide(&armed(), &stable, t(0), &auto_back, "b1")
                .actions
                .is_empty()
        );
    }

    #[test]
    fn requests_are_refused_when_pointless_or_busy() {
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        let d = decide(
            &s,
            &Event::Requested {
                kind: RunbookKind::Failback,
                rerun: false,
            },
            t(5),
            &AUTO,
            "r2",
        );
        assert_eq!(d.reason, "refused: run r1 is already in progress");
        assert_eq!(d.outcome, Outcome::Refused);
        let d = decide(
            &armed(),
            &Event::Requested {
                kind: RunbookKind::Failback,
                rerun: false,
            },
            t(5),
            &AUTO,
            "r2",
        );
        assert!(
            d.reason
                .starts_with("refused: already serving from the primary")
        );
        assert_eq!(d.outcome, Outcome::Refused);
        let d = decide(
            &armed(),
            &Event::Requested {
                kind: RunbookKind::Failover,
                rerun: false,
            },
            t(5),
            &AUTO,
            "r2",
        );
        assert_eq!(d.reason, "failing over on operator request");
        assert_eq!(
            d.next.cooldown_until, None,
            "manual runs do not start the automatic cooldown"
        );
        let d = decide(
            &s,
            &finished("other", true, Side::Standby),
            t(6),
            &AUTO,
            "-",
        );
        assert!(d.reason.contains("is not the current run"));
        assert_eq!(d.next, s);
    }

    #[test]
    fn primary_down_while_on_standby_or_running_does_nothing() {
        let s = decide(&armed(), &down(), t(4), &AUTO, "r1").next;
        assert!(
            decide(&s, &down(), t(5), &AUTO, "r2")
                .reason
                .contains("run r1 is already in progress")
        );
        let st = State {
            serving: Serving::Standby,
            ..armed()
        };
        assert!(
            decide(&st, &down(), t(5), &AUTO, "r2")
                .reason
                .contains("already serving from the standby")
        );
    }

    fn arb_event() -> impl Strategy<Value = (u16, u8)> {
        (1u16..900, 0u8..8)
    }

    fn event_of(code: u8, run: &str) -> Event {
        match code {
            0 | 1 => Event::PrimaryDown {
                reason: "down".into(),
                streak_start: t(0),
                last_good: None,
                probe: PROBE.into(),
            },
            2 => Event::PrimaryUp {
                reason: "up".into(),
                probe: PROBE.into(),
            },
            3 => Event::Requested {
                kind: RunbookKind::Failover,
                rerun: false,
            },
            4 => Event::Requested {
                kind: RunbookKind::Failback,
                rerun: true,
            },
            5 => Event::RunFinished {
                run: run.into(),
                succeeded: true,
                traffic_on: Side::Standby,
                gave_up: false,
            },
            6 => Event::RunFinished {
                run: run.into(),
                succeeded: false,
                traffic_on: Side::Primary,
                gave_up: run.len().is_multiple_of(2),
            },
            _ => Event::Ack,
        }
    }

    proptest! {
        #[test]
        fn invariants_hold_for_any_event_sequence(steps in proptest::collection::vec(arb_event(), 1..200)) {
            let mut state = armed();
            let mut now = t(0);
            // When the last automatic failover succeeded; whether an ack came since.
            let mut last_success: Option<DateTime<Utc>> = None;
            let mut acked_since = false;
            for (i, (gap, code)) in steps.into_iter().enumerate() {
                now += chrono::Duration::seconds(i64::from(gap));
                let current = state.serving.running().unwrap_or("none").to_string();
                let event = event_of(code, &current);
                let d = decide(&state, &event, now, &AUTO, &format!("r{i}"));
                for a in &d.actions {
                    let Action::StartRun { trigger, .. } = a else { continue };
                    prop_assert!(state.serving.running().is_none(), "run started while {} ran", current);
                    prop_assert!(!state.paused);
                    if let Trigger::Automatic { .. } = trigger {
                        if let Some(prev) = last_success {
                            prop_assert!(acked_since || now - prev >= chrono::Duration::seconds(1800),
                                "automatic failover {}s after the last successful one", (now - prev).num_seconds());
                        }
                        prop_assert!(state.gave_up.is_none(), "automatic failover after one gave up");
                    }
                }
                if let Event::RunFinished { succeeded: true, traffic_on: Side::Standby, .. } = &event
                    && matches!(state.serving, Serving::FailingOver { .. })
                    && state.serving.running() == Some(current.as_str())
                    && matches!(state.trigger, Some(Trigger::Automatic { .. }))
                {
                    last_success = Some(now);
                    acked_since = false;
                }
                if event == Event::Ack { acked_since = true; }
                state = d.next;
            }
        }
    }

    #[test]
    fn outcomes_say_applied_unchanged_or_refused() {
        let d = decide(&armed(), &down(), t(4), &AUTO, "r1");
        assert_eq!(d.outcome, Outcome::Applied, "{}", d.reason);
        assert!(!d.actions.is_empty());
        // A second down verdict while the failover runs changes nothing.
        let again = decide(&d.next, &down(), t(5), &AUTO, "r2");
        assert_eq!(again.outcome, Outcome::Unchanged, "{}", again.reason);
        assert_eq!(again.next, d.next);
        let paused = decide(&armed(), &Event::Pause, t(6), &AUTO, "-");
        assert_eq!(paused.outcome, Outcome::Applied, "{}", paused.reason);
        let twice = decide(&paused.next, &Event::Pause, t(7), &AUTO, "-");
        assert_eq!(twice.outcome, Outcome::Unchanged, "{}", twice.reason);
        assert_eq!(Outcome::Refused.to_string(), "refused");
    }
}

//! The orchestrator's own health, shared by the daemon's loop, its local endpoint (`/healthz`,
//! `/metrics`) and the systemd watchdog: heartbeats, impairments of this host, the last failed
//! attempt to act.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::metrics::Metrics;

/// What the daemon shares with its endpoint and its watchdog.
pub struct Live {
    pub metrics: Metrics,
    /// Milliseconds since the epoch of the main loop's latest turn.
    pub heartbeat: AtomicI64,
    /// Milliseconds since the epoch of the latest probe round judged (the start, until then).
    pub last_round: AtomicI64,
    /// How old `last_round` may be while probing is alive: `health.stale_after()`.
    pub round_limit_ms: AtomicI64,
    conditions: std::sync::Mutex<Conditions>,
}

/// Kinds of `orchestrator_impaired`: faults of this host, never of the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impairment {
    /// It cannot send probes: out of file descriptors, memory or ports.
    Probe,
    /// It cannot write its state: disk full, read-only, a lock it cannot take.
    Persist,
}

impl Impairment {
    pub const ALL: [Impairment; 2] = [Impairment::Probe, Impairment::Persist];

    pub fn as_str(self) -> &'static str {
        match self {
            Impairment::Probe => "probe",
            Impairment::Persist => "persist",
        }
    }
}

impl std::fmt::Display for Impairment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operator needs to know about the orchestrator itself.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Conditions {
    /// Faults of this host (kind → since, reason): `probe` (it cannot send probes: out of file
    /// descriptors, memory or ports), `persist` (it cannot write its state: disk full,
    /// read-only). They never count as the primary's failure; actions retry once they clear.
    pub impaired: std::collections::BTreeMap<Impairment, Condition>,
    /// The last attempt to act (start, adopt or resume a run) failed for another reason (an AWS
    /// call before the plan, say); cleared by the next one that works.
    pub act_error: Option<Condition>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Condition {
    pub since: chrono::DateTime<Utc>,
    pub reason: String,
}

impl Live {
    pub fn new(round_limit: Duration) -> Live {
        let now = Utc::now().timestamp_millis();
        Live {
            metrics: Metrics::default(),
            heartbeat: AtomicI64::new(now),
            last_round: AtomicI64::new(now),
            round_limit_ms: AtomicI64::new(standby_core::duration::millis(round_limit) as i64),
            conditions: Default::default(),
        }
    }

    pub fn beat(&self) {
        self.heartbeat
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn round_judged(&self) {
        self.last_round
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Milliseconds since the last probe round was judged.
    pub fn round_age_ms(&self) -> i64 {
        Utc::now().timestamp_millis() - self.last_round.load(Ordering::Relaxed)
    }

    /// Probing is alive: a round was judged within `stale_after`. The watchdog pings only then.
    pub fn probing_alive(&self) -> bool {
        self.round_age_ms() <= self.round_limit_ms.load(Ordering::Relaxed)
    }

    pub fn conditions(&self) -> Conditions {
        self.conditions.lock().expect("conditions lock").clone()
    }

    /// Sets an impairment; `true` when it is new (for a one-time webhook).
    pub fn impair(&self, kind: Impairment, reason: String) -> bool {
        let mut c = self.conditions.lock().expect("conditions lock");
        match c.impaired.get_mut(&kind) {
            Some(cur) => {
                cur.reason = reason;
                false
            }
            None => {
                c.impaired.insert(
                    kind,
                    Condition {
                        since: Utc::now(),
                        reason,
                    },
                );
                true
            }
        }
    }

    /// Clears an impairment; what it was, when there was one.
    pub fn mend(&self, kind: Impairment) -> Option<Condition> {
        self.conditions
            .lock()
            .expect("conditions lock")
            .impaired
            .remove(&kind)
    }

    pub fn act_failed(&self, reason: String) {
        let mut c = self.conditions.lock().expect("conditions lock");
        let since = c.act_error.as_ref().map_or_else(Utc::now, |e| e.since);
        c.act_error = Some(Condition { since, reason });
    }

    pub fn act_ok(&self) {
        self.conditions.lock().expect("conditions lock").act_error = None;
    }

    /// `/healthz`: (healthy, JSON body). Healthy means probing is alive, this host is not
    /// impaired, the last attempt to act did not fail, and no failover gave up.
    /// `escalated`: the state's given-up failover, which waits for people.
    pub fn health(
        &self,
        escalated: Option<&standby_core::machine::GaveUp>,
    ) -> (bool, serde_json::Value) {
        let c = self.conditions();
        let probing = self.probing_alive();
        let loop_age = Utc::now().timestamp_millis() - self.heartbeat.load(Ordering::Relaxed);
        let ok = probing && c.impaired.is_empty() && c.act_error.is_none() && escalated.is_none();
        let body = json!({
            "ok": ok,
            "probing": {
                "alive": probing,
                "last_round_age_ms": self.round_age_ms(),
                "limit_ms": self.round_limit_ms.load(Ordering::Relaxed),
            },
            "main_loop_age_ms": loop_age,
            "can_persist": !c.impaired.contains_key(&Impairment::Persist),
            "orchestrator_impaired": c.impaired,
            "last_action_error": c.act_error,
            // A failover used up its attempts: people must act (`standby failover` / `ack`).
            "escalated_failover": escalated,
            // One instance with a local store: no lease to hold.
            "lease": serde_json::Value::Null,
        });
        (ok, body)
    }
}

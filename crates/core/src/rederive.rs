//! A lost state, re-derived from what can be observed: where the DNS record points, the run
//! journals, the last verdict. Pure: the shell gathers the observations.
//!
//! Guarantees (tested below): traffic is where the record points, never assumed; a run whose
//! journal is still `running` is named again, so it resumes; the cooldown of the last
//! successful automatic failover still holds; automatic failover is armed again only if the
//! last verdict saw the primary healthy. When the record points at neither side, nothing is
//! derived: the state stays unknown and says so, rather than guessing "primary".

use chrono::{DateTime, Utc};

use crate::machine::{Armed, Serving, State, Trigger};
use crate::runbook::RunbookKind;
use crate::side::Side;

/// What the shell observed.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The store holds history (runs, a verdict, an unreadable state): the state was lost, as
    /// opposed to a first start, where it is derived the same way but nobody needs telling.
    pub lost: bool,
    /// The side the DNS record points at; `None` when it points at neither or is missing.
    pub record_side: Option<Side>,
    /// The record's value as read, for the reason.
    pub record_value: Option<String>,
    /// A run whose journal is still running: (id, kind, trigger).
    pub unfinished: Option<(String, RunbookKind, Trigger)>,
    /// When the last successful automatic failover finished.
    pub last_auto_failover: Option<DateTime<Utc>>,
    /// The last verdict's last healthy round, and the probe it watches.
    pub last_good: Option<(DateTime<Utc>, String)>,
}

pub fn rederive(
    o: &Observed,
    cooldown: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<State, String> {
    let value = o.record_value.as_deref().unwrap_or("(missing)");
    let serving = match (&o.unfinished, o.record_side) {
        (Some((run, RunbookKind::Failover, _)), _) => Serving::FailingOver { run: run.clone() },
        (Some((run, RunbookKind::Failback, _)), _) => Serving::FailingBack { run: run.clone() },
        (Some((run, kind, _)), _) => Serving::Drilling {
            run: run.clone(),
            kind: *kind,
        },
        (None, Some(Side::Primary)) => Serving::Primary,
        (None, Some(Side::Standby)) => Serving::Standby,
        (None, None) => {
            return Err(format!(
                "the state is {} and the DNS record points at neither side ({value}): not guessing where traffic is; fix the record or run `standby failover`/`failback`",
                if o.lost { "lost" } else { "not written yet" }
            ));
        }
    };
    let cooldown_until = o.last_auto_failover.and_then(|f| {
        chrono::Duration::from_std(cooldown)
            .ok()
            .and_then(|c| f.checked_add_signed(c))
            .filter(|u| *u > now)
    });
    let mut reason = format!(
        "{} at {}: the DNS record points at {value} ({})",
        if o.lost {
            "state re-derived after it was lost"
        } else {
            "first start: state derived from the world"
        },
        now.to_rfc3339(),
        match o.record_side {
            Some(s) => format!("the {s}"),
            None => "neither side".into(),
        }
    );
    if let Some((run, kind, _)) = &o.unfinished {
        reason.push_str(&format!(
            "; {} {run} is unfinished and resumes",
            kind.as_str()
        ));
    }
    if let Some(u) = cooldown_until {
        reason.push_str(&format!(
            "; the cooldown of the last automatic failover holds until {}",
            u.to_rfc3339()
        ));
    }
    Ok(State {
        serving,
        cooldown_until,
        trigger: o.unfinished.as_ref().map(|(_, _, t)| t.clone()),
        last_run: o.unfinished.as_ref().map(|(r, _, _)| r.clone()),
        armed: o.last_good.as_ref().map(|(at, probe)| Armed {
            probe: probe.clone(),
            at: *at,
        }),
        changed_at: Some(now),
        reason,
        ..State::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn observed(side: Option<Side>) -> Observed {
        Observed {
            lost: true,
            record_side: side,
            record_value: Some("standby.example.".into()),
            unfinished: None,
            last_auto_failover: None,
            last_good: None,
        }
    }

    #[test]
    fn traffic_is_where_the_record_points() {
        let s = rederive(&observed(Some(Side::Standby)), Default::default(), t(0)).unwrap();
        assert_eq!(s.serving, Serving::Standby);
        assert!(
            s.reason.contains("re-derived after it was lost"),
            "{}",
            s.reason
        );
        let first = rederive(
            &Observed {
                lost: false,
                ..observed(Some(Side::Standby))
            },
            Default::default(),
            t(0),
        )
        .unwrap();
        assert!(
            first.reason.starts_with("first start: state derived"),
            "{}",
            first.reason
        );
        assert_eq!(
            first.serving,
            Serving::Standby,
            "a first start mid-DR sees the standby"
        );
        assert!(
            s.reason
                .contains("points at standby.example. (the standby)"),
            "{}",
            s.reason
        );
        assert_eq!(s.armed, None, "no verdict ever saw the primary healthy");
    }

    #[test]
    fn a_record_pointing_nowhere_is_not_guessed() {
        let e = rederive(&observed(None), Default::default(), t(0)).unwrap_err();
        assert!(e.contains("not guessing"), "{e}");
    }

    #[test]
    fn an_unfinished_run_cooldown_and_arming_survive() {
        let mut o = observed(Some(Side::Primary));
        let trigger = Trigger::Manual {
            command: "standby failover".into(),
            at: t(-5),
        };
        o.unfinished = Some(("r1".into(), RunbookKind::Failover, trigger.clone()));
        o.last_auto_failover = Some(t(-600));
        o.last_good = Some((t(-30), "http://primary/health".into()));
        let s = rederive(&o, std::time::Duration::from_secs(1800), t(0)).unwrap();
        assert_eq!(s.serving, Serving::FailingOver { run: "r1".into() });
        assert_eq!(s.trigger, Some(trigger));
        assert_eq!(s.cooldown_until, Some(t(1200)));
        assert!(s.armed_for("http://primary/health"));
        assert!(
            s.reason.contains("failover r1 is unfinished"),
            "{}",
            s.reason
        );
        // An expired cooldown is not brought back.
        let s = rederive(&o, std::time::Duration::from_secs(60), t(0)).unwrap();
        assert_eq!(s.cooldown_until, None);
    }
}

//! Scheduled drills (`[[drills]]`): which one is due now. A drill fires only close to its
//! scheduled time: a daemon that was down at 03:00 does not start a full drill at 10:00, when
//! the operator's window is over.

use chrono::{DateTime, TimeDelta, Utc};

use crate::runbook::RunbookKind;
use crate::sync::schedule::Schedule;

#[derive(Debug, Clone)]
pub struct ScheduledDrill {
    pub kind: RunbookKind,
    pub schedule: Schedule,
}

/// How late after its firing a scheduled drill may still start.
pub const GRACE: TimeDelta = TimeDelta::minutes(10);

/// What a schedule says at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Start this drill now.
    Start { kind: RunbookKind, schedule: String },
    /// It fired more than [`GRACE`] ago (the daemon was down or busy): skipped until its next
    /// firing, and the operator is told.
    Missed {
        kind: RunbookKind,
        firing: DateTime<Utc>,
    },
}

/// Each schedule with the instant from which its next firing counts.
#[derive(Debug, Clone)]
pub struct DrillScheduler {
    entries: Vec<(ScheduledDrill, DateTime<Utc>)>,
}

impl DrillScheduler {
    /// Firings before `now` do not count: a (re)started daemon waits for the next ones.
    pub fn new(scheduled: &[ScheduledDrill], now: DateTime<Utc>) -> Self {
        DrillScheduler {
            entries: scheduled.iter().map(|d| (d.clone(), now)).collect(),
        }
    }

    /// The first schedule that fired by `now`, if any; each firing is reported once.
    pub fn due(&mut self, now: DateTime<Utc>) -> Option<Due> {
        for (d, armed) in &mut self.entries {
            let Some(firing) = d.schedule.next_after(*armed) else {
                continue;
            };
            if firing > now {
                continue;
            }
            *armed = now;
            return Some(if now - firing > GRACE {
                Due::Missed {
                    kind: d.kind,
                    firing,
                }
            } else {
                Due::Start {
                    kind: d.kind,
                    schedule: d.schedule.text().to_string(),
                }
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, h, m, 0).unwrap()
    }

    fn nightly() -> ScheduledDrill {
        ScheduledDrill {
            kind: RunbookKind::DrillStandby,
            schedule: Schedule::parse("0 3 * * *").unwrap(),
        }
    }

    #[test]
    fn a_drill_starts_once_at_its_firing() {
        let mut s = DrillScheduler::new(&[nightly()], t(2, 0));
        assert_eq!(s.due(t(2, 59)), None);
        assert_eq!(
            s.due(t(3, 0)),
            Some(Due::Start {
                kind: RunbookKind::DrillStandby,
                schedule: "0 3 * * *".into()
            })
        );
        assert_eq!(s.due(t(3, 1)), None, "each firing once");
    }

    #[test]
    fn a_firing_missed_by_more_than_the_grace_is_skipped_and_said() {
        let mut s = DrillScheduler::new(&[nightly()], t(2, 0));
        assert_eq!(
            s.due(t(10, 0)),
            Some(Due::Missed {
                kind: RunbookKind::DrillStandby,
                firing: t(3, 0)
            })
        );
        assert_eq!(s.due(t(10, 1)), None);
        // Within the grace it still starts.
        let mut s = DrillScheduler::new(&[nightly()], t(2, 0));
        assert!(matches!(s.due(t(3, 9)), Some(Due::Start { .. })));
    }

    #[test]
    fn a_daemon_started_after_the_firing_waits_for_the_next_one() {
        let mut s = DrillScheduler::new(&[nightly()], t(3, 5));
        assert_eq!(s.due(t(3, 6)), None);
    }
}

//! Cron schedules for artifact sets, in UTC. Five-field expressions (`*/5 * * * *`) are the
//! operator's habit; the cron crate wants seconds, so a leading `0` is added for them.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    inner: cron::Schedule,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let t = text.trim();
        if t.starts_with("TZ=") || t.starts_with("CRON_TZ=") {
            return Err(format!(
                "{text:?}: time zones are not supported; schedules run in UTC"
            ));
        }
        let fields = t.split_whitespace().count();
        let expr = match fields {
            5 => format!("0 {t}"),
            6 | 7 => t.to_string(),
            _ => {
                return Err(format!(
                    "{text:?} is not a cron schedule: expected 5 fields (min hour day month weekday), or 6-7 with seconds"
                ));
            }
        };
        let inner = cron::Schedule::from_str(&expr)
            .map_err(|e| format!("{text:?} is not a cron schedule: {e}"))?;
        if inner.upcoming(Utc).next().is_none() {
            return Err(format!("{text:?} never fires"));
        }
        Ok(Schedule {
            text: t.to_string(),
            inner,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.after(&t).next()
    }

    /// The longest gap between runs over the next 64 firings: the worst case an RPO must cover.
    pub fn period(&self) -> Option<Duration> {
        let times: Vec<DateTime<Utc>> = self
            .inner
            .after(&DateTime::<Utc>::UNIX_EPOCH)
            .take(64)
            .collect();
        times
            .windows(2)
            .filter_map(|w| (w[1] - w[0]).to_std().ok())
            .max()
    }

    /// Whether a set is due: never run, or a firing has passed since the last run started. A
    /// daemon that was down for a day runs the set once, not once per missed firing.
    pub fn due(&self, last_start: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match last_start {
            None => true,
            Some(l) => self.next_after(l).is_some_and(|n| n <= now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_schedules_and_periods() {
        let s = Schedule::parse("0 */6 * * *").unwrap();
        assert_eq!(s.period(), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(
            s.next_after(t("2026-11-24T07:00:00Z")),
            Some(t("2026-11-24T12:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("*/5 * * * *").unwrap().period(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            Schedule::parse("*/2 * * * * *").unwrap().period(),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_missed_firing_runs_once_not_in_a_burst() {
        let s = Schedule::parse("*/5 * * * *").unwrap();
        assert!(s.due(None, t("2026-11-24T07:01:00Z")));
        assert!(!s.due(Some(t("2026-11-24T07:00:30Z")), t("2026-11-24T07:04:59Z")));
        // Down for an hour: due once...
        assert!(s.due(Some(t("2026-11-24T07:00:30Z")), t("2026-11-24T08:02:00Z")));
        // ...and after that run, not again until the next firing.
        assert!(!s.due(Some(t("2026-11-24T08:02:00Z")), t("2026-11-24T08:04:00Z")));
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(
            Schedule::parse("every hour")
                .unwrap_err()
                .contains("expected 5 fields")
        );
        assert!(
            Schedule::parse("61 * * * *")
                .unwrap_err()
                .contains("is not a cron schedule")
        );
        assert!(
            Schedule::parse("TZ=Europe/Berlin 0 * * * *")
                .unwrap_err()
                .contains("run in UTC")
        );
    }
}

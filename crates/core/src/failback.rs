//! Automatic failback's patience: the primary must be up without interruption for `stable_for`
//! before `PrimaryStable` goes out, once per healthy stretch.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::detector::Health;
use crate::duration::between;

#[derive(Debug, Clone, Default)]
pub struct Stability {
    /// Since when the primary has been up without interruption.
    up_since: Option<DateTime<Utc>>,
    /// `PrimaryStable` went out for this stretch.
    sent: bool,
}

impl Stability {
    /// Feeds the verdict judged at `at`; the start of the healthy stretch when it has lasted
    /// `stable_for` by `now` and was not reported yet. Any other verdict ends the stretch.
    pub fn observe(
        &mut self,
        health: Health,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        stable_for: Duration,
    ) -> Option<DateTime<Utc>> {
        match health {
            Health::Up => {
                self.up_since.get_or_insert(at);
            }
            _ => {
                self.up_since = None;
                self.sent = false;
            }
        }
        self.up_since
            .filter(|since| !self.sent && between(*since, now) >= stable_for)
    }

    /// `PrimaryStable` went out (and was applied): not again until the next healthy stretch.
    pub fn reported(&mut self) {
        self.sent = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    const FOR: Duration = Duration::from_secs(60);

    #[test]
    fn stable_after_an_uninterrupted_stretch_and_reported_once() {
        let mut s = Stability::default();
        assert_eq!(s.observe(Health::Up, t(0), t(0), FOR), None);
        assert_eq!(s.observe(Health::Up, t(30), t(30), FOR), None);
        assert_eq!(s.observe(Health::Up, t(60), t(60), FOR), Some(t(0)));
        s.reported();
        assert_eq!(s.observe(Health::Up, t(90), t(90), FOR), None);
    }

    #[test]
    fn any_other_verdict_restarts_the_stretch() {
        let mut s = Stability::default();
        s.observe(Health::Up, t(0), t(0), FOR);
        s.observe(Health::Unknown, t(50), t(50), FOR);
        assert_eq!(s.observe(Health::Up, t(61), t(61), FOR), None);
        assert_eq!(s.observe(Health::Up, t(121), t(121), FOR), Some(t(61)));
        s.reported();
        s.observe(Health::Down, t(130), t(130), FOR);
        assert_eq!(s.observe(Health::Up, t(140), t(200), FOR), Some(t(140)));
    }
}

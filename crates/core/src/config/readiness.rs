//! `[readiness]`: how often `standby serve` evaluates whether a failover would work, how old a
//! drill may be, and whether a failover's preflight requires a clean evaluation.

use std::time::Duration;

use crate::doc::Section;

/// `[readiness]`: how often, and how old a drill may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// How often `standby serve` evaluates (and after every config reload).
    pub every: Duration,
    /// The last successful drill must be younger than this.
    pub drill_max_age: Duration,
    /// `true`: a failover's preflight fails while the last evaluation has errors;
    /// `false`: they are warnings in the preflight.
    pub require: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            every: Duration::from_secs(30 * 60),
            drill_max_age: Duration::from_secs(8 * 24 * 3600),
            require: false,
        }
    }
}

impl Rules {
    /// How old an evaluation a failover's preflight reuses: two periods (one late evaluation
    /// is not a stale one).
    pub fn fresh_for(&self) -> Duration {
        self.every * 2
    }
}

pub fn readiness(s: &mut Section<'_, '_>) -> Option<Rules> {
    let d = Rules::default();
    // Every key read before any is judged: all errors at once.
    let every = s.duration("every", Some(d.every));
    let drill_max_age = s.duration("drill_max_age", Some(d.drill_max_age));
    let preflight = s.choice("preflight", &["warn", "require"], Some("warn"));
    let too_often = every
        .as_ref()
        .filter(|e| e.value < Duration::from_secs(60))
        .map(|e| e.offset);
    if let Some(offset) = too_often {
        // Each evaluation reads both regions' groups, launch templates, instance types and
        // quotas: more often than a minute is API load, not readiness.
        s.error(
            offset,
            "every",
            "at least 1m: each evaluation makes a dozen AWS reads",
        );
    }
    let (every, drill_max_age, preflight) = (every?, drill_max_age?, preflight?);
    if too_often.is_some() {
        return None;
    }
    Some(Rules {
        every: every.value,
        drill_max_age: drill_max_age.value,
        require: preflight.value == "require",
    })
}

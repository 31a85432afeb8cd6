//! `[readiness]`: how often `standby serve` evaluates whether a failover would work, how old a
//! drill may be, and whether a failover's preflight requires a clean evaluation.

use crate::doc::Section;
use crate::readiness::Rules;

pub fn readiness(s: &mut Section<'_, '_>) -> Option<Rules> {
    let d = Rules::default();
    // Every key read before any is judged: all errors at once.
    let every = s.duration("every", Some(d.every));
    let drill_max_age = s.duration("drill_max_age", Some(d.drill_max_age));
    let preflight = s.choice("preflight", &["warn", "require"], Some("warn"));
    let too_often = every
        .as_ref()
        .filter(|e| e.value < std::time::Duration::from_secs(60))
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

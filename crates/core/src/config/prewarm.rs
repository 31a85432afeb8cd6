//! `[prewarm]`: whether `standby serve` brings the standby to serving capacity while the primary
//! degrades (before any verdict; DNS untouched), on which signals, for how long, and at what
//! most a month. Off unless `enabled = true`: a pre-warm runs GPU instances nobody asked for.
//! The thresholds left out derive from `[health]` (`crate::prewarm::Rules::derive`).

use std::time::Duration;

use crate::doc::Section;

/// `[prewarm]` as written: what is left out derives from `[health]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub enabled: bool,
    /// A failure rate (fraction) above which the primary counts as degrading.
    pub error_rate: Option<f64>,
    /// A share of 429 answers above which the primary counts as shedding load; `None` (the
    /// default): 429s alone never pre-warm (the simulation's healthy months show why).
    pub throttled_rate: Option<f64>,
    /// A median latency of good rounds above which the primary counts as slow.
    pub latency: Option<Duration>,
    pub sustain: Option<Duration>,
    pub hold: Option<Duration>,
    pub max_monthly_usd: Option<f64>,
}

pub fn prewarm(s: &mut Section<'_, '_>) -> Option<Settings> {
    // Every key read before any is judged: all errors at once.
    let enabled = s.opt_bool("enabled");
    let error_rate = s.opt_float("error_rate");
    let throttled_rate = s.opt_float("throttled_rate");
    // Optional durations: absent derives from `[health]` (not a missing key).
    let mut opt_duration = |key: &str| s.has(key).then(|| s.duration(key, None)).flatten();
    let latency = opt_duration("latency");
    let sustain = opt_duration("sustain");
    let hold = opt_duration("hold");
    let max = s.opt_float("max_monthly_usd");
    let mut ok = [
        "enabled",
        "error_rate",
        "throttled_rate",
        "latency",
        "sustain",
        "hold",
    ]
    .iter()
    .zip([
        enabled.is_some(),
        error_rate.is_some(),
        throttled_rate.is_some(),
        latency.is_some(),
        sustain.is_some(),
        hold.is_some(),
    ])
    .all(|(key, read)| read || !s.has(key));
    for (key, v) in [
        ("error_rate", &error_rate),
        ("throttled_rate", &throttled_rate),
    ] {
        if let Some(v) = v
            && !(v.value > 0.0 && v.value < 1.0)
        {
            s.error(
                v.offset,
                key,
                format!(
                    "{} must be a fraction between 0 and 1 (e.g. 0.02 for 2%)",
                    v.value
                ),
            );
            ok = false;
        }
    }
    if let Some(m) = &max
        && !(m.value >= 0.0 && m.value.is_finite())
    {
        s.error(m.offset, "max_monthly_usd", "a ceiling of 0 or more (USD)");
        ok = false;
    }
    if let Some(h) = &hold
        && h.value < Duration::from_secs(1)
    {
        // A hold shorter than a probe round releases between two rounds of one brownout.
        s.error(h.offset, "hold", "at least 1s");
        ok = false;
    }
    ok.then(|| Settings {
        enabled: enabled.is_some_and(|e| e.value),
        error_rate: error_rate.map(|v| v.value),
        throttled_rate: throttled_rate.map(|v| v.value),
        latency: latency.map(|v| v.value),
        sustain: sustain.map(|v| v.value),
        hold: hold.map(|v| v.value),
        max_monthly_usd: max.map(|v| v.value),
    })
}

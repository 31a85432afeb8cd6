//! Human durations as they appear in configs and reports: `500ms`, `2s`, `5m`, `1h30m`, `1d`.

use std::time::Duration;

/// The longest duration a config may hold: ten years. Anything `validate` accepts is added to
/// timestamps and multiplied by thresholds while serving; this bound keeps all of that far from
/// overflow (a cooldown of "100000000d" is a typo, not a policy).
pub const MAX: Duration = Duration::from_secs(3650 * 86_400);

/// Parses `"1h30m"`-style durations. Units: ms, s, m, h, d. A bare number is rejected on purpose:
/// `timeout = 5` is ambiguous between seconds and milliseconds, and guessing is how outages start.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty, expected a duration like \"2s\" or \"5m\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration (expected e.g. \"2s\", \"5m\", \"1h30m\")"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (number too large)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let too_long = || format!("{text:?} is longer than the limit of 3650d (ten years)");
        let secs = |unit: u64| {
            n.checked_mul(unit)
                .map(Duration::from_secs)
                .ok_or_else(too_long)
        };
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => secs(1)?,
            "m" => secs(60)?,
            "h" => secs(3600)?,
            "d" => secs(86_400)?,
            "" => {
                return Err(format!(
                    "{text:?} is not a duration: a unit is required (ms, s, m, h, d)"
                ));
            }
            other => {
                return Err(format!(
                    "{text:?} is not a duration: unknown unit {other:?} (use ms, s, m, h, d)"
                ));
            }
        };
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX)
            .ok_or_else(too_long)?;
    }
    Ok(total)
}

/// Formats a duration the way an operator reads it: `4m 12.3s`, `850ms`, `1h 2m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    match (h, s) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{m}m {s}s"),
        (_, 0) if m == 0 => format!("{h}h"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// Milliseconds for JSON reports: stable, unit-explicit field values.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Signed difference `b - a` clamped at zero: clock skew between journal writes must never
/// produce a negative RTO component.
pub fn between(a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>) -> Duration {
    (b - a).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1d").unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert!(parse("2x").unwrap_err().contains("unknown unit \"x\""));
        assert!(parse("5").unwrap_err().contains("a unit is required"));
        assert!(parse("").unwrap_err().contains("is empty"));
        assert!(parse("s").unwrap_err().contains("is not a duration"));
    }

    #[test]
    fn bounds_durations_instead_of_overflowing() {
        assert_eq!(parse("3650d").unwrap(), MAX);
        assert!(parse("3651d").unwrap_err().contains("limit of 3650d"));
        assert!(parse("100000000d").unwrap_err().contains("limit"));
        assert!(parse("300000000000000000d").unwrap_err().contains("limit"));
        assert!(parse("3650d1ms").unwrap_err().contains("limit"));
        assert!(
            parse("18446744073709551615ms")
                .unwrap_err()
                .contains("limit")
        );
    }

    #[test]
    fn formats_for_humans() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human(Duration::from_secs(252)), "4m 12s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
    }
}

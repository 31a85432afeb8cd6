//! Human durations as they appear in configs and reports: `500ms`, `2s`, `5m`, `1h30m`, `1d`.

use std::time::Duration;

/// The longest duration a config may hold: ten years. Anything `validate` accepts is added to
/// timestamps and multiplied by thresholds while serving; this bound keeps all of that far from
/// overflow (a cooldown of "100000000d" is a typo, not a policy).
pub const MAX: Duration = Duration::from_secs(3650 * 86_400);

/// Parses durations as people write them and as standby prints them: `"500ms"`, `"2s"`,
/// `"1h30m"`, `"1h 30m"`, `"1.5s"`, `"4m 12.3s"`. Units: ms, s, m, h, d; parts may be separated
/// by spaces and may have a decimal fraction (to the nanosecond). A bare number is rejected on
/// purpose: `timeout = 5` is ambiguous between seconds and milliseconds, and guessing is how
/// outages start.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty, expected a duration like \"2s\" or \"5m\"".into());
    }
    let not_a_duration =
        || format!("{text:?} is not a duration (expected e.g. \"2s\", \"1.5s\", \"1h 30m\")");
    let too_long = || format!("{text:?} is longer than the limit of 3650d (ten years)");
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(not_a_duration());
        }
        let whole = &rest[..digits];
        rest = &rest[digits..];
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let n = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if n == 0 {
                return Err(not_a_duration());
            }
            if n > 9 {
                return Err(format!(
                    "{text:?} is not a duration: at most 9 decimal places (nanoseconds)"
                ));
            }
            fraction = &after[..n];
            rest = &after[n..];
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let nanos_per: u128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
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
        // More digits than any duration up to the limit has: past it, whatever they say.
        let whole: u128 = if whole.trim_start_matches('0').len() > 20 {
            return Err(too_long());
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let scale = 10u128.pow(fraction.len() as u32);
        let fraction: u128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| not_a_duration())?
        };
        total = whole
            .checked_mul(nanos_per)
            .and_then(|w| w.checked_add(fraction * nanos_per / scale))
            .and_then(|part| total.checked_add(part))
            .filter(|t| *t <= MAX.as_nanos())
            .ok_or_else(too_long)?;
    }
    Ok(Duration::from_nanos(total as u64))
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
    if total >= 2 * 86_400 {
        // Days from two on: "6d 9h", not "153h" (a drill's age, a long RPO).
        let (days, h, m, s) = (
            total / 86_400,
            (total % 86_400) / 3600,
            (total % 3600) / 60,
            total % 60,
        );
        let mut out = format!("{days}d");
        if h > 0 {
            out += &format!(" {h}h");
        }
        if m > 0 || s > 0 {
            out += &format!(" {m}m {s}s");
        }
        return out;
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    match (h, s) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{m}m {s}s"),
        (_, 0) if m == 0 => format!("{h}h"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// The timestamp format of what people read (Markdown, HTML, notes): RFC 3339, UTC (`Z`),
/// milliseconds (`2026-11-26T13:20:19.852Z`).
pub fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
    fn parses_spaces_and_decimals_as_standby_prints_them() {
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0.25m").unwrap(), Duration::from_secs(15));
        assert_eq!(parse("2.5ms").unwrap(), Duration::from_micros(2500));
        // Every shape `human` prints reads back to what it printed.
        for d in [
            850,
            12_300,
            252_000,
            300_000,
            3_600_000,
            69_000,
            5_400_000,
            691_200_000,
            552_600_000,
            552_610_000,
        ] {
            let d = Duration::from_millis(d);
            assert_eq!(parse(&human(d)).unwrap(), d, "{}", human(d));
        }
        assert!(parse("1.s").unwrap_err().contains("is not a duration"));
        assert!(parse(".5s").unwrap_err().contains("is not a duration"));
        assert!(
            parse("1.0000000001s")
                .unwrap_err()
                .contains("9 decimal places")
        );
        assert!(parse("1h 30").unwrap_err().contains("a unit is required"));
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
        assert_eq!(human(Duration::from_secs(8 * 86_400)), "8d");
        assert_eq!(human(Duration::from_secs(6 * 86_400 + 9 * 3600)), "6d 9h");
    }
}

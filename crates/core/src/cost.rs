//! What the warm standby costs: the standby's warm instances all month, its copies of the
//! artifact sets, the cross-region transfer of its syncs; what a drill costs (the instances it
//! adds × how long they ran); what an hour at serving capacity costs after a failover.
//!
//! Prices are AWS's on-demand list prices shipped here with their date ([`PRICES_AS_OF`]),
//! overridable per instance type in `[cost]` (a region's price, a discount, a Savings Plan
//! rate). Every figure says what it rests on; a figure that needs a price nobody gave is not
//! made up: it is `None`, and the reason names the missing price.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{Config, Side};

/// When the shipped prices were AWS's list prices (Linux, on-demand, us-east-1 and us-west-2,
/// which price these types alike). Check them against the AWS pricing pages for your regions.
pub const PRICES_AS_OF: &str = "2025-06 list prices (Linux on-demand, us-east-1)";

/// USD per instance-hour.
pub const ON_DEMAND: &[(&str, f64)] = &[
    // P5 after AWS's June 2025 price reduction.
    ("p5.48xlarge", 55.04),
    ("g5.xlarge", 1.006),
    ("g5.2xlarge", 1.212),
    ("g5.4xlarge", 1.624),
    ("g5.8xlarge", 2.448),
    ("g5.12xlarge", 5.672),
    ("g5.16xlarge", 4.096),
    ("g5.24xlarge", 8.144),
    ("g5.48xlarge", 16.288),
    ("g6.xlarge", 0.8048),
    ("g6.12xlarge", 4.6016),
    ("g4dn.xlarge", 0.526),
    ("g4dn.12xlarge", 3.912),
];

/// S3 Standard, first 50 TB, USD per GB-month.
pub const S3_STANDARD_GB_MONTH: f64 = 0.023;
/// Data transfer between US regions, USD per GB.
pub const INTER_REGION_GB: f64 = 0.02;
/// AWS bills a month as 730 hours.
pub const HOURS_PER_MONTH: f64 = 730.0;

const GB: f64 = 1_000_000_000.0;

pub use crate::config::cost::Rules;

/// The hourly price of `instance_type` and where it comes from: `[cost] prices`, else the
/// shipped list.
pub fn hourly(rules: &Rules, instance_type: &str) -> Option<(f64, &'static str)> {
    if let Some(p) = rules.prices.get(instance_type) {
        return Some((*p, "[cost] prices"));
    }
    ON_DEMAND
        .iter()
        .find(|(t, _)| *t == instance_type)
        .map(|(_, p)| (*p, PRICES_AS_OF))
}

/// One standby group's price.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupPrice {
    pub group: String,
    /// The type priced: the dearest of the types the group may launch (an upper bound when it
    /// has several).
    pub instance_type: Option<String>,
    pub hourly: Option<f64>,
    pub warm: u32,
    pub serving: u32,
    /// Where the price comes from, or why there is none.
    pub basis: String,
}

/// What the standby costs, with what each figure rests on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StandbyCost {
    pub groups: Vec<GroupPrice>,
    /// The warm instances, all month.
    pub warm_monthly: Option<f64>,
    /// The standby's copies of the artifact sets (S3 Standard).
    pub storage_monthly: Option<f64>,
    /// The syncs' cross-region transfer: each set's last sync × its syncs a month (an estimate:
    /// a sync copies what changed).
    pub transfer_monthly: Option<f64>,
    pub total_monthly: Option<f64>,
    /// One hour of the standby at serving capacity (after a failover).
    pub failover_hour: Option<f64>,
    /// What is missing from a figure, for people.
    pub notes: Vec<String>,
}

/// An artifact set's size on the standby and its last sync's copied bytes and period.
#[derive(Debug, Clone, PartialEq)]
pub struct SetBytes {
    pub name: String,
    /// Bytes of the standby's published copy (`None`: never published).
    pub stored: Option<u64>,
    /// Bytes the last sync copied across regions, and how often the set syncs.
    pub last_copied: Option<u64>,
    pub period: Option<Duration>,
}

/// The cost of the standby as configured, for the instance types its groups launch.
pub fn standby(
    cfg: &Config,
    group_types: &BTreeMap<(Side, String), Result<Vec<String>, String>>,
    sets: &[SetBytes],
) -> StandbyCost {
    let rules = &cfg.cost;
    let mut notes = Vec::new();
    let groups: Vec<GroupPrice> = cfg
        .standby
        .asgs
        .iter()
        .map(|g| {
            let (instance_type, hourly, basis) =
                match group_types.get(&(Side::Standby, g.name.clone())) {
                    Some(Ok(types)) if !types.is_empty() => {
                        let priced: Vec<(&String, Option<(f64, &str)>)> =
                            types.iter().map(|t| (t, hourly(rules, t))).collect();
                        if let Some((t, _)) = priced.iter().find(|(_, p)| p.is_none()) {
                            (
                                Some(t.to_string()),
                                None,
                                format!("no price for {t}: add it under [cost] prices"),
                            )
                        } else {
                            let (t, (p, src)) = priced
                                .iter()
                                .map(|(t, p)| (*t, p.expect("checked above")))
                                .max_by(|a, b| a.1.0.total_cmp(&b.1.0))
                                .expect("non-empty");
                            let bound = if types.len() > 1 {
                                format!(", the dearest of {}", types.join(", "))
                            } else {
                                String::new()
                            };
                            (Some(t.clone()), Some(p), format!("{src}{bound}"))
                        }
                    }
                    Some(Err(why)) => (None, None, format!("instance type not read: {why}")),
                    _ => (None, None, "instance type not read".to_string()),
                };
            GroupPrice {
                group: g.name.clone(),
                instance_type,
                hourly,
                warm: g.warm,
                serving: g.serving,
                basis,
            }
        })
        .collect();
    for g in groups.iter().filter(|g| g.hourly.is_none()) {
        notes.push(format!("{}: {}", g.group, g.basis));
    }
    let all_priced = groups.iter().all(|g| g.hourly.is_some());
    let sum = |n: fn(&GroupPrice) -> u32| -> Option<f64> {
        all_priced.then(|| {
            groups
                .iter()
                .map(|g| g.hourly.unwrap_or(0.0) * f64::from(n(g)))
                .sum()
        })
    };
    let warm_monthly = sum(|g| g.warm).map(|h| h * HOURS_PER_MONTH);
    let failover_hour = sum(|g| g.serving);

    let storage_monthly = if sets.iter().all(|s| s.stored.is_some()) {
        Some(
            sets.iter()
                .map(|s| s.stored.unwrap_or(0) as f64)
                .sum::<f64>()
                / GB
                * rules.storage_gb_month.unwrap_or(S3_STANDARD_GB_MONTH),
        )
    } else {
        for s in sets.iter().filter(|s| s.stored.is_none()) {
            notes.push(format!(
                "{}: never published to the standby: its storage is not counted",
                s.name
            ));
        }
        None
    };
    let transfer_monthly = if sets
        .iter()
        .all(|s| s.last_copied.is_some() && s.period.is_some())
    {
        Some(
            sets.iter()
                .map(|s| {
                    let per_month = HOURS_PER_MONTH * 3600.0
                        / s.period
                            .unwrap_or(Duration::from_secs(3600))
                            .as_secs_f64()
                            .max(1.0);
                    s.last_copied.unwrap_or(0) as f64 / GB * per_month
                })
                .sum::<f64>()
                * rules.transfer_gb.unwrap_or(INTER_REGION_GB),
        )
    } else {
        for s in sets
            .iter()
            .filter(|s| s.last_copied.is_none() || s.period.is_none())
        {
            notes.push(format!(
                "{}: {}: its transfer is not counted",
                s.name,
                if s.period.is_none() {
                    "no regular schedule"
                } else {
                    "no sync recorded"
                }
            ));
        }
        None
    };
    let total_monthly = match (warm_monthly, storage_monthly, transfer_monthly) {
        (Some(w), Some(s), Some(t)) => Some(w + s + t),
        _ => None,
    };
    StandbyCost {
        groups,
        warm_monthly,
        storage_monthly,
        transfer_monthly,
        total_monthly,
        failover_hour,
        notes,
    }
}

/// "$40,179" (whole dollars with separators), or "$0.42" under ten dollars.
pub fn dollars(v: f64) -> String {
    if v.abs() < 10.0 {
        return format!("${v:.2}");
    }
    let whole = v.round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}${out}", if whole < 0 { "-" } else { "" })
}

impl StandbyCost {
    /// What bringing the standby from warm to serving adds per hour (a pre-warm's price), with
    /// what it rests on; `None` when a group has no price.
    pub fn added_hourly(&self) -> (Option<f64>, String) {
        if let Some(g) = self.groups.iter().find(|g| g.hourly.is_none()) {
            return (None, format!("{}: {}", g.group, g.basis));
        }
        let added = self
            .groups
            .iter()
            .map(|g| g.hourly.unwrap_or(0.0) * f64::from(g.serving.saturating_sub(g.warm)))
            .sum();
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} × {} at {}/h ({})",
                    g.serving.saturating_sub(g.warm),
                    g.instance_type.as_deref().unwrap_or("?"),
                    dollars(g.hourly.unwrap_or(0.0)),
                    g.basis
                )
            })
            .collect();
        (Some(added), parts.join(" + "))
    }

    /// One line for `status` and logs.
    pub fn summary(&self) -> String {
        let f = |v: Option<f64>| v.map_or("unknown".to_string(), dollars);
        let mut s = format!(
            "warm standby {}/month ({} instances, {} storage, {} transfer); a failover hour at serving capacity {}",
            f(self.total_monthly),
            f(self.warm_monthly),
            f(self.storage_monthly),
            f(self.transfer_monthly),
            f(self.failover_hour)
        );
        if !self.notes.is_empty() {
            s += &format!(" ({})", self.notes.join("; "));
        }
        s
    }
}

/// What a drill cost: for each group, the instances it added × how long they ran (from the
/// scale-up's start to the end of the return to warm) × its hourly price. `None` when a price
/// is missing.
pub fn drill(added: &[(u32, Option<f64>, Duration)]) -> Option<f64> {
    added
        .iter()
        .map(|(n, price, ran)| price.map(|p| p * f64::from(*n) * ran.as_secs_f64() / 3600.0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::config;

    fn types(pairs: &[(&str, &[&str])]) -> BTreeMap<(Side, String), Result<Vec<String>, String>> {
        pairs
            .iter()
            .map(|(g, t)| {
                (
                    (Side::Standby, g.to_string()),
                    Ok(t.iter().map(|s| s.to_string()).collect()),
                )
            })
            .collect()
    }

    #[test]
    fn the_warm_standby_costs_what_hand_arithmetic_says() {
        // gpu-usw2: warm 1, serving 4 (p5.48xlarge); gpu-usw2-b: warm 0, serving 2 (g5.12xlarge).
        let cfg = config();
        let t = types(&[
            ("gpu-usw2", &["p5.48xlarge"]),
            ("gpu-usw2-b", &["g5.12xlarge"]),
        ]);
        let sets = [SetBytes {
            name: "weights".into(),
            stored: Some(140_000_000_000),
            last_copied: Some(2_000_000_000),
            period: Some(Duration::from_secs(6 * 3600)),
        }];
        let c = standby(&cfg, &t, &sets);
        // 1 × 55.04 × 730 = 40,179.20
        assert!((c.warm_monthly.unwrap() - 40_179.2).abs() < 1e-6, "{c:?}");
        // 140 GB × 0.023 = 3.22
        assert!((c.storage_monthly.unwrap() - 3.22).abs() < 1e-9, "{c:?}");
        // 2 GB × (730 / 6 = 121.67 syncs) × 0.02 = 4.8667
        assert!(
            (c.transfer_monthly.unwrap() - 4.866_666).abs() < 1e-5,
            "{c:?}"
        );
        assert!(
            (c.total_monthly.unwrap() - 40_187.286_666).abs() < 1e-5,
            "{c:?}"
        );
        // 4 × 55.04 + 2 × 5.672 = 231.504
        assert!((c.failover_hour.unwrap() - 231.504).abs() < 1e-9, "{c:?}");
        assert_eq!(
            c.summary(),
            "warm standby $40,187/month ($40,179 instances, $3.22 storage, $4.87 transfer); a failover hour at serving capacity $232"
        );
    }

    #[test]
    fn a_missing_price_is_named_never_guessed_and_overrides_win() {
        let mut cfg = config();
        let t = types(&[
            ("gpu-usw2", &["p5e.48xlarge"]),
            ("gpu-usw2-b", &["g5.12xlarge", "g5.48xlarge"]),
        ]);
        let c = standby(&cfg, &t, &[]);
        assert_eq!(c.warm_monthly, None);
        assert_eq!(c.failover_hour, None);
        assert!(
            c.summary()
                .contains("gpu-usw2: no price for p5e.48xlarge: add it under [cost] prices"),
            "{}",
            c.summary()
        );
        // The dearest type of a mixed group bounds it.
        let b = &c.groups[1];
        assert_eq!(b.instance_type.as_deref(), Some("g5.48xlarge"));
        assert!(
            b.basis.ends_with("the dearest of g5.12xlarge, g5.48xlarge"),
            "{b:?}"
        );
        cfg.cost.prices.insert("p5e.48xlarge".into(), 60.0);
        let c = standby(&cfg, &t, &[]);
        assert!((c.warm_monthly.unwrap() - 60.0 * 730.0).abs() < 1e-6);
        assert_eq!(c.groups[0].basis, "[cost] prices");
    }

    #[test]
    fn a_drill_costs_its_added_instances_for_as_long_as_they_ran() {
        // 3 p5 added for 12 minutes: 3 × 55.04 × 0.2 = 33.024
        let d = drill(&[(3, Some(55.04), Duration::from_secs(720))]).unwrap();
        assert!((d - 33.024).abs() < 1e-9);
        assert_eq!(drill(&[(3, None, Duration::from_secs(720))]), None);
        assert_eq!(dollars(33.024), "$33");
        assert_eq!(dollars(1_234_567.4), "$1,234,567");
        assert_eq!(dollars(0.4166), "$0.42");
    }
}

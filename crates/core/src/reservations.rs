//! Capacity reservations a scale-up counts on: On-Demand Capacity Reservations (ODCR) and
//! Capacity Blocks for ML that a group's launches are pointed at, by the group itself
//! (`CapacityReservationSpecification` on the Auto Scaling group) or by its launch template.
//! Checked in preflight, before the launches need them: a reservation that expired, has not
//! started, reserves another instance type or zone, or has too few free instances is found
//! now, with what that means for this run's launches. Pure; `now` is passed in.
//!
//! What AWS does with each preference (Auto Scaling and EC2 references):
//! - `capacity-reservations-only`: launches go into the reservations or fail. Too little free
//!   reserved capacity means failed launches: the preflight fails when even `min_serving`
//!   cannot be reached and no spare group is configured to take over.
//! - `capacity-reservations-first` (group) and `open` (template): reservations first, then
//!   On-Demand capacity, which the regional event may have used up: a warning.
//! - `none`: reservations are not used; nothing to check.
//!
//! A Capacity Block's instances are terminated from 30 minutes before its end ("Forty minutes
//! before your Capacity Block reservation ends ... instances ... will begin to terminate in 10
//! minutes", EC2 User Guide, Monitor Capacity Blocks), so a block counts only until then.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::check::Check;
use crate::plan::AsgChange;

/// How a Capacity Block's end reaches its instances: terminated from this long before it.
pub const BLOCK_TERMINATION_LEAD: chrono::Duration = chrono::Duration::minutes(30);

/// A block ending within this is worth a warning: traffic served from it must move on.
pub const BLOCK_ENDING_SOON: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preference {
    /// Launch into the reservations or fail.
    Only,
    /// Reservations first, then On-Demand capacity (the group's `capacity-reservations-first`,
    /// the template's `open`).
    First,
    /// Never into a reservation.
    None,
}

/// What a group's launches are pointed at, as read from the group and its launch template.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupReservations {
    pub group: String,
    pub preference: Preference,
    /// Where the preference was read, for people: "the group" or "launch template gpu
    /// (lt-0abc) version $Latest".
    pub source: String,
    /// Reservations targeted by id.
    pub ids: Vec<String>,
    /// Capacity Reservation resource groups targeted: their members are not listed here.
    pub resource_groups: Vec<String>,
    /// The instance types the group launches (template, or mixed-instances overrides).
    pub instance_types: Vec<String>,
    /// The group's Availability Zones.
    pub zones: Vec<String>,
}

/// One reservation as EC2 describes it (DescribeCapacityReservations).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reservation {
    pub id: String,
    pub instance_type: String,
    pub zone: String,
    /// `active`, `scheduled`, `expired`, `cancelled`, `pending`, `failed`, ...
    pub state: String,
    pub total: u32,
    pub available: u32,
    pub capacity_block: bool,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// What reading one reservation gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    Found(Reservation),
    /// EC2 says there is no such reservation in the region (or not in this account).
    Missing,
    /// It could not be read now, and why.
    Unread(String),
}

/// How many instances a reservation can take for this group now, and why not when none.
fn usable(g: &GroupReservations, r: &Reservation, now: DateTime<Utc>) -> Result<u32, String> {
    if r.state != "active" {
        return Err(match (r.state.as_str(), r.start) {
            ("scheduled", Some(start)) => format!(
                "scheduled: it starts at {} (in {}), launches cannot use it before",
                start.format("%Y-%m-%d %H:%M UTC"),
                crate::duration::human((start - now).to_std().unwrap_or_default())
            ),
            (state, _) => format!("{state}: launches cannot use it"),
        });
    }
    if !g.instance_types.is_empty() && !g.instance_types.contains(&r.instance_type) {
        return Err(format!(
            "reserves {} but the group launches {}: its launches cannot use it",
            r.instance_type,
            g.instance_types.join(", ")
        ));
    }
    if !g.zones.is_empty() && !g.zones.contains(&r.zone) {
        return Err(format!(
            "is in {} but the group launches in {}: its launches cannot use it",
            r.zone,
            g.zones.join(", ")
        ));
    }
    if r.capacity_block
        && let Some(end) = r.end
        && now >= end - BLOCK_TERMINATION_LEAD
    {
        return Err(format!(
            "Capacity Block ending at {}: its instances are being terminated",
            end.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    Ok(r.available)
}

/// The preflight's findings for one group a phase scales up: one per reservation it targets
/// and, when it targets any, whether the free reserved capacity covers this run's launches.
pub fn checks(
    change: &AsgChange,
    group: &GroupReservations,
    found: &BTreeMap<String, Lookup>,
    now: DateTime<Utc>,
) -> Vec<Check> {
    if group.preference == Preference::None
        || (group.ids.is_empty() && group.resource_groups.is_empty())
    {
        return Vec::new();
    }
    let name = |what: &str| format!("capacity reservation {what} (asg {})", group.group);
    let warn = |what: &str, reason: String| Check {
        name: name(what),
        ok: true,
        warning: true,
        reason,
    };
    let mut out = Vec::new();
    let mut free = 0u32;
    let mut unknown = false;
    for id in &group.ids {
        out.push(match found.get(id) {
            None | Some(Lookup::Unread(_)) => {
                unknown = true;
                let why = match found.get(id) {
                    Some(Lookup::Unread(why)) => why.clone(),
                    _ => "not read".to_string(),
                };
                warn(id, format!("could not be read, not checked: {why}"))
            }
            Some(Lookup::Missing) => warn(
                id,
                format!(
                    "does not exist in {}'s region (or this account cannot see it): launches cannot use it",
                    group.group
                ),
            ),
            Some(Lookup::Found(r)) => match usable(group, r, now) {
                Err(why) => warn(id, why),
                Ok(n) => {
                    free += n;
                    let kind = if r.capacity_block {
                        "Capacity Block"
                    } else {
                        "On-Demand Capacity Reservation"
                    };
                    let mut reason = format!(
                        "active {kind}: {} in {}, {} of {} free",
                        r.instance_type, r.zone, r.available, r.total
                    );
                    let mut warning = false;
                    if let Some(end) = r.end {
                        reason.push_str(&format!("; ends {}", end.format("%Y-%m-%d %H:%M UTC")));
                        if r.capacity_block && end - BLOCK_TERMINATION_LEAD - now < BLOCK_ENDING_SOON
                        {
                            warning = true;
                            reason.push_str(&format!(
                                ": its instances are terminated from {} (in {}), traffic served from it must move before",
                                (end - BLOCK_TERMINATION_LEAD).format("%Y-%m-%d %H:%M UTC"),
                                crate::duration::human(
                                    (end - BLOCK_TERMINATION_LEAD - now).to_std().unwrap_or_default()
                                )
                            ));
                        }
                    }
                    Check {
                        name: name(id),
                        ok: true,
                        warning,
                        reason,
                    }
                }
            },
        });
    }
    for arn in &group.resource_groups {
        unknown = true;
        out.push(warn(
            arn,
            "a Capacity Reservation resource group: its members are not listed (standby does not call Resource Groups), not checked".into(),
        ));
    }
    out.push(enough(change, group, free, unknown));
    out
}

/// Whether the free reserved capacity covers the launches this run makes, and what happens
/// to the rest under the group's preference.
fn enough(change: &AsgChange, group: &GroupReservations, free: u32, unknown: bool) -> Check {
    let running = change.from.map_or(0, |c| c.in_service + c.pending);
    let launches = change.desired.saturating_sub(running);
    let needed_to_serve = change.enough().saturating_sub(running);
    let name = format!("capacity reservations of asg {}", group.group);
    let of = format!(
        "{free} free reserved instance{} for the {launches} launch{} this run makes ({} preference from {})",
        if free == 1 { "" } else { "s" },
        if launches == 1 { "" } else { "es" },
        match group.preference {
            Preference::Only => "capacity-reservations-only",
            Preference::First => "reservations-first",
            Preference::None => "none",
        },
        group.source
    );
    if free >= launches {
        return Check {
            name,
            ok: true,
            warning: false,
            reason: of,
        };
    }
    let short = launches - free;
    let spares = (!change.fallback.is_empty()).then(|| {
        change
            .fallback
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", then ")
    });
    let (ok, consequence) = match (group.preference, spares) {
        (Preference::Only, Some(spares)) => (
            true,
            format!("{short} will fail to launch; the scale step then asks spare group {spares}"),
        ),
        (Preference::Only, None) if unknown => (
            true,
            format!(
                "{short} may fail to launch (capacity-reservations-only; some reserved capacity could not be checked)"
            ),
        ),
        (Preference::Only, None) if free < needed_to_serve => (
            false,
            format!(
                "{short} will fail to launch (capacity-reservations-only) and no spare group is configured: the group cannot reach the {} InService it needs to serve",
                change.enough()
            ),
        ),
        (Preference::Only, None) => (
            true,
            format!(
                "{short} will fail to launch (capacity-reservations-only); enough to serve ({}) without them",
                change.enough()
            ),
        ),
        _ => (
            true,
            format!("{short} go to On-Demand capacity, which a regional event may have used up"),
        ),
    };
    Check {
        name,
        ok,
        warning: ok,
        reason: format!("{of}: {consequence}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Side;
    use crate::plan::{AsgCapacity, Spare};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
            .and_utc()
    }

    fn change(in_service: u32, desired: u32, min_serving: Option<u32>) -> AsgChange {
        AsgChange {
            side: Side::Standby,
            region: "us-west-2".into(),
            name: "gpu".into(),
            from: Some(AsgCapacity {
                desired: in_service,
                min: in_service,
                max: 8,
                in_service,
                pending: 0,
            }),
            desired,
            min: desired,
            max: 8,
            min_serving,
            fallback: Vec::new(),
            to_serving: Some(true),
        }
    }

    fn group(preference: Preference, ids: &[&str]) -> GroupReservations {
        GroupReservations {
            group: "gpu".into(),
            preference,
            source: "launch template gpu (lt-1) version $Latest".into(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            resource_groups: Vec::new(),
            instance_types: vec!["p5.48xlarge".into()],
            zones: vec!["us-west-2a".into(), "us-west-2b".into()],
        }
    }

    fn odcr(id: &str, available: u32) -> Reservation {
        Reservation {
            id: id.into(),
            instance_type: "p5.48xlarge".into(),
            zone: "us-west-2a".into(),
            state: "active".into(),
            total: 4,
            available,
            capacity_block: false,
            start: None,
            end: None,
        }
    }

    fn found(rs: &[Reservation]) -> BTreeMap<String, Lookup> {
        rs.iter()
            .map(|r| (r.id.clone(), Lookup::Found(r.clone())))
            .collect()
    }

    #[test]
    fn a_group_without_reservations_has_nothing_to_check() {
        let none = group(Preference::None, &["cr-1"]);
        assert!(checks(&change(1, 4, None), &none, &BTreeMap::new(), at(12, 0)).is_empty());
        let untargeted = group(Preference::First, &[]);
        assert!(
            checks(
                &change(1, 4, None),
                &untargeted,
                &BTreeMap::new(),
                at(12, 0)
            )
            .is_empty()
        );
    }

    #[test]
    fn enough_free_reserved_capacity_passes_and_says_so() {
        let c = checks(
            &change(1, 4, None),
            &group(Preference::Only, &["cr-1"]),
            &found(&[odcr("cr-1", 3)]),
            at(12, 0),
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c.iter().all(|c| c.ok && !c.warning), "{c:?}");
        assert!(
            c[0].reason
                .contains("p5.48xlarge in us-west-2a, 3 of 4 free"),
            "{c:?}"
        );
        assert!(
            c[1].reason
                .starts_with("3 free reserved instances for the 3 launches"),
            "{c:?}"
        );
    }

    #[test]
    fn reservations_only_without_enough_to_serve_and_no_spare_fails() {
        let c = checks(
            &change(1, 4, Some(3)),
            &group(Preference::Only, &["cr-1"]),
            &found(&[odcr("cr-1", 1)]),
            at(12, 0),
        );
        let last = c.last().unwrap();
        assert!(!last.ok, "{c:?}");
        assert!(
            last.reason
                .contains("2 will fail to launch (capacity-reservations-only) and no spare group"),
            "{last:?}"
        );
        // Enough to serve (min_serving 2: 1 running + 1 reserved): a warning, not a refusal.
        let served = checks(
            &change(1, 4, Some(2)),
            &group(Preference::Only, &["cr-1"]),
            &found(&[odcr("cr-1", 1)]),
            at(12, 0),
        );
        assert!(
            served.last().unwrap().ok && served.last().unwrap().warning,
            "{served:?}"
        );
    }

    #[test]
    fn a_spare_group_turns_a_reservation_shortfall_into_a_warning_naming_it() {
        let mut ch = change(0, 4, None);
        ch.fallback = vec![Spare {
            name: "gpu-spare".into(),
            from: None,
        }];
        let c = checks(
            &ch,
            &group(Preference::Only, &["cr-1"]),
            &found(&[odcr("cr-1", 0)]),
            at(12, 0),
        );
        let last = c.last().unwrap();
        assert!(last.ok && last.warning, "{last:?}");
        assert!(
            last.reason.contains("asks spare group gpu-spare"),
            "{last:?}"
        );
    }

    #[test]
    fn unusable_reservations_are_named_with_why_and_count_for_nothing() {
        let expired = Reservation {
            state: "expired".into(),
            ..odcr("cr-expired", 4)
        };
        let other_type = Reservation {
            instance_type: "p4d.24xlarge".into(),
            ..odcr("cr-type", 4)
        };
        let other_zone = Reservation {
            zone: "us-west-2c".into(),
            ..odcr("cr-zone", 4)
        };
        let scheduled = Reservation {
            state: "scheduled".into(),
            capacity_block: true,
            start: Some(at(18, 0)),
            end: Some(at(23, 0)),
            ..odcr("cr-block", 4)
        };
        let mut map = found(&[expired, other_type, other_zone, scheduled]);
        map.insert("cr-gone".into(), Lookup::Missing);
        let g = group(
            Preference::First,
            &["cr-expired", "cr-type", "cr-zone", "cr-block", "cr-gone"],
        );
        let c = checks(&change(0, 2, None), &g, &map, at(12, 0));
        let reason = |id: &str| {
            c.iter()
                .find(|c| c.name.contains(id))
                .map(|c| c.reason.clone())
                .unwrap()
        };
        assert_eq!(reason("cr-expired"), "expired: launches cannot use it");
        assert!(
            reason("cr-type").contains("reserves p4d.24xlarge but the group launches p5.48xlarge")
        );
        assert!(reason("cr-zone").contains("is in us-west-2c"));
        assert!(reason("cr-block").contains("scheduled: it starts at 2026-11-26 18:00 UTC (in 6h"));
        assert!(reason("cr-gone").contains("does not exist"));
        let last = c.last().unwrap();
        assert!(last.ok && last.warning, "{last:?}");
        assert!(
            last.reason
                .starts_with("0 free reserved instances for the 2 launches")
                && last.reason.contains("2 go to On-Demand capacity"),
            "{last:?}"
        );
    }

    #[test]
    fn a_capacity_block_counts_until_its_instances_are_terminated() {
        let block = Reservation {
            capacity_block: true,
            end: Some(at(14, 0)),
            ..odcr("cr-block", 2)
        };
        let g = group(Preference::Only, &["cr-block"]);
        // Two hours before its end: usable, with a warning of when its instances go.
        let c = checks(
            &change(0, 2, None),
            &g,
            &found(std::slice::from_ref(&block)),
            at(12, 0),
        );
        assert!(c[0].ok && c[0].warning, "{c:?}");
        assert!(
            c[0].reason
                .contains("terminated from 2026-11-26 13:30 UTC (in 1h 30m"),
            "{c:?}"
        );
        assert!(c[1].ok && !c[1].warning, "{c:?}");
        // Within the last 30 minutes: being terminated, counts for nothing; the run fails.
        let c = checks(&change(0, 2, None), &g, &found(&[block]), at(13, 40));
        assert!(
            c[0].reason.contains("its instances are being terminated"),
            "{c:?}"
        );
        assert!(!c[1].ok, "{c:?}");
    }

    #[test]
    fn what_cannot_be_read_is_said_and_never_refuses() {
        let mut map = BTreeMap::new();
        map.insert(
            "cr-1".to_string(),
            Lookup::Unread("DescribeCapacityReservations cr-1: throttled".into()),
        );
        let mut g = group(Preference::Only, &["cr-1"]);
        g.resource_groups = vec!["arn:aws:resource-groups:us-west-2:1:group/gpus".into()];
        let c = checks(&change(0, 2, None), &g, &map, at(12, 0));
        assert!(c.iter().all(|c| c.ok && c.warning), "{c:?}");
        assert!(
            c[0].reason
                .contains("not checked: DescribeCapacityReservations cr-1: throttled")
        );
        assert!(c[1].reason.contains("members are not listed"));
        assert!(c[2].reason.contains("may fail to launch"), "{c:?}");
    }
}

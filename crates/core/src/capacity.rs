//! Scaling up when GPU capacity may not be there: given what the groups of one scale-up say now
//! (InService, pending, launches that failed), what the scale step does next. Pure; the step
//! looks every few seconds and journals what this says.
//!
//! The rules, in order:
//! 1. Enough InService across the groups engaged so far (the group, then any spares asked):
//!    done. Enough is `min_serving` (the rest keeps launching in the background) or `desired`.
//! 2. The group engaged last has launches failing (no capacity for its type or zone, a quota:
//!    failed launches with no successful one since) and what is launched cannot reach `desired`: ask the next spare for what is
//!    missing. AWS keeps retrying the failed launches; whichever group gets capacity first serves.
//! 3. Launches failed, no spare is left, and even the pending instances cannot reach enough:
//!    fail now, with AWS's reason, instead of waiting out the step's timeout for capacity that
//!    may not come for hours. The run's retry policy decides what happens next.
//! 4. Otherwise wait.

use chrono::{DateTime, Utc};

use crate::plan::AsgChange;

/// A launch that failed, as DescribeScalingActivities reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailedLaunch {
    pub at: DateTime<Utc>,
    pub reason: String,
}

impl FailedLaunch {
    /// EC2's own words for a capacity shortage.
    pub fn is_capacity(&self) -> bool {
        self.reason.contains("InsufficientInstanceCapacity")
            || self.reason.contains("do not have sufficient")
            || self.reason.contains("insufficient capacity")
    }
}

/// One engaged group as observed now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupProgress {
    pub name: String,
    /// What this group was asked for in this scale-up.
    pub asked: u32,
    pub in_service: u32,
    pub pending: u32,
    /// Launches that failed since the group's last successful one, newest first.
    pub failed: Vec<FailedLaunch>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Wait {
        reason: String,
    },
    Done {
        reason: String,
        short: bool,
    },
    /// Ask `spare` for `ask` more instances.
    Engage {
        spare: String,
        ask: u32,
        reason: String,
    },
    Fail {
        reason: String,
    },
}

/// What to do now. `engaged` is the group first, then the spares asked so far, in order.
pub fn next(change: &AsgChange, engaged: &[GroupProgress]) -> Next {
    let in_service: u32 = engaged.iter().map(|g| g.in_service).sum();
    let pending: u32 = engaged.iter().map(|g| g.pending).sum();
    let enough = change.enough();
    let progress = summary(engaged);
    if in_service >= change.desired {
        return Next::Done {
            reason: format!("{in_service}/{} InService ({progress})", change.desired),
            short: false,
        };
    }
    if in_service >= enough {
        return Next::Done {
            reason: format!(
                "{in_service}/{} InService, at least min_serving {enough}: going on, the other {} keep launching ({progress})",
                change.desired,
                change.desired - in_service
            ),
            short: true,
        };
    }
    let Some(last) = engaged.last() else {
        return Next::Wait {
            reason: "nothing observed yet".into(),
        };
    };
    let failing = last.failed.first();
    let reachable = in_service + pending;
    match failing {
        Some(f) if reachable < change.desired => {
            let spare = change
                .fallback
                .iter()
                .find(|s| !engaged.iter().any(|g| g.name == s.name));
            match spare {
                Some(s) => Next::Engage {
                    spare: s.name.clone(),
                    ask: change.desired - reachable,
                    reason: format!(
                        "{} could not launch ({}): asking spare group {} for the {} missing",
                        last.name,
                        f.reason,
                        s.name,
                        change.desired - reachable
                    ),
                },
                None if reachable < enough => Next::Fail {
                    reason: format!(
                        "{}: launches failed ({}), {in_service}/{} InService and {pending} pending cannot reach {enough}, and {}",
                        last.name,
                        f.reason,
                        change.desired,
                        if change.fallback.is_empty() {
                            "no fallback group is configured".to_string()
                        } else {
                            format!(
                                "every fallback group was tried ({})",
                                change
                                    .fallback
                                    .iter()
                                    .map(|s| s.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                },
                None => Next::Wait {
                    reason: format!(
                        "waiting for the pending instances to reach {enough} ({progress})"
                    ),
                },
            }
        }
        _ => Next::Wait {
            reason: format!("waiting for {enough} InService ({progress})"),
        },
    }
}

/// "gpu-usw2 asked 4: 1 InService, 1 pending, 2 failed launches; gpu-usw2-g6 asked 2: ..."
pub fn summary(engaged: &[GroupProgress]) -> String {
    engaged
        .iter()
        .map(|g| {
            let mut s = format!(
                "{} asked {}: {} InService, {} pending",
                g.name, g.asked, g.in_service, g.pending
            );
            if !g.failed.is_empty() {
                s.push_str(&format!(
                    ", {} failed launch{}",
                    g.failed.len(),
                    if g.failed.len() == 1 { "" } else { "es" }
                ));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Spare;
    use crate::side::Side;

    fn change(desired: u32, min_serving: Option<u32>, spares: &[&str]) -> AsgChange {
        AsgChange {
            side: Side::Standby,
            region: "us-west-2".into(),
            name: "gpu".into(),
            from: None,
            desired,
            min: 0,
            max: desired,
            min_serving,
            to_serving: Some(true),
            fallback: spares
                .iter()
                .map(|s| Spare {
                    name: s.to_string(),
                    from: None,
                })
                .collect(),
        }
    }

    fn group(
        name: &str,
        asked: u32,
        in_service: u32,
        pending: u32,
        failed: usize,
    ) -> GroupProgress {
        GroupProgress {
            name: name.into(),
            asked,
            in_service,
            pending,
            failed: (0..failed)
                .map(|_| FailedLaunch {
                    at: DateTime::UNIX_EPOCH,
                    reason: "We currently do not have sufficient p4d.24xlarge capacity in the Availability Zone you requested (us-west-2a).".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn all_in_service_is_done_and_min_serving_is_done_short() {
        assert!(matches!(
            next(&change(4, None, &[]), &[group("gpu", 4, 4, 0, 0)]),
            Next::Done { short: false, .. }
        ));
        let Next::Done { reason, short } =
            next(&change(4, Some(3), &[]), &[group("gpu", 4, 3, 1, 0)])
        else {
            panic!()
        };
        assert!(short);
        assert!(
            reason.contains("3/4 InService, at least min_serving 3"),
            "{reason}"
        );
        assert!(matches!(
            next(&change(4, Some(3), &[]), &[group("gpu", 4, 2, 2, 0)]),
            Next::Wait { .. }
        ));
    }

    #[test]
    fn a_failed_launch_asks_the_next_spare_for_what_is_missing() {
        let c = change(4, None, &["spare-a", "spare-b"]);
        let Next::Engage { spare, ask, reason } = next(&c, &[group("gpu", 4, 1, 0, 1)]) else {
            panic!()
        };
        assert_eq!((spare.as_str(), ask), ("spare-a", 3));
        assert!(
            reason
                .contains("gpu could not launch (We currently do not have sufficient p4d.24xlarge"),
            "{reason}"
        );
        // The spare is booting: wait; its launches fail too: the next one.
        assert!(matches!(
            next(
                &c,
                &[group("gpu", 4, 1, 0, 1), group("spare-a", 3, 0, 3, 0)]
            ),
            Next::Wait { .. }
        ));
        let Next::Engage { spare, ask, .. } = next(
            &c,
            &[group("gpu", 4, 1, 0, 1), group("spare-a", 3, 1, 0, 2)],
        ) else {
            panic!()
        };
        assert_eq!((spare.as_str(), ask), ("spare-b", 2));
    }

    #[test]
    fn no_spare_left_fails_at_once_unless_pending_can_still_make_it() {
        let Next::Fail { reason } = next(&change(4, None, &[]), &[group("gpu", 4, 1, 0, 1)]) else {
            panic!()
        };
        assert!(
            reason.contains("no fallback group is configured"),
            "{reason}"
        );
        assert!(
            reason.contains("sufficient p4d.24xlarge capacity"),
            "{reason}"
        );
        // Pending instances may still reach min_serving: wait for them.
        assert!(matches!(
            next(&change(4, Some(2), &[]), &[group("gpu", 4, 1, 1, 1)]),
            Next::Wait { .. }
        ));
        let Next::Fail { reason } = next(
            &change(4, None, &["s"]),
            &[group("gpu", 4, 0, 0, 1), group("s", 4, 0, 0, 1)],
        ) else {
            panic!()
        };
        assert!(
            reason.contains("every fallback group was tried (s)"),
            "{reason}"
        );
    }

    #[test]
    fn a_failure_of_an_earlier_group_does_not_engage_again_while_the_spare_launches() {
        // The group failed, the spare was asked and is fine: no third group.
        let c = change(2, None, &["s", "t"]);
        assert!(matches!(
            next(&c, &[group("gpu", 2, 0, 0, 3), group("s", 2, 0, 2, 0)]),
            Next::Wait { .. }
        ));
    }

    #[test]
    fn capacity_errors_are_told_from_other_launch_failures() {
        let f = |r: &str| FailedLaunch {
            at: DateTime::UNIX_EPOCH,
            reason: r.into(),
        };
        assert!(f("We currently do not have sufficient p5.48xlarge capacity in the Availability Zone you requested (us-east-1a).").is_capacity());
        assert!(
            !f("You have requested more vCPU capacity than your current vCPU limit of 96 allows")
                .is_capacity()
        );
    }
}

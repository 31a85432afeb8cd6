//! What AWS does over time and moto does at once, modelled on the wire by the fault proxy
//! ([`crate::faults`]): moto keeps the state (groups, instances, records), this model only
//! rewrites what its answers say about time and capacity.
//!
//! What it stands for (AWS's documented behaviour, and the numbers to set it to):
//! - **Route 53 changes are PENDING** until every authoritative server has them: "generally
//!   within 60 seconds" (the ChangeResourceRecordSets reference). moto answers INSYNC with one
//!   fixed change id for every change; here each change gets its own id, and both the change's
//!   answer and GetChange say PENDING until `change_pending` has passed since it was submitted.
//! - **Instances boot.** An Auto Scaling launch is `Pending` until the instance is running and
//!   its lifecycle hooks are done: a GPU instance with a large AMI takes minutes (p4d/p5: 5–10
//!   min to InService). moto makes them InService at once; here an instance says `Pending` for
//!   `boot` after it was first seen.
//! - **GPU capacity runs out.** A launch of an instance type (or into a zone) with no capacity
//!   fails; the group keeps its desired capacity, has fewer instances, and
//!   DescribeScalingActivities shows a `Failed` activity whose status message is EC2's
//!   `InsufficientInstanceCapacity` text ("We currently do not have sufficient p4d.24xlarge
//!   capacity in the Availability Zone you requested (us-west-2a)..."). Here an instance of a
//!   short type or zone is left out of the group's answer and recorded as such a failed launch;
//!   when the shortage is lifted it appears and boots, as AWS's own retried launch would.
//!   Instances the model saw running before the shortage began keep running.
//!   moto's DescribeScalingActivities is always empty; here it lists these launches, failed,
//!   in progress and successful, newest first, as AWS does.
//! - **Capacity reservations** (On-Demand Capacity Reservations, Capacity Blocks for ML) exist
//!   on their own in EC2; moto has no API for them ("The describe_capacity_reservations action
//!   has not been implemented"). Here DescribeCapacityReservations answers from `reservations`,
//!   in EC2's shape, and an id it does not hold gets EC2's
//!   `InvalidCapacityReservationId.NotFound`. Launch templates that point at them are moto's.
//!   Launches do not draw on them here (their counts are as set).
//! - **Service quotas.** EC2's On-Demand quotas are vCPUs per instance family and region
//!   ("Running On-Demand P instances", L-417A185B; new accounts often start at 0 for P and G,
//!   raised on request). moto's Service Quotas knows only VPC quotas. Here GetServiceQuota and
//!   GetAWSDefaultServiceQuota for `ec2` answer from `quotas` in Service Quotas' JSON shape, and
//!   a code it does not hold gets `NoSuchResourceException`, as Service Quotas answers a quota
//!   whose applied value is not available.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The behaviours to add; the default adds none (moto as it is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reality {
    /// How long a Route 53 change stays PENDING after it was submitted.
    pub change_pending: Duration,
    /// How long a new instance stays `Pending` before `InService`.
    pub boot: Duration,
    /// Instance types with no capacity: their launches fail.
    pub short_types: Vec<String>,
    /// Availability zones with no capacity for any type.
    pub short_zones: Vec<String>,
    /// Instance types or zones with only this many launches left; the ones after fail.
    pub limited: Vec<(String, u32)>,
    /// Capacity reservations EC2 holds (moto has none).
    pub reservations: Vec<CapacityReservation>,
    /// EC2 service quotas: (region, quota code, value), as Service Quotas reports them.
    pub quotas: Vec<(String, String, f64)>,
}

/// A capacity reservation as DescribeCapacityReservations describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityReservation {
    pub region: String,
    pub id: String,
    pub instance_type: String,
    pub zone: String,
    /// `active`, `expired`, `scheduled`, `cancelled`, ...
    pub state: String,
    pub total: u32,
    pub available: u32,
    /// A Capacity Block for ML (`reservationType = capacity-block`), else an ODCR.
    pub capacity_block: bool,
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
}

/// One launch as DescribeScalingActivities reports it.
#[derive(Debug, Clone)]
struct Launch {
    id: String,
    instance: String,
    at: Instant,
    wall: chrono::DateTime<chrono::Utc>,
    /// `Some(message)`: the launch failed.
    failed: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) reality: Reality,
    /// Proxy change id → when it was submitted.
    changes: HashMap<String, Instant>,
    next_change: u64,
    /// Instance id → when it was first seen running (its boot starts there).
    booted_from: HashMap<String, Instant>,
    /// Group → its launches, oldest first.
    launches: BTreeMap<String, Vec<Launch>>,
}

impl Model {
    /// A ChangeResourceRecordSets answer: a change id of its own, PENDING while it is held.
    pub(crate) fn submitted(&mut self, body: &str, now: Instant) -> String {
        if self.reality.change_pending.is_zero() {
            return body.to_string();
        }
        self.next_change += 1;
        let id = format!("CPROXY{:08}", self.next_change);
        self.changes.insert(id.clone(), now);
        let body = replace_between(body, "<Id>", "</Id>", &format!("/change/{id}"));
        body.replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>")
    }

    /// A GetChange answer for `path` (`/2013-04-01/change/<id>`).
    pub(crate) fn change(&self, path: &str, body: &str, now: Instant) -> String {
        let id = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let body = replace_between(body, "<Id>", "</Id>", &format!("/change/{id}"));
        match self.changes.get(id) {
            Some(at) if now.duration_since(*at) < self.reality.change_pending => {
                body.replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>")
            }
            _ => body,
        }
    }

    /// A DescribeAutoScalingGroups answer: instances of a short type or zone left out (their
    /// launch failed), the others `Pending` until booted.
    pub(crate) fn groups(&mut self, body: &str, now: Instant) -> String {
        let mut out = String::with_capacity(body.len());
        let mut rest = body;
        // Each group's name comes before its instances in moto's answer.
        let mut group = String::new();
        while let Some(start) = rest.find("<Instances>") {
            let head = &rest[..start];
            if let Some(name) =
                last_between(head, "<AutoScalingGroupName>", "</AutoScalingGroupName>")
            {
                group = name.to_string();
            }
            out.push_str(head);
            let Some(len) = rest[start..].find("</Instances>") else {
                break;
            };
            let block = &rest[start + "<Instances>".len()..start + len];
            out.push_str("<Instances>");
            for member in block.split("<member>").filter(|m| !m.trim().is_empty()) {
                let member = member.trim_end_matches("</member>");
                if let Some(kept) = self.instance(&group, member, now) {
                    out.push_str("<member>");
                    out.push_str(&kept);
                    out.push_str("</member>");
                }
            }
            out.push_str("</Instances>");
            rest = &rest[start + len + "</Instances>".len()..];
        }
        out.push_str(rest);
        out
    }

    fn instance(&mut self, group: &str, member: &str, now: Instant) -> Option<String> {
        let id = between(member, "<InstanceId>", "</InstanceId>")?.to_string();
        let kind = between(member, "<InstanceType>", "</InstanceType>").unwrap_or("");
        let zone = between(member, "<AvailabilityZone>", "</AvailabilityZone>").unwrap_or("");
        let (seen_launch, failed_before) = self.launches.get(group).map_or((false, false), |ls| {
            (
                ls.iter().any(|l| l.instance == id),
                ls.iter().any(|l| l.instance == id && l.failed.is_some()),
            )
        });
        // An instance already running when the shortage began keeps running: only launches fail.
        let new = !self.booted_from.contains_key(&id) && !seen_launch;
        let mut short = new
            && (self.reality.short_types.iter().any(|t| t == kind)
                || self.reality.short_zones.iter().any(|z| z == zone));
        if new && !short {
            for (what, left) in self.reality.limited.iter_mut() {
                if what == kind || what == zone {
                    if *left == 0 {
                        short = true;
                    } else {
                        *left -= 1;
                    }
                }
            }
        }
        // A failed launch stays failed until the shortage is lifted.
        let short = short || (failed_before && self.still_short(kind, zone));
        let launches = self.launches.entry(group.to_string()).or_default();
        if short {
            if !launches.iter().any(|l| l.instance == id) {
                launches.push(Launch {
                    id: format!("proxy-{group}-{}", launches.len() + 1),
                    instance: id,
                    at: now,
                    wall: chrono::Utc::now(),
                    failed: Some(format!(
                        "We currently do not have sufficient {kind} capacity in the Availability Zone you requested ({zone}). Our system will be working on provisioning additional capacity. You can currently get {kind} capacity by not specifying an Availability Zone in your request or choosing other zones. Launching EC2 instance failed."
                    )),
                });
            }
            return None;
        }
        let seen = *self.booted_from.entry(id.clone()).or_insert(now);
        match launches.iter_mut().find(|l| l.instance == id) {
            // Capacity came back: AWS's retried launch succeeds, as a new activity.
            Some(l) if l.failed.is_some() => {
                l.instance = format!("{id} (failed)");
                launches.push(Launch {
                    id: format!("proxy-{group}-{}", launches.len() + 1),
                    instance: id,
                    at: seen,
                    wall: chrono::Utc::now(),
                    failed: None,
                });
            }
            Some(_) => {}
            None => launches.push(Launch {
                id: format!("proxy-{group}-{}", launches.len() + 1),
                instance: id,
                at: seen,
                wall: chrono::Utc::now(),
                failed: None,
            }),
        }
        let booting = now.duration_since(seen) < self.reality.boot;
        Some(if booting {
            member.replace(
                "<LifecycleState>InService</LifecycleState>",
                "<LifecycleState>Pending</LifecycleState>",
            )
        } else {
            member.to_string()
        })
    }

    /// Whether a launch of `kind` into `zone` would fail now (a failed one stays failed until
    /// the shortage is lifted).
    fn still_short(&self, kind: &str, zone: &str) -> bool {
        self.reality.short_types.iter().any(|t| t == kind)
            || self.reality.short_zones.iter().any(|z| z == zone)
            || self
                .reality
                .limited
                .iter()
                .any(|(what, left)| (what == kind || what == zone) && *left == 0)
    }

    /// A GetServiceQuota (or GetAWSDefaultServiceQuota) answer in `region` for the JSON
    /// request `body`: (status, body).
    pub(crate) fn service_quota(&self, region: &str, body: &str) -> (u16, String) {
        let req: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let service = req["ServiceCode"].as_str().unwrap_or_default();
        let code = req["QuotaCode"].as_str().unwrap_or_default();
        let held = self
            .reality
            .quotas
            .iter()
            .find(|(r, c, _)| r == region && c == code && service == "ec2");
        match held {
            Some((_, _, value)) => (
                200,
                serde_json::json!({ "Quota": {
                    "ServiceCode": "ec2",
                    "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                    "QuotaArn": format!("arn:aws:servicequotas:{region}:123456789012:ec2/{code}"),
                    "QuotaCode": code,
                    "Value": value,
                    "Unit": "None",
                    "Adjustable": true,
                    "GlobalQuota": false,
                }})
                .to_string(),
            ),
            None => (
                400,
                serde_json::json!({
                    "__type": "NoSuchResourceException",
                    "message": format!("The request failed because the specified service quota {code} for {service} does not exist."),
                })
                .to_string(),
            ),
        }
    }

    /// A DescribeCapacityReservations answer in `region` for the form `body`'s
    /// `CapacityReservationId.N`: (status, body). Like EC2, one unknown id fails the call.
    pub(crate) fn capacity_reservations(&self, region: &str, body: &str) -> (u16, String) {
        let ids: Vec<String> = body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| k.starts_with("CapacityReservationId."))
            .map(|(_, v)| v.to_string())
            .collect();
        let held = |id: &str| {
            self.reality
                .reservations
                .iter()
                .find(|r| r.region == region && r.id == id)
        };
        if let Some(unknown) = ids.iter().find(|id| held(id).is_none()) {
            return (
                400,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidCapacityReservationId.NotFound</Code><Message>The capacity reservation ID '{}' does not exist</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>",
                    xml_escape(unknown)
                ),
            );
        }
        let date = |d: Option<chrono::DateTime<chrono::Utc>>, tag: &str| {
            d.map(|d| {
                format!(
                    "<{tag}>{}</{tag}>",
                    d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                )
            })
            .unwrap_or_default()
        };
        let listed: Vec<&CapacityReservation> = if ids.is_empty() {
            self.reality
                .reservations
                .iter()
                .filter(|r| r.region == region)
                .collect()
        } else {
            ids.iter().filter_map(|id| held(id)).collect()
        };
        let items: String = listed
            .iter()
            .map(|r| {
                format!(
                    "<item><capacityReservationId>{}</capacityReservationId><instanceType>{}</instanceType><instancePlatform>Linux/UNIX</instancePlatform><availabilityZone>{}</availabilityZone><tenancy>default</tenancy><totalInstanceCount>{}</totalInstanceCount><availableInstanceCount>{}</availableInstanceCount><state>{}</state>{}{}<endDateType>{}</endDateType><instanceMatchCriteria>targeted</instanceMatchCriteria><reservationType>{}</reservationType></item>",
                    xml_escape(&r.id),
                    xml_escape(&r.instance_type),
                    xml_escape(&r.zone),
                    r.total,
                    r.available,
                    xml_escape(&r.state),
                    date(r.start, "startDate"),
                    date(r.end, "endDate"),
                    if r.end.is_some() { "limited" } else { "unlimited" },
                    if r.capacity_block { "capacity-block" } else { "default" },
                )
            })
            .collect();
        (
            200,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeCapacityReservationsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>fault-proxy</requestId><capacityReservationSet>{items}</capacityReservationSet></DescribeCapacityReservationsResponse>"
            ),
        )
    }

    /// A DescribeScalingActivities answer for `group`, newest first.
    pub(crate) fn activities(&self, group: &str, now: Instant) -> String {
        let mut members = String::new();
        for l in self.launches.get(group).into_iter().flatten().rev() {
            let start = l.wall.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let (code, progress, end, detail) = match &l.failed {
                Some(m) => ("Failed", 100, Some(start.clone()), m.clone()),
                None if now.duration_since(l.at) < self.reality.boot => {
                    ("InProgress", 30, None, String::new())
                }
                None => {
                    let end =
                        l.wall + chrono::Duration::from_std(self.reality.boot).unwrap_or_default();
                    (
                        "Successful",
                        100,
                        Some(end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                        String::new(),
                    )
                }
            };
            let instance = l.instance.trim_end_matches(" (failed)");
            members.push_str(&format!(
                "<member><ActivityId>{id}</ActivityId><AutoScalingGroupName>{group}</AutoScalingGroupName><Description>Launching a new EC2 instance: {instance}{reason}</Description><Cause>At {start} an instance was started in response to a difference between desired and actual capacity.</Cause><StartTime>{start}</StartTime>{end}<StatusCode>{code}</StatusCode>{message}<Progress>{progress}</Progress></member>",
                id = l.id,
                reason = if detail.is_empty() {
                    String::new()
                } else {
                    format!(".  Status Reason: {}", xml_escape(&detail))
                },
                end = end
                    .map(|e| format!("<EndTime>{e}</EndTime>"))
                    .unwrap_or_default(),
                message = if detail.is_empty() {
                    String::new()
                } else {
                    format!("<StatusMessage>{}</StatusMessage>", xml_escape(&detail))
                },
            ));
        }
        format!(
            "<DescribeScalingActivitiesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><DescribeScalingActivitiesResult><Activities>{members}</Activities></DescribeScalingActivitiesResult><ResponseMetadata><RequestId>fault-proxy</RequestId></ResponseMetadata></DescribeScalingActivitiesResponse>"
        )
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let a = s.find(open)? + open.len();
    let b = s[a..].find(close)? + a;
    Some(&s[a..b])
}

fn last_between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let a = s.rfind(open)? + open.len();
    let b = s[a..].find(close)? + a;
    Some(&s[a..b])
}

/// `s` with the text of the first `open`…`close` element replaced.
fn replace_between(s: &str, open: &str, close: &str, with: &str) -> String {
    let Some(a) = s.find(open).map(|a| a + open.len()) else {
        return s.to_string();
    };
    let Some(b) = s[a..].find(close).map(|b| b + a) else {
        return s.to_string();
    };
    format!("{}{with}{}", &s[..a], &s[b..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups><member><AutoScalingGroupName>g</AutoScalingGroupName><DesiredCapacity>2</DesiredCapacity><Instances><member><InstanceId>i-1</InstanceId><InstanceType>p4d.24xlarge</InstanceType><AvailabilityZone>us-west-2a</AvailabilityZone><LifecycleState>InService</LifecycleState></member><member><InstanceId>i-2</InstanceId><InstanceType>g5.48xlarge</InstanceType><AvailabilityZone>us-west-2a</AvailabilityZone><LifecycleState>InService</LifecycleState></member></Instances><CreatedTime>x</CreatedTime></member></AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";

    #[test]
    fn a_short_type_fails_its_launch_and_the_rest_boot_before_serving() {
        let mut m = Model {
            reality: Reality {
                boot: Duration::from_secs(60),
                short_types: vec!["p4d.24xlarge".into()],
                ..Reality::default()
            },
            ..Model::default()
        };
        let t0 = Instant::now();
        let out = m.groups(GROUPS, t0);
        assert!(!out.contains("i-1"), "{out}");
        assert!(out.contains("<InstanceId>i-2</InstanceId>"), "{out}");
        assert!(
            out.contains("<LifecycleState>Pending</LifecycleState>"),
            "{out}"
        );
        assert!(
            out.ends_with("</DescribeAutoScalingGroupsResponse>"),
            "{out}"
        );
        let acts = m.activities("g", t0);
        assert!(acts.contains("<StatusCode>Failed</StatusCode>"), "{acts}");
        assert!(acts.contains("sufficient p4d.24xlarge capacity"), "{acts}");
        assert!(
            acts.contains("<StatusCode>InProgress</StatusCode>"),
            "{acts}"
        );
        // Booted: InService; seen again, the failure is recorded once.
        let later = t0 + Duration::from_secs(61);
        let out = m.groups(GROUPS, later);
        assert!(
            out.contains("<LifecycleState>InService</LifecycleState>"),
            "{out}"
        );
        assert_eq!(m.activities("g", later).matches("Failed").count(), 1);
        // The shortage ends: the failed instance appears, boots, and its launch succeeds.
        m.reality.short_types.clear();
        let out = m.groups(GROUPS, later);
        assert!(out.contains("i-1"), "{out}");
        let acts = m.activities("g", later);
        assert_eq!(
            acts.matches("<StatusCode>InProgress</StatusCode>").count(),
            1,
            "{acts}"
        );
    }

    #[test]
    fn a_limited_zone_launches_its_last_instances_then_fails() {
        let mut m = Model {
            reality: Reality {
                limited: vec![("us-west-2a".into(), 1)],
                ..Reality::default()
            },
            ..Model::default()
        };
        let t0 = Instant::now();
        let out = m.groups(GROUPS, t0);
        assert!(out.contains("i-1") && !out.contains("i-2"), "{out}");
        let again = m.groups(GROUPS, t0);
        assert_eq!(out, again, "a failed launch stays failed");
        assert_eq!(m.activities("g", t0).matches("Failed").count(), 1);
    }

    #[test]
    fn each_change_has_its_own_id_and_is_pending_while_held() {
        let mut m = Model {
            reality: Reality {
                change_pending: Duration::from_secs(30),
                ..Reality::default()
            },
            ..Model::default()
        };
        let moto = "<ChangeResourceRecordSetsResponse><ChangeInfo><Status>INSYNC</Status><SubmittedAt>x</SubmittedAt><Id>/change/C2682N5HXP0BZ4</Id></ChangeInfo></ChangeResourceRecordSetsResponse>";
        let t0 = Instant::now();
        let a = m.submitted(moto, t0);
        let b = m.submitted(moto, t0 + Duration::from_secs(10));
        assert!(a.contains("<Status>PENDING</Status>"), "{a}");
        let id = between(&a, "<Id>/change/", "</Id>").unwrap().to_string();
        assert_ne!(Some(id.as_str()), between(&b, "<Id>/change/", "</Id>"));
        let get = moto.replace("ChangeResourceRecordSets", "GetChange");
        let path = format!("/2013-04-01/change/{id}");
        assert!(
            m.change(&path, &get, t0 + Duration::from_secs(29))
                .contains("PENDING")
        );
        let done = m.change(&path, &get, t0 + Duration::from_secs(30));
        assert!(done.contains("<Status>INSYNC</Status>"), "{done}");
        assert!(done.contains(&format!("/change/{id}")), "{done}");
    }
}

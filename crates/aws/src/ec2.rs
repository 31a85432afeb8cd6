//! EC2: the launch templates a group launches from and the capacity reservations (ODCR,
//! Capacity Blocks) they point at, read for the preflight's reservation check. Read-only.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{CapacityReservationType, MarketType};

use super::AwsError;
use super::asg::{LaunchSetup, TemplateRef};
use standby_core::reservations::{GroupReservations, Lookup, Preference, Reservation};

/// What a launch template version says about reservations and instance type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateFacts {
    /// Its label for people: "launch template gpu (lt-0abc) version $Latest".
    pub label: String,
    pub instance_type: Option<String>,
    /// `open`, `none` or `capacity-reservations-only`.
    pub preference: Option<String>,
    pub target_id: Option<String>,
    pub target_group: Option<String>,
    /// `InstanceMarketOptions.MarketType = capacity-block`.
    pub capacity_block: bool,
}

pub async fn template(client: &Client, t: &TemplateRef) -> Result<TemplateFacts, AwsError> {
    let target = t.id.clone().or(t.name.clone()).unwrap_or_default();
    let out = client
        .describe_launch_template_versions()
        .set_launch_template_id(t.id.clone())
        .set_launch_template_name(if t.id.is_some() { None } else { t.name.clone() })
        .versions(&t.version)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeLaunchTemplateVersions", &target, e))?;
    let v = out
        .launch_template_versions()
        .first()
        .ok_or_else(|| AwsError {
            op: "DescribeLaunchTemplateVersions",
            target: target.clone(),
            kind: super::ErrorKind::NotFound,
            message: format!("no version {} of launch template {target}", t.version),
        })?;
    let data = v.launch_template_data();
    let spec = data.and_then(|d| d.capacity_reservation_specification());
    let label = format!(
        "launch template {} ({}) version {}",
        v.launch_template_name().unwrap_or("?"),
        v.launch_template_id().unwrap_or("?"),
        t.version
    );
    Ok(TemplateFacts {
        label,
        instance_type: data
            .and_then(|d| d.instance_type())
            .map(|i| i.as_str().to_string()),
        preference: spec
            .and_then(|s| s.capacity_reservation_preference())
            .map(|p| p.as_str().to_string()),
        target_id: spec
            .and_then(|s| s.capacity_reservation_target())
            .and_then(|t| t.capacity_reservation_id())
            .map(str::to_string),
        target_group: spec
            .and_then(|s| s.capacity_reservation_target())
            .and_then(|t| t.capacity_reservation_resource_group_arn())
            .map(str::to_string),
        capacity_block: data
            .and_then(|d| d.instance_market_options())
            .and_then(|m| m.market_type())
            == Some(&MarketType::CapacityBlock),
    })
}

/// One reservation; EC2's `InvalidCapacityReservationId.NotFound` (or `.Malformed`) is
/// [`Lookup::Missing`], any other failure [`Lookup::Unread`].
pub async fn reservation(client: &Client, id: &str) -> Lookup {
    let out = client
        .describe_capacity_reservations()
        .capacity_reservation_ids(id)
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            let e = AwsError::new("DescribeCapacityReservations", id, e);
            return if e.kind == super::ErrorKind::NotFound
                || e.message.contains("InvalidCapacityReservationId")
            {
                Lookup::Missing
            } else {
                Lookup::Unread(e.to_string())
            };
        }
    };
    let Some(r) = out
        .capacity_reservations()
        .iter()
        .find(|r| r.capacity_reservation_id() == Some(id))
    else {
        return Lookup::Missing;
    };
    let date = |d: Option<&aws_sdk_ec2::primitives::DateTime>| {
        d.and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos()))
    };
    Lookup::Found(Reservation {
        id: id.to_string(),
        instance_type: r.instance_type().unwrap_or_default().to_string(),
        zone: r.availability_zone().unwrap_or_default().to_string(),
        state: r.state().map_or("unknown", |s| s.as_str()).to_string(),
        total: r.total_instance_count().unwrap_or(0).max(0) as u32,
        available: r.available_instance_count().unwrap_or(0).max(0) as u32,
        capacity_block: r.reservation_type() == Some(&CapacityReservationType::CapacityBlock),
        start: date(r.start_date()),
        end: date(r.end_date()),
    })
}

/// What a group's launches are pointed at: the group's own setting unless it is absent or
/// `default`, then its launch template's. `None`: the group launches from a launch
/// configuration, or names no preference at all (nothing to check).
pub fn resolve(setup: &LaunchSetup, template: Option<&TemplateFacts>) -> Option<GroupReservations> {
    let mut instance_types = setup.override_types.clone();
    if instance_types.is_empty()
        && let Some(t) = template.and_then(|t| t.instance_type.clone())
    {
        instance_types.push(t);
    }
    let (preference, source, ids, resource_groups) = match &setup.reservations {
        Some((p, ids, groups)) if p != "default" => (
            match p.as_str() {
                "capacity-reservations-only" => Preference::Only,
                "none" => Preference::None,
                _ => Preference::First,
            },
            format!("the group {}", setup.group),
            ids.clone(),
            groups.clone(),
        ),
        _ => {
            let t = template?;
            (
                match t.preference.as_deref()? {
                    "capacity-reservations-only" => Preference::Only,
                    "none" => Preference::None,
                    _ => Preference::First,
                },
                t.label.clone(),
                t.target_id.iter().cloned().collect(),
                t.target_group.iter().cloned().collect(),
            )
        }
    };
    Some(GroupReservations {
        group: setup.group.clone(),
        preference,
        source,
        ids,
        resource_groups,
        instance_types,
        zones: setup.zones.clone(),
    })
}

/// The reservation setup of each named group and every reservation they target, read
/// concurrently. A group whose template could not be read is `Err(why)`.
pub async fn observe(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &Client,
    names: &[String],
) -> Result<
    (
        Vec<(String, Result<GroupReservations, String>)>,
        BTreeMap<String, Lookup>,
    ),
    AwsError,
> {
    let setups = super::asg::launch_setups(asg, names).await?;
    let groups = futures_util::future::join_all(setups.iter().map(|s| async move {
        let facts = match &s.template {
            Some(t) => match template(ec2, t).await {
                Ok(f) => Some(f),
                Err(e) => return (s.group.clone(), Some(Err(e.to_string()))),
            },
            None => None,
        };
        (s.group.clone(), resolve(s, facts.as_ref()).map(Ok))
    }))
    .await;
    let groups: Vec<(String, Result<GroupReservations, String>)> = groups
        .into_iter()
        .filter_map(|(name, g)| Some((name, g?)))
        .collect();
    let mut ids: Vec<&String> = groups
        .iter()
        .filter_map(|(_, g)| g.as_ref().ok())
        .flat_map(|g| &g.ids)
        .collect();
    ids.sort();
    ids.dedup();
    let found = futures_util::future::join_all(
        ids.into_iter()
            .map(|id| async move { (id.clone(), reservation(ec2, id).await) }),
    )
    .await
    .into_iter()
    .collect();
    Ok((groups, found))
}

/// The instance types each named group launches: its mixed-instances overrides, else its launch
/// template's type, else its launch configuration's. A group whose type could not be read is
/// `Err(why)`; groups that do not exist are left out.
pub async fn group_types(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &Client,
    names: &[String],
) -> Result<Vec<(String, Result<Vec<String>, String>)>, AwsError> {
    let setups = super::asg::launch_setups(asg, names).await?;
    let configs: Vec<String> = setups
        .iter()
        .filter_map(|s| s.launch_configuration.clone())
        .collect();
    let config_types = if configs.is_empty() {
        Ok(BTreeMap::new())
    } else {
        super::asg::configuration_types(asg, &configs)
            .await
            .map_err(|e| e.to_string())
    };
    let out = futures_util::future::join_all(setups.iter().map(|s| {
        let config_types = &config_types;
        async move {
            if !s.override_types.is_empty() {
                return (s.group.clone(), Ok(s.override_types.clone()));
            }
            let got = match (&s.template, &s.launch_configuration) {
                (Some(t), _) => match template(ec2, t).await {
                    Ok(f) => f
                        .instance_type
                        .map(|t| vec![t])
                        .ok_or_else(|| format!("{} names no instance type", f.label)),
                    Err(e) => Err(e.to_string()),
                },
                (None, Some(lc)) => match config_types {
                    Ok(types) => types
                        .get(lc)
                        .map(|t| vec![t.clone()])
                        .ok_or_else(|| format!("launch configuration {lc} not found")),
                    Err(e) => Err(e.clone()),
                },
                (None, None) => Err("launches from neither a template nor a configuration".into()),
            };
            (s.group.clone(), got)
        }
    }))
    .await;
    Ok(out)
}

/// What EC2 says of each named instance type (vCPUs, GPUs): one DescribeInstanceTypes.
pub async fn instance_types(
    client: &Client,
    names: &[String],
) -> Result<BTreeMap<String, standby_core::readiness::InstanceType>, AwsError> {
    let out = client
        .describe_instance_types()
        .set_instance_types(Some(
            names
                .iter()
                .map(|n| aws_sdk_ec2::types::InstanceType::from(n.as_str()))
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeInstanceTypes", names.join(","), e))?;
    Ok(out
        .instance_types()
        .iter()
        .filter_map(|t| {
            let name = t.instance_type()?.as_str().to_string();
            let gpus = t.gpu_info();
            let first = gpus.and_then(|g| g.gpus().first());
            Some((
                name.clone(),
                standby_core::readiness::InstanceType {
                    name,
                    vcpus: t
                        .v_cpu_info()
                        .and_then(|v| v.default_v_cpus())
                        .unwrap_or(0)
                        .max(0) as u32,
                    gpus: gpus
                        .map(|g| g.gpus().iter().filter_map(|d| d.count()).sum::<i32>())
                        .unwrap_or(0)
                        .max(0) as u32,
                    gpu: first
                        .map(|d| {
                            format!(
                                "{} {}",
                                d.manufacturer().unwrap_or_default(),
                                d.name().unwrap_or_default()
                            )
                            .trim()
                            .to_string()
                        })
                        .unwrap_or_default(),
                    gpu_memory_mib: gpus
                        .and_then(|g| g.total_gpu_memory_in_mib())
                        .unwrap_or(0)
                        .max(0) as u64,
                },
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(reservations: Option<(&str, &[&str])>) -> LaunchSetup {
        LaunchSetup {
            group: "gpu".into(),
            template: Some(TemplateRef {
                id: Some("lt-1".into()),
                name: None,
                version: "$Latest".into(),
            }),
            launch_configuration: None,
            reservations: reservations.map(|(p, ids)| {
                (
                    p.to_string(),
                    ids.iter().map(|s| s.to_string()).collect(),
                    Vec::new(),
                )
            }),
            override_types: Vec::new(),
            zones: vec!["us-west-2a".into()],
        }
    }

    fn facts(preference: Option<&str>, target: Option<&str>) -> TemplateFacts {
        TemplateFacts {
            label: "launch template gpu (lt-1) version $Latest".into(),
            instance_type: Some("p5.48xlarge".into()),
            preference: preference.map(str::to_string),
            target_id: target.map(str::to_string),
            ..TemplateFacts::default()
        }
    }

    #[test]
    fn the_groups_own_setting_wins_unless_it_is_default() {
        let t = facts(Some("open"), Some("cr-template"));
        let own = resolve(
            &setup(Some(("capacity-reservations-only", &["cr-group"]))),
            Some(&t),
        )
        .unwrap();
        assert_eq!(own.preference, Preference::Only);
        assert_eq!(own.ids, ["cr-group"]);
        assert_eq!(own.source, "the group gpu");
        assert_eq!(own.instance_types, ["p5.48xlarge"]);
        let default = resolve(&setup(Some(("default", &[]))), Some(&t)).unwrap();
        assert_eq!(default.preference, Preference::First);
        assert_eq!(default.ids, ["cr-template"]);
        assert!(default.source.starts_with("launch template gpu"));
    }

    #[test]
    fn no_setting_anywhere_is_nothing_to_check() {
        assert_eq!(resolve(&setup(None), Some(&facts(None, None))), None);
        // A launch configuration: no template, nothing to read.
        let mut lc = setup(None);
        lc.template = None;
        assert_eq!(resolve(&lc, None), None);
    }

    #[test]
    fn mixed_instances_overrides_are_the_types_launched() {
        let mut s = setup(None);
        s.override_types = vec!["p5.48xlarge".into(), "p4d.24xlarge".into()];
        let g = resolve(
            &s,
            Some(&facts(Some("capacity-reservations-only"), Some("cr-1"))),
        )
        .unwrap();
        assert_eq!(g.instance_types, ["p5.48xlarge", "p4d.24xlarge"]);
    }
}

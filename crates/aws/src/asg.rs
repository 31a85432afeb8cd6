//! Auto Scaling: observe groups, set their capacity, count InService instances.

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{Activity, LifecycleState, ScalingActivityStatusCode};

use super::AwsError;
use standby_core::plan::AsgCapacity;

/// Observes the named groups; a name missing from the answer maps to `None`.
pub async fn describe(
    client: &Client,
    names: &[String],
) -> Result<Vec<(String, Option<AsgCapacity>)>, AwsError> {
    let groups = describe_groups(client, names).await?;
    Ok(names
        .iter()
        .map(|n| {
            let found = groups
                .iter()
                .find(|g| g.auto_scaling_group_name() == Some(n.as_str()));
            let cap = found.map(|g| AsgCapacity {
                desired: non_negative(g.desired_capacity()),
                min: non_negative(g.min_size()),
                max: non_negative(g.max_size()),
                in_service: g
                    .instances()
                    .iter()
                    .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                    .count() as u32,
                pending: g
                    .instances()
                    .iter()
                    .filter(|i| {
                        matches!(
                            i.lifecycle_state(),
                            Some(
                                LifecycleState::Pending
                                    | LifecycleState::PendingWait
                                    | LifecycleState::PendingProceed
                            )
                        )
                    })
                    .count() as u32,
            });
            (n.clone(), cap)
        })
        .collect())
}

/// The group's launches that failed since its last launch that did not (newest first), with
/// EC2's reason (`InsufficientInstanceCapacity`: "We currently do not have sufficient
/// p4d.24xlarge capacity in the Availability Zone you requested..."): the shortage as it stands
/// now, however long ago it began (a group left short by an earlier run is still short), and
/// nothing once a launch has succeeded since. One page of the newest activities is enough.
pub async fn failed_launches(
    client: &Client,
    name: &str,
) -> Result<Vec<standby_core::capacity::FailedLaunch>, AwsError> {
    let out = client
        .describe_scaling_activities()
        .auto_scaling_group_name(name)
        .max_records(50)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeScalingActivities", name, e))?;
    Ok(failing_streak(out.activities()))
}

/// The failed launches newer than the newest launch that did not fail (activities come newest
/// first); other activities (terminations) neither count nor end the streak.
fn failing_streak(activities: &[Activity]) -> Vec<standby_core::capacity::FailedLaunch> {
    activities
        .iter()
        .filter(|a| {
            a.description()
                .is_some_and(|d| d.starts_with("Launching a new EC2 instance"))
        })
        .take_while(|a| a.status_code() == Some(&ScalingActivityStatusCode::Failed))
        .filter_map(|a| {
            let at = a.start_time()?;
            Some(standby_core::capacity::FailedLaunch {
                at: chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())?,
                reason: a
                    .status_message()
                    .or(a.description())
                    .unwrap_or("launch failed (AWS gave no reason)")
                    .to_string(),
            })
        })
        .collect()
}

/// A group's launch setup as Auto Scaling holds it: what the capacity reservation check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSetup {
    pub group: String,
    /// The launch template (id or name, and version) its launches use, if any (a launch
    /// configuration has no reservation setting).
    pub template: Option<TemplateRef>,
    /// The launch configuration it launches from instead, if any.
    pub launch_configuration: Option<String>,
    /// The group's own CapacityReservationSpecification: (preference, reservation ids,
    /// resource group ARNs). `None` or preference `default`: the template's decides.
    pub reservations: Option<(String, Vec<String>, Vec<String>)>,
    /// Mixed-instances overrides' instance types (empty: the template's type).
    pub override_types: Vec<String>,
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    /// `$Latest`, `$Default` or a number; AWS's default is `$Default`.
    pub version: String,
}

/// The launch setups of the named groups that exist.
pub async fn launch_setups(
    client: &Client,
    names: &[String],
) -> Result<Vec<LaunchSetup>, AwsError> {
    Ok(describe_groups(client, names)
        .await?
        .iter()
        .map(launch_setup)
        .collect())
}

/// The instance type of each named launch configuration (one DescribeLaunchConfigurations).
pub async fn configuration_types(
    client: &Client,
    names: &[String],
) -> Result<std::collections::BTreeMap<String, String>, AwsError> {
    let out = client
        .describe_launch_configurations()
        .set_launch_configuration_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeLaunchConfigurations", names.join(","), e))?;
    Ok(out
        .launch_configurations()
        .iter()
        .filter_map(|c| {
            Some((
                c.launch_configuration_name()?.to_string(),
                c.instance_type()?.to_string(),
            ))
        })
        .collect())
}

/// One DescribeAutoScalingGroups call for the named groups (those that exist).
async fn describe_groups(
    client: &Client,
    names: &[String],
) -> Result<Vec<aws_sdk_autoscaling::types::AutoScalingGroup>, AwsError> {
    let out = client
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeAutoScalingGroups", names.join(","), e))?;
    Ok(out.auto_scaling_groups.unwrap_or_default())
}

fn launch_setup(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> LaunchSetup {
    let mixed = g.mixed_instances_policy().and_then(|m| m.launch_template());
    let spec = g
        .launch_template()
        .or_else(|| mixed.and_then(|m| m.launch_template_specification()));
    LaunchSetup {
        group: g.auto_scaling_group_name().unwrap_or_default().to_string(),
        template: spec.map(|s| TemplateRef {
            id: s.launch_template_id().map(str::to_string),
            name: s.launch_template_name().map(str::to_string),
            version: s.version().unwrap_or("$Default").to_string(),
        }),
        launch_configuration: g.launch_configuration_name().map(str::to_string),
        reservations: g.capacity_reservation_specification().and_then(|c| {
            let preference = c.capacity_reservation_preference()?.as_str().to_string();
            let target = c.capacity_reservation_target();
            Some((
                preference,
                target.map_or_else(Vec::new, |t| t.capacity_reservation_ids().to_vec()),
                target.map_or_else(Vec::new, |t| {
                    t.capacity_reservation_resource_group_arns().to_vec()
                }),
            ))
        }),
        override_types: mixed
            .map(|m| {
                m.overrides()
                    .iter()
                    .filter_map(|o| o.instance_type().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        zones: g.availability_zones().to_vec(),
    }
}

fn non_negative(v: Option<i32>) -> u32 {
    v.unwrap_or(0).max(0) as u32
}

/// Sets min, max and desired in one call: idempotent, so a resumed step simply repeats it.
pub async fn set_capacity(
    client: &Client,
    name: &str,
    desired: u32,
    min: u32,
    max: u32,
) -> Result<(), AwsError> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(min as i32)
        .max_size(max as i32)
        .desired_capacity(desired as i32)
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateAutoScalingGroup", name, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::primitives::DateTime;

    fn activity(description: &str, code: ScalingActivityStatusCode, secs: i64) -> Activity {
        Activity::builder()
            .activity_id(format!("a{secs}"))
            .auto_scaling_group_name("gpu")
            .cause("test")
            .description(description)
            .status_message(format!("{description} at {secs}"))
            .start_time(DateTime::from_secs(secs))
            .status_code(code)
            .build()
    }

    #[test]
    fn a_shortage_is_the_failed_launches_since_the_last_good_one_however_old() {
        use ScalingActivityStatusCode::{Failed, Successful};
        let launch = "Launching a new EC2 instance: i-1";
        // Newest first: two failures (an hour old: a group left short by an earlier run is
        // still short), a termination in between, then the launch that worked before them.
        let acts = [
            activity(launch, Failed, 7_200),
            activity("Terminating EC2 instance: i-0", Successful, 7_100),
            activity(launch, Failed, 3_600),
            activity(launch, Successful, 100),
            activity(launch, Failed, 50),
        ];
        let streak = failing_streak(&acts);
        assert_eq!(streak.len(), 2, "{streak:?}");
        assert_eq!(streak[0].at.timestamp(), 7_200);
        assert!(streak[1].reason.ends_with("at 3600"), "{streak:?}");
        // A launch that worked after the failures ends the shortage.
        let recovered = [activity(launch, Successful, 8_000), acts[0].clone()];
        assert!(failing_streak(&recovered).is_empty());
    }
}

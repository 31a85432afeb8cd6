//! Seeds moto through the SDK with what Terraform would have made: a hosted zone and the record
//! pointing at the primary, a launch configuration and GPU groups per region, artifact buckets.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};

#[derive(Debug, Clone)]
pub struct World {
    pub primary_region: String,
    pub standby_region: String,
    pub primary_asg: String,
    pub standby_asg: String,
    pub primary_warm: u32,
    pub standby_warm: u32,
    pub serving: u32,
    pub record_name: String,
    pub primary_value: String,
    pub standby_value: String,
    pub primary_bucket: String,
    pub standby_bucket: String,
}

impl Default for World {
    fn default() -> Self {
        World {
            primary_region: "us-east-1".into(),
            standby_region: "us-west-2".into(),
            primary_asg: "gpu-use1".into(),
            standby_asg: "gpu-usw2".into(),
            primary_warm: 0,
            standby_warm: 1,
            serving: 4,
            record_name: "api.example.com.".into(),
            primary_value: "use1.example.com".into(),
            standby_value: "usw2.example.com".into(),
            primary_bucket: "artifacts-use1".into(),
            standby_bucket: "artifacts-usw2".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("seeding moto: {0}")]
pub struct SeedError(String);

fn err(e: impl std::error::Error) -> SeedError {
    SeedError(standby_aws::error_text(&e))
}

/// SDK config for the emulator: fixed test credentials (moto accepts any), one attempt per call
/// so an unimplemented call fails fast instead of retrying.
pub async fn sdk(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "standby-testbed",
        ))
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// Creates everything and returns the hosted zone id.
pub async fn seed(endpoint: &str, w: &World) -> Result<String, SeedError> {
    // The primary starts serving: its group at `serving`, the standby at `warm`.
    for (region, asg, desired) in [
        (&w.primary_region, &w.primary_asg, w.serving),
        (&w.standby_region, &w.standby_asg, w.standby_warm),
    ] {
        let conf = sdk(endpoint, region).await;
        let client = aws_sdk_autoscaling::Client::new(&conf);
        let lc = format!("{asg}-lc");
        client
            .create_launch_configuration()
            .launch_configuration_name(&lc)
            .image_id("ami-12c6146b")
            .instance_type("g5.xlarge")
            .send()
            .await
            .map_err(err)?;
        client
            .create_auto_scaling_group()
            .auto_scaling_group_name(asg)
            .launch_configuration_name(&lc)
            .min_size(0)
            .max_size(desired.max(1) as i32)
            .desired_capacity(desired as i32)
            .availability_zones(format!("{region}a"))
            .send()
            .await
            .map_err(err)?;
        let bucket = if region == &w.primary_region {
            &w.primary_bucket
        } else {
            &w.standby_bucket
        };
        create_bucket(endpoint, region, bucket).await?;
    }
    let conf = sdk(endpoint, "us-east-1").await;
    let r53 = aws_sdk_route53::Client::new(&conf);
    let zone_name = w
        .record_name
        .split_once('.')
        .map(|(_, z)| z.to_string())
        .unwrap_or_else(|| w.record_name.clone());
    let zone = r53
        .create_hosted_zone()
        .name(zone_name)
        .caller_reference(format!("standby-testbed-{}", std::process::id()))
        .send()
        .await
        .map_err(err)?;
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or_else(|| SeedError("no hosted zone id".into()))?;
    set_record(endpoint, &zone_id, &w.record_name, &w.primary_value).await?;
    Ok(zone_id)
}

/// A versioned bucket, as the Terraform module makes them. us-east-1 takes no LocationConstraint;
/// every other region needs one.
pub async fn create_bucket(endpoint: &str, region: &str, bucket: &str) -> Result<(), SeedError> {
    let s3 = standby_aws::s3_client(&sdk(endpoint, region).await);
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.map_err(err)?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

/// Points the record at `value` (tests use it to reset between runs).
pub async fn set_record(
    endpoint: &str,
    zone_id: &str,
    name: &str,
    value: &str,
) -> Result<(), SeedError> {
    let r53 = aws_sdk_route53::Client::new(&sdk(endpoint, "us-east-1").await);
    standby_aws::dns::upsert(
        &r53,
        zone_id,
        name,
        standby_core::config::RecordType::Cname,
        60,
        value,
        "testbed",
    )
    .await
    .map_err(err)?;
    Ok(())
}

/// A spare group at 0 (a fallback for a group that cannot launch): its own launch configuration
/// of `instance_type`, in `zone`, as the Terraform `gpu_asg` module makes a second group.
pub async fn spare_group(
    endpoint: &str,
    region: &str,
    name: &str,
    instance_type: &str,
    zone: &str,
) -> Result<(), SeedError> {
    let client = aws_sdk_autoscaling::Client::new(&sdk(endpoint, region).await);
    let lc = format!("{name}-lc");
    client
        .create_launch_configuration()
        .launch_configuration_name(&lc)
        .image_id("ami-12c6146b")
        .instance_type(instance_type)
        .send()
        .await
        .map_err(err)?;
    client
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&lc)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .availability_zones(zone)
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

/// A group launching from a template that targets a capacity reservation.
#[derive(Debug, Clone, Copy)]
pub struct ReservedGroup<'a> {
    pub region: &'a str,
    pub name: &'a str,
    pub instance_type: &'a str,
    pub zone: &'a str,
    /// `capacity-reservations-only`, `open` or `none`.
    pub preference: &'a str,
    pub reservation: &'a str,
    pub desired: u32,
}

/// A group that launches from a launch template pointing at a capacity reservation, as a team
/// with an ODCR or a Capacity Block for its GPUs sets it up: the template's
/// `CapacityReservationSpecification` (`preference`, target `reservation`), the group in `zone`
/// at `desired` (max 4). moto keeps the template; the reservation itself is the reality
/// model's ([`crate::reality::Reality::reservations`]): moto has no capacity reservation API.
pub async fn reserved_group(endpoint: &str, g: &ReservedGroup<'_>) -> Result<(), SeedError> {
    let ReservedGroup {
        region,
        name,
        instance_type,
        zone,
        preference,
        reservation,
        desired,
    } = *g;
    use aws_sdk_ec2::types::{
        CapacityReservationPreference, CapacityReservationTarget, InstanceType,
        LaunchTemplateCapacityReservationSpecificationRequest, RequestLaunchTemplateData,
    };
    let conf = sdk(endpoint, region).await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let lt = ec2
        .create_launch_template()
        .launch_template_name(format!("{name}-lt"))
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::from(instance_type))
                .capacity_reservation_specification(
                    LaunchTemplateCapacityReservationSpecificationRequest::builder()
                        .capacity_reservation_preference(CapacityReservationPreference::from(
                            preference,
                        ))
                        .capacity_reservation_target(
                            CapacityReservationTarget::builder()
                                .capacity_reservation_id(reservation)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(err)?;
    let id = lt
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_string();
    aws_sdk_autoscaling::Client::new(&conf)
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_id(id)
                .version("$Latest")
                .build(),
        )
        .min_size(0)
        .max_size(4)
        .desired_capacity(desired as i32)
        .availability_zones(zone)
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

/// Sets a group's capacity directly (tests use it to reset between runs).
pub async fn set_capacity(
    endpoint: &str,
    region: &str,
    asg: &str,
    desired: u32,
    max: u32,
) -> Result<(), SeedError> {
    let client = aws_sdk_autoscaling::Client::new(&sdk(endpoint, region).await);
    standby_aws::asg::set_capacity(&client, asg, desired, 0, max)
        .await
        .map_err(err)?;
    Ok(())
}

/// Uploads `parts` parts of `part_size` bytes (part n filled with `fill + n`), so the object has a
/// multipart ETag, as weights uploaded by training pipelines do.
pub async fn put_multipart(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    parts: usize,
    part_size: usize,
    fill: u8,
) -> Result<(), SeedError> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let up = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(err)?;
    let id = up.upload_id().unwrap_or_default().to_string();
    let mut done = Vec::new();
    for n in 1..=parts as i32 {
        let body =
            aws_sdk_s3::primitives::ByteStream::from(vec![fill.wrapping_add(n as u8); part_size]);
        let r = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(body)
            .send()
            .await
            .map_err(err)?;
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(r.e_tag().map(str::to_string))
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

/// What `failover_records` leaves behind, as the Terraform `dns` module does in a real account:
/// the gate object saying `serve=primary`, an inverted HTTPS_STR_MATCH health check on it, and
/// a PRIMARY (with that check) and a SECONDARY failover record in place of the simple record.
#[derive(Debug, Clone)]
pub struct FailoverRecords {
    pub health_check_id: String,
    pub gate_bucket: String,
    pub gate_region: String,
    pub gate_key: String,
}

/// Replaces the simple record of `w.record_name` with failover records gated by an object in
/// the standby bucket. `interval`/`threshold` are the health check's (10 or 30; 1-10).
pub async fn failover_records(
    endpoint: &str,
    zone_id: &str,
    w: &World,
    gate_key: &str,
    interval: i32,
    threshold: i32,
) -> Result<FailoverRecords, SeedError> {
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
        ResourceRecordSet, ResourceRecordSetFailover, RrType,
    };
    let s3 = standby_aws::s3_client(&sdk(endpoint, &w.standby_region).await);
    standby_aws::s3::put_bytes(
        &s3,
        &w.standby_bucket,
        gate_key,
        standby_core::config::Gate::body(standby_core::config::Side::Primary).into_bytes(),
        "text/plain",
    )
    .await
    .map_err(err)?;
    let r53 = aws_sdk_route53::Client::new(&sdk(endpoint, "us-east-1").await);
    let check = r53
        .create_health_check()
        .caller_reference(format!("standby-gate-{}", std::process::id()))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::HttpsStrMatch)
                .fully_qualified_domain_name(format!(
                    "{}.s3.{}.amazonaws.com",
                    w.standby_bucket, w.standby_region
                ))
                .port(443)
                .resource_path(format!("/{gate_key}"))
                .search_string(standby_core::config::Gate::SEARCH)
                .inverted(true)
                .request_interval(interval)
                .failure_threshold(threshold)
                .build()
                .map_err(err)?,
        )
        .send()
        .await
        .map_err(err)?;
    let health_check_id = check
        .health_check()
        .map(|h| h.id().to_string())
        .ok_or_else(|| SeedError("no health check id".into()))?;
    let current = standby_aws::dns::current(
        &r53,
        zone_id,
        &w.record_name,
        standby_core::config::RecordType::Cname,
    )
    .await
    .map_err(err)?;
    let record = |role: ResourceRecordSetFailover, value: &str, check: Option<&str>| {
        let mut b = ResourceRecordSet::builder()
            .name(&w.record_name)
            .r#type(RrType::Cname)
            .ttl(60)
            .set_identifier(role.as_str().to_lowercase())
            .failover(role)
            .resource_records(
                ResourceRecord::builder()
                    .value(value)
                    .build()
                    .map_err(err)?,
            );
        if let Some(c) = check {
            b = b.health_check_id(c);
        }
        b.build().map_err(err)
    };
    let mut changes = Vec::new();
    if let Some(cur) = current {
        changes.push(
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(
                    ResourceRecordSet::builder()
                        .name(&w.record_name)
                        .r#type(RrType::Cname)
                        .ttl(cur.ttl.unwrap_or(60))
                        .resource_records(
                            ResourceRecord::builder()
                                .value(&cur.value)
                                .build()
                                .map_err(err)?,
                        )
                        .build()
                        .map_err(err)?,
                )
                .build()
                .map_err(err)?,
        );
    }
    for (role, value, check) in [
        (
            ResourceRecordSetFailover::Primary,
            &w.primary_value,
            Some(health_check_id.as_str()),
        ),
        (ResourceRecordSetFailover::Secondary, &w.standby_value, None),
    ] {
        changes.push(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(record(role, value, check)?)
                .build()
                .map_err(err)?,
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .map_err(err)?,
        )
        .send()
        .await
        .map_err(err)?;
    Ok(FailoverRecords {
        health_check_id,
        gate_bucket: w.standby_bucket.clone(),
        gate_region: w.standby_region.clone(),
        gate_key: gate_key.to_string(),
    })
}

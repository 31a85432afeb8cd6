//! Route 53: read the record, UPSERT it, wait for the change to be INSYNC.

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};

use super::AwsError;
use standby_core::config::RecordType;
use standby_core::plan::RecordObservation;

fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::Cname => RrType::Cname,
        RecordType::A => RrType::A,
        RecordType::Aaaa => RrType::Aaaa,
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The record's current value, or `None` if it does not exist.
pub async fn current(
    client: &Client,
    zone_id: &str,
    name: &str,
    t: RecordType,
) -> Result<Option<RecordObservation>, AwsError> {
    Ok(named_sets(client, zone_id, name, t, 1)
        .await?
        .first()
        .and_then(|r| {
            r.resource_records()
                .first()
                .map(|v| RecordObservation::read(v.value().to_string(), r.ttl()))
        }))
}

/// The record sets of exactly `name` and `t`: the listing starts there, at most `max` sets.
async fn named_sets(
    client: &Client,
    zone_id: &str,
    name: &str,
    t: RecordType,
    max: i32,
) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .start_record_type(rr_type(t))
        .max_items(max)
        .send()
        .await
        .map_err(|e| AwsError::new("ListResourceRecordSets", format!("{zone_id} {name}"), e))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| same_name(r.name(), name) && *r.r#type() == rr_type(t))
        .cloned()
        .collect())
}

/// UPSERTs the record; returns the change id to poll.
pub async fn upsert(
    client: &Client,
    zone_id: &str,
    name: &str,
    t: RecordType,
    ttl: u32,
    value: &str,
    comment: &str,
) -> Result<Submitted, AwsError> {
    let target = format!("{zone_id} {name}");
    let build = |e: aws_sdk_route53::error::BuildError| {
        AwsError::other("ChangeResourceRecordSets", &target, e)
    };
    let record = ResourceRecordSet::builder()
        .name(name)
        .r#type(rr_type(t))
        .ttl(i64::from(ttl))
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(build)?,
        )
        .build()
        .map_err(build)?;
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(record)
        .build()
        .map_err(build)?;
    let batch = ChangeBatch::builder()
        .comment(comment)
        .changes(change)
        .build()
        .map_err(build)?;
    let out = client
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| AwsError::new("ChangeResourceRecordSets", &target, e))?;
    Ok(Submitted {
        id: out
            .change_info()
            .map(|c| c.id().to_string())
            .unwrap_or_default(),
        insync: out
            .change_info()
            .is_some_and(|c| *c.status() == aws_sdk_route53::types::ChangeStatus::Insync),
    })
}

/// A submitted change: its id, and whether Route 53 already answered it INSYNC (real Route 53
/// says PENDING at first; then GetChange is polled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub id: String,
    pub insync: bool,
}

/// `true` once Route 53 reports the change INSYNC on all its authoritative servers.
pub async fn in_sync(client: &Client, change_id: &str) -> Result<bool, AwsError> {
    let out = client
        .get_change()
        .id(change_id)
        .send()
        .await
        .map_err(|e| AwsError::new("GetChange", change_id, e))?;
    Ok(out
        .change_info()
        .map(|c| *c.status() == ChangeStatus::Insync)
        .unwrap_or(false))
}

/// The name's failover records as Route 53 holds them (control plane): for the preflight of
/// `method = "failover_records"`, which checks they and their health check agree with the gate.
pub async fn failover_setup(
    client: &Client,
    zone_id: &str,
    name: &str,
    t: RecordType,
    health_check_id: Option<&str>,
) -> Result<standby_core::dns_setup::FailoverSetup, AwsError> {
    // A name has at most a PRIMARY, a SECONDARY and (misconfigured) a simple set; 10 is ample.
    let records: Vec<standby_core::dns_setup::FailoverRecord> =
        named_sets(client, zone_id, name, t, 10)
            .await?
            .iter()
            .map(|r| standby_core::dns_setup::FailoverRecord {
                role: r.failover().map(|f| f.as_str().to_string()),
                value: r
                    .resource_records()
                    .first()
                    .map(|v| v.value().to_string())
                    .unwrap_or_default(),
                health_check_id: r.health_check_id().map(str::to_string),
            })
            .collect();
    let primary_check = records
        .iter()
        .find(|r| r.role.as_deref() == Some("PRIMARY"))
        .and_then(|r| r.health_check_id.clone());
    let check = match health_check_id
        .map(str::to_string)
        .or(primary_check)
        .as_deref()
    {
        None => None,
        Some(id) => {
            let out = client
                .get_health_check()
                .health_check_id(id)
                .send()
                .await
                .map_err(|e| AwsError::new("GetHealthCheck", id, e))?;
            out.health_check()
                .and_then(|h| h.health_check_config())
                .map(|c| standby_core::dns_setup::HealthCheckSetup {
                    id: id.to_string(),
                    kind: c.r#type().as_str().to_string(),
                    fqdn: c.fully_qualified_domain_name().map(str::to_string),
                    path: c.resource_path().map(str::to_string),
                    search: c.search_string().map(str::to_string),
                    inverted: c.inverted().unwrap_or(false),
                    interval_s: c.request_interval().unwrap_or(30),
                    threshold: c.failure_threshold().unwrap_or(3),
                })
        }
    };
    Ok(standby_core::dns_setup::FailoverSetup {
        records,
        check,
        read_at: None,
    })
}

//! The orchestrator's least-privilege IAM policy, derived from [`crate::operations`] and the
//! config: every action scoped to the configured buckets and prefixes, the hosted zone (and the
//! one record name, type and action it changes), and the named Auto Scaling groups. Pure.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::config::Config;
use crate::operations::{KMS_ACTIONS, OPERATIONS, Scope};

/// Inputs the config does not hold.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// The 12-digit account id for the Auto Scaling group ARNs; `*` when unknown.
    pub account_id: Option<String>,
    /// KMS keys of SSE-KMS artifact buckets.
    pub kms_keys: Vec<String>,
}

fn actions(scope: Scope, only: &[&str]) -> Vec<&'static str> {
    let set: BTreeSet<&str> = OPERATIONS
        .iter()
        .filter(|o| o.scope == scope)
        .flat_map(|o| o.actions.iter().copied())
        .filter(|a| only.is_empty() || only.contains(a))
        .collect();
    set.into_iter().collect()
}

pub fn policy(cfg: &Config, account: &Account) -> Value {
    let mut buckets = BTreeSet::new();
    let mut read = BTreeSet::new();
    let mut write = BTreeSet::new();
    let mut delete = BTreeSet::new();
    for a in &cfg.artifacts {
        buckets.insert(format!("arn:aws:s3:::{}", a.primary_bucket));
        buckets.insert(format!("arn:aws:s3:::{}", a.standby_bucket));
        let p = format!("arn:aws:s3:::{}/{}*", a.primary_bucket, a.prefix);
        let s = format!("arn:aws:s3:::{}/{}*", a.standby_bucket, a.prefix);
        read.insert(p.clone());
        read.insert(s.clone());
        // The reverse sync of a failback writes back to the primary.
        write.insert(p);
        write.insert(s.clone());
        if a.delete {
            delete.insert(s);
        }
        let manifests = format!("arn:aws:s3:::{}/.standby/*", a.standby_bucket);
        read.insert(manifests.clone());
        write.insert(manifests);
    }
    if let Some(b) = &cfg.standby.bucket {
        buckets.insert(format!("arn:aws:s3:::{b}"));
        let reports = format!("arn:aws:s3:::{b}/{}*", crate::report::PREFIX);
        read.insert(reports.clone());
        write.insert(reports);
    }
    let v = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
    let mut statements = Vec::new();
    if !buckets.is_empty() {
        statements.push(json!({
            "Sid": "ListArtifactBuckets",
            "Effect": "Allow",
            "Action": actions(Scope::Bucket, &[]),
            "Resource": v(buckets),
        }));
        statements.push(json!({
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": actions(Scope::Objects, &["s3:GetObject"]),
            "Resource": v(read),
        }));
        statements.push(json!({
            "Sid": "WriteArtifactsManifestsReports",
            "Effect": "Allow",
            "Action": actions(Scope::Objects, &["s3:PutObject", "s3:AbortMultipartUpload"]),
            "Resource": v(write),
        }));
        if !delete.is_empty() {
            statements.push(json!({
                "Sid": "MirrorDeletions",
                "Effect": "Allow",
                "Action": actions(Scope::Objects, &["s3:DeleteObject"]),
                "Resource": v(delete),
            }));
        }
    }
    if let crate::config::StateStore::S3 { bucket, prefix, .. } = &cfg.state {
        // The shared state: the lease, the machine state, run journals, sync state. Every
        // instance reads and writes it (followers publish their verdicts).
        statements.push(json!({
            "Sid": "ListSharedState",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{bucket}")],
        }));
        statements.push(json!({
            "Sid": "SharedState",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [format!("arn:aws:s3:::{bucket}/{prefix}*")],
        }));
    }
    let zone = format!("arn:aws:route53:::hostedzone/{}", cfg.dns.zone_id);
    statements.push(json!({
        "Sid": "ReadRecord",
        "Effect": "Allow",
        "Action": ["route53:ListResourceRecordSets"],
        "Resource": [zone],
    }));
    if let crate::config::DnsMethod::FailoverRecords(g) = &cfg.dns.method {
        // The data-plane flip: one object, read and written; the failover setup's health check
        // read by the preflight. No record change, no change to watch.
        statements.push(json!({
            "Sid": "Gate",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [format!("arn:aws:s3:::{}/{}", g.bucket, g.key)],
        }));
        statements.push(json!({
            "Sid": "ReadGateHealthCheck",
            "Effect": "Allow",
            "Action": actions(Scope::HealthCheck, &[]),
            "Resource": [format!(
                "arn:aws:route53:::healthcheck/{}",
                g.health_check_id.as_deref().unwrap_or("*")
            )],
        }));
    } else {
        record_flip(cfg, &zone, &mut statements);
    }
    statements.push(json!({
        "Sid": "DescribeGroups",
        "Effect": "Allow",
        "Action": actions(Scope::Any, &[]),
        // DescribeAutoScalingGroups, DescribeScalingActivities and EC2's Describe* (launch
        // templates, capacity reservations) support no resource-level permissions.
        "Resource": ["*"],
    }));
    let account_id = account.account_id.as_deref().unwrap_or("*");
    let groups: Vec<String> = [&cfg.primary, &cfg.standby]
        .iter()
        .flat_map(|r| {
            // Spares are scaled too, when a group's launches fail.
            r.asgs.iter().flat_map(|g| std::iter::once(&g.name).chain(&g.fallback)).map(move |name| {
                format!(
                    "arn:aws:autoscaling:{}:{account_id}:autoScalingGroup:*:autoScalingGroupName/{name}",
                    r.region
                )
            })
        })
        .collect();
    statements.push(json!({
        "Sid": "ScaleGroups",
        "Effect": "Allow",
        "Action": actions(Scope::AutoScalingGroup, &[]),
        "Resource": groups,
    }));
    if !account.kms_keys.is_empty() {
        statements.push(json!({
            "Sid": "UseArtifactKeys",
            "Effect": "Allow",
            "Action": KMS_ACTIONS,
            "Resource": account.kms_keys,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// `method = "record"`: UPSERT the one record (name, type, action), and watch the change.
fn record_flip(cfg: &Config, zone: &str, statements: &mut Vec<Value>) {
    statements.push(json!({
        "Sid": "FlipRecord",
        "Effect": "Allow",
        "Action": ["route53:ChangeResourceRecordSets"],
        "Resource": [zone],
        "Condition": {
            "ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [cfg.dns.name.trim_end_matches('.').to_ascii_lowercase()],
                "route53:ChangeResourceRecordSetsRecordTypes": [cfg.dns.record_type.as_str()],
                "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
            }
        },
    }));
    statements.push(json!({
        "Sid": "WatchRecordChange",
        "Effect": "Allow",
        "Action": actions(Scope::Change, &[]),
        "Resource": ["arn:aws:route53:::change/*"],
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_scoped_to_what_the_config_names() {
        let cfg = crate::plan::tests::config();
        let p = policy(
            &cfg,
            &Account {
                account_id: Some("123456789012".into()),
                kms_keys: vec![],
            },
        );
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains("\"Action\":\"*\"") && !text.contains("\"s3:*\""));
        let st = p["Statement"].as_array().unwrap();
        let star: Vec<&Value> = st.iter().filter(|s| s["Resource"][0] == "*").collect();
        assert_eq!(star.len(), 1, "only DescribeAutoScalingGroups is unscoped");
        assert_eq!(
            star[0]["Action"][0],
            "autoscaling:DescribeAutoScalingGroups"
        );
        let scale = st.iter().find(|s| s["Sid"] == "ScaleGroups").unwrap();
        assert_eq!(
            scale["Resource"][1],
            "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:*:autoScalingGroupName/gpu-usw2"
        );
        let flip = st.iter().find(|s| s["Sid"] == "FlipRecord").unwrap();
        assert_eq!(
            flip["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]
                [0],
            "api.example.com"
        );
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    #[test]
    fn the_data_plane_method_gets_the_gate_object_and_no_record_change() {
        let mut cfg = crate::plan::tests::config();
        cfg.dns.method = crate::config::DnsMethod::FailoverRecords(crate::config::Gate {
            bucket: "artifacts-usw2".into(),
            region: "us-west-2".into(),
            key: "standby-gate/chat".into(),
            health_check_id: Some("hc-1".into()),
            check_interval: std::time::Duration::from_secs(10),
            failure_threshold: 1,
        });
        let p = policy(&cfg, &Account::default());
        let st = p["Statement"].as_array().unwrap();
        let sid = |s: &str| st.iter().find(|x| x["Sid"] == s);
        let gate = sid("Gate").unwrap();
        assert_eq!(
            gate["Resource"][0],
            "arn:aws:s3:::artifacts-usw2/standby-gate/chat"
        );
        assert_eq!(gate["Action"], json!(["s3:GetObject", "s3:PutObject"]));
        assert_eq!(
            sid("ReadGateHealthCheck").unwrap()["Resource"][0],
            "arn:aws:route53:::healthcheck/hc-1"
        );
        assert!(sid("FlipRecord").is_none() && sid("WatchRecordChange").is_none());
        assert!(
            !serde_json::to_string(&p)
                .unwrap()
                .contains("ChangeResourceRecordSets")
        );
    }
}

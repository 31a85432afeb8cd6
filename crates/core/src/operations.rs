//! Every AWS API operation standby calls, with the IAM actions it needs. This is the one list the
//! orchestrator's IAM policy is derived from (`standby iam-policy`, and the Terraform
//! `orchestrator` module, which a test keeps identical). A test scans `src/` for SDK calls and
//! fails when one is missing here, or when an entry here is no longer called.

/// What an operation touches, which decides the resource ARNs its actions are granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The bucket itself (`arn:aws:s3:::bucket`).
    Bucket,
    /// Objects under the configured prefixes.
    Objects,
    HostedZone,
    /// Route 53 change ids (`arn:aws:route53:::change/*`).
    Change,
    /// The gate's health check (`arn:aws:route53:::healthcheck/<id>`).
    HealthCheck,
    /// A named Auto Scaling group.
    AutoScalingGroup,
    /// Actions that support no resource-level permissions.
    Any,
}

#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The SDK client method (`client.copy_object()`).
    pub sdk_method: &'static str,
    pub service: &'static str,
    pub api: &'static str,
    pub actions: &'static [&'static str],
    pub scope: Scope,
    /// Where it is called from, for the reader.
    pub called_in: &'static str,
}

const fn op(
    sdk_method: &'static str,
    service: &'static str,
    api: &'static str,
    actions: &'static [&'static str],
    scope: Scope,
    called_in: &'static str,
) -> Operation {
    Operation {
        sdk_method,
        service,
        api,
        actions,
        scope,
        called_in,
    }
}

pub const OPERATIONS: &[Operation] = &[
    op(
        "list_objects_v2",
        "s3",
        "ListObjectsV2",
        &["s3:ListBucket"],
        Scope::Bucket,
        "aws::s3::list",
    ),
    op(
        "list_object_versions",
        "s3",
        "ListObjectVersions",
        &["s3:ListBucketVersions"],
        Scope::Bucket,
        "aws::s3::list_versions (RPO from the primary's write history)",
    ),
    op(
        "copy_object",
        "s3",
        "CopyObject",
        &["s3:GetObject", "s3:PutObject"],
        Scope::Objects,
        "aws::s3::copy",
    ),
    op(
        "create_multipart_upload",
        "s3",
        "CreateMultipartUpload",
        &["s3:PutObject"],
        Scope::Objects,
        "aws::s3::create_multipart",
    ),
    op(
        "upload_part_copy",
        "s3",
        "UploadPartCopy",
        &["s3:GetObject", "s3:PutObject"],
        Scope::Objects,
        "aws::s3::copy_part",
    ),
    op(
        "complete_multipart_upload",
        "s3",
        "CompleteMultipartUpload",
        &["s3:PutObject"],
        Scope::Objects,
        "aws::s3::complete_multipart",
    ),
    op(
        "abort_multipart_upload",
        "s3",
        "AbortMultipartUpload",
        &["s3:AbortMultipartUpload"],
        Scope::Objects,
        "aws::s3::abort_multipart",
    ),
    op(
        "head_object",
        "s3",
        "HeadObject",
        &["s3:GetObject"],
        Scope::Objects,
        "aws::s3::head",
    ),
    op(
        "delete_object",
        "s3",
        "DeleteObject",
        &["s3:DeleteObject"],
        Scope::Objects,
        "aws::s3::delete",
    ),
    op(
        "get_object",
        "s3",
        "GetObject",
        &["s3:GetObject"],
        Scope::Objects,
        "aws::s3::get_bytes",
    ),
    op(
        "put_object",
        "s3",
        "PutObject",
        &["s3:PutObject"],
        Scope::Objects,
        "aws::s3::put_bytes",
    ),
    op(
        "list_resource_record_sets",
        "route53",
        "ListResourceRecordSets",
        &["route53:ListResourceRecordSets"],
        Scope::HostedZone,
        "aws::dns::current",
    ),
    op(
        "change_resource_record_sets",
        "route53",
        "ChangeResourceRecordSets",
        &["route53:ChangeResourceRecordSets"],
        Scope::HostedZone,
        "aws::dns::upsert",
    ),
    op(
        "get_change",
        "route53",
        "GetChange",
        &["route53:GetChange"],
        Scope::Change,
        "aws::dns::in_sync",
    ),
    op(
        "get_health_check",
        "route53",
        "GetHealthCheck",
        &["route53:GetHealthCheck"],
        Scope::HealthCheck,
        "aws::dns::failover_setup",
    ),
    op(
        "describe_auto_scaling_groups",
        "autoscaling",
        "DescribeAutoScalingGroups",
        &["autoscaling:DescribeAutoScalingGroups"],
        Scope::Any,
        "aws::asg::describe",
    ),
    op(
        "describe_scaling_activities",
        "autoscaling",
        "DescribeScalingActivities",
        &["autoscaling:DescribeScalingActivities"],
        Scope::Any,
        "aws::asg::failed_launches",
    ),
    op(
        "describe_launch_template_versions",
        "ec2",
        "DescribeLaunchTemplateVersions",
        &["ec2:DescribeLaunchTemplateVersions"],
        Scope::Any,
        "aws::ec2::template (preflight: the reservations a group's launches target)",
    ),
    op(
        "describe_capacity_reservations",
        "ec2",
        "DescribeCapacityReservations",
        &["ec2:DescribeCapacityReservations"],
        Scope::Any,
        "aws::ec2::reservation (preflight: is the reserved capacity there)",
    ),
    op(
        "describe_instance_types",
        "ec2",
        "DescribeInstanceTypes",
        &["ec2:DescribeInstanceTypes"],
        Scope::Any,
        "aws::ec2::instance_types (readiness: GPU parity and quota sizes)",
    ),
    op(
        "describe_launch_configurations",
        "autoscaling",
        "DescribeLaunchConfigurations",
        &["autoscaling:DescribeLaunchConfigurations"],
        Scope::Any,
        "aws::asg::configuration_types (readiness: what a group without a template launches)",
    ),
    op(
        "get_service_quota",
        "servicequotas",
        "GetServiceQuota",
        &["servicequotas:GetServiceQuota"],
        Scope::Any,
        "aws::quotas (readiness: EC2 On-Demand vCPU quotas in the standby region)",
    ),
    op(
        "get_aws_default_service_quota",
        "servicequotas",
        "GetAWSDefaultServiceQuota",
        &["servicequotas:GetAWSDefaultServiceQuota"],
        Scope::Any,
        "aws::quotas (readiness: the default when no value was ever applied)",
    ),
    // No IAM action: STS answers GetCallerIdentity for any valid credentials, even under an
    // explicit Deny ("No permissions are required to perform this operation", STS API reference).
    op(
        "get_caller_identity",
        "sts",
        "GetCallerIdentity",
        &[],
        Scope::Any,
        "aws::identity (the AWS account each run's report names)",
    ),
    op(
        "update_auto_scaling_group",
        "autoscaling",
        "UpdateAutoScalingGroup",
        &["autoscaling:UpdateAutoScalingGroup"],
        Scope::AutoScalingGroup,
        "aws::asg::set_capacity",
    ),
];

/// With SSE-KMS buckets, reading needs the key's Decrypt and writing its GenerateDataKey (and
/// Decrypt, for multipart uploads).
pub const KMS_ACTIONS: &[&str] = &["kms:Decrypt", "kms:GenerateDataKey"];

/// Every IAM action the orchestrator needs, sorted.
pub fn all_actions() -> Vec<&'static str> {
    let mut v: Vec<&str> = OPERATIONS
        .iter()
        .flat_map(|o| o.actions.iter().copied())
        .chain(KMS_ACTIONS.iter().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

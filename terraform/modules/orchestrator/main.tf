# The IAM role of the hosts that run `standby serve`: one in the standby region and, with a shared
# state (state_bucket), a second in a third region; both use this role. The policy is the
# one `standby iam-policy` prints: the same statements and exactly the actions listed in
# crates/core/src/operations.rs (a test compares them), each scoped to the configured buckets and
# prefixes, the one record it flips, and the named Auto Scaling groups.

locals {
  primary_objects = [for s in var.artifact_sets : "arn:aws:s3:::${var.primary_bucket}/${s.prefix}*"]
  standby_objects = [for s in var.artifact_sets : "arn:aws:s3:::${var.standby_bucket}/${s.prefix}*"]
  standby_meta    = ["arn:aws:s3:::${var.standby_bucket}/.standby/*", "arn:aws:s3:::${var.standby_bucket}/reports/*"]
  mirrored        = [for s in var.artifact_sets : "arn:aws:s3:::${var.standby_bucket}/${s.prefix}*" if s.delete]
  groups = concat(
    [for g in var.primary_asgs : "arn:aws:autoscaling:${var.primary_region}:${var.account_id}:autoScalingGroup:*:autoScalingGroupName/${g}"],
    [for g in var.standby_asgs : "arn:aws:autoscaling:${var.standby_region}:${var.account_id}:autoScalingGroup:*:autoScalingGroupName/${g}"],
  )
  record = lower(trimsuffix(var.record_name, "."))
}

data "aws_iam_policy_document" "orchestrator" {
  statement {
    sid       = "ListArtifactBuckets"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = ["arn:aws:s3:::${var.primary_bucket}", "arn:aws:s3:::${var.standby_bucket}"]
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = concat(local.primary_objects, local.standby_objects, local.standby_meta)
  }

  # The failback's reverse sync writes back to the primary.
  statement {
    sid       = "WriteArtifactsManifestsReports"
    actions   = ["s3:AbortMultipartUpload", "s3:PutObject"]
    resources = concat(local.primary_objects, local.standby_objects, local.standby_meta)
  }

  dynamic "statement" {
    for_each = length(local.mirrored) > 0 ? [1] : []
    content {
      sid       = "MirrorDeletions"
      actions   = ["s3:DeleteObject"]
      resources = local.mirrored
    }
  }

  # The shared state: the lease, the machine state, run journals and each instance's verdict.
  dynamic "statement" {
    for_each = var.state_bucket != "" ? [1] : []
    content {
      sid       = "ListSharedState"
      actions   = ["s3:ListBucket"]
      resources = ["arn:aws:s3:::${var.state_bucket}"]
    }
  }

  dynamic "statement" {
    for_each = var.state_bucket != "" ? [1] : []
    content {
      sid       = "SharedState"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["arn:aws:s3:::${var.state_bucket}/${var.state_prefix}*"]
    }
  }

  statement {
    sid       = "ReadRecord"
    actions   = ["route53:ListResourceRecordSets"]
    resources = ["arn:aws:route53:::hostedzone/${var.zone_id}"]
  }

  # method = "record": UPSERT the one record, and watch the change (control plane).
  dynamic "statement" {
    for_each = var.dns_method == "record" ? [1] : []
    content {
      sid       = "FlipRecord"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = ["arn:aws:route53:::hostedzone/${var.zone_id}"]
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        values   = [local.record]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsRecordTypes"
        values   = [var.record_type]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsActions"
        values   = ["UPSERT"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.dns_method == "record" ? [1] : []
    content {
      sid       = "WatchRecordChange"
      actions   = ["route53:GetChange"]
      resources = ["arn:aws:route53:::change/*"]
    }
  }

  # method = "failover_records": the gate object (the whole flip, S3 data plane) and the
  # health check the preflight reads.
  dynamic "statement" {
    for_each = var.dns_method == "failover_records" ? [1] : []
    content {
      sid       = "Gate"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["arn:aws:s3:::${var.gate_bucket}/${var.gate_key}"]
    }
  }

  dynamic "statement" {
    for_each = var.dns_method == "failover_records" ? [1] : []
    content {
      sid       = "ReadGateHealthCheck"
      actions   = ["route53:GetHealthCheck"]
      resources = ["arn:aws:route53:::healthcheck/${var.gate_health_check_id}"]
    }
  }

  # DescribeAutoScalingGroups, DescribeScalingActivities, DescribeLaunchConfigurations and EC2's
  # Describe* (launch templates, capacity reservations: the preflight's reservation check;
  # instance types: the readiness evaluation's parity and quota sizes) and Service Quotas' reads
  # of EC2's quotas support no resource-level permissions.
  statement {
    sid = "DescribeGroups"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "ec2:DescribeCapacityReservations",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "servicequotas:GetAWSDefaultServiceQuota",
      "servicequotas:GetServiceQuota",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ScaleGroups"
    actions   = ["autoscaling:UpdateAutoScalingGroup"]
    resources = local.groups
  }

  dynamic "statement" {
    for_each = length(var.kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "UseArtifactKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = var.kms_key_arns
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "orchestrator" {
  name_prefix        = "${var.name}-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_policy" "orchestrator" {
  name_prefix = "${var.name}-"
  description = "standby: least privilege for failover, failback, drills, sync and reports"
  policy      = data.aws_iam_policy_document.orchestrator.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "orchestrator" {
  role       = aws_iam_role.orchestrator.name
  policy_arn = aws_iam_policy.orchestrator.arn
}

resource "aws_iam_instance_profile" "orchestrator" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.orchestrator.name
}

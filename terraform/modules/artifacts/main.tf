# Artifact buckets for both regions: versioned (manifests pin object versions), SSE-KMS with
# rotating keys, no public access, TLS only, old versions expired, and optional Cross-Region
# Replication for the sets that use it.

resource "aws_kms_key" "primary" {
  provider                = aws.primary
  description             = "standby artifacts (primary region)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_key" "standby" {
  provider                = aws.standby
  description             = "standby artifacts and run reports (standby region)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_s3_bucket" "primary" {
  provider = aws.primary
  bucket   = var.primary_bucket
  tags     = var.tags
}

# The standby bucket is the replica: it does not replicate anywhere itself.
resource "aws_s3_bucket" "standby" {
  provider = aws.standby
  bucket   = var.standby_bucket
  tags     = var.tags
}

resource "aws_s3_bucket_versioning" "primary" {
  provider = aws.primary
  bucket   = aws_s3_bucket.primary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "standby" {
  provider = aws.standby
  bucket   = aws_s3_bucket.standby.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "primary" {
  provider = aws.primary
  bucket   = aws_s3_bucket.primary.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.primary.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "standby" {
  provider = aws.standby
  bucket   = aws_s3_bucket.standby.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.standby.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "primary" {
  provider                = aws.primary
  bucket                  = aws_s3_bucket.primary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "standby" {
  provider                = aws.standby
  bucket                  = aws_s3_bucket.standby.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "tls_only_primary" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
    resources = [
      aws_s3_bucket.primary.arn,
      "${aws_s3_bucket.primary.arn}/*",
    ]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Route 53's health checkers read the gate (dns module, method = "failover_records") without
# credentials: this one key, from their published address ranges only. A policy that names fixed
# source addresses is not "public" to S3's Block Public Access, which stays fully on.
data "aws_ip_ranges" "health_checkers" {
  count    = var.gate_key != "" ? 1 : 0
  services = ["route53_healthchecks"]
}

data "aws_iam_policy_document" "tls_only_standby" {
  dynamic "statement" {
    for_each = var.gate_key != "" ? [1] : []
    content {
      sid       = "Route53HealthCheckersReadTheGate"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.standby.arn}/${var.gate_key}"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "IpAddress"
        variable = "aws:SourceIp"
        values   = concat(data.aws_ip_ranges.health_checkers[0].cidr_blocks, data.aws_ip_ranges.health_checkers[0].ipv6_cidr_blocks)
      }
    }
  }
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
    resources = [
      aws_s3_bucket.standby.arn,
      "${aws_s3_bucket.standby.arn}/*",
    ]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "primary" {
  provider = aws.primary
  bucket   = aws_s3_bucket.primary.id
  policy   = data.aws_iam_policy_document.tls_only_primary.json
}

resource "aws_s3_bucket_policy" "standby" {
  provider = aws.standby
  bucket   = aws_s3_bucket.standby.id
  policy   = data.aws_iam_policy_document.tls_only_standby.json
}

resource "aws_s3_bucket_lifecycle_configuration" "primary" {
  provider = aws.primary
  bucket   = aws_s3_bucket.primary.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.primary]
}

resource "aws_s3_bucket_lifecycle_configuration" "standby" {
  provider = aws.standby
  bucket   = aws_s3_bucket.standby.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  rule {
    id     = "reports"
    status = "Enabled"
    filter {
      prefix = "reports/"
    }
    expiration {
      days = var.report_retention_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.standby]
}

# Cross-Region Replication for mode = "replication" sets: primary -> standby, re-encrypted with
# the standby's key.
data "aws_iam_policy_document" "replication_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  provider           = aws.primary
  name_prefix        = "standby-replication-"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "replication" {
  statement {
    sid       = "ReadSourceConfig"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.primary.arn]
  }
  statement {
    sid       = "ReadSourceVersions"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = [for p in var.replicated_prefixes : "${aws_s3_bucket.primary.arn}/${p}*"]
  }
  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for p in var.replicated_prefixes : "${aws_s3_bucket.standby.arn}/${p}*"]
  }
  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.primary.arn]
  }
  statement {
    sid       = "EncryptReplica"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.standby.arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  provider = aws.primary
  name     = "replication"
  role     = aws_iam_role.replication.id
  policy   = data.aws_iam_policy_document.replication.json
}

resource "aws_s3_bucket_replication_configuration" "primary" {
  provider = aws.primary
  count    = length(var.replicated_prefixes) > 0 ? 1 : 0
  bucket   = aws_s3_bucket.primary.id
  role     = aws_iam_role.replication.arn

  dynamic "rule" {
    for_each = var.replicated_prefixes
    content {
      id       = "replicate-${replace(rule.value, "/", "-")}"
      priority = rule.key
      status   = "Enabled"
      filter {
        prefix = rule.value
      }
      delete_marker_replication {
        status = "Enabled"
      }
      source_selection_criteria {
        sse_kms_encrypted_objects {
          status = "Enabled"
        }
      }
      destination {
        bucket = aws_s3_bucket.standby.arn
        encryption_configuration {
          replica_kms_key_id = aws_kms_key.standby.arn
        }
        metrics {
          status = "Enabled"
          event_threshold {
            minutes = 15
          }
        }
        replication_time {
          status = "Enabled"
          time {
            minutes = 15
          }
        }
      }
    }
  }
  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.standby]
}

# The gate, created saying "serve=primary"; standby owns its content from then on. SSE-S3, not
# the bucket's KMS key: the health checkers read it without credentials, so without KMS.
resource "aws_s3_object" "gate" {
  count                  = var.gate_key != "" ? 1 : 0
  provider               = aws.standby
  bucket                 = aws_s3_bucket.standby.id
  key                    = var.gate_key
  content                = "serve=primary\n"
  content_type           = "text/plain"
  server_side_encryption = "AES256"

  lifecycle {
    ignore_changes = [content, etag]
  }
}

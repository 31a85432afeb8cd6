# The public name and how standby moves it ([dns] method in standby.toml).
#
# method = "failover_records" (the default): a PRIMARY and a SECONDARY failover record. The
# PRIMARY is guarded by an inverted HTTPS_STR_MATCH health check on the gate object
# (s3://<gate_bucket>/<gate_key> in the standby region, made by the artifacts module): while the
# object says "serve=primary" (or cannot be read at all) the check is healthy and Route 53
# answers the PRIMARY; once standby writes "serve=standby" the check turns unhealthy within
# (failure_threshold + 1) x request_interval and Route 53 answers the SECONDARY. A flip is one
# S3 PutObject in the standby region: nothing in Route 53's control plane (us-east-1) is used.
#
# method = "record": one simple record, created pointing at the primary; from then on standby
# owns its value (UPSERT on failover and failback through the control plane), so Terraform
# ignores later changes to it instead of flipping traffic back on the next apply.

locals {
  failover = var.method == "failover_records"
}

resource "aws_route53_record" "service" {
  count   = local.failover ? 0 : 1
  zone_id = var.zone_id
  name    = var.name
  type    = var.type
  ttl     = var.ttl
  records = [var.primary_value]

  lifecycle {
    ignore_changes = [records]
  }
}

resource "aws_route53_health_check" "gate" {
  count              = local.failover ? 1 : 0
  type               = "HTTPS_STR_MATCH"
  fqdn               = "${var.gate_bucket}.s3.${var.gate_region}.amazonaws.com"
  port               = 443
  resource_path      = "/${var.gate_key}"
  search_string      = "serve=standby"
  invert_healthcheck = true
  request_interval   = var.check_interval
  failure_threshold  = var.failure_threshold
  tags = {
    Name = "${var.name} standby gate"
  }
}

resource "aws_route53_record" "primary" {
  count           = local.failover ? 1 : 0
  zone_id         = var.zone_id
  name            = var.name
  type            = var.type
  ttl             = var.ttl
  records         = [var.primary_value]
  set_identifier  = "primary"
  health_check_id = aws_route53_health_check.gate[0].id

  failover_routing_policy {
    type = "PRIMARY"
  }
}

resource "aws_route53_record" "secondary" {
  count          = local.failover ? 1 : 0
  zone_id        = var.zone_id
  name           = var.name
  type           = var.type
  ttl            = var.ttl
  records        = [var.standby_value]
  set_identifier = "standby"

  failover_routing_policy {
    type = "SECONDARY"
  }
}

# Monitoring only (standby's own probes decide): the two regions' endpoints as Route 53 sees them.
resource "aws_route53_health_check" "primary" {
  count             = var.health_checks ? 1 : 0
  fqdn              = var.primary_value
  port              = 443
  type              = "HTTPS"
  resource_path     = var.health_path
  failure_threshold = 3
  request_interval  = 10
  tags = {
    Name = "${var.name} primary"
  }
}

resource "aws_route53_health_check" "standby" {
  count             = var.health_checks ? 1 : 0
  fqdn              = var.standby_value
  port              = 443
  type              = "HTTPS"
  resource_path     = var.health_path
  failure_threshold = 3
  request_interval  = 10
  tags = {
    Name = "${var.name} standby"
  }
}

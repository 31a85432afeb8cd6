# The public record and optional health checks. The record is created pointing at the primary;
# from then on standby owns its value (it UPSERTs it on failover and failback), so Terraform
# ignores later changes to it instead of flipping traffic back on the next apply.

resource "aws_route53_record" "service" {
  zone_id = var.zone_id
  name    = var.name
  type    = var.type
  ttl     = var.ttl
  records = [var.primary_value]

  lifecycle {
    ignore_changes = [records]
  }
}

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

output "zone_id" {
  value = var.zone_id
}

output "name" {
  value = var.name
}

output "gate_health_check_id" {
  description = "[dns.gate] health_check_id in standby.toml (empty with method = \"record\")."
  value       = join("", aws_route53_health_check.gate[*].id)
}

output "health_check_ids" {
  value = concat(aws_route53_health_check.primary[*].id, aws_route53_health_check.standby[*].id)
}

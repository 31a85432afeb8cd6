output "zone_id" {
  value = var.zone_id
}

output "name" {
  value = aws_route53_record.service.fqdn
}

output "health_check_ids" {
  value = concat(aws_route53_health_check.primary[*].id, aws_route53_health_check.standby[*].id)
}

output "standby_toml" {
  description = "A ready standby.toml: terraform output -raw standby_toml > /etc/standby/standby.toml"
  value = templatefile("${path.module}/standby.toml.tftpl", {
    service          = var.service
    rto              = var.rto
    primary_region   = var.primary_region
    standby_region   = var.standby_region
    primary_endpoint = var.primary_endpoint
    standby_endpoint = var.standby_endpoint
    primary_asg      = module.primary_gpus.name
    standby_asg      = module.standby_gpus.name
    standby_fallback = join("", [for g in module.standby_spare_gpus[*].name : ", fallback = [\"${g}\"]"])
    serving          = var.serving
    standby_warm     = var.standby_warm
    primary_bucket   = module.artifacts.primary_bucket
    standby_bucket   = module.artifacts.standby_bucket
    zone_id          = var.zone_id
    record_name      = var.record_name
    artifact_sets    = local.artifact_sets
    gate_key         = local.gate_key
    health_check_id  = module.dns.gate_health_check_id
  })
}

output "orchestrator_instance_profile_arn" {
  description = "Attach to the instance that runs `standby serve` in the standby region."
  value       = module.orchestrator.instance_profile_arn
}

output "orchestrator_policy_json" {
  value = module.orchestrator.policy_json
}

# Two regions for one inference service, and the standby.toml that drives them:
#   terraform apply -var-file=prod.tfvars
#   terraform output -raw standby_toml > /etc/standby/standby.toml
#   standby validate --config /etc/standby/standby.toml
#   standby drill standby --config /etc/standby/standby.toml
# Run `standby serve` on two hosts with the orchestrator's instance profile, one in the standby
# region and one in a third region: they share the state under standby-state/<service>/ in the
# standby bucket, and the lease lets one act at a time (README "Two instances").

locals {
  primary_bucket = "${var.service}-artifacts-${var.primary_region}-${var.account_id}"
  standby_bucket = "${var.service}-artifacts-${var.standby_region}-${var.account_id}"
  # The data-plane flip's gate: outside every artifact set's prefix (the sync never touches it).
  gate_key = "standby-gate/${var.service}"
  artifact_sets = [
    { name = "model-weights", prefix = "models/", schedule = "0 */6 * * *", rpo = "6h", mode = "copy", delete = false },
    { name = "prompts", prefix = "prompts/", schedule = "*/5 * * * *", rpo = "10m", mode = "copy", delete = true },
    { name = "vector-index", prefix = "indexes/", schedule = "*/15 * * * *", rpo = "30m", mode = "replication", delete = false },
  ]
}

module "artifacts" {
  source = "../../modules/artifacts"
  providers = {
    aws.primary = aws.primary
    aws.standby = aws.standby
  }
  primary_bucket      = local.primary_bucket
  standby_bucket      = local.standby_bucket
  replicated_prefixes = [for s in local.artifact_sets : s.prefix if s.mode == "replication"]
  gate_key            = local.gate_key
}

module "dns" {
  source = "../../modules/dns"
  providers = {
    aws = aws.primary
  }
  zone_id       = var.zone_id
  name          = var.record_name
  ttl           = 60
  primary_value = var.primary_endpoint
  standby_value = var.standby_endpoint
  health_checks = true
  # The data-plane flip: failover records gated by an object in the standby bucket.
  method      = "failover_records"
  gate_bucket = module.artifacts.standby_bucket
  gate_region = var.standby_region
  gate_key    = local.gate_key
}

module "primary_gpus" {
  source = "../../modules/gpu_asg"
  providers = {
    aws = aws.primary
  }
  name           = "${var.service}-gpu-${var.primary_region}"
  ami_id         = var.primary_ami_id
  instance_types = var.gpu_instance_types
  subnet_ids     = var.primary_subnet_ids
  warm           = var.serving
  serving        = var.serving
}

module "standby_gpus" {
  source = "../../modules/gpu_asg"
  providers = {
    aws = aws.standby
  }
  name           = "${var.service}-gpu-${var.standby_region}"
  ami_id         = var.standby_ami_id
  instance_types = var.gpu_instance_types
  subnet_ids     = var.standby_subnet_ids
  warm           = var.standby_warm
  serving        = var.serving
}

# A spare group of other instance types, kept at 0: the standby group's `fallback` when its
# launches fail for want of GPU capacity in the event you fail over for. Off with no types.
module "standby_spare_gpus" {
  source = "../../modules/gpu_asg"
  count  = length(var.gpu_spare_instance_types) > 0 ? 1 : 0
  providers = {
    aws = aws.standby
  }
  name           = "${var.service}-gpu-${var.standby_region}-spare"
  ami_id         = var.standby_ami_id
  instance_types = var.gpu_spare_instance_types
  subnet_ids     = var.standby_subnet_ids
  warm           = 0
  serving        = var.serving
}

module "orchestrator" {
  source = "../../modules/orchestrator"
  providers = {
    aws = aws.standby
  }
  name                 = "${var.service}-standby"
  account_id           = var.account_id
  primary_region       = var.primary_region
  standby_region       = var.standby_region
  primary_bucket       = module.artifacts.primary_bucket
  standby_bucket       = module.artifacts.standby_bucket
  artifact_sets        = [for s in local.artifact_sets : { prefix = s.prefix, delete = s.delete }]
  zone_id              = var.zone_id
  record_name          = var.record_name
  primary_asgs         = [module.primary_gpus.name]
  standby_asgs         = concat([module.standby_gpus.name], module.standby_spare_gpus[*].name)
  kms_key_arns         = module.artifacts.kms_key_arns
  state_bucket         = module.artifacts.standby_bucket
  state_prefix         = "standby-state/${var.service}/"
  dns_method           = "failover_records"
  gate_bucket          = module.artifacts.standby_bucket
  gate_key             = local.gate_key
  gate_health_check_id = module.dns.gate_health_check_id
}

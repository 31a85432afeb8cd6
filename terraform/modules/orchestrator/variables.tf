variable "name" {
  description = "Name prefix for the role, policy and instance profile."
  type        = string
  default     = "standby"
}

variable "account_id" {
  description = "The AWS account id: scopes the Auto Scaling group ARNs in the policy."
  type        = string
}

variable "primary_region" {
  description = "The primary region (its groups are scaled on failback)."
  type        = string
}

variable "standby_region" {
  description = "The standby region (its groups are scaled on failover and drills)."
  type        = string
}

variable "primary_bucket" {
  description = "The primary's artifact bucket: read by the sync."
  type        = string
}

variable "standby_bucket" {
  description = "The standby's artifact bucket: written by the sync; holds the shared state, reports and the gate."
  type        = string
}

variable "artifact_sets" {
  description = "The [[artifacts]] of standby.toml: each set's prefix and whether deletions are mirrored."
  type = list(object({
    prefix = string
    delete = bool
  }))
}

variable "zone_id" {
  description = "The hosted zone of the public record: read, and changed with dns_method record."
  type        = string
}

variable "record_name" {
  description = "The public name, as standby.toml's [dns] name."
  type        = string
}

variable "record_type" {
  description = "The public record's type (CNAME, A, AAAA): the record flip is allowed for this type only."
  type        = string
  default     = "CNAME"
}

variable "primary_asgs" {
  description = "Every group standby scales in the primary region, the fallback (spare) groups included."
  type        = list(string)
}

variable "standby_asgs" {
  description = "Every group standby scales in the standby region, the fallback (spare) groups named by `fallback` included."
  type        = list(string)
}

variable "state_bucket" {
  description = "The shared state's bucket ([state] backend = \"s3\"), or \"\" for a single instance with its state on disk."
  type        = string
  default     = ""
}

variable "state_prefix" {
  description = "The shared state's prefix in state_bucket ([state] prefix)."
  type        = string
  default     = ""
}

variable "kms_key_arns" {
  description = "The artifact buckets' keys (module artifacts' kms_key_arns)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags on the role and instance profile."
  type        = map(string)
  default     = {}
}

variable "dns_method" {
  description = "[dns] method: \"failover_records\" grants the gate object and its health check; \"record\" the record's UPSERT and GetChange."
  type        = string
  default     = "failover_records"
}

variable "gate_bucket" {
  description = "The gate's bucket ([dns.gate] bucket)."
  type        = string
  default     = ""
}

variable "gate_key" {
  description = "The gate's key ([dns.gate] key)."
  type        = string
  default     = ""
}

variable "gate_health_check_id" {
  description = "The gate's health check ([dns.gate] health_check_id)."
  type        = string
  default     = ""
}

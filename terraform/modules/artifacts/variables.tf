variable "primary_bucket" {
  description = "Artifact bucket in the primary region ([primary] bucket in standby.toml)."
  type        = string
}

variable "standby_bucket" {
  description = "Artifact bucket in the standby region ([standby] bucket); run reports go under reports/."
  type        = string
}

variable "replicated_prefixes" {
  description = "Prefixes of artifact sets with mode = \"replication\": S3 Cross-Region Replication moves their bytes and standby verifies and publishes."
  type        = list(string)
  default     = []
}

variable "noncurrent_version_days" {
  description = "Old object versions are kept this long (a manifest pins versions; keep it longer than the longest sync interval)."
  type        = number
  default     = 30
}

variable "report_retention_days" {
  description = "Run reports under reports/ in the standby bucket are kept this long."
  type        = number
  default     = 400
}

variable "tags" {
  description = "Tags on both buckets."
  type        = map(string)
  default     = {}
}

variable "gate_key" {
  description = "The gate object's key in the standby bucket (dns module, method = \"failover_records\"); empty: no gate."
  type        = string
  default     = ""
}

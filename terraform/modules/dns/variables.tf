variable "zone_id" {
  description = "The hosted zone of the public name."
  type        = string
}

variable "name" {
  description = "The public name clients call (e.g. api.example.com)."
  type        = string
}

variable "type" {
  description = "CNAME, A or AAAA, as [dns] type in standby.toml."
  type        = string
  default     = "CNAME"
}

variable "ttl" {
  description = "Seconds; standby adds it to the measured RTO for the effective figure."
  type        = number
  default     = 60
}

variable "primary_value" {
  description = "What the record points at while the primary serves ([dns] primary)."
  type        = string
}

variable "standby_value" {
  description = "What standby points it at on failover ([dns] standby)."
  type        = string
}

variable "health_checks" {
  description = "Create a Route 53 health check per region: a second vantage point for the detector."
  type        = bool
  default     = false
}

variable "health_path" {
  description = "The path Route 53 health checks of each region's endpoint request (health_checks = true)."
  type        = string
  default     = "/health"
}

variable "method" {
  description = "[dns] method: \"failover_records\" (data plane: a gate object read by a health check) or \"record\" (UPSERT through Route 53's control plane, us-east-1 only)."
  type        = string
  default     = "failover_records"
  validation {
    condition     = contains(["failover_records", "record"], var.method)
    error_message = "method must be \"failover_records\" or \"record\"."
  }
}

variable "gate_bucket" {
  description = "The standby-region bucket holding the gate object (method = \"failover_records\")."
  type        = string
  default     = ""
}

variable "gate_region" {
  description = "The gate bucket's region: the standby's."
  type        = string
  default     = ""
}

variable "gate_key" {
  description = "The gate object's key ([dns.gate] key)."
  type        = string
  default     = ""
}

variable "check_interval" {
  description = "The gate health check's request interval, 10 or 30 seconds ([dns.gate] check_interval)."
  type        = number
  default     = 10
}

variable "failure_threshold" {
  description = "The gate health check's failure threshold, 1-10 ([dns.gate] failure_threshold)."
  type        = number
  default     = 1
}

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
  type    = string
  default = "/health"
}

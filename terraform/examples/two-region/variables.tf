variable "service" {
  description = "Service name: names the groups and buckets, and [service] name in standby.toml."
  type        = string
  default     = "chat"
}

variable "account_id" {
  type = string
}

variable "primary_region" {
  type    = string
  default = "us-east-1"
}

variable "standby_region" {
  type    = string
  default = "us-west-2"
}

variable "zone_id" {
  type = string
}

variable "record_name" {
  description = "The public name, e.g. api.example.com."
  type        = string
}

variable "primary_endpoint" {
  description = "The primary region's inference load balancer name (the record's value while it serves)."
  type        = string
}

variable "standby_endpoint" {
  type = string
}

variable "primary_ami_id" {
  type = string
}

variable "standby_ami_id" {
  type = string
}

variable "primary_subnet_ids" {
  type = list(string)
}

variable "standby_subnet_ids" {
  type = list(string)
}

variable "gpu_instance_types" {
  type    = list(string)
  default = ["p5.48xlarge", "p4d.24xlarge", "g6e.48xlarge"]
}

variable "gpu_spare_instance_types" {
  description = "Instance types of the standby region's spare group (its fallback when the main group cannot launch); empty: no spare."
  type        = list(string)
  default     = ["g6e.48xlarge", "g5.48xlarge"]
}

variable "serving" {
  description = "GPU instances per region needed to carry all traffic."
  type        = number
  default     = 4
}

variable "standby_warm" {
  description = "GPU instances the standby keeps running while it does not serve."
  type        = number
  default     = 1
}

variable "rto" {
  description = "The RTO objective ([service] rto)."
  type        = string
  default     = "5m"
}

variable "service" {
  description = "Service name: names the groups and buckets, and [service] name in standby.toml."
  type        = string
  default     = "chat"
}

variable "account_id" {
  description = "The AWS account id (12 digits): names the artifact buckets and scopes the orchestrator's IAM policy."
  type        = string
}

variable "primary_region" {
  description = "The region that serves all inference traffic."
  type        = string
  default     = "us-east-1"
}

variable "standby_region" {
  description = "The region kept warm and failed over to. Run `standby serve` here (and in a third region for a second instance), not in the primary."
  type        = string
  default     = "us-west-2"
}

variable "zone_id" {
  description = "The Route 53 hosted zone id of record_name (e.g. Z0123456789ABCDEFGHIJ)."
  type        = string
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
  description = "The standby region's inference load balancer name (the record's value once failed over)."
  type        = string
}

variable "primary_ami_id" {
  description = "The GPU inference AMI in the primary region (drivers, runtime, model server)."
  type        = string
}

variable "standby_ami_id" {
  description = "The same AMI copied to the standby region (AMIs are regional: copy each new build)."
  type        = string
}

variable "primary_subnet_ids" {
  description = "Private subnets of the primary's GPU group, one per Availability Zone you accept capacity in."
  type        = list(string)
}

variable "standby_subnet_ids" {
  description = "Private subnets of the standby's GPU group; more zones, more chances of GPU capacity in the event."
  type        = list(string)
}

variable "gpu_instance_types" {
  description = "Instance types of both regions' GPU groups, in order of preference (a mixed-instances policy: AWS tries the next type when one has no capacity). The first sets the cost of the warm standby."
  type        = list(string)
  default     = ["p5.48xlarge", "p4d.24xlarge", "g6e.48xlarge"]
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

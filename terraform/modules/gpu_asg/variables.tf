variable "name" {
  description = "The group's name ([primary|standby] asgs[].name in standby.toml)."
  type        = string
}

variable "ami_id" {
  description = "An image with the GPU driver and the inference server."
  type        = string
}

variable "instance_types" {
  description = "GPU instance types, most preferred first: capacity falls back down the list when a type is short in the region."
  type        = list(string)
  default     = ["p5.48xlarge", "p4d.24xlarge", "g6e.48xlarge"]
}

variable "subnet_ids" {
  description = "Private subnets of the group, one per Availability Zone it may launch in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the GPU instances (the load balancer's and the orchestrator's probes must reach them)."
  type        = list(string)
  default     = []
}

variable "instance_profile_arn" {
  description = "Lets instances read the artifact bucket in their region."
  type        = string
  default     = null
}

variable "warm" {
  description = "Capacity while this side is not serving (0 on a primary at rest is unusual; 1 keeps a standby warm)."
  type        = number
}

variable "serving" {
  description = "Capacity needed to carry all traffic."
  type        = number
}

variable "root_volume_gb" {
  description = "Root volume size: the AMI plus model weights and the inference server's caches."
  type        = number
  default     = 500
}

variable "user_data" {
  description = "Base64 user data: start the inference server, load the published manifests."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags on the group and propagated to its instances."
  type        = map(string)
  default     = {}
}

variable "name_prefix" {
  description = "Prefix of every Docker object of the deployment (the same in the volumes and network stacks). The network is named <prefix>-net."
  type        = string
  default     = "spawnit"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,29}$", var.name_prefix))
    error_message = "name_prefix must be 1-30 lower-case letters, digits or dashes, starting with a letter or digit."
  }
}

variable "subnet" {
  description = "IPv4 subnet of the network in CIDR notation; null lets Docker pick a free one."
  type        = string
  default     = null
}

variable "labels" {
  description = "Extra labels put on the network (spawnit.deployment=<prefix> is always set)."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Network name (unique on the Docker engine)."
  type        = string
}

variable "subnet" {
  description = "IPv4 subnet in CIDR notation, e.g. 172.30.0.0/24; null lets Docker choose one."
  type        = string
  default     = null

  validation {
    condition     = var.subnet == null || can(cidrnetmask(var.subnet))
    error_message = "subnet must be null or an IPv4 CIDR block such as 172.30.0.0/24."
  }
}

variable "internal" {
  description = "Cut the network off from the outside world (containers then reach only each other)."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels of the network."
  type        = map(string)
  default     = {}
}

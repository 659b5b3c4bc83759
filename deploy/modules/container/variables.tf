variable "name" {
  description = "Container name (unique on the Docker engine)."
  type        = string
}

variable "image" {
  description = "Image reference. An image present on the engine is used as is (offline); a missing one is pulled."
  type        = string
}

variable "command" {
  description = "Arguments given to the image's entrypoint; null keeps the image's CMD."
  type        = list(string)
  default     = null
}

variable "env" {
  description = "Environment variables (NAME => value). Treated as sensitive: secrets such as S3 keys go here."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "user" {
  description = "user[:group] the process runs as; null keeps the image's USER."
  type        = string
  default     = null
}

variable "group_add" {
  description = "Extra groups (names or numeric ids) of the process, e.g. the Docker socket's group."
  type        = list(string)
  default     = []
}

variable "network_mode" {
  description = "\"bridge\" (attached to var.networks instead of Docker's default bridge when any is given) or \"host\" (the host's network stack; var.networks and var.ports must then be empty)."
  type        = string
  default     = "bridge"

  validation {
    condition     = contains(["bridge", "host"], var.network_mode)
    error_message = "network_mode must be \"bridge\" or \"host\"."
  }
}

variable "networks" {
  description = "User-defined networks to attach to, with the DNS aliases the container gets on each (bridge mode only)."
  type = list(object({
    name    = string
    aliases = optional(list(string), [])
  }))
  default = []
}

variable "ports" {
  description = "Published ports. ip defaults to 127.0.0.1: nothing is published on other interfaces unless asked."
  type = list(object({
    internal = number
    external = number
    ip       = optional(string, "127.0.0.1")
    protocol = optional(string, "tcp")
  }))
  default = []
}

variable "volumes" {
  description = "Named Docker volumes mounted into the container."
  type = list(object({
    volume_name    = string
    container_path = string
    read_only      = optional(bool, false)
  }))
  default = []
}

variable "bind_mounts" {
  description = "Host paths mounted into the container (e.g. the Docker socket)."
  type = list(object({
    host_path      = string
    container_path = string
    read_only      = optional(bool, false)
  }))
  default = []
}

variable "uploads" {
  description = "Files written into the container before it starts (content is kept in the state: treated as sensitive)."
  type = list(object({
    file        = string
    content     = string
    owner       = optional(string)
    group       = optional(string)
    permissions = optional(string, "0644")
  }))
  default   = []
  sensitive = true
}

variable "restart" {
  description = "Restart policy: no, on-failure, always or unless-stopped."
  type        = string
  default     = "unless-stopped"
}

variable "labels" {
  description = "Labels of the container."
  type        = map(string)
  default     = {}
}

variable "drop_all_capabilities" {
  description = "Drop every Linux capability of the process. Right for an unprivileged static binary (the spawnit/* images); images that start as root and change users may need some."
  type        = bool
  default     = true
}

variable "stop_timeout_seconds" {
  description = "Seconds the process gets after SIGTERM before it is killed, on stop and on replacement."
  type        = number
  default     = 30
}

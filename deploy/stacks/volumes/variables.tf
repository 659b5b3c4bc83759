variable "name_prefix" {
  description = "Prefix of every Docker object of the deployment (the same in the volumes and network stacks). Objects are named <prefix>-<key>."
  type        = string
  default     = "spawnit"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,29}$", var.name_prefix))
    error_message = "name_prefix must be 1-30 lower-case letters, digits or dashes, starting with a letter or digit."
  }
}

variable "volumes" {
  description = "Persistent volumes by key. The instances stack expects s3_data (the S3 server's objects: the catalog, services' configurations and OpenTofu states) and spawnit_data (SpawnIt's working directories and plugin cache). Each is named <prefix>-<key with _ as ->."
  type = map(object({
    driver      = optional(string, "local")
    driver_opts = optional(map(string), {})
  }))
  default = {
    s3_data      = {}
    spawnit_data = {}
  }

  validation {
    condition     = alltrue([for k in keys(var.volumes) : can(regex("^[a-z0-9_]+$", k))])
    error_message = "Volume keys are lower-case letters, digits and underscores."
  }
}

variable "labels" {
  description = "Extra labels put on every volume (spawnit.deployment=<prefix> is always set)."
  type        = map(string)
  default     = {}
}

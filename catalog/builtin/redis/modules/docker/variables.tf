# Set by SpawnIt, never by users: they name the Docker objects and label them so the
# supervisor can map Docker events back to the service.
variable "spawnit_client_id" {
  description = "Tenant that owns the service (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_id" {
  description = "Service id, unique within the tenant (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_name" {
  description = "Display name of the service (set by SpawnIt)."
  type        = string
}

variable "port" {
  description = "Host port on 127.0.0.1 published for Redis."
  type        = number
}

variable "password" {
  description = "Password clients send with AUTH (written to the config file, so restricted to characters that need no quoting)."
  type        = string
  sensitive   = true
}

variable "maxmemory_mb" {
  description = "Memory limit in megabytes."
  type        = number
}

variable "persistence" {
  description = "Whether to keep an append-only file on the data volume."
  type        = bool
}

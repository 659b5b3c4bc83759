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
  description = "Host port on 127.0.0.1 published for the HTTP server."
  type        = number
}

variable "greeting" {
  description = "Text the server answers with."
  type        = string
}

variable "token" {
  description = "A secret passed to the container, for tests of secret handling."
  type        = string
  sensitive   = true
}

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
  description = "Host port on 127.0.0.1 published for the web interface."
  type        = number
}

variable "ssh_port" {
  description = "Host port on 127.0.0.1 published for git over SSH."
  type        = number
}

variable "app_name" {
  description = "Title of the site."
  type        = string
}

variable "disable_registration" {
  description = "Whether new accounts can no longer register themselves."
  type        = bool
}

variable "secret_key" {
  description = "Gitea's SECRET_KEY, which encrypts tokens and two-factor secrets."
  type        = string
  sensitive   = true
}

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
  description = "Host port on 127.0.0.1 published for MariaDB."
  type        = number
}

variable "database" {
  description = "Name of the database created on first start."
  type        = string
}

variable "username" {
  description = "Name of the user created on first start, with every privilege on the database."
  type        = string
}

variable "password" {
  description = "Password of the user."
  type        = string
  sensitive   = true
}

variable "root_password" {
  description = "Password of MariaDB's root account."
  type        = string
  sensitive   = true
}

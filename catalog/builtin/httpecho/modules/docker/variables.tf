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
  description = "Host port published for the HTTP server."
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

# Target variables: set by the server's configuration (--target-vars docker=FILE), never
# by users. Where the images come from; the defaults pull the upstream images.
variable "docker_image_map" {
  description = "Images to pull instead of upstream ones: upstream name (as in this module) to the name to pull, for example {\"redis:7-alpine\" = \"registry.example:5000/redis:7-alpine\"}."
  type        = map(string)
  default     = {}
}

variable "docker_image_prefix" {
  description = "Registry (and path) put before every upstream image that docker_image_map does not name, for example registry.example:5000/hub; empty pulls the upstream names."
  type        = string
  default     = ""
}

variable "docker_registry_auth" {
  description = "Registries (host[:port]) the provider logs in to, with DOCKER_REGISTRY_USER and DOCKER_REGISTRY_PASS (or the DOCKER_CONFIG file) of the target's environment."
  type        = list(string)
  default     = []
}

# Target variables: set by the server's configuration (--publish-address, --public-host),
# never by users; the defaults keep the service on this machine's loopback.
variable "docker_publish_address" {
  description = "Host address the container's ports are published on (set by the server)."
  type        = string
  default     = "127.0.0.1"
}

variable "docker_public_host" {
  description = "Host name or address users reach the service at, shown in the outputs (set by the server)."
  type        = string
  default     = "127.0.0.1"
}

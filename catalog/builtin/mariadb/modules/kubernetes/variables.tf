# Set by SpawnIt, never by users: they name and label the Kubernetes objects.
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

# The form: the same variables as every other module of the template.
variable "port" {
  description = "Port of MariaDB on the Kubernetes Service."
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

# Kubernetes target settings: set by SpawnIt's server configuration, never by users (see
# docs/targets.md).
variable "kubernetes_namespace" {
  description = "Namespace of the service's objects. It must exist: SpawnIt does not create it."
  type        = string
  default     = "spawnit"
}

variable "kubernetes_service_type" {
  description = "Type of the Kubernetes Service: ClusterIP (inside the cluster only), NodePort or LoadBalancer."
  type        = string
  default     = "ClusterIP"

  validation {
    condition     = contains(["ClusterIP", "NodePort", "LoadBalancer"], var.kubernetes_service_type)
    error_message = "kubernetes_service_type must be ClusterIP, NodePort or LoadBalancer."
  }
}

variable "kubernetes_storage_class" {
  description = "Storage class of the data volume claim; empty means the cluster's default."
  type        = string
  default     = ""
}

variable "kubernetes_storage_gb" {
  description = "Size of the data volume claim in GiB."
  type        = number
  default     = 20
}

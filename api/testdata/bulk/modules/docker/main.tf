terraform {
  required_version = ">= 1.10.0"
}

variable "spawnit_client_id" {
  description = "Tenant (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_id" {
  description = "Service id (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_name" {
  description = "Display name (set by SpawnIt)."
  type        = string
}

variable "items" {
  description = "How many resources."
  type        = number
}

variable "note" {
  description = "Echoed as an output."
  type        = string
}

variable "token" {
  description = "A secret, echoed as a sensitive output."
  type        = string
  sensitive   = true
}

resource "terraform_data" "item" {
  count = var.items
  input = "${var.spawnit_service_id}-${count.index}"
}

output "note" {
  description = "The note, as received."
  value       = var.note
}

output "items" {
  description = "How many resources exist."
  value       = length(terraform_data.item)
}

output "token" {
  description = "The secret."
  value       = var.token
  sensitive   = true
}

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

variable "gate" {
  description = "The apply waits until this file exists."
  type        = string
}

variable "items" {
  description = "How many resources are created once the gate opens."
  type        = number
}

# Waits for the gate: the subscribers connect while the job stands here.
resource "terraform_data" "gate" {
  input = var.gate
  provisioner "local-exec" {
    command = "while [ ! -e \"$GATE\" ]; do sleep 0.1; done"
    environment = {
      GATE = var.gate
    }
  }
}

# The burst of events being measured.
resource "terraform_data" "item" {
  count      = var.items
  depends_on = [terraform_data.gate]
  input      = "${var.spawnit_service_id}-${count.index}"
}

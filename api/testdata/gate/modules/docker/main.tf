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

resource "terraform_data" "before" {
  input = "${var.spawnit_service_id}-before"
}

# Waits for the gate: the job runs, with events already out, until the test opens it.
resource "terraform_data" "gate" {
  depends_on = [terraform_data.before]
  input      = var.gate
  provisioner "local-exec" {
    command = "while [ ! -e \"$GATE\" ]; do sleep 0.1; done"
    environment = {
      GATE = var.gate
    }
  }
}

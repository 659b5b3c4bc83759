# A module for fault-injection tests (internal/faults):
# - its apply sleeps `seconds` in a local-exec provisioner while the Docker provider
#   process is alive (the volume is created after the sleep), so a test can stop S3,
#   kill or signal the server, or time the job out while tofu is busy;
# - with `probe`, the plan reads a registry that accepts connections and never answers
#   (a hung provider call).
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
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

variable "seconds" {
  description = "How long the apply sleeps."
  type        = number
}

variable "probe" {
  description = "Whether the plan reads the registry."
  type        = bool
}

variable "registry" {
  description = "host:port of the registry the probe reads."
  type        = string
}

locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "fault"
  }
}

data "docker_registry_image" "probe" {
  count                = var.probe ? 1 : 0
  name                 = "${var.registry}/spawnit/probe:latest"
  insecure_skip_verify = true
}

resource "docker_image" "app" {
  name         = "spawnit-test/httpecho:1"
  keep_locally = true
}

resource "terraform_data" "wait" {
  input            = docker_image.app.image_id
  triggers_replace = [var.seconds]

  provisioner "local-exec" {
    command = "sleep ${var.seconds}"
  }
}

# Created (or replaced, when seconds change) after the wait, so the Docker provider
# process stays alive during it.
resource "docker_volume" "after" {
  name       = "${local.name}-after"
  depends_on = [terraform_data.wait]

  dynamic "labels" {
    for_each = merge(local.labels, { "spawnit.test.seconds" = tostring(var.seconds) })
    content {
      label = labels.key
      value = labels.value
    }
  }
}

output "done" {
  description = "Id of the wait resource."
  value       = terraform_data.wait.id
}

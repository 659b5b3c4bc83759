# A module for the multi-replica tests (internal/faults, replicas_test.go): the HTTP echo
# server, created after a local-exec sleep of `seconds` (replaced when `seconds`
# changes), so a test can stream, cancel, kill or delete while a replica applies, and
# remove the container to cause drift.
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
  description = "How long the apply sleeps before it creates the container."
  type        = number
}

variable "port" {
  description = "Host port on 127.0.0.1 of the HTTP server."
  type        = number
}

locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "replica"
  }
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

resource "docker_container" "app" {
  name       = local.name
  image      = docker_image.app.image_id
  restart    = "unless-stopped"
  depends_on = [terraform_data.wait]

  env = ["GREETING=hello from ${var.spawnit_service_id}"]

  ports {
    internal = 8080
    external = var.port
    ip       = "127.0.0.1"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

output "endpoint" {
  description = "URL of the server, reachable from this machine."
  value       = "http://127.0.0.1:${docker_container.app.ports[0].external}/"
}

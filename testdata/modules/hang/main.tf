# A module whose plan hangs while `probe` is true: the Docker provider waits on a
# "registry" (a test listener on 127.0.0.1) that accepts connections and never answers.
# Used to hold a drift check running long enough to preempt it.
terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}

variable "registry" {
  type = string
}

variable "probe" {
  type = bool
}

data "docker_registry_image" "probe" {
  count                = var.probe ? 1 : 0
  name                 = "${var.registry}/spawnit/probe:latest"
  insecure_skip_verify = true
}

resource "terraform_data" "marker" {
  input = var.registry
}

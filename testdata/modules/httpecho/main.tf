# A minimal SpawnIt-style Docker module used by the engine's tests: the locally built
# test image (testdata/images/httpecho), a named volume, a container published on
# 127.0.0.1 only, labelled like every catalog module.
terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}

variable "name" {
  type        = string
  description = "Container name; also the prefix of the volume's name."
}

variable "port" {
  type        = number
  description = "Port published on 127.0.0.1."
}

variable "image" {
  type    = string
  default = "spawnit-test/httpecho:1"
}

variable "greeting" {
  type    = string
  default = "hello from spawnit"
}

resource "docker_image" "app" {
  name         = var.image
  keep_locally = true
}

resource "docker_volume" "data" {
  name = "${var.name}-data"
  labels {
    label = "spawnit.service"
    value = var.name
  }
}

resource "docker_container" "app" {
  name  = var.name
  image = docker_image.app.image_id
  env   = ["GREETING=${var.greeting}"]
  ports {
    internal = 8080
    external = var.port
    ip       = "127.0.0.1"
  }
  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }
  labels {
    label = "spawnit.service"
    value = var.name
  }
}

output "endpoint" {
  value = "http://127.0.0.1:${var.port}"
}

output "token" {
  value     = "token-${var.name}-s3cr3t"
  sensitive = true
}

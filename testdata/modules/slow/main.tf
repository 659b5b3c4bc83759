# A module whose apply takes long (a local-exec sleep) next to a real provider process,
# for cancel, timeout and kill tests.
terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}

variable "seconds" {
  type    = number
  default = 30
}

variable "name" {
  type    = string
  default = "spawnit-slow"
}

variable "image" {
  type    = string
  default = "spawnit-test/httpecho:1"
}

resource "docker_image" "app" {
  name         = var.image
  keep_locally = true
}

resource "terraform_data" "wait" {
  input = docker_image.app.image_id
  provisioner "local-exec" {
    command = "sleep ${var.seconds}"
  }
}

# Created after the wait, so the Docker provider process stays alive during it.
resource "docker_volume" "after" {
  name       = "${var.name}-after"
  depends_on = [terraform_data.wait]
}

output "done" {
  value = terraform_data.wait.id
}

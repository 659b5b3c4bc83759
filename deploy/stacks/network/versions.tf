terraform {
  required_version = ">= 1.10.0"

  # State: terraform.tfstate in this folder (local backend); the instances stack reads
  # its outputs from there.
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}

# The Docker engine of DOCKER_HOST, else /var/run/docker.sock.
provider "docker" {}

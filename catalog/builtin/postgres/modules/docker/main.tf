locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "postgres:${var.postgres_version}-alpine"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "postgres"
  }
}

resource "docker_image" "postgres" {
  name         = local.image
  keep_locally = true

  # The new image is pulled before the container using the old one is replaced, so a
  # slow or cancelled pull leaves the service running (see catalog/README.md).
  lifecycle {
    create_before_destroy = true
  }
}

resource "docker_volume" "data" {
  name = "${local.name}-data"

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "postgres" {
  name    = local.name
  image   = docker_image.postgres.image_id
  restart = "unless-stopped"

  env = [
    "POSTGRES_DB=${var.database}",
    "POSTGRES_USER=${var.username}",
    "POSTGRES_PASSWORD=${var.password}",
  ]

  ports {
    internal = 5432
    external = var.port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/postgresql/data"
  }

  healthcheck {
    test         = ["CMD", "pg_isready", "-U", var.username, "-d", var.database]
    interval     = "10s"
    timeout      = "5s"
    retries      = 5
    start_period = "30s"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

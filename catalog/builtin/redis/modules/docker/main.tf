locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "redis:7-alpine"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "redis"
  }
}

resource "docker_image" "redis" {
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

resource "docker_container" "redis" {
  name    = local.name
  image   = docker_image.redis.image_id
  restart = "unless-stopped"

  # The password goes in a config file rather than on redis-server's command line,
  # where every process on the host could read it.
  command = ["redis-server", "/usr/local/etc/redis/redis.conf"]

  upload {
    file    = "/usr/local/etc/redis/redis.conf"
    content = <<-EOT
      requirepass ${var.password}
      appendonly ${var.persistence ? "yes" : "no"}
      maxmemory ${var.maxmemory_mb}mb
      maxmemory-policy allkeys-lru
      dir /data
    EOT
  }

  # redis-cli reads the password from REDISCLI_AUTH, for the healthcheck.
  env = ["REDISCLI_AUTH=${var.password}"]

  ports {
    internal = 6379
    external = var.port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }

  healthcheck {
    test         = ["CMD", "redis-cli", "ping"]
    interval     = "10s"
    timeout      = "5s"
    retries      = 5
    start_period = "10s"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "itzg/minecraft-server:java21"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "minecraft"
  }
}

resource "docker_image" "minecraft" {
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

resource "docker_container" "minecraft" {
  name    = local.name
  image   = docker_image.minecraft.image_id
  restart = "unless-stopped"

  env = [
    "EULA=${var.eula ? "TRUE" : "FALSE"}",
    "TYPE=${var.server_type}",
    "VERSION=${var.minecraft_version}",
    "MEMORY=${var.memory}",
    "MOTD=${var.motd}",
    "DIFFICULTY=${var.difficulty}",
    "MAX_PLAYERS=${var.max_players}",
    "ONLINE_MODE=${var.online_mode ? "TRUE" : "FALSE"}",
    "ENABLE_RCON=TRUE",
    "RCON_PASSWORD=${var.rcon_password}",
  ]

  ports {
    internal = 25565
    external = var.port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }

  # mc-health ships with the image and pings the server like a game client would.
  healthcheck {
    test         = ["CMD", "mc-health"]
    interval     = "30s"
    timeout      = "10s"
    retries      = 5
    start_period = "3m"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

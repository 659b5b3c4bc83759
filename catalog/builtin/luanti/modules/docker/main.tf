locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "ghcr.io/minetest/minetest:5.7.0"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "luanti"
  }

  # The server's settings file. The form's text fields hold no line break (their
  # patterns), so each value stays on its line.
  config = <<-EOT
    server_name = ${var.server_name}
    server_description = ${var.server_name}
    motd = ${var.motd}
    max_users = ${var.max_users}
    creative_mode = ${var.creative_mode}
    enable_damage = ${var.enable_damage}
    server_announce = false
    port = 30000
  EOT
}

resource "docker_image" "luanti" {
  name         = local.image
  keep_locally = true

  # The new image is pulled before the container using the old one is replaced, so a
  # slow or cancelled pull leaves the service running (see catalog/README.md).
  lifecycle {
    create_before_destroy = true
  }
}

# The world (and the players' data) lives in the server user's home.
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

resource "docker_container" "luanti" {
  name    = local.name
  image   = docker_image.luanti.image_id
  restart = "unless-stopped"

  # The image's entrypoint is the server; these are its arguments.
  command = [
    "--config", "/etc/minetest/minetest.conf",
    "--gameid", var.game,
    "--world", "/var/lib/minetest/.minetest/worlds/world",
    "--port", "30000",
  ]

  upload {
    file    = "/etc/minetest/minetest.conf"
    content = local.config
  }

  ports {
    internal = 30000
    external = var.port
    ip       = var.docker_publish_address
    protocol = "udp"
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/minetest"
  }

  # The server binds its UDP port once the game and the world are loaded. 7530 is
  # 30000 in hexadecimal, as the kernel lists bound sockets.
  healthcheck {
    test         = ["CMD-SHELL", "grep -q ':7530 00000000:0000 ' /proc/net/udp"]
    interval     = "10s"
    timeout      = "5s"
    retries      = 3
    start_period = "60s"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "gitea/gitea:1.24"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "gitea"
  }
}

resource "docker_image" "gitea" {
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

resource "docker_container" "gitea" {
  name    = local.name
  image   = docker_image.gitea.image_id
  restart = "unless-stopped"

  # INSTALL_LOCK skips the web installer: everything it would ask is set here.
  env = [
    "USER_UID=1000",
    "USER_GID=1000",
    "GITEA__DEFAULT__APP_NAME=${var.app_name}",
    "GITEA__database__DB_TYPE=sqlite3",
    "GITEA__server__ROOT_URL=http://${var.docker_public_host}:${var.port}/",
    "GITEA__server__SSH_DOMAIN=${var.docker_public_host}",
    "GITEA__server__SSH_PORT=${var.ssh_port}",
    "GITEA__security__INSTALL_LOCK=true",
    "GITEA__security__SECRET_KEY=${var.secret_key}",
    "GITEA__service__DISABLE_REGISTRATION=${var.disable_registration}",
  ]

  ports {
    internal = 3000
    external = var.port
    ip       = var.docker_publish_address
  }

  ports {
    internal = 22
    external = var.ssh_port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }

  healthcheck {
    test         = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://localhost:3000/api/healthz"]
    interval     = "15s"
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

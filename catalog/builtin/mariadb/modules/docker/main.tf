locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "mariadb:11"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "mariadb"
  }
}

resource "docker_image" "mariadb" {
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

resource "docker_container" "mariadb" {
  name    = local.name
  image   = docker_image.mariadb.image_id
  restart = "unless-stopped"

  # Read on the first start only, when the volume is empty: a later change of a
  # password replaces the container but not the account's password in the data.
  env = [
    "MARIADB_ROOT_PASSWORD=${var.root_password}",
    "MARIADB_DATABASE=${var.database}",
    "MARIADB_USER=${var.username}",
    "MARIADB_PASSWORD=${var.password}",
  ]

  ports {
    internal = 3306
    external = var.port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/mysql"
  }

  # healthcheck.sh ships with the image: the server accepts connections and InnoDB is
  # ready (not the first start's setup server, which listens on no port).
  healthcheck {
    test         = ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]
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

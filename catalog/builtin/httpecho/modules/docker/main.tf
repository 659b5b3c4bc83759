locals {
  # The upstream image, or where the operator keeps it (docs/targets.md, "Images from a
  # private registry"): its entry in docker_image_map, else docker_image_prefix before it.
  upstream_image = "spawnit-test/httpecho:1"
  image = lookup(var.docker_image_map, local.upstream_image,
    var.docker_image_prefix == "" ? local.upstream_image : "${trimsuffix(var.docker_image_prefix, "/")}/${local.upstream_image}",
  )

  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  labels = {
    "spawnit.client"   = var.spawnit_client_id
    "spawnit.service"  = var.spawnit_service_id
    "spawnit.template" = "httpecho"
  }
}

# Built locally by the tests (internal/testservers.BuildTestImage); never pulled.
resource "docker_image" "httpecho" {
  name         = local.image
  keep_locally = true

  # The new image is pulled before the container using the old one is replaced, so a
  # slow or cancelled pull leaves the service running (see catalog/README.md).
  lifecycle {
    create_before_destroy = true
  }
}

# The server keeps no data; the volume is there so tests exercise the same kinds of
# resources as the real templates.
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

# The image is FROM scratch: it has no shell or tool to run a healthcheck with.
resource "docker_container" "httpecho" {
  name    = local.name
  image   = docker_image.httpecho.image_id
  restart = "unless-stopped"

  env = [
    "GREETING=${var.greeting}",
    "TOKEN=${var.token}",
  ]

  ports {
    internal = 8080
    external = var.port
    ip       = var.docker_publish_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

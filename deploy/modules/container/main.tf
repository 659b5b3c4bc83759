# One long-running container and its image. Generic: every container of the deployment
# (S3 server, identity provider, SpawnIt) is an instance of this module.

# keep_locally: images built on this machine (spawnit/*:dev) must survive an undeploy, and
# a production image is only pulled when missing. A rebuilt tag gets a new image_id,
# which replaces the container on the next apply.
resource "docker_image" "this" {
  name         = var.image
  keep_locally = true
}

resource "docker_container" "this" {
  name         = var.name
  image        = docker_image.this.image_id
  command      = var.command
  env          = [for k, v in var.env : "${k}=${v}"]
  user         = var.user
  group_add    = var.group_add
  restart      = var.restart
  network_mode = var.network_mode
  stop_timeout = var.stop_timeout_seconds

  dynamic "capabilities" {
    for_each = var.drop_all_capabilities ? [1] : []
    content {
      drop = ["ALL"]
    }
  }

  dynamic "networks_advanced" {
    for_each = var.networks
    content {
      name    = networks_advanced.value.name
      aliases = networks_advanced.value.aliases
    }
  }

  dynamic "ports" {
    for_each = var.ports
    content {
      internal = ports.value.internal
      external = ports.value.external
      ip       = ports.value.ip
      protocol = ports.value.protocol
    }
  }

  dynamic "volumes" {
    for_each = var.volumes
    content {
      volume_name    = volumes.value.volume_name
      container_path = volumes.value.container_path
      read_only      = volumes.value.read_only
    }
  }

  dynamic "volumes" {
    for_each = var.bind_mounts
    content {
      host_path      = volumes.value.host_path
      container_path = volumes.value.container_path
      read_only      = volumes.value.read_only
    }
  }

  dynamic "upload" {
    for_each = nonsensitive(var.uploads)
    content {
      file        = upload.value.file
      content     = sensitive(upload.value.content)
      owner       = upload.value.owner
      group       = upload.value.group
      permissions = upload.value.permissions
    }
  }

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }

  lifecycle {
    precondition {
      condition     = var.network_mode == "bridge" || (length(var.networks) == 0 && length(var.ports) == 0)
      error_message = "A container with network_mode \"host\" joins no network and publishes no port."
    }
  }
}

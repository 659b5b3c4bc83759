# A user-defined bridge network: containers on it reach each other by name (Docker's
# embedded DNS), which the default bridge does not offer.
resource "docker_network" "this" {
  name     = var.name
  driver   = "bridge"
  internal = var.internal

  dynamic "ipam_config" {
    for_each = var.subnet == null ? [] : [var.subnet]
    content {
      subnet = ipam_config.value
    }
  }

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

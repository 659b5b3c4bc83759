# The persistent volumes of the deployment. They are their own stack so that the
# containers (instances stack) can be destroyed and recreated without touching the data.

locals {
  labels = merge(var.labels, {
    "spawnit.deployment" = var.name_prefix
    "spawnit.stack"      = "volumes"
  })
}

module "volume" {
  source   = "../../modules/volume"
  for_each = var.volumes

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  driver      = each.value.driver
  driver_opts = each.value.driver_opts
  labels      = local.labels
}

# A named Docker volume: data that outlives its containers (a replaced container finds it
# again). Removing it — undeploy — deletes the data.
resource "docker_volume" "this" {
  name        = var.name
  driver      = var.driver
  driver_opts = var.driver_opts

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

# Only the registries to log in to: the provider's engine (DOCKER_HOST, ...) and the
# credentials (DOCKER_REGISTRY_USER, DOCKER_REGISTRY_PASS or DOCKER_CONFIG) come from the
# target's environment, never from this module.
provider "docker" {
  dynamic "registry_auth" {
    for_each = toset(var.docker_registry_auth)
    content {
      address = registry_auth.value
    }
  }
}

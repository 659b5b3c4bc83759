locals {
  full_name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  # Object names are DNS labels (a Service's at most 63 characters): a longer name is
  # cut and made unique again with a hash.
  name = length(local.full_name) <= 63 ? local.full_name : "${substr(local.full_name, 0, 54)}-${substr(sha256(local.full_name), 0, 8)}"
  labels = {
    "spawnit.io/client"            = var.spawnit_client_id
    "spawnit.io/service"           = var.spawnit_service_id
    "spawnit.io/template"          = "luanti"
    "app.kubernetes.io/managed-by" = "spawnit"
  }
  # The pods of this service (a Deployment's selector cannot change later).
  selector = {
    "spawnit.io/client"  = var.spawnit_client_id
    "spawnit.io/service" = var.spawnit_service_id
  }

  # The same settings file as the Docker module's.
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

  # The server binds its UDP port once the game and the world are loaded (7530 is 30000
  # in hexadecimal, as the kernel lists bound sockets).
  bound = ["sh", "-c", "grep -q ':7530 00000000:0000 ' /proc/net/udp"]
}

# The settings file, mounted where the server reads it. It holds no secret.
resource "kubernetes_config_map_v1" "config" {
  metadata {
    name      = local.name
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  data = {
    "minetest.conf" = local.config
  }
}

# The counterpart of the Docker module's volume. It outlives pod restarts and is deleted
# with the service.
resource "kubernetes_persistent_volume_claim_v1" "data" {
  metadata {
    name      = "${local.name}-data"
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = var.kubernetes_storage_class != "" ? var.kubernetes_storage_class : null

    resources {
      requests = {
        storage = "${var.kubernetes_storage_gb}Gi"
      }
    }
  }

  # With a WaitForFirstConsumer storage class the claim binds only once the pod exists.
  wait_until_bound = false
}

resource "kubernetes_deployment_v1" "service" {
  metadata {
    name      = local.name
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  spec {
    replicas = 1

    selector {
      match_labels = local.selector
    }

    # One pod at a time: the data volume is ReadWriteOnce.
    strategy {
      type = "Recreate"
    }

    template {
      metadata {
        labels = local.labels

        # New settings roll the pod (a file mounted with sub_path is never updated in
        # place), as a new upload replaces the Docker container.
        annotations = {
          "spawnit.io/config-version" = kubernetes_config_map_v1.config.metadata[0].resource_version
        }
      }

      spec {
        automount_service_account_token = false
        enable_service_links            = false

        # The image runs as minetest (uid and gid 30000): the volume is made writable
        # for its group.
        security_context {
          fs_group = 30000
        }

        container {
          name  = "luanti"
          image = "ghcr.io/minetest/minetest:5.7.0"
          args = [
            "--config", "/etc/minetest/minetest.conf",
            "--gameid", var.game,
            "--world", "/var/lib/minetest/.minetest/worlds/world",
            "--port", "30000",
          ]

          port {
            name           = "game"
            container_port = 30000
            protocol       = "UDP"
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/minetest"
          }

          volume_mount {
            name       = "config"
            mount_path = "/etc/minetest/minetest.conf"
            sub_path   = "minetest.conf"
            read_only  = true
          }

          readiness_probe {
            exec {
              command = local.bound
            }
            period_seconds  = 10
            timeout_seconds = 5
          }

          liveness_probe {
            exec {
              command = local.bound
            }
            initial_delay_seconds = 60
            period_seconds        = 10
            timeout_seconds       = 5
            failure_threshold     = 3
          }

          security_context {
            allow_privilege_escalation = false
          }
        }

        volume {
          name = "data"
          persistent_volume_claim {
            claim_name = kubernetes_persistent_volume_claim_v1.data.metadata[0].name
          }
        }

        volume {
          name = "config"
          config_map {
            name = kubernetes_config_map_v1.config.metadata[0].name
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "service" {
  metadata {
    name      = local.name
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  spec {
    type     = var.kubernetes_service_type
    selector = local.selector

    port {
      name        = "game"
      port        = var.port
      target_port = "game"
      protocol    = "UDP"
    }
  }

  wait_for_load_balancer = var.kubernetes_service_type == "LoadBalancer"
}

locals {
  # The load balancer's address when the Service has one, else the name clients inside
  # the cluster use.
  load_balancer = try(kubernetes_service_v1.service.status[0].load_balancer[0].ingress[0], null)
  host          = try(coalesce(local.load_balancer.hostname, local.load_balancer.ip), "${local.name}.${var.kubernetes_namespace}.svc")
}

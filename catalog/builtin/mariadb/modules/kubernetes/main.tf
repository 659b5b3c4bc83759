locals {
  full_name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  # Object names are DNS labels (a Service's at most 63 characters): a longer name is
  # cut and made unique again with a hash.
  name = length(local.full_name) <= 63 ? local.full_name : "${substr(local.full_name, 0, 54)}-${substr(sha256(local.full_name), 0, 8)}"
  labels = {
    "spawnit.io/client"            = var.spawnit_client_id
    "spawnit.io/service"           = var.spawnit_service_id
    "spawnit.io/template"          = "mariadb"
    "app.kubernetes.io/managed-by" = "spawnit"
  }
  # The pods of this service (a Deployment's selector cannot change later).
  selector = {
    "spawnit.io/client"  = var.spawnit_client_id
    "spawnit.io/service" = var.spawnit_service_id
  }
}

resource "kubernetes_secret_v1" "env" {
  metadata {
    name      = local.name
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  data = {
    MARIADB_PASSWORD      = var.password
    MARIADB_ROOT_PASSWORD = var.root_password
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

        # A new version of the secret rolls the pod, as a new environment replaces the
        # Docker container.
        annotations = {
          "spawnit.io/secret-version" = kubernetes_secret_v1.env.metadata[0].resource_version
        }
      }

      spec {
        automount_service_account_token = false
        enable_service_links            = false

        container {
          name  = "mariadb"
          image = "mariadb:11"

          env {
            name  = "MARIADB_DATABASE"
            value = var.database
          }

          env {
            name  = "MARIADB_USER"
            value = var.username
          }

          env {
            name = "MARIADB_PASSWORD"
            value_from {
              secret_key_ref {
                name = kubernetes_secret_v1.env.metadata[0].name
                key  = "MARIADB_PASSWORD"
              }
            }
          }

          env {
            name = "MARIADB_ROOT_PASSWORD"
            value_from {
              secret_key_ref {
                name = kubernetes_secret_v1.env.metadata[0].name
                key  = "MARIADB_ROOT_PASSWORD"
              }
            }
          }

          port {
            name           = "mariadb"
            container_port = 3306
          }

          # One level below the volume's root, which may hold lost+found (MariaDB would
          # list it as a database).
          volume_mount {
            name       = "data"
            mount_path = "/var/lib/mysql"
            sub_path   = "mysql"
          }

          # The image's own check: the server accepts connections and InnoDB is ready.
          readiness_probe {
            exec {
              command = ["healthcheck.sh", "--connect", "--innodb_initialized"]
            }
            period_seconds  = 10
            timeout_seconds = 5
          }

          liveness_probe {
            exec {
              command = ["healthcheck.sh", "--connect", "--innodb_initialized"]
            }
            initial_delay_seconds = 30
            period_seconds        = 10
            timeout_seconds       = 5
            failure_threshold     = 5
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
      name        = "mariadb"
      port        = var.port
      target_port = "mariadb"
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

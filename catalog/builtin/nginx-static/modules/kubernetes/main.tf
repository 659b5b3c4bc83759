locals {
  full_name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  # Object names are DNS labels (a Service's at most 63 characters): a longer name is
  # cut and made unique again with a hash.
  name = length(local.full_name) <= 63 ? local.full_name : "${substr(local.full_name, 0, 54)}-${substr(sha256(local.full_name), 0, 8)}"
  labels = {
    "spawnit.io/client"            = var.spawnit_client_id
    "spawnit.io/service"           = var.spawnit_service_id
    "spawnit.io/template"          = "nginx-static"
    "app.kubernetes.io/managed-by" = "spawnit"
  }
  # The pods of this service (a Deployment's selector cannot change later).
  selector = {
    "spawnit.io/client"  = var.spawnit_client_id
    "spawnit.io/service" = var.spawnit_service_id
  }
}

# The page, mounted over the image's index.html. There is no data to keep, so no
# volume claim.
resource "kubernetes_config_map_v1" "page" {
  metadata {
    name      = local.name
    namespace = var.kubernetes_namespace
    labels    = local.labels
  }

  data = {
    "index.html" = var.page_content
  }
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

    template {
      metadata {
        labels = local.labels

        # A new page rolls the pod (a file mounted with sub_path is never updated in
        # place), as a new upload replaces the Docker container.
        annotations = {
          "spawnit.io/page-version" = kubernetes_config_map_v1.page.metadata[0].resource_version
        }
      }

      spec {
        automount_service_account_token = false
        enable_service_links            = false

        container {
          name  = "nginx"
          image = "nginx:1.27-alpine"

          port {
            name           = "http"
            container_port = 80
          }

          volume_mount {
            name       = "page"
            mount_path = "/usr/share/nginx/html/index.html"
            sub_path   = "index.html"
            read_only  = true
          }

          readiness_probe {
            http_get {
              path = "/"
              port = "http"
            }
            period_seconds = 10
          }

          liveness_probe {
            http_get {
              path = "/"
              port = "http"
            }
            initial_delay_seconds = 5
            period_seconds        = 10
            failure_threshold     = 3
          }

          security_context {
            allow_privilege_escalation = false
          }
        }

        volume {
          name = "page"
          config_map {
            name = kubernetes_config_map_v1.page.metadata[0].name
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
      name        = "http"
      port        = var.port
      target_port = "http"
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

# The deployment's containers: the S3 server, the identity provider and SpawnIt's
# server, each started only once what it depends on answers (readiness module), never
# after a fixed sleep.
#
#   s3 ──ready──┐
#               ├──> spawnit ──ready (/readyz)   (one per replica, spawnit_replicas)
#   idp ─ready──┘                 └──> load balancer ──ready (several replicas only)

data "terraform_remote_state" "volumes" {
  backend = "local"
  config = {
    path = coalesce(var.volumes_state_path, "${path.module}/../volumes/terraform.tfstate")
  }
}

data "terraform_remote_state" "network" {
  backend = "local"
  config = {
    path = coalesce(var.network_state_path, "${path.module}/../network/terraform.tfstate")
  }
}

locals {
  prefix  = data.terraform_remote_state.network.outputs.name_prefix
  network = data.terraform_remote_state.network.outputs.network_name
  volumes = data.terraform_remote_state.volumes.outputs.volume_names
  labels = merge(var.labels, {
    "spawnit.deployment" = local.prefix
    "spawnit.stack"      = "instances"
  })

  # What differs between the S3 servers this stack knows how to run.
  s3_servers = {
    versitygw = {
      own     = true # our static image: runs without any capability
      port    = 7070
      command = ["--port", ":7070", "--health", "/health", "posix", "/data"]
      health  = "/health"
      env = {
        ROOT_ACCESS_KEY = var.s3_access_key
        ROOT_SECRET_KEY = var.s3_secret_key
      }
    }
    minio = {
      own     = false
      port    = 9000
      command = ["server", "/data", "--address", ":9000"]
      health  = "/minio/health/live"
      env = {
        MINIO_ROOT_USER     = var.s3_access_key
        MINIO_ROOT_PASSWORD = var.s3_secret_key
      }
    }
  }
  s3      = local.s3_servers[var.s3_server]
  s3_name = "${local.prefix}-s3"
  # SpawnIt reaches S3 over the deployment's network by container name, except in host
  # network mode, where it is outside that network and uses the published port.
  s3_endpoint_for_spawnit = var.spawnit_network_mode == "host" ? "127.0.0.1:${var.s3_port}" : "${local.s3_name}:${local.s3.port}"

  spawnit_public_url = trimsuffix(coalesce(var.spawnit_public_url, "http://127.0.0.1:${var.spawnit_port}"), "/")
  redirect_url       = "${local.spawnit_public_url}/auth/callback"

  keycloak_url = var.keycloak == null ? "" : trimsuffix(var.keycloak.public_url, "/")
  oidc_issuer = coalesce(var.oidc_issuer, (
    var.idp_kind == "example-op" ? "http://localhost:${var.idp_port}/" :
    var.idp_kind == "keycloak" ? "${local.keycloak_url}/realms/${try(var.keycloak.realm, "")}" :
    "-"
  ))
}

# ---------------------------------------------------------------------------------------
# S3

module "s3" {
  source = "../../modules/container"

  name     = local.s3_name
  image    = var.s3_image
  command  = local.s3.command
  env      = local.s3.env
  networks = [{ name = local.network, aliases = ["s3"] }]
  ports    = [{ internal = local.s3.port, external = var.s3_port }]
  volumes  = [{ volume_name = local.volumes["s3_data"], container_path = "/data" }]
  labels   = local.labels

  drop_all_capabilities = local.s3.own
}

module "s3_ready" {
  source = "../../modules/readiness"

  name            = "S3 server ${local.s3_name}"
  url             = "http://127.0.0.1:${var.s3_port}${local.s3.health}"
  timeout_seconds = var.readiness_timeout_seconds
  triggers        = [module.s3.id]
}

# ---------------------------------------------------------------------------------------
# Identity provider

locals {
  idp_name = "${local.prefix}-idp"

  # The example OP's USERS_FILE: its storage.User records by id.
  example_op_users = jsonencode({
    for id, u in var.idp_users : id => {
      ID                = id
      Username          = u.username
      Password          = u.password
      FirstName         = u.first_name
      LastName          = u.last_name
      Email             = u.email
      EmailVerified     = u.email_verified
      Phone             = ""
      PhoneVerified     = false
      PreferredLanguage = u.preferred_language
      IsAdmin           = u.is_admin
    }
  })

  # Keycloak's realm, imported at its first start (--import-realm skips a realm that
  # already exists, so later changes are made in Keycloak, not here). The audience mapper
  # puts the client id in access tokens' aud, which SpawnIt requires.
  keycloak_realm = var.idp_kind != "keycloak" ? "" : jsonencode({
    realm   = var.keycloak.realm
    enabled = true
    clients = [{
      clientId                  = var.oidc_client_id
      enabled                   = true
      protocol                  = "openid-connect"
      publicClient              = false
      clientAuthenticatorType   = "client-secret"
      secret                    = var.oidc_client_secret
      standardFlowEnabled       = true
      directAccessGrantsEnabled = false
      redirectUris              = [local.redirect_url]
      webOrigins                = [local.spawnit_public_url]
      attributes                = { "pkce.code.challenge.method" = "S256" }
      protocolMappers = [{
        name            = "spawnit-audience"
        protocol        = "openid-connect"
        protocolMapper  = "oidc-audience-mapper"
        consentRequired = false
        config = {
          "included.client.audience" = var.oidc_client_id
          "access.token.claim"       = "true"
          "id.token.claim"           = "false"
        }
      }]
    }]
    users = [for id, u in var.idp_users : {
      username      = u.username
      email         = u.email
      firstName     = u.first_name
      lastName      = u.last_name
      enabled       = true
      emailVerified = u.email_verified
      credentials   = [{ type = "password", value = u.password, temporary = false }]
    }]
  })

  idp = {
    example-op = {
      port    = var.idp_port
      command = null
      env = {
        PORT         = tostring(var.idp_port)
        REDIRECT_URI = local.redirect_url
        USERS_FILE   = "/etc/oidc-op/users.json"
      }
      # Owned by root and world-readable inside the container (its only process runs as
      # 10001): asking Docker for another owner makes it resolve the container's user on
      # the host, which fails for an image's numeric user.
      uploads = [{
        file        = "/etc/oidc-op/users.json"
        content     = local.example_op_users
        permissions = "0444"
      }]
      ready_path = ".well-known/openid-configuration"
      data_path  = null # keeps nothing: users come from the file, sessions live in memory
      own        = true
    }
    keycloak = {
      port = 8080
      command = [
        "start", "--import-realm", "--http-enabled=true", "--http-port=8080",
        "--hostname=${local.keycloak_url}", "--proxy-headers=xforwarded", "--health-enabled=true",
      ]
      env = {
        KC_BOOTSTRAP_ADMIN_USERNAME = try(var.keycloak.admin_user, "admin")
        KC_BOOTSTRAP_ADMIN_PASSWORD = coalesce(var.keycloak_admin_password, "-")
      }
      uploads = [{
        file        = "/opt/keycloak/data/import/${try(var.keycloak.realm, "")}-realm.json"
        content     = local.keycloak_realm
        permissions = "0444"
      }]
      ready_path = "realms/${try(var.keycloak.realm, "")}/.well-known/openid-configuration"
      data_path  = "/opt/keycloak/data" # its H2 database unless idp_env selects another (KC_DB)
      own        = false
    }
  }
}

module "idp" {
  source = "../../modules/container"
  count  = var.idp_kind == "external" ? 0 : 1

  name     = local.idp_name
  image    = var.idp_image
  command  = local.idp[var.idp_kind].command
  env      = merge(var.idp_env, local.idp[var.idp_kind].env)
  uploads  = local.idp[var.idp_kind].uploads
  networks = [{ name = local.network, aliases = ["idp"] }]
  ports    = [{ internal = local.idp[var.idp_kind].port, external = var.idp_port }]
  # The volume idp_data, when the volumes stack defines it, keeps the provider's data.
  volumes = local.idp[var.idp_kind].data_path != null && contains(keys(local.volumes), "idp_data") ? [
    { volume_name = local.volumes["idp_data"], container_path = local.idp[var.idp_kind].data_path },
  ] : []
  labels = local.labels

  drop_all_capabilities = local.idp[var.idp_kind].own
}

module "idp_ready" {
  source = "../../modules/readiness"
  count  = var.idp_kind == "external" ? 0 : 1

  name            = "identity provider ${local.idp_name}"
  url             = "http://127.0.0.1:${var.idp_port}/${local.idp[var.idp_kind].ready_path}"
  timeout_seconds = var.readiness_timeout_seconds
  triggers        = [module.idp[0].id]
}

# ---------------------------------------------------------------------------------------
# SpawnIt

locals {
  spawnit_name = "${local.prefix}-server"
  spawnit_env = merge(var.spawnit_env, {
    SPAWNIT_LOG_LEVEL          = var.spawnit_log_level
    SPAWNIT_S3_ENDPOINT        = local.s3_endpoint_for_spawnit
    SPAWNIT_S3_BUCKET          = var.s3_bucket
    SPAWNIT_S3_REGION          = var.s3_region
    SPAWNIT_S3_PATH_STYLE      = "true"
    SPAWNIT_S3_ACCESS_KEY      = var.s3_access_key
    SPAWNIT_S3_SECRET_KEY      = var.s3_secret_key
    SPAWNIT_OIDC_ISSUER        = local.oidc_issuer
    SPAWNIT_OIDC_CLIENT_ID     = var.oidc_client_id
    SPAWNIT_OIDC_CLIENT_SECRET = var.oidc_client_secret
    SPAWNIT_OIDC_REDIRECT_URL  = local.redirect_url
    SPAWNIT_ENCRYPTION_KEY     = var.spawnit_encryption_key
    }, var.oidc_tenant_claim == null ? {} : {
    SPAWNIT_OIDC_TENANT_CLAIM = var.oidc_tenant_claim
    }, var.spawnit_session_secret == null ? {} : {
    SPAWNIT_SESSION_SECRET = var.spawnit_session_secret
  })
}

# One replica keeps the deployment as it was: <prefix>-server on spawnit_port, data in
# the volume spawnit_data. Several replicas are <prefix>-server, <prefix>-server-2, ...,
# each on a port of its own, the first with spawnit_data and the others with a data
# volume of their own (workdirs and plugin cache are caches: what lasts is in the
# bucket), and a load balancer on spawnit_port hands requests to them in turn.
locals {
  replicated = var.spawnit_replicas > 1
  replica_ports = [for i in range(var.spawnit_replicas) : (
    !local.replicated ? var.spawnit_port :
    length(var.spawnit_replica_ports) > i ? var.spawnit_replica_ports[i] : var.spawnit_port + 1 + i
  )]
  replica_names = [for i in range(var.spawnit_replicas) : i == 0 ? local.spawnit_name : "${local.spawnit_name}-${i + 1}"]
  replicas = [for i in range(var.spawnit_replicas) : {
    name = local.replica_names[i]
    port = local.replica_ports[i]
    # Where the load balancer reaches it: its port on the host's loopback when both
    # share the host's network, its name on the deployment's network otherwise.
    backend = var.spawnit_network_mode == "host" ? "127.0.0.1:${local.replica_ports[i]}" : "${local.replica_names[i]}:8080"
  }]
}

module "spawnit_data" {
  source = "../../modules/volume"
  count  = var.spawnit_replicas - 1

  name   = "${local.prefix}-spawnit-data-${count.index + 2}"
  labels = local.labels
}

moved {
  from = module.spawnit
  to   = module.spawnit[0]
}

moved {
  from = module.spawnit_ready
  to   = module.spawnit_ready[0]
}

module "spawnit" {
  source = "../../modules/container"
  count  = var.spawnit_replicas

  name  = local.replicas[count.index].name
  image = var.spawnit_image
  env = merge(local.spawnit_env, {
    SPAWNIT_LISTEN = var.spawnit_network_mode == "host" ? "127.0.0.1:${local.replicas[count.index].port}" : ":8080"
  })
  group_add    = [var.docker_socket_gid]
  network_mode = var.spawnit_network_mode
  networks     = var.spawnit_network_mode == "host" ? [] : [{ name = local.network, aliases = count.index == 0 && !local.replicated ? ["spawnit"] : [] }]
  ports        = var.spawnit_network_mode == "host" ? [] : [{ internal = 8080, external = local.replicas[count.index].port }]
  volumes = [{
    volume_name    = count.index == 0 ? local.volumes["spawnit_data"] : module.spawnit_data[count.index - 1].name
    container_path = "/var/lib/spawnit"
  }]
  bind_mounts = [{ host_path = var.docker_socket_path, container_path = "/var/run/docker.sock" }]
  labels      = local.labels
  # SpawnIt gives running OpenTofu jobs a grace period on SIGTERM (SPAWNIT_SHUTDOWN_GRACE,
  # 30 s by default); Docker must wait a little longer before it kills the process.
  stop_timeout_seconds = 45

  # SpawnIt discovers the issuer and opens the bucket at start-up: both must answer.
  depends_on = [module.s3_ready, module.idp_ready]
}

module "spawnit_ready" {
  source = "../../modules/readiness"
  count  = var.spawnit_replicas

  name            = "SpawnIt ${local.replicas[count.index].name} /readyz"
  url             = "http://127.0.0.1:${local.replicas[count.index].port}/readyz"
  timeout_seconds = var.readiness_timeout_seconds
  triggers        = [module.spawnit[count.index].id]
}

# ---------------------------------------------------------------------------------------
# Load balancer (several replicas only)

locals {
  lb_name = "${local.prefix}-lb"
}

module "lb" {
  source = "../../modules/container"
  count  = local.replicated ? 1 : 0

  name  = local.lb_name
  image = var.lb_image
  env = {
    LB_LISTEN   = var.spawnit_network_mode == "host" ? "127.0.0.1:${var.spawnit_port}" : ":8080"
    LB_BACKENDS = join(",", [for r in local.replicas : r.backend])
  }
  network_mode = var.spawnit_network_mode
  networks     = var.spawnit_network_mode == "host" ? [] : [{ name = local.network, aliases = ["spawnit"] }]
  ports        = var.spawnit_network_mode == "host" ? [] : [{ internal = 8080, external = var.spawnit_port }]
  labels       = local.labels

  depends_on = [module.spawnit_ready]
}

module "lb_ready" {
  source = "../../modules/readiness"
  count  = local.replicated ? 1 : 0

  name            = "load balancer ${local.lb_name} /readyz"
  url             = "http://127.0.0.1:${var.spawnit_port}/readyz"
  timeout_seconds = var.readiness_timeout_seconds
  triggers        = [module.lb[0].id]
}

# Consistency checks that no single variable's validation can express.
resource "terraform_data" "checks" {
  input = local.prefix

  lifecycle {
    precondition {
      condition     = data.terraform_remote_state.volumes.outputs.name_prefix == local.prefix
      error_message = "The volumes and network stacks use different name_prefix values: deploy them with the same one."
    }
    precondition {
      condition     = alltrue([for k in ["s3_data", "spawnit_data"] : contains(keys(local.volumes), k)])
      error_message = "The volumes stack must define the volumes s3_data and spawnit_data."
    }
    precondition {
      condition     = length(distinct(concat([var.spawnit_port], local.replicated ? local.replica_ports : []))) == (local.replicated ? var.spawnit_replicas + 1 : 1)
      error_message = "With several replicas, spawnit_port and each of spawnit_replica_ports must be different ports."
    }
    precondition {
      condition     = var.idp_kind != "example-op" || var.spawnit_network_mode == "host"
      error_message = "idp_kind \"example-op\" announces the issuer http://localhost:<idp_port>/, which SpawnIt can only reach at that same URL with spawnit_network_mode = \"host\"."
    }
    precondition {
      condition     = var.idp_kind != "keycloak" || (var.keycloak != null && var.keycloak_admin_password != null)
      error_message = "idp_kind \"keycloak\" needs the keycloak object and keycloak_admin_password."
    }
    precondition {
      condition     = var.idp_kind != "external" || var.oidc_issuer != null
      error_message = "idp_kind \"external\" needs oidc_issuer."
    }
  }
}

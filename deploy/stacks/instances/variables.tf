# ---------------------------------------------------------------------------------------
# Where the other stacks' states are and which Docker engine is used.

variable "volumes_state_path" {
  description = "State file of the volumes stack; null means ../volumes/terraform.tfstate."
  type        = string
  default     = null
}

variable "network_state_path" {
  description = "State file of the network stack; null means ../network/terraform.tfstate."
  type        = string
  default     = null
}

variable "docker_socket_path" {
  description = "The Docker engine's socket on the host, mounted into SpawnIt's container so that it can deploy services."
  type        = string
  default     = "/var/run/docker.sock"
}

variable "docker_socket_gid" {
  description = "Group id owning the Docker socket (stat -c %g /var/run/docker.sock), added to SpawnIt's process so that it may use the socket without running as root. deploy.sh sets it (TF_VAR_docker_socket_gid)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.docker_socket_gid))
    error_message = "docker_socket_gid must be a numeric group id."
  }
}

variable "readiness_timeout_seconds" {
  description = "How long each readiness check (S3, identity provider, SpawnIt) may take before the apply fails."
  type        = number
  default     = 120
}

variable "labels" {
  description = "Extra labels put on every container (spawnit.deployment=<prefix> is always set)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# S3 server: holds the catalog, services' configurations and their OpenTofu states.

variable "s3_server" {
  description = "Which S3 server runs in the s3 container: \"versitygw\" (the spawnit/versitygw image built here; tests and local runs) or \"minio\" (a MinIO image; production). Decides its command, port, credentials variables and health path."
  type        = string
  default     = "versitygw"

  validation {
    condition     = contains(["versitygw", "minio"], var.s3_server)
    error_message = "s3_server must be \"versitygw\" or \"minio\"."
  }
}

variable "s3_image" {
  description = "Image of the S3 server, e.g. spawnit/versitygw:dev or minio/minio:RELEASE.2025-04-22T22-12-26Z."
  type        = string
  default     = "spawnit/versitygw:dev"
}

variable "s3_port" {
  description = "Port on the host's 127.0.0.1 where the S3 API is published (readiness checks, the configs stack, SpawnIt in host network mode)."
  type        = number
  default     = 17070
}

variable "s3_access_key" {
  description = "Access key of the S3 server's root user, which SpawnIt also uses."
  type        = string
  sensitive   = true
}

variable "s3_secret_key" {
  description = "Secret key of the S3 server's root user (MinIO wants at least 8 characters)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.s3_secret_key) >= 8
    error_message = "s3_secret_key must have at least 8 characters."
  }
}

variable "s3_bucket" {
  description = "Bucket SpawnIt keeps everything in. SpawnIt creates it at start-up when it is missing."
  type        = string
  default     = "spawnit"
}

variable "s3_region" {
  description = "S3 region."
  type        = string
  default     = "us-east-1"
}

# ---------------------------------------------------------------------------------------
# Identity provider (OpenID Connect).

variable "idp_kind" {
  description = "\"example-op\": run the zitadel/oidc example OpenID Provider (spawnit/oidc-op image; tests and local runs only; needs spawnit_network_mode = \"host\", see README). \"keycloak\": run Keycloak with a realm imported from these variables (production). \"external\": run nothing; oidc_issuer names an issuer you operate elsewhere."
  type        = string
  default     = "example-op"

  validation {
    condition     = contains(["example-op", "keycloak", "external"], var.idp_kind)
    error_message = "idp_kind must be \"example-op\", \"keycloak\" or \"external\"."
  }
}

variable "idp_image" {
  description = "Image of the identity provider: spawnit/oidc-op:dev (example-op) or quay.io/keycloak/keycloak:26.2 (keycloak). Unused with external."
  type        = string
  default     = "spawnit/oidc-op:dev"
}

variable "idp_port" {
  description = "Port on the host's 127.0.0.1 where the identity provider is published. For example-op it is also the port inside the container, because the issuer it announces (http://localhost:PORT/) names it."
  type        = number
  default     = 19998
}

variable "idp_users" {
  description = "Users of the identity provider, by id (the subject of their tokens, from which SpawnIt derives their tenant). example-op reads them from a USERS_FILE generated from this; keycloak imports them with its realm at first start. Unused with external."
  type = map(object({
    username           = string
    password           = string
    first_name         = optional(string, "")
    last_name          = optional(string, "")
    email              = optional(string, "")
    email_verified     = optional(bool, true)
    is_admin           = optional(bool, false)
    preferred_language = optional(string, "en")
  }))
  default   = {}
  sensitive = true
}

variable "idp_env" {
  description = "Extra environment of the identity provider's container, e.g. Keycloak's database settings (KC_DB, KC_DB_URL, KC_DB_USERNAME, KC_DB_PASSWORD)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "keycloak" {
  description = "Keycloak settings (idp_kind = \"keycloak\"): public_url is the URL browsers and SpawnIt reach Keycloak at (a TLS reverse proxy in front of the published port), realm the realm imported at first start, admin_user the bootstrap administrator."
  type = object({
    public_url = string
    realm      = optional(string, "spawnit")
    admin_user = optional(string, "admin")
  })
  default = null
}

variable "keycloak_admin_password" {
  description = "Password of Keycloak's bootstrap administrator (idp_kind = \"keycloak\")."
  type        = string
  default     = null
  sensitive   = true
}

variable "oidc_issuer" {
  description = "Issuer URL SpawnIt trusts, exactly as the provider writes it in tokens. null derives it: http://localhost:<idp_port>/ for example-op, <keycloak.public_url>/realms/<realm> for keycloak. Required for external."
  type        = string
  default     = null
}

variable "oidc_client_id" {
  description = "OIDC client SpawnIt signs browsers in as (and the audience bearer tokens must carry). The example OP's confidential client is \"web\"."
  type        = string
  default     = "web"
}

variable "oidc_client_secret" {
  description = "Secret of oidc_client_id. The example OP's is \"secret\"."
  type        = string
  sensitive   = true
}

variable "oidc_tenant_claim" {
  description = "Token claim naming the tenant; null derives the tenant from the subject."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------
# SpawnIt's server.

variable "spawnit_image" {
  description = "Image of SpawnIt's server (deploy/image/build.sh builds spawnit/server:dev)."
  type        = string
  default     = "spawnit/server:dev"
}

variable "spawnit_port" {
  description = "Port on the host's 127.0.0.1 where SpawnIt answers (in host network mode it listens there itself; in bridge mode the port is published)."
  type        = number
  default     = 18480
}

variable "spawnit_public_url" {
  description = "URL browsers use to reach SpawnIt, without a trailing slash; its /auth/callback is registered with the identity provider. null means http://127.0.0.1:<spawnit_port>."
  type        = string
  default     = null
}

variable "spawnit_network_mode" {
  description = "\"host\": SpawnIt shares the host's network stack, so http://localhost:<port> means the same thing to it as to a browser on the host (required by example-op, whose issuer is a localhost URL) and it reaches S3 at 127.0.0.1:<s3_port>. \"bridge\": SpawnIt joins the deployment's network, reaches S3 by container name and is published on 127.0.0.1:<spawnit_port> (production, with an issuer at a real host name)."
  type        = string
  default     = "host"

  validation {
    condition     = contains(["host", "bridge"], var.spawnit_network_mode)
    error_message = "spawnit_network_mode must be \"host\" or \"bridge\"."
  }
}

variable "spawnit_replicas" {
  description = "Number of SpawnIt servers sharing the bucket. 1: one server on spawnit_port, as it always was. More: each replica on its own port (spawnit_replica_ports) and a round-robin load balancer (lb_image) on spawnit_port in front of them."
  type        = number
  default     = 1

  validation {
    condition     = var.spawnit_replicas >= 1 && var.spawnit_replicas <= 16 && floor(var.spawnit_replicas) == var.spawnit_replicas
    error_message = "spawnit_replicas must be a whole number from 1 to 16."
  }
}

variable "spawnit_replica_ports" {
  description = "With spawnit_replicas > 1: the host port (on 127.0.0.1) of each replica, in order; empty means spawnit_port + 1, + 2, ..."
  type        = list(number)
  default     = []
}

variable "lb_image" {
  description = "Image of the load balancer in front of several replicas (spawnit/lb, built by image/build.sh)."
  type        = string
  default     = "spawnit/lb:dev"
}

variable "spawnit_log_level" {
  description = "SpawnIt's log level: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "spawnit_session_secret" {
  description = "Secret every replica is given to seal browser sessions (SPAWNIT_SESSION_SECRET, spawnit serve --session-secret), so that a session opened on one replica works on the others and after a restart. null: not set."
  type        = string
  default     = null
  sensitive   = true
}

variable "spawnit_encryption_key" {
  description = "Key every replica is given to encrypt OpenTofu states and secret inputs at rest (SPAWNIT_ENCRYPTION_KEY, spawnit serve --encryption-key): at least 32 characters, the same on every replica. Keep a copy: without it no state or secret input can be read."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.spawnit_encryption_key) >= 32
    error_message = "spawnit_encryption_key must have at least 32 characters."
  }
}

variable "spawnit_env" {
  description = "Extra environment of SpawnIt's server (SPAWNIT_MAX_PARALLEL, SPAWNIT_JOB_TIMEOUT, ...; see spawnit serve --help)."
  type        = map(string)
  default     = {}
}

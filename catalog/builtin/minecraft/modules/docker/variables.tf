# Set by SpawnIt, never by users: they name the Docker objects and label them so the
# supervisor can map Docker events back to the service.
variable "spawnit_client_id" {
  description = "Tenant that owns the service (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_id" {
  description = "Service id, unique within the tenant (set by SpawnIt)."
  type        = string
}

variable "spawnit_service_name" {
  description = "Display name of the service (set by SpawnIt)."
  type        = string
}

variable "eula" {
  description = "Acceptance of the Minecraft EULA; the server does not start without it."
  type        = bool

  validation {
    condition     = var.eula
    error_message = "The Minecraft EULA must be accepted."
  }
}

variable "port" {
  description = "Host port on 127.0.0.1 published for the game."
  type        = number
}

variable "server_type" {
  description = "Server flavour: VANILLA, PAPER or FABRIC."
  type        = string
}

variable "minecraft_version" {
  description = "Minecraft version: LATEST, SNAPSHOT or a version number."
  type        = string
}

variable "memory" {
  description = "Java heap size, such as 2G."
  type        = string
}

variable "motd" {
  description = "Message of the day shown in the server list."
  type        = string
}

variable "difficulty" {
  description = "Game difficulty."
  type        = string
}

variable "max_players" {
  description = "Maximum number of players online at once."
  type        = number
}

variable "online_mode" {
  description = "Whether player accounts are checked with Mojang."
  type        = bool
}

variable "rcon_password" {
  description = "Password of the RCON administration interface (not published)."
  type        = string
  sensitive   = true
}

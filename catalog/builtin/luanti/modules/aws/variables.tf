# Set by SpawnIt, never by users: they name and tag the AWS resources.
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

# The form: the same variables as every other module of the template.
variable "port" {
  description = "UDP port of the game, opened to aws_allowed_cidr."
  type        = number
}

variable "game" {
  description = "Id of the game the world plays (a game installed in the image)."
  type        = string
}

variable "server_name" {
  description = "Name of the server in the players' server list."
  type        = string
}

variable "motd" {
  description = "Message of the day, shown to players when they join."
  type        = string
}

variable "max_users" {
  description = "Maximum number of players at once."
  type        = number
}

variable "creative_mode" {
  description = "Whether the world is in creative mode."
  type        = bool
}

variable "enable_damage" {
  description = "Whether players take damage."
  type        = bool
}

# AWS target settings: set by SpawnIt's server configuration, never by users (see
# docs/targets.md). The defaults suit a region with a default VPC.
variable "aws_instance_type" {
  description = "EC2 instance type; empty means t3.small."
  type        = string
  default     = ""
}

variable "aws_ami_owner" {
  description = "Owner of the machine image (an account id or an alias such as amazon)."
  type        = string
  default     = "amazon"
}

variable "aws_ami_name" {
  description = "Name filter of the machine image; the newest match is used. Its architecture must suit the instance type."
  type        = string
  default     = "al2023-ami-2023.*-x86_64"
}

variable "aws_subnet_id" {
  description = "Subnet of the instance; empty means a default subnet of the default VPC."
  type        = string
  default     = ""
}

variable "aws_allowed_cidr" {
  description = "IPv4 range allowed to connect to the service's ports; empty means the VPC's own range."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_allowed_cidr == "" || can(cidrnetmask(var.aws_allowed_cidr))
    error_message = "aws_allowed_cidr must be empty or an IPv4 CIDR block such as 203.0.113.0/24."
  }
}

variable "aws_associate_public_ip" {
  description = "Give the instance a public IPv4 address, used in the endpoint."
  type        = bool
  default     = false
}

variable "aws_instance_profile" {
  description = "IAM instance profile of the instance (for example to pull from ECR or for SSM); empty means none."
  type        = string
  default     = ""
}

variable "aws_root_volume_gb" {
  description = "Size of the root disk (system, Docker images) in GiB."
  type        = number
  default     = 16
}

variable "aws_data_volume_gb" {
  description = "Size of the data volume in GiB."
  type        = number
  default     = 20
}

output "endpoint" {
  description = "Address of the server (host:port), reachable from aws_allowed_cidr once the instance has booted."
  value       = "${local.host}:${var.port}"
}

output "database" {
  description = "Name of the database."
  value       = var.database
}

output "username" {
  description = "Name of the database owner."
  value       = var.username
}

output "password" {
  description = "Password of the database owner."
  value       = var.password
  sensitive   = true
}

output "connection_uri" {
  description = "PostgreSQL connection URI, credentials included."
  value       = "postgresql://${urlencode(var.username)}:${urlencode(var.password)}@${local.host}:${var.port}/${urlencode(var.database)}"
  sensitive   = true
}

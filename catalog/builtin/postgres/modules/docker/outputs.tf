output "endpoint" {
  description = "Address of the server (host:port), reachable from this machine."
  value       = "${var.docker_public_host}:${docker_container.postgres.ports[0].external}"
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
  value       = "postgresql://${urlencode(var.username)}:${urlencode(var.password)}@${var.docker_public_host}:${var.port}/${urlencode(var.database)}"
  sensitive   = true
}

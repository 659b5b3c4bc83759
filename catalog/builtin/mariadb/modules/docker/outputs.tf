output "endpoint" {
  description = "Address of the server (host:port), reachable from this machine."
  value       = "${var.docker_public_host}:${docker_container.mariadb.ports[0].external}"
}

output "database" {
  description = "Name of the database."
  value       = var.database
}

output "username" {
  description = "Name of the database's user."
  value       = var.username
}

output "password" {
  description = "Password of the database's user."
  value       = var.password
  sensitive   = true
}

output "root_password" {
  description = "Password of MariaDB's root account."
  value       = var.root_password
  sensitive   = true
}

output "connection_uri" {
  description = "MariaDB connection URI of the database's user, credentials included."
  value       = "mariadb://${urlencode(var.username)}:${urlencode(var.password)}@${var.docker_public_host}:${var.port}/${urlencode(var.database)}"
  sensitive   = true
}

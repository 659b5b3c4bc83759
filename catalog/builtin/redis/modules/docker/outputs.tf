output "endpoint" {
  description = "Address of the server (host:port), reachable from this machine."
  value       = "${var.docker_public_host}:${docker_container.redis.ports[0].external}"
}

output "password" {
  description = "Password for AUTH."
  value       = var.password
  sensitive   = true
}

output "connection_uri" {
  description = "Redis connection URI, password included."
  value       = "redis://:${urlencode(var.password)}@${var.docker_public_host}:${var.port}/0"
  sensitive   = true
}

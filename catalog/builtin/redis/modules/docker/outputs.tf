output "endpoint" {
  description = "Address of the server (host:port), reachable from this machine."
  value       = "127.0.0.1:${docker_container.redis.ports[0].external}"
}

output "password" {
  description = "Password for AUTH."
  value       = var.password
  sensitive   = true
}

output "connection_uri" {
  description = "Redis connection URI, password included."
  value       = "redis://:${urlencode(var.password)}@127.0.0.1:${var.port}/0"
  sensitive   = true
}

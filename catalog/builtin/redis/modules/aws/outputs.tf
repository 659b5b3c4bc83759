output "endpoint" {
  description = "Address of the server (host:port), reachable from aws_allowed_cidr once the instance has booted."
  value       = "${local.host}:${var.port}"
}

output "password" {
  description = "Password for AUTH."
  value       = var.password
  sensitive   = true
}

output "connection_uri" {
  description = "Redis connection URI, password included."
  value       = "redis://:${urlencode(var.password)}@${local.host}:${var.port}/0"
  sensitive   = true
}

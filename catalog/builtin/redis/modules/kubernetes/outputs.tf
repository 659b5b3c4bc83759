output "endpoint" {
  description = "Address of the server (host:port): the load balancer's, or the Service's name inside the cluster."
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

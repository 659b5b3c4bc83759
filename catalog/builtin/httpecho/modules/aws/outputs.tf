output "endpoint" {
  description = "URL of the server, reachable from aws_allowed_cidr once the instance has booted."
  value       = "http://${local.host}:${var.port}/"
}

output "greeting" {
  description = "Text the server answers with."
  value       = var.greeting
}

output "token" {
  description = "The secret given to the container."
  value       = var.token
  sensitive   = true
}

output "endpoint" {
  description = "URL of the server, reachable from this machine."
  value       = "http://${var.docker_public_host}:${docker_container.httpecho.ports[0].external}/"
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

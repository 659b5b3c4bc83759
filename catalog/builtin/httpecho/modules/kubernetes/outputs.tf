output "endpoint" {
  description = "URL of the server: the load balancer's address, or the Service's name inside the cluster."
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

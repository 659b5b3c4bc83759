output "endpoint" {
  description = "URL of the page: the load balancer's address, or the Service's name inside the cluster."
  value       = "http://${local.host}:${var.port}/"
}

output "endpoint" {
  description = "URL of the page, reachable from this machine."
  value       = "http://${var.docker_public_host}:${docker_container.nginx.ports[0].external}/"
}

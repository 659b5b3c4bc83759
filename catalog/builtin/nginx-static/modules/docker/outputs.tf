output "endpoint" {
  description = "URL of the page, reachable from this machine."
  value       = "http://127.0.0.1:${docker_container.nginx.ports[0].external}/"
}

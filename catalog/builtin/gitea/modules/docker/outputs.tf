output "endpoint" {
  description = "URL of the web interface, reachable from this machine."
  value       = "http://${var.docker_public_host}:${docker_container.gitea.ports[0].external}/"
}

output "ssh_endpoint" {
  description = "Address for git over SSH (host:port)."
  value       = "${var.docker_public_host}:${docker_container.gitea.ports[1].external}"
}

output "secret_key" {
  description = "Gitea's SECRET_KEY; needed to restore a backup of the data volume."
  value       = var.secret_key
  sensitive   = true
}

output "endpoint" {
  description = "URL of the web interface, reachable from aws_allowed_cidr once the instance has booted."
  value       = "http://${local.host}:${var.port}/"
}

output "ssh_endpoint" {
  description = "Address for git over SSH (host:port)."
  value       = "${local.host}:${var.ssh_port}"
}

output "secret_key" {
  description = "Gitea's SECRET_KEY; needed to restore a backup of the data volume."
  value       = var.secret_key
  sensitive   = true
}

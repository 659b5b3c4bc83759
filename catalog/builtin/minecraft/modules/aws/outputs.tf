output "endpoint" {
  description = "Address players connect to (host:port), reachable from aws_allowed_cidr once the instance has booted."
  value       = "${local.host}:${var.port}"
}

output "rcon_password" {
  description = "Password of the RCON administration interface."
  value       = var.rcon_password
  sensitive   = true
}

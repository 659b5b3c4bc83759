output "endpoint" {
  description = "Address players connect to (host:port, UDP), reachable from aws_allowed_cidr once the instance has booted."
  value       = "${local.host}:${var.port}"
}

output "game" {
  description = "Id of the game the world plays."
  value       = var.game
}

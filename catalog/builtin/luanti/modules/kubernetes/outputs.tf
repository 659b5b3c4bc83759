output "endpoint" {
  description = "Address players connect to (host:port, UDP), the load balancer's, or the Service's name inside the cluster."
  value       = "${local.host}:${var.port}"
}

output "game" {
  description = "Id of the game the world plays."
  value       = var.game
}

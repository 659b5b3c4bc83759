output "endpoint" {
  description = "Address players connect to (host:port, UDP), reachable from this machine."
  value       = "${var.docker_public_host}:${docker_container.luanti.ports[0].external}"
}

output "game" {
  description = "Id of the game the world plays."
  value       = var.game
}

output "endpoint" {
  description = "Address players connect to (host:port, UDP), reachable from this machine."
  value       = "127.0.0.1:${docker_container.luanti.ports[0].external}"
}

output "game" {
  description = "Id of the game the world plays."
  value       = var.game
}

output "endpoint" {
  description = "Address players connect to (host:port), reachable from this machine."
  value       = "${var.docker_public_host}:${docker_container.minecraft.ports[0].external}"
}

output "rcon_password" {
  description = "Password of the RCON administration interface."
  value       = var.rcon_password
  sensitive   = true
}

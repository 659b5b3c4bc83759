output "id" {
  description = "Network id."
  value       = docker_network.this.id
}

output "name" {
  description = "Network name, to attach containers with."
  value       = docker_network.this.name
}

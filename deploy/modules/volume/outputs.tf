output "name" {
  description = "Volume name, to mount it with."
  value       = docker_volume.this.name
}

output "mountpoint" {
  description = "Where the engine keeps the data on the host."
  value       = docker_volume.this.mountpoint
}

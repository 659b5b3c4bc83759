output "id" {
  description = "Container id; changes whenever the container is replaced (readiness checks are keyed on it)."
  value       = docker_container.this.id
}

output "name" {
  description = "Container name."
  value       = docker_container.this.name
}

output "image_id" {
  description = "Id of the image the container runs."
  value       = docker_image.this.image_id
}

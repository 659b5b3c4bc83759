output "id" {
  description = "Changes whenever the check ran again; depend on the module (depends_on) to start after the endpoint is ready."
  value       = terraform_data.ready.id
}

output "url" {
  description = "The URL that answered."
  value       = var.url
}

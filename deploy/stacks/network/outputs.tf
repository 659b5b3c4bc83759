output "name_prefix" {
  description = "Prefix of the deployment's Docker objects."
  value       = var.name_prefix
}

output "network_name" {
  description = "Name of the deployment's network."
  value       = module.network.name
}

output "network_id" {
  description = "Id of the deployment's network."
  value       = module.network.id
}

output "name_prefix" {
  description = "Prefix of the deployment's Docker objects."
  value       = var.name_prefix
}

output "volume_names" {
  description = "Volume names by key (s3_data, spawnit_data, ...)."
  value       = { for k, v in module.volume : k => v.name }
}

output "spawnit_url" {
  description = "Where to sign in: <url>/auth/login."
  value       = local.instances.spawnit_url
}

output "checked_templates" {
  description = "Catalog templates found in the bucket."
  value       = sort(keys(module.template))
}

output "name_prefix" {
  description = "Prefix of the deployment's Docker objects."
  value       = local.prefix
}

output "spawnit_url" {
  description = "URL browsers use to reach SpawnIt (sign in at <url>/auth/login)."
  value       = local.spawnit_public_url
}

output "spawnit_local_url" {
  description = "SpawnIt on the host's loopback, for checks from this machine."
  value       = "http://127.0.0.1:${var.spawnit_port}"
}

output "oidc_issuer" {
  description = "Issuer SpawnIt trusts."
  value       = local.oidc_issuer
}

output "oidc_redirect_url" {
  description = "SpawnIt's callback, as registered with the identity provider."
  value       = local.redirect_url
}

output "s3_url" {
  description = "S3 API on the host's loopback."
  value       = "http://127.0.0.1:${var.s3_port}"
}

output "s3_bucket" {
  description = "Bucket SpawnIt uses."
  value       = var.s3_bucket
}

output "s3_region" {
  description = "S3 region."
  value       = var.s3_region
}

output "s3_credentials" {
  description = "S3 root credentials (for the configs stack's checks)."
  value = {
    access_key = var.s3_access_key
    secret_key = var.s3_secret_key
  }
  sensitive = true
}

output "container_ids" {
  description = "Ids of the deployment's containers by role (spawnit is the first replica, spawnit-2... the others); a changed id means the container was replaced."
  value = merge(
    { s3 = module.s3.id },
    { for i, m in module.spawnit : (i == 0 ? "spawnit" : "spawnit-${i + 1}") => m.id },
    var.idp_kind == "external" ? {} : { idp = module.idp[0].id },
    local.replicated ? { lb = module.lb[0].id } : {},
  )
}

output "container_names" {
  description = "Names of the deployment's containers by role (docker logs <name>)."
  value = merge(
    { s3 = module.s3.name },
    { for i, m in module.spawnit : (i == 0 ? "spawnit" : "spawnit-${i + 1}") => m.name },
    var.idp_kind == "external" ? {} : { idp = module.idp[0].name },
    local.replicated ? { lb = module.lb[0].name } : {},
  )
}

output "spawnit_replica_urls" {
  description = "Each SpawnIt replica on the host's loopback (with one replica, spawnit_local_url)."
  value       = [for r in local.replicas : "http://127.0.0.1:${r.port}"]
}

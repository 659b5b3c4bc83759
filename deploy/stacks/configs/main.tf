# What is configured once the instances are up. SpawnIt itself creates its bucket when it
# is missing and seeds the built-in catalog into it at every start (an existing template
# is never overwritten), so there is nothing left to create here; what this stack does
# is check, through the S3 API with SpawnIt's credentials, that both happened: the
# bucket answers a signed listing and each expected template is stored. The checks run
# again whenever SpawnIt's container is replaced. The identity provider's users are not
# here: the example OP reads them at start-up (instances stack, USERS_FILE) and Keycloak
# imports them with its realm on its first start.

data "terraform_remote_state" "instances" {
  backend = "local"
  config = {
    path = coalesce(var.instances_state_path, "${path.module}/../instances/terraform.tfstate")
  }
}

locals {
  instances = data.terraform_remote_state.instances.outputs
  bucket    = "${local.instances.s3_url}/${local.instances.s3_bucket}"
  sigv4     = "aws:amz:${local.instances.s3_region}:s3"
  triggers  = [local.instances.container_ids.spawnit, local.instances.container_ids.s3]
}

module "bucket" {
  source = "../../modules/readiness"

  name            = "bucket ${local.instances.s3_bucket}"
  url             = "${local.bucket}?list-type=2&max-keys=1"
  aws_sigv4       = local.sigv4
  credentials     = local.instances.s3_credentials
  timeout_seconds = var.timeout_seconds
  triggers        = local.triggers
}

module "template" {
  source   = "../../modules/readiness"
  for_each = toset(var.expected_templates)

  name            = "catalog template ${each.key}"
  url             = "${local.bucket}/templates/${each.key}/template.json"
  aws_sigv4       = local.sigv4
  credentials     = local.instances.s3_credentials
  timeout_seconds = var.timeout_seconds
  triggers        = local.triggers

  depends_on = [module.bucket]
}

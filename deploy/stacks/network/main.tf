# The Docker network the deployment's containers share: the S3 server and the identity
# provider are reachable on it by name. Services SpawnIt deploys do not join it.

module "network" {
  source = "../../modules/network"

  name   = "${var.name_prefix}-net"
  subnet = var.subnet
  labels = merge(var.labels, {
    "spawnit.deployment" = var.name_prefix
    "spawnit.stack"      = "network"
  })
}

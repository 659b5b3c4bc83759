locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "gitea"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    web = var.port
    ssh = var.ssh_port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.small"

  # The same container as the Docker module: image, environment, ports, volume and
  # healthcheck. INSTALL_LOCK skips the web installer: everything it would ask is set
  # here. The site's own links use the instance's address, which the boot script reads
  # from the instance metadata (host_env: prefix, address, suffix).
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "gitea"
    name      = base64encode(local.name)
    image     = base64encode("gitea/gitea:1.24")
    volume_id = aws_ebs_volume.data.id
    files     = []
    host_env = {
      GITEA__server__ROOT_URL   = [base64encode("http://"), base64encode(":${var.port}/")]
      GITEA__server__SSH_DOMAIN = [base64encode(""), base64encode("")]
    }
    env = {
      USER_UID                             = base64encode("1000")
      USER_GID                             = base64encode("1000")
      GITEA__DEFAULT__APP_NAME             = base64encode(var.app_name)
      GITEA__database__DB_TYPE             = base64encode("sqlite3")
      GITEA__server__SSH_PORT              = base64encode(tostring(var.ssh_port))
      GITEA__security__INSTALL_LOCK        = base64encode("true")
      GITEA__security__SECRET_KEY          = base64encode(var.secret_key)
      GITEA__service__DISABLE_REGISTRATION = base64encode(tostring(var.disable_registration))
    }
    options = [for a in [
      "--publish", format("%d:3000", var.port),
      "--publish", format("%d:22", var.ssh_port),
      "--volume", "/srv/spawnit/data/volume:/data",
      "--health-cmd", "curl -fsS -o /dev/null http://localhost:3000/api/healthz",
      "--health-interval", "15s",
      "--health-timeout", "5s",
      "--health-retries", "5",
      "--health-start-period", "30s",
    ] : base64encode(a)]
    command = []
  })
}

# The counterpart of the Docker module's volume: an encrypted EBS volume in the
# instance's zone. It outlives instance replacements and is deleted with the service.
resource "aws_ebs_volume" "data" {
  availability_zone = data.aws_subnet.service.availability_zone
  type              = "gp3"
  size              = var.aws_data_volume_gb
  encrypted         = true
  tags              = merge(local.tags, { Name = "${local.name}-data" })
}

resource "aws_volume_attachment" "data" {
  device_name                    = "/dev/sdf"
  volume_id                      = aws_ebs_volume.data.id
  instance_id                    = aws_instance.service.id
  stop_instance_before_detaching = true
}

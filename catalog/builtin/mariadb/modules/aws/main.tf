locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "mariadb"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    mariadb = var.port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.small"

  # The same container as the Docker module: image, environment, port, volume and
  # healthcheck.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "mariadb"
    name      = base64encode(local.name)
    image     = base64encode("mariadb:11")
    volume_id = aws_ebs_volume.data.id
    files     = []
    host_env  = {}
    env = {
      MARIADB_ROOT_PASSWORD = base64encode(var.root_password)
      MARIADB_DATABASE      = base64encode(var.database)
      MARIADB_USER          = base64encode(var.username)
      MARIADB_PASSWORD      = base64encode(var.password)
    }
    options = [for a in [
      "--publish", format("%d:3306", var.port),
      "--volume", "/srv/spawnit/data/volume:/var/lib/mysql",
      "--health-cmd", "healthcheck.sh --connect --innodb_initialized",
      "--health-interval", "10s",
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

locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "postgres"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    postgres = var.port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.small"

  # The same container as the Docker module: image, environment, port, volume and
  # healthcheck (which reads the names from the container's environment).
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "postgres"
    name      = base64encode(local.name)
    image     = base64encode("postgres:${var.postgres_version}-alpine")
    volume_id = aws_ebs_volume.data.id
    files     = []
    host_env  = {}
    env = {
      POSTGRES_DB       = base64encode(var.database)
      POSTGRES_USER     = base64encode(var.username)
      POSTGRES_PASSWORD = base64encode(var.password)
    }
    options = [for a in [
      "--publish", format("%d:5432", var.port),
      "--volume", "/srv/spawnit/data/volume:/var/lib/postgresql/data",
      "--health-cmd", "pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\"",
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

locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "minecraft"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  # RCON stays inside the instance, as it stays inside the container there.
  ports = {
    game = var.port
  }

  # By default the instance size follows the Java heap the form asks for, with room for
  # the JVM's own memory, the system and Docker.
  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : lookup({
    "1G" = "t3.small"
    "2G" = "t3.medium"
    "4G" = "t3.large"
    "8G" = "t3.xlarge"
  }, var.memory, "t3.xlarge")

  # The same container as the Docker module: image, environment, port, volume and
  # healthcheck.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "minecraft"
    name      = base64encode(local.name)
    image     = base64encode("itzg/minecraft-server:java21")
    volume_id = aws_ebs_volume.data.id
    files     = []
    host_env  = {}
    env = {
      EULA          = base64encode(var.eula ? "TRUE" : "FALSE")
      TYPE          = base64encode(var.server_type)
      VERSION       = base64encode(var.minecraft_version)
      MEMORY        = base64encode(var.memory)
      MOTD          = base64encode(var.motd)
      DIFFICULTY    = base64encode(var.difficulty)
      MAX_PLAYERS   = base64encode(tostring(var.max_players))
      ONLINE_MODE   = base64encode(var.online_mode ? "TRUE" : "FALSE")
      ENABLE_RCON   = base64encode("TRUE")
      RCON_PASSWORD = base64encode(var.rcon_password)
    }
    options = [for a in [
      "--publish", format("%d:25565", var.port),
      "--volume", "/srv/spawnit/data/volume:/data",
      "--health-cmd", "mc-health",
      "--health-interval", "30s",
      "--health-timeout", "10s",
      "--health-retries", "5",
      "--health-start-period", "3m",
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

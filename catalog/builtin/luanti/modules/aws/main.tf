locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "luanti"
  }

  # Ports opened in the security group (host.tf, over UDP): the ones the Docker module
  # publishes.
  ports = {
    game = var.port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.small"

  # The same settings file as the Docker module's.
  config = <<-EOT
    server_name = ${var.server_name}
    server_description = ${var.server_name}
    motd = ${var.motd}
    max_users = ${var.max_users}
    creative_mode = ${var.creative_mode}
    enable_damage = ${var.enable_damage}
    server_announce = false
    port = 30000
  EOT

  # The same container as the Docker module: image, arguments, settings, port, volume
  # and healthcheck. The data volume's folder on the host belongs to root, so the
  # server runs as root inside the container here (the image's user cannot write it).
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "luanti"
    name      = base64encode(local.name)
    image     = base64encode("ghcr.io/minetest/minetest:5.7.0")
    volume_id = aws_ebs_volume.data.id
    files = [
      { name = "minetest.conf", content = base64gzip(local.config), mode = "0644" },
    ]
    host_env = {}
    env      = {}
    options = [for a in [
      "--user", "0:0",
      "--publish", format("%d:30000/udp", var.port),
      "--volume", "/srv/spawnit/data/volume:/var/lib/minetest",
      "--volume", "/srv/spawnit/files/minetest.conf:/etc/minetest/minetest.conf:ro",
      "--health-cmd", "grep -q ':7530 00000000:0000 ' /proc/net/udp",
      "--health-interval", "10s",
      "--health-timeout", "5s",
      "--health-retries", "3",
      "--health-start-period", "60s",
    ] : base64encode(a)]
    command = [for a in [
      "--config", "/etc/minetest/minetest.conf",
      "--gameid", var.game,
      "--world", "/var/lib/minetest/.minetest/worlds/world",
      "--port", "30000",
    ] : base64encode(a)]
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

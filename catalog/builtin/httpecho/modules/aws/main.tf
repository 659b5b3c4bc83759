locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "httpecho"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    http = var.port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.micro"

  # The same container as the Docker module: image, environment, port and volume.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "httpecho"
    name      = base64encode(local.name)
    image     = base64encode(var.aws_image)
    volume_id = aws_ebs_volume.data.id
    files     = []
    host_env  = {}
    env = {
      GREETING = base64encode(var.greeting)
      TOKEN    = base64encode(var.token)
    }
    options = [for a in [
      "--publish", format("%d:8080", var.port),
      "--volume", "/srv/spawnit/data/volume:/data",
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

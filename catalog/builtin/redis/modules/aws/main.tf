locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "redis"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    redis = var.port
  }

  # Memory sizes of instance types, smallest first: the default is the first with room
  # for maxmemory_mb plus 768 MiB for the system, Docker and Redis itself.
  sizes = [
    { type = "t3.micro", mib = 1024 },
    { type = "t3.small", mib = 2048 },
    { type = "t3.medium", mib = 4096 },
    { type = "t3.large", mib = 8192 },
    { type = "t3.xlarge", mib = 16384 },
    { type = "t3.2xlarge", mib = 32768 },
    { type = "r6i.2xlarge", mib = 65536 },
    { type = "r6i.4xlarge", mib = 131072 },
  ]
  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : [for s in local.sizes : s.type if s.mib >= var.maxmemory_mb + 768][0]

  # The password goes in a config file rather than on redis-server's command line,
  # where every process on the host could read it.
  config = <<-EOT
    requirepass ${var.password}
    appendonly ${var.persistence ? "yes" : "no"}
    maxmemory ${var.maxmemory_mb}mb
    maxmemory-policy allkeys-lru
    dir /data
  EOT

  # The same container as the Docker module: image, config file, environment, port,
  # volume and healthcheck.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "redis"
    name      = base64encode(local.name)
    image     = base64encode("redis:7-alpine")
    volume_id = aws_ebs_volume.data.id
    files = [
      { name = "redis.conf", content = base64gzip(local.config), mode = "0644" },
    ]
    host_env = {}
    # redis-cli reads the password from REDISCLI_AUTH, for the healthcheck.
    env = {
      REDISCLI_AUTH = base64encode(var.password)
    }
    options = [for a in [
      "--publish", format("%d:6379", var.port),
      "--volume", "/srv/spawnit/data/volume:/data",
      "--volume", "/srv/spawnit/files/redis.conf:/usr/local/etc/redis/redis.conf:ro",
      "--health-cmd", "redis-cli ping",
      "--health-interval", "10s",
      "--health-timeout", "5s",
      "--health-retries", "5",
      "--health-start-period", "10s",
    ] : base64encode(a)]
    command = [base64encode("redis-server"), base64encode("/usr/local/etc/redis/redis.conf")]
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

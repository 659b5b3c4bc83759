locals {
  name = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  tags = {
    "Name"             = local.name
    "spawnit:client"   = var.spawnit_client_id
    "spawnit:service"  = var.spawnit_service_id
    "spawnit:template" = "nginx-static"
  }

  # Ports opened in the security group (host.tf): the ones the Docker module publishes.
  ports = {
    http = var.port
  }

  instance_type = var.aws_instance_type != "" ? var.aws_instance_type : "t3.micro"

  # The same container as the Docker module: image, page, port and healthcheck. The page
  # is written on the host and mounted read-only; there is no data to keep, so no data
  # volume. Gzipped, it must fit in EC2's 16 KiB of user data (see host.tf).
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    template  = "nginx-static"
    name      = base64encode(local.name)
    image     = base64encode("nginx:1.27-alpine")
    volume_id = ""
    files = [
      { name = "index.html", content = base64gzip(var.page_content), mode = "0644" },
    ]
    host_env = {}
    env      = {}
    options = [for a in [
      "--publish", format("%d:80", var.port),
      "--volume", "/srv/spawnit/files/index.html:/usr/share/nginx/html/index.html:ro",
      "--health-cmd", "wget -q -O /dev/null http://127.0.0.1/",
      "--health-interval", "10s",
      "--health-timeout", "5s",
      "--health-retries", "3",
      "--health-start-period", "5s",
    ] : base64encode(a)]
    command = []
  })
}

# The EC2 host of the service: image, network, firewall and the instance itself. This
# file is the same in every built-in AWS module; main.tf holds what is specific to the
# service (local.ports, local.instance_type, local.user_data).

# The newest image matching the filters when the instance is created. A later image does
# not replace a running instance (ignore_changes below); a replacement picks it up.
data "aws_ami" "os" {
  most_recent = true
  owners      = [var.aws_ami_owner]

  filter {
    name   = "name"
    values = [var.aws_ami_name]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }

  filter {
    name   = "root-device-type"
    values = ["ebs"]
  }
}

# Without aws_subnet_id, the default VPC's default subnet of the first availability
# zone (sorted, so the choice is stable and a data volume stays in the same zone).
data "aws_subnets" "default" {
  count = var.aws_subnet_id == "" ? 1 : 0

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

locals {
  subnet_id = var.aws_subnet_id != "" ? var.aws_subnet_id : try(sort(data.aws_subnets.default[0].ids)[0], "")
}

data "aws_subnet" "service" {
  id = local.subnet_id

  lifecycle {
    precondition {
      condition     = local.subnet_id != ""
      error_message = "The region has no default VPC: set aws_subnet_id in SpawnIt's AWS target configuration."
    }
  }
}

data "aws_vpc" "service" {
  id = data.aws_subnet.service.vpc_id
}

locals {
  # Who may connect to the service's ports: the VPC itself unless the server
  # configuration opens them wider.
  allowed_cidr = var.aws_allowed_cidr != "" ? var.aws_allowed_cidr : data.aws_vpc.service.cidr_block
  # Where clients reach the service.
  host = var.aws_associate_public_ip ? aws_instance.service.public_ip : aws_instance.service.private_ip
}

resource "aws_security_group" "service" {
  name        = local.name
  description = "SpawnIt service ${local.name}"
  vpc_id      = data.aws_vpc.service.id
  tags        = local.tags
}

# Inbound: the service's ports (local.ports) from allowed_cidr, nothing else. No SSH.
resource "aws_vpc_security_group_ingress_rule" "service" {
  for_each = local.ports

  security_group_id = aws_security_group.service.id
  description       = "${each.key} port of the service"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
  cidr_ipv4         = local.allowed_cidr
  tags              = local.tags
}

# Outbound: everything (package mirrors, the container registry, the service's own
# clients such as Minecraft's account checks).
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.service.id
  description       = "all outbound traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

resource "aws_instance" "service" {
  ami                         = data.aws_ami.os.id
  instance_type               = local.instance_type
  subnet_id                   = data.aws_subnet.service.id
  vpc_security_group_ids      = [aws_security_group.service.id]
  associate_public_ip_address = var.aws_associate_public_ip
  iam_instance_profile        = var.aws_instance_profile != "" ? var.aws_instance_profile : null

  # The boot script runs once per instance; any change of the service's values replaces
  # the instance (as a change of environment replaces a Docker container) and the data
  # volume, if any, moves to the new one. It holds the service's secrets: see
  # docs/targets.md.
  user_data                   = local.user_data
  user_data_replace_on_change = true

  # IMDSv2 only, one hop: containers on Docker's bridge network cannot read the
  # instance metadata (user data included).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.aws_root_volume_gb
    encrypted   = true
    tags        = local.tags
  }

  tags = local.tags

  lifecycle {
    ignore_changes = [ami]

    precondition {
      condition     = !contains(values(local.ports), 22)
      error_message = "Port 22 is taken by the instance's own SSH server: choose another port."
    }

    precondition {
      condition     = length(local.user_data) <= 16384
      error_message = "The boot script is larger than the 16 KiB EC2 allows for user data: shorten the longest values of the form."
    }
  }
}

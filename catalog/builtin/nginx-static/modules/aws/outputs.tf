output "endpoint" {
  description = "URL of the page, reachable from aws_allowed_cidr once the instance has booted."
  value       = "http://${local.host}:${var.port}/"
}

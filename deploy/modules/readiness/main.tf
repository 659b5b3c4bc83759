# Waits until an HTTP endpoint answers 2xx, instead of sleeping a fixed time: the apply
# goes on as soon as the service is ready and fails (with the last answer) when it never
# becomes ready. The check runs when the resource is created, that is on the first apply
# and whenever var.triggers changes; a no-change apply does not repeat it.
resource "terraform_data" "ready" {
  triggers_replace = var.triggers

  lifecycle {
    precondition {
      condition     = var.aws_sigv4 == null || var.credentials != null
      error_message = "aws_sigv4 needs credentials."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = "exec /bin/sh \"$READY_SCRIPT\""
    environment = {
      READY_SCRIPT    = abspath("${path.module}/wait-http.sh")
      READY_NAME      = var.name
      READY_URL       = var.url
      READY_TIMEOUT   = tostring(var.timeout_seconds)
      READY_INTERVAL  = tostring(var.interval_seconds)
      READY_AWS_SIGV4 = var.aws_sigv4 == null ? "" : var.aws_sigv4
      READY_USER      = var.aws_sigv4 == null ? "" : "${var.credentials.access_key}:${var.credentials.secret_key}"
    }
  }
}

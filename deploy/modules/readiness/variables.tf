variable "name" {
  description = "What is being waited for, as shown in the logs (e.g. \"SpawnIt /readyz\")."
  type        = string
}

variable "url" {
  description = "URL polled with GET until it answers 2xx. It is reached from the machine running tofu: use a port published on 127.0.0.1."
  type        = string
}

variable "timeout_seconds" {
  description = "How long to keep polling before failing the apply."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout_seconds >= 1
    error_message = "timeout_seconds must be at least 1."
  }
}

variable "interval_seconds" {
  description = "Pause between two polls (the check ends as soon as one succeeds; this is not a fixed wait)."
  type        = number
  default     = 1
}

variable "triggers" {
  description = "Values whose change repeats the check, typically the ids of the containers behind the URL: a replaced container is waited for again, an unchanged one is not."
  type        = any
  default     = null
}

variable "aws_sigv4" {
  description = "Sign the request with AWS Signature V4 (curl --aws-sigv4), e.g. \"aws:amz:us-east-1:s3\" for an S3 endpoint; null sends it unsigned. Needs credentials."
  type        = string
  default     = null
}

variable "credentials" {
  description = "Access key and secret used with aws_sigv4. Given to curl on its standard input, never on a command line. Neither may contain a double quote, a backslash or a newline."
  type = object({
    access_key = string
    secret_key = string
  })
  default   = null
  sensitive = true

  validation {
    condition     = var.credentials == null ? true : length(regexall("[\"\\\\\\n]", "${var.credentials.access_key}${var.credentials.secret_key}")) == 0
    error_message = "credentials must not contain a double quote, a backslash or a newline."
  }
}

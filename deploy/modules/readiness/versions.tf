terraform {
  # terraform_data is built into OpenTofu: this module needs no provider. The check runs
  # on the machine running tofu and needs /bin/sh and curl (7.75 or later for S3
  # signatures) there.
  required_version = ">= 1.10.0"
}

terraform {
  required_version = ">= 1.10.0"

  # State: terraform.tfstate in this folder (local backend). This stack manages no Docker
  # object: it checks, through the S3 API, what SpawnIt set up when it started.
}

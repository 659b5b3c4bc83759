terraform {
  required_version = ">= 1.10.0"

  # No provider block and no backend: SpawnIt gives tofu the AWS credentials and region
  # in its environment and adds the S3 backend at run time.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}

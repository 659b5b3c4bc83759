terraform {
  required_version = ">= 1.10.0"

  # No provider block and no backend: SpawnIt gives tofu the cluster's credentials in
  # its environment (KUBE_CONFIG_PATH and friends) and adds the S3 backend at run time.
  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.23.0, < 3.0.0"
    }
  }
}

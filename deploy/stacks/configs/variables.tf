variable "instances_state_path" {
  description = "State file of the instances stack; null means ../instances/terraform.tfstate."
  type        = string
  default     = null
}

variable "expected_templates" {
  description = "Catalog templates that must be in the bucket (templates/<id>/template.json) once SpawnIt has seeded its built-in catalog. A template you disabled (templates/<id>/disabled) is still stored and still passes."
  type        = list(string)
  default     = ["gitea", "httpecho", "minecraft", "nginx-static", "postgres", "redis"]
}

variable "timeout_seconds" {
  description = "How long each check may take before the apply fails."
  type        = number
  default     = 60
}

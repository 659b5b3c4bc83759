variable "name" {
  description = "Volume name (unique on the Docker engine)."
  type        = string
}

variable "driver" {
  description = "Volume driver."
  type        = string
  default     = "local"
}

variable "driver_opts" {
  description = "Options of the volume driver (for the local driver, e.g. type/device/o to bind a host folder)."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels of the volume."
  type        = map(string)
  default     = {}
}

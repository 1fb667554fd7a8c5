variable "project_id" {
  description = "Project that owns the VPC."
  type        = string
}

variable "network_id" {
  description = "Id of the existing VPC (projects/P/global/networks/N)."
  type        = string
}

variable "range_name" {
  description = "Name of the allocated internal range."
  type        = string
}

variable "prefix_length" {
  description = "Size of the range: /20 leaves room for Memorystore and Cloud SQL instances."
  type        = number
  default     = 20
}

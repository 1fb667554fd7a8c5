variable "project_id" {
  description = "Project for the instance."
  type        = string
}

variable "region" {
  description = "Region (the GKE cluster's region)."
  type        = string
}

variable "name" {
  description = "Instance name (not reusable for a week after deletion)."
  type        = string
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-1-3840 (dev) or db-custom-2-7680 (prod)."
  type        = string
}

variable "availability_type" {
  description = "ZONAL (dev) or REGIONAL (prod: standby in a second zone, automatic failover)."
  type        = string
  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.availability_type)
    error_message = "availability_type must be ZONAL or REGIONAL."
  }
}

variable "disk_size_gb" {
  description = "Initial disk size; grows automatically."
  type        = number
  default     = 20
}

variable "retained_backups" {
  description = "Number of daily backups kept."
  type        = number
  default     = 14
}

variable "network_id" {
  description = "Id of the VPC with private services access."
  type        = string
}

variable "allocated_ip_range" {
  description = "Name of the private services access range to allocate from."
  type        = string
}

variable "database_name" {
  description = "Database the server uses."
  type        = string
  default     = "license"
}

variable "user_name" {
  description = "Database user of the server."
  type        = string
  default     = "license"
}

variable "labels" {
  description = "Resource labels."
  type        = map(string)
  default     = {}
}

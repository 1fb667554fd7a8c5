variable "project_id" {
  description = "Project for the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance (the GKE cluster's region)."
  type        = string
}

variable "name" {
  description = "Instance id."
  type        = string
}

variable "tier" {
  description = "BASIC (single node, dev) or STANDARD_HA (replica + automatic failover, prod)."
  type        = string
  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.tier)
    error_message = "tier must be BASIC or STANDARD_HA."
  }
}

variable "memory_size_gb" {
  description = "Memory in GiB."
  type        = number
  default     = 6
}

variable "redis_version" {
  description = "Redis version (the Lua scripts need >= 6.2)."
  type        = string
  default     = "REDIS_7_2"
}

variable "network_id" {
  description = "Id of the VPC with private services access."
  type        = string
}

variable "reserved_ip_range" {
  description = "Name of the private services access range to allocate from."
  type        = string
}

variable "rdb_snapshot_period" {
  description = "How often RDB snapshots are taken."
  type        = string
  default     = "ONE_HOUR"
}

variable "labels" {
  description = "Resource labels."
  type        = map(string)
  default     = {}
}

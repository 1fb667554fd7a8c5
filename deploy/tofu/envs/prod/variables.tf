variable "project_id" {
  description = "GCP project (the GKE cluster's)."
  type        = string
}

variable "region" {
  description = "Region of the GKE cluster."
  type        = string
}

variable "network_name" {
  description = "Existing VPC of the cluster."
  type        = string
}

variable "network_project_id" {
  description = "Shared VPC host project; empty = project_id."
  type        = string
  default     = ""
}

variable "gke_cluster_name" {
  description = "Existing GKE cluster (Workload Identity enabled)."
  type        = string
}

variable "gke_cluster_location" {
  description = "Location of the cluster (region or zone)."
  type        = string
}

variable "gke_node_service_account" {
  description = "Node pool service account to grant image pulls; empty = skip."
  type        = string
  default     = ""
}

variable "create_private_service_access" {
  description = "false if the VPC already has private services access."
  type        = bool
  default     = true
}

variable "private_service_range_name" {
  description = "Existing private services access range (when not created here)."
  type        = string
  default     = ""
}

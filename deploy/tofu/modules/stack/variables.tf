variable "project_id" {
  description = "Project for everything below (and of the GKE cluster)."
  type        = string
}

variable "region" {
  description = "Region of the GKE cluster; Redis, Cloud SQL, KMS and the registry go there too."
  type        = string
}

variable "environment" {
  description = "Short environment name used in resource names: dev or prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}$", var.environment))
    error_message = "environment must be a short lowercase name (e.g. dev, prod)."
  }
}

variable "labels" {
  description = "Extra resource labels."
  type        = map(string)
  default     = {}
}

# --- the existing cluster and VPC ---

variable "network_name" {
  description = "Name of the existing VPC the GKE cluster runs in."
  type        = string
}

variable "network_project_id" {
  description = "Host project of the VPC when it is a Shared VPC; empty = project_id."
  type        = string
  default     = ""
}

variable "gke_cluster_name" {
  description = "Name of the existing GKE cluster (Workload Identity enabled)."
  type        = string
}

variable "gke_cluster_location" {
  description = "Region (or zone) of the existing GKE cluster."
  type        = string
}

variable "gke_node_service_account" {
  description = "E-mail of the node pool's service account, granted read on the image repository; empty = skip."
  type        = string
  default     = ""
}

variable "create_private_service_access" {
  description = "Create the private services access range and peering; false if the VPC already has one."
  type        = bool
  default     = true
}

variable "private_service_range_name" {
  description = "Existing private services access range (only when create_private_service_access = false)."
  type        = string
  default     = ""
}

# --- Kubernetes side (must match deploy/k8s) ---

variable "k8s_namespace" {
  description = "Namespace of the server: the overlay's `namespace:`."
  type        = string
}

variable "k8s_service_account" {
  description = "Kubernetes service account of the server."
  type        = string
  default     = "license-server"
}

# --- sizes ---

variable "redis_tier" {
  description = "Memorystore tier: BASIC or STANDARD_HA."
  type        = string
}

variable "redis_memory_size_gb" {
  description = "Memorystore memory in GiB."
  type        = number
  default     = 6
}

variable "sql_tier" {
  description = "Cloud SQL machine tier."
  type        = string
}

variable "sql_availability_type" {
  description = "Cloud SQL availability: ZONAL or REGIONAL."
  type        = string
}

variable "kms_protection_level" {
  description = "KMS protection level of the signing key: SOFTWARE or HSM."
  type        = string
}

variable "artifact_repository_id" {
  description = "Artifact Registry repository for the image."
  type        = string
  default     = "license"
}

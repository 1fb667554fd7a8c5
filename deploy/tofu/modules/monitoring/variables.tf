variable "project_id" {
  description = "The GCP project of the GKE cluster (its Managed Prometheus data)."
  type        = string
}

variable "k8s_namespace" {
  description = "The Kubernetes namespace of license-server in this environment (the dashboard's namespace filter)."
  type        = string
}

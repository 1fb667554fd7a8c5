# dev: small and cheap — BASIC Redis, zonal Cloud SQL, software KMS key.
# Sizes live here; what is built lives in ../../modules/stack.

module "stack" {
  source = "../../modules/stack"

  project_id  = var.project_id
  region      = var.region
  environment = "dev"

  network_name                  = var.network_name
  network_project_id            = var.network_project_id
  gke_cluster_name              = var.gke_cluster_name
  gke_cluster_location          = var.gke_cluster_location
  gke_node_service_account      = var.gke_node_service_account
  create_private_service_access = var.create_private_service_access
  private_service_range_name    = var.private_service_range_name

  # deploy/k8s/overlays/dev: namespace license-dev, ServiceAccount license-server.
  k8s_namespace = "license-dev"

  redis_tier            = "BASIC"
  redis_memory_size_gb  = 6
  sql_tier              = "db-custom-1-3840"
  sql_availability_type = "ZONAL"
  kms_protection_level  = "SOFTWARE"
}

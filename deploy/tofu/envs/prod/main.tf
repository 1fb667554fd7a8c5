# prod: highly available — STANDARD_HA Redis, REGIONAL Cloud SQL, HSM KMS key.
# Sizes live here; what is built lives in ../../modules/stack.

module "stack" {
  source = "../../modules/stack"

  project_id  = var.project_id
  region      = var.region
  environment = "prod"

  network_name                  = var.network_name
  network_project_id            = var.network_project_id
  gke_cluster_name              = var.gke_cluster_name
  gke_cluster_location          = var.gke_cluster_location
  gke_node_service_account      = var.gke_node_service_account
  create_private_service_access = var.create_private_service_access
  private_service_range_name    = var.private_service_range_name

  # deploy/k8s/overlays/prod: namespace license, ServiceAccount license-server.
  k8s_namespace = "license"

  redis_tier            = "STANDARD_HA"
  redis_memory_size_gb  = 6
  sql_tier              = "db-custom-2-7680"
  sql_availability_type = "REGIONAL"
  kms_protection_level  = "HSM"
}

# Everything license-server needs in one GCP project, next to an existing GKE cluster and VPC:
# Memorystore (seat ledger), Cloud SQL (store), Cloud KMS (lease signing), the secrets the pods
# read, the Workload Identity binding, and an Artifact Registry repository for the image.
# envs/dev and envs/prod call this module with their sizes; see docs/deploy.md.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }
}

locals {
  labels = merge(var.labels, {
    app         = "license-server"
    environment = var.environment
  })
  # Workload Identity must be on in the existing cluster; its pool is PROJECT.svc.id.goog.
  workload_pool = try(data.google_container_cluster.gke.workload_identity_config[0].workload_pool, "")
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudkms.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
  ])
  project = var.project_id
  service = each.value
  # Other workloads in the project may use them too.
  disable_on_destroy = false
}

data "google_compute_network" "vpc" {
  project = var.network_project_id != "" ? var.network_project_id : var.project_id
  name    = var.network_name
}

data "google_container_cluster" "gke" {
  project  = var.project_id
  name     = var.gke_cluster_name
  location = var.gke_cluster_location
}

module "private_service_access" {
  source     = "../private-service-access"
  count      = var.create_private_service_access ? 1 : 0
  project_id = data.google_compute_network.vpc.project
  network_id = data.google_compute_network.vpc.id
  range_name = "license-${var.environment}-psa"

  depends_on = [google_project_service.apis]
}

locals {
  psa_range_name = var.create_private_service_access ? module.private_service_access[0].range_name : var.private_service_range_name
}

module "redis" {
  source            = "../redis"
  project_id        = var.project_id
  region            = var.region
  name              = "license-${var.environment}-ledger"
  tier              = var.redis_tier
  memory_size_gb    = var.redis_memory_size_gb
  network_id        = data.google_compute_network.vpc.id
  reserved_ip_range = local.psa_range_name
  labels            = local.labels

  depends_on = [module.private_service_access, google_project_service.apis]
}

module "cloudsql" {
  source             = "../cloudsql"
  project_id         = var.project_id
  region             = var.region
  name               = "license-${var.environment}-store"
  tier               = var.sql_tier
  availability_type  = var.sql_availability_type
  network_id         = data.google_compute_network.vpc.id
  allocated_ip_range = local.psa_range_name
  labels             = local.labels

  depends_on = [module.private_service_access, google_project_service.apis]
}

module "kms" {
  source           = "../kms"
  project_id       = var.project_id
  location         = var.region
  key_ring_name    = "license-${var.environment}"
  protection_level = var.kms_protection_level
  labels           = local.labels

  depends_on = [google_project_service.apis]
}

module "workload_identity" {
  source                 = "../workload-identity"
  project_id             = var.project_id
  workload_pool          = local.workload_pool
  k8s_namespace          = var.k8s_namespace
  k8s_service_account    = var.k8s_service_account
  kms_crypto_key_id      = module.kms.crypto_key_id
  kms_wrap_crypto_key_id = module.kms.wrap_crypto_key_id
  secret_ids             = { for k, s in google_secret_manager_secret.server : k => s.secret_id }

  depends_on = [google_project_service.apis]
}

# The Cloud Monitoring dashboard (Managed Prometheus metrics of this environment's namespace).
module "monitoring" {
  source        = "../monitoring"
  project_id    = var.project_id
  k8s_namespace = var.k8s_namespace
}

# Fail the plan, not the rollout, when the cluster cannot do Workload Identity.
check "workload_identity_enabled" {
  assert {
    condition     = local.workload_pool != ""
    error_message = "GKE cluster ${var.gke_cluster_name} has no workload_identity_config: enable Workload Identity (--workload-pool=${var.project_id}.svc.id.goog)."
  }
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84: the repository holds only the public open-source image (no secrets are baked in); Google-managed encryption is enough, and a CMEK key would add a key to operate for no confidentiality gain.
  project       = var.project_id
  location      = var.region
  repository_id = var.artifact_repository_id
  format        = "DOCKER"
  description   = "license-server container images"
  labels        = local.labels

  docker_config {
    # A tag, once pushed, always names the same image; deploys use digests anyway.
    immutable_tags = true
  }

  depends_on = [google_project_service.apis]
}

# Let the GKE nodes pull the image (only needed when the node service account has no project-wide
# Artifact Registry read access, e.g. a least-privilege node service account).
resource "google_artifact_registry_repository_iam_member" "node_reader" {
  count      = var.gke_node_service_account != "" ? 1 : 0
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${var.gke_node_service_account}"
}

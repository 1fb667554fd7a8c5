# Workload Identity: the server's Kubernetes service account (namespace/name) acts as a Google
# service account that may sign with the lease-signing key (that key only), encrypt and decrypt
# with the tenant-key wrapping key (that key only), connect to Cloud SQL and read its own secrets
# in Secret Manager (for External Secrets Operator in prod). Nothing else: no project-wide KMS or
# Secret Manager role.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40, < 7.0"
    }
  }
}

resource "google_service_account" "server" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = "license-server (${var.k8s_namespace}/${var.k8s_service_account})"
}

resource "google_service_account_iam_member" "workload_identity_user" {
  service_account_id = google_service_account.server.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.workload_pool}[${var.k8s_namespace}/${var.k8s_service_account}]"
}

resource "google_kms_crypto_key_iam_member" "signer" {
  crypto_key_id = var.kms_crypto_key_id
  role          = "roles/cloudkms.signerVerifier"
  member        = "serviceAccount:${google_service_account.server.email}"
}

resource "google_kms_crypto_key_iam_member" "key_wrapper" {
  crypto_key_id = var.kms_wrap_crypto_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.server.email}"
}

resource "google_project_iam_member" "cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.server.email}"
}

resource "google_secret_manager_secret_iam_member" "secret_reader" {
  for_each  = var.secret_ids
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.server.email}"
}

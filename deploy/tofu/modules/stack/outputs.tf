# What deploy/k8s needs (docs/deploy.md, "Fill in the overlay").

output "gcp_service_account" {
  description = "ServiceAccount annotation iam.gke.io/gcp-service-account."
  value       = module.workload_identity.email
}

output "kms_key_version" {
  description = "Name of the signing key's first version."
  value       = module.kms.key_version
}

output "signer_url" {
  description = "LICENSE_SIGNER__URL (gcpkms:// + the key version name)."
  value       = module.kms.signer_url
}

output "signer_wrap_key_url" {
  description = "The server's LICENSE_SIGNER__WRAP_KEY: gcpkms:// + the wrapping crypto key's name."
  value       = "gcpkms://${module.kms.wrap_crypto_key_id}"
}

output "kms_wrap_key" {
  description = "Name of the symmetric key that wraps tenant signing keys (the crypto key, not a version)."
  value       = module.kms.wrap_crypto_key_id
}

output "image_repository" {
  description = "Where to push the image: REGION-docker.pkg.dev/PROJECT/REPO/license-server."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/license-server"
}

output "redis_host" {
  description = "Memorystore private IP."
  value       = module.redis.host
}

output "redis_port" {
  description = "Memorystore port (6378: TLS)."
  value       = module.redis.port
}

output "redis_server_ca" {
  description = "Memorystore server CA (secret key ledger-ca.pem)."
  value       = module.redis.server_ca_pem
}

output "sql_private_ip" {
  description = "Cloud SQL private IP."
  value       = module.cloudsql.private_ip
}

output "sql_connection_name" {
  description = "Cloud SQL connection name (Auth Proxy, for operators)."
  value       = module.cloudsql.connection_name
}

output "secret_ids" {
  description = "Secret Manager ids holding LICENSE_STORE__URL, LICENSE_LEDGER__URL, LICENSE_AUTH__OPERATOR_TOKEN and ledger-ca.pem."
  value       = { for k, s in google_secret_manager_secret.server : k => s.secret_id }
}

output "private_service_range" {
  description = "CIDR of the private services access range (to narrow the NetworkPolicy), if created here."
  value       = var.create_private_service_access ? module.private_service_access[0].range_cidr : null
}

output "k8s_namespace" {
  description = "Namespace the Workload Identity binding is for."
  value       = var.k8s_namespace
}

output "monitoring_dashboard_id" {
  description = "The Cloud Monitoring dashboard of this environment (docs/observability.md)."
  value       = module.monitoring.dashboard_id
}

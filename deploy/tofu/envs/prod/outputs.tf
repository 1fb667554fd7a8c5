# The values deploy/k8s needs; `tofu output` prints them (docs/deploy.md).

output "gcp_service_account" {
  description = "Overlay: ServiceAccount annotation iam.gke.io/gcp-service-account."
  value       = module.stack.gcp_service_account
}

output "kms_key_version" {
  description = "Name of the signing key's first version (for gcloud kms commands)."
  value       = module.stack.kms_key_version
}

output "signer_url" {
  description = "Overlay: LICENSE_SIGNER__URL."
  value       = module.stack.signer_url
}

output "signer_wrap_key_url" {
  description = "Overlay: LICENSE_SIGNER__WRAP_KEY."
  value       = module.stack.signer_wrap_key_url
}

output "kms_wrap_key" {
  description = "Name of the crypto key that wraps tenant signing keys (for the server's key-wrapping setting and gcloud kms commands)."
  value       = module.stack.kms_wrap_key
}

output "image_repository" {
  description = "Overlay `images:` newName; docker push target."
  value       = module.stack.image_repository
}

output "redis_server_ca" {
  description = "Secret key ledger-ca.pem (dev: overlays/dev/ledger-ca.pem)."
  value       = module.stack.redis_server_ca
}

output "redis_host" {
  description = "Memorystore private IP."
  value       = module.stack.redis_host
}

output "sql_private_ip" {
  description = "Cloud SQL private IP."
  value       = module.stack.sql_private_ip
}

output "sql_connection_name" {
  description = "Cloud SQL connection name (Auth Proxy, for operators)."
  value       = module.stack.sql_connection_name
}

output "secret_ids" {
  description = "Secret Manager ids of the server's secrets (ExternalSecret remoteRef keys)."
  value       = module.stack.secret_ids
}

output "private_service_range" {
  description = "Private services access CIDR (optional NetworkPolicy ipBlock)."
  value       = module.stack.private_service_range
}

output "k8s_namespace" {
  description = "Overlay namespace the Workload Identity binding trusts."
  value       = module.stack.k8s_namespace
}

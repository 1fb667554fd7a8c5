variable "project_id" {
  description = "Project of the service account and the Cloud SQL instance."
  type        = string
}

variable "account_id" {
  description = "Google service account id (the part before @)."
  type        = string
  default     = "license-server"
}

variable "workload_pool" {
  description = "The cluster's workload pool, PROJECT.svc.id.goog."
  type        = string
}

variable "k8s_namespace" {
  description = "Namespace of the server (deploy/k8s overlay: license or license-dev)."
  type        = string
}

variable "k8s_service_account" {
  description = "Kubernetes service account of the server (deploy/k8s/base/serviceaccount.yaml)."
  type        = string
  default     = "license-server"
}

variable "kms_crypto_key_id" {
  description = "The lease-signing key; signerVerifier is granted on it alone."
  type        = string
}

variable "kms_wrap_crypto_key_id" {
  description = "The symmetric key that wraps tenant signing keys; cryptoKeyEncrypterDecrypter is granted on it alone."
  type        = string
}

variable "secret_ids" {
  description = "Secret Manager secret ids the server (via External Secrets) may read."
  type        = map(string)
  default     = {}
}

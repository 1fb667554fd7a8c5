output "crypto_key_id" {
  description = "Id of the signing key (IAM is granted on this key only)."
  value       = google_kms_crypto_key.lease_signing.id
}

output "key_version" {
  description = "LICENSE_KMS_KEY_VERSION: the first version, created with the key."
  value       = "${google_kms_crypto_key.lease_signing.id}/cryptoKeyVersions/1"
}

output "crypto_key_id" {
  description = "Id of the signing key (IAM is granted on this key only)."
  value       = google_kms_crypto_key.lease_signing.id
}

output "key_version" {
  description = "Name of the first key version, created with the key."
  value       = "${google_kms_crypto_key.lease_signing.id}/cryptoKeyVersions/1"
}

output "signer_url" {
  description = "LICENSE_SIGNER__URL: gcpkms:// + the first key version's name."
  value       = "gcpkms://${google_kms_crypto_key.lease_signing.id}/cryptoKeyVersions/1"
}

output "wrap_crypto_key_id" {
  description = "Name of the symmetric key that wraps tenant signing keys (encrypterDecrypter is granted on this key only)."
  value       = google_kms_crypto_key.tenant_key_wrapping.id
}

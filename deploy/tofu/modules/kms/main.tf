# Cloud KMS: the root key that certifies every tenant's lease-signing key (RS256 =
# RSA_SIGN_PKCS1_4096_SHA256, ADR 0019), and the symmetric key that wraps tenant signing keys
# stored in the database. Private keys never leave KMS; applications pin the root's public key
# from /.well-known/jwks.json. Destroying the root would invalidate every certificate, and so
# every lease a customer still holds, so OpenTofu refuses to (prevent_destroy), and KMS keeps
# destroyed versions for 30 days besides.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40, < 7.0"
    }
  }
}

resource "google_kms_key_ring" "this" {
  project  = var.project_id
  name     = var.key_ring_name
  location = var.location
}

# No rotation_period: KMS rotates only symmetric keys automatically. Rotating the root means a
# new key version, a new LICENSE_SIGNER__URL, and keeping the old public key in the JWKS until
# the certificates it signed have expired (docs/runbooks/root-key-rotation.md).
resource "google_kms_crypto_key" "lease_signing" {
  name     = var.key_name
  key_ring = google_kms_key_ring.this.id
  purpose  = "ASYMMETRIC_SIGN"

  version_template {
    algorithm        = "RSA_SIGN_PKCS1_4096_SHA256"
    protection_level = var.protection_level
  }

  destroy_scheduled_duration = "2592000s"
  labels                     = var.labels

  lifecycle {
    prevent_destroy = true
  }
}

# Tenant signing keys are stored encrypted under this key (license-signer-kms's KmsKeyWrapper:
# cryptoKeys.encrypt and cryptoKeys.decrypt, with the tenant and key id as additional
# authenticated data). KMS rotates it every 90 days: the new primary version encrypts from then
# on, older versions keep decrypting what they encrypted, and the server names the key, not a
# version, so a rotation needs no configuration change. Destroying it (or a version still in
# use) would leave the stored tenant keys undecryptable: prevent_destroy, and 30 days before a
# destroyed version is gone. HSM keys take at most 8 KiB of plaintext and AAD together, far
# more than a tenant private key.
resource "google_kms_crypto_key" "tenant_key_wrapping" {
  name            = var.wrap_key_name
  key_ring        = google_kms_key_ring.this.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = "7776000s"

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.protection_level
  }

  destroy_scheduled_duration = "2592000s"
  labels                     = var.labels

  lifecycle {
    prevent_destroy = true
  }
}

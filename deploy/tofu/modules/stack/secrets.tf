# The pods' secret settings, in Secret Manager. prod reads them through External Secrets
# (deploy/k8s/overlays/prod/external-secret.yaml); dev copies them into an uncommitted
# secrets.env. The values also sit in the OpenTofu state: keep the state in a private,
# versioned bucket (OpenTofu can encrypt it as well: docs/deploy.md).

resource "random_password" "operator_token" {
  length  = 48
  special = false
}

locals {
  # secret id => value. The ids are the remoteRef keys of the ExternalSecret, which hands each
  # to the pods under the server's setting name (comments); the CA is mounted as a file.
  server_secrets = {
    store_url      = { id = "license-store-url", value = module.cloudsql.url }                        # LICENSE_STORE__URL
    ledger_url     = { id = "license-ledger-url", value = module.redis.url }                          # LICENSE_LEDGER__URL
    operator_token = { id = "license-operator-token", value = random_password.operator_token.result } # LICENSE_AUTH__OPERATOR_TOKEN
    ledger_ca      = { id = "license-ledger-ca", value = module.redis.server_ca_pem }                 # ledger-ca.pem (SSL_CERT_DIR)
  }
}

resource "google_secret_manager_secret" "server" {
  for_each  = local.server_secrets
  project   = var.project_id
  secret_id = each.value.id
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "server" {
  for_each    = local.server_secrets
  secret      = google_secret_manager_secret.server[each.key].id
  secret_data = each.value.value
}

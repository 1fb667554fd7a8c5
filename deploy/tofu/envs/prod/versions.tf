terraform {
  # OpenTofu >= 1.6 or Terraform >= 1.5 (check blocks). The exact provider builds are pinned by
  # .terraform.lock.hcl, written by the first `tofu init` and committed.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "6.45.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.6.3"
    }
  }

  # State in a private, versioned GCS bucket you create once (docs/deploy.md):
  #   tofu init -backend-config="bucket=<project>-tofu-state"
  backend "gcs" {
    prefix = "license-server/prod"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

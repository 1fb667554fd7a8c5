# Private services access: an internal range in the existing VPC, peered with Google's service
# producer network. Memorystore (connect_mode PRIVATE_SERVICE_ACCESS) and Cloud SQL (private IP)
# both take their addresses from it. A VPC has one such connection; if yours already has it,
# call the stack with create_private_service_access = false and name the existing range.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40, < 7.0"
    }
  }
}

resource "google_compute_global_address" "range" {
  project       = var.project_id
  name          = var.range_name
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.prefix_length
  network       = var.network_id
}

resource "google_service_networking_connection" "this" {
  network                 = var.network_id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.range.name]
}

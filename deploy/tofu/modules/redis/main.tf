# Memorystore for Redis: the seat ledger (DESIGN.md §4). One primary (BASIC) in dev, primary +
# replica in another zone with automatic failover (STANDARD_HA) in prod. RDB snapshots narrow
# what a restart loses; the server rebuilds a flushed license from PostgreSQL anyway.

terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40, < 7.0"
    }
  }
}

resource "google_redis_instance" "ledger" {
  project        = var.project_id
  region         = var.region
  name           = var.name
  display_name   = "license-server seat ledger (${var.name})"
  tier           = var.tier
  memory_size_gb = var.memory_size_gb
  redis_version  = var.redis_version

  authorized_network = var.network_id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"
  reserved_ip_range  = var.reserved_ip_range

  # AUTH string + TLS (port 6378, server certificate from server_ca_certs).
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = var.rdb_snapshot_period
  }

  redis_configs = {
    # Seat keys must never be evicted to make room: a full ledger has to fail loudly, not
    # silently forget who holds a seat.
    "maxmemory-policy" = "noeviction"
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
        seconds = 0
        nanos   = 0
      }
    }
  }

  labels = var.labels
}

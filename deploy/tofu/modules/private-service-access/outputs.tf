output "range_name" {
  description = "Allocated range name, for reserved_ip_range / allocated_ip_range."
  value       = google_compute_global_address.range.name
}

output "range_cidr" {
  description = "CIDR of the range (to narrow the NetworkPolicy's Redis and PostgreSQL egress)."
  value       = "${google_compute_global_address.range.address}/${google_compute_global_address.range.prefix_length}"
}

output "connection_id" {
  description = "The peering; instances depend on it."
  value       = google_service_networking_connection.this.id
}

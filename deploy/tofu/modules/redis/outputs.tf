output "host" {
  description = "Private IP of the primary."
  value       = google_redis_instance.ledger.host
}

output "port" {
  description = "Port (6378 with in-transit encryption)."
  value       = google_redis_instance.ledger.port
}

output "server_ca_pem" {
  description = "CA certificates that sign the server's TLS certificate (PEM); clients must trust them."
  value       = join("\n", [for c in google_redis_instance.ledger.server_ca_certs : c.cert])
}

output "url" {
  description = "LICENSE_LEDGER__URL: rediss:// with the AUTH string."
  value       = "rediss://:${google_redis_instance.ledger.auth_string}@${google_redis_instance.ledger.host}:${google_redis_instance.ledger.port}"
  sensitive   = true
}

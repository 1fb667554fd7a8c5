output "private_ip" {
  description = "Private IP of the instance."
  value       = google_sql_database_instance.store.private_ip_address
}

output "connection_name" {
  description = "project:region:instance, for the Cloud SQL Auth Proxy (operators)."
  value       = google_sql_database_instance.store.connection_name
}

output "url" {
  description = "LICENSE_STORE__URL. sslmode=require: TLS is mandatory on the instance (ENCRYPTED_ONLY)."
  value       = "postgres://${google_sql_user.app.name}:${random_password.app.result}@${google_sql_database_instance.store.private_ip_address}:5432/${google_sql_database.license.name}?sslmode=require"
  sensitive   = true
}

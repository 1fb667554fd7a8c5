output "dashboard_id" {
  description = "The Cloud Monitoring dashboard's resource name."
  value       = google_monitoring_dashboard.license_server.id
}

output "email" {
  description = "Google service account e-mail: the iam.gke.io/gcp-service-account annotation."
  value       = google_service_account.server.email
}

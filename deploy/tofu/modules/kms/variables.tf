variable "project_id" {
  description = "Project for the key ring."
  type        = string
}

variable "location" {
  description = "KMS location (the cluster's region keeps signing latency low)."
  type        = string
}

variable "key_ring_name" {
  description = "Key ring name (key rings cannot be deleted: pick it once)."
  type        = string
}

variable "key_name" {
  description = "Crypto key name of the signing key."
  type        = string
  default     = "lease-signing"
}

variable "wrap_key_name" {
  description = "Crypto key name of the symmetric key that wraps tenant signing keys."
  type        = string
  default     = "tenant-keys"
}

variable "protection_level" {
  description = "SOFTWARE (dev) or HSM (prod: FIPS 140-2 level 3), for both keys."
  type        = string
  default     = "HSM"
  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.protection_level)
    error_message = "protection_level must be SOFTWARE or HSM."
  }
}

variable "labels" {
  description = "Resource labels."
  type        = map(string)
  default     = {}
}

//! Tenants: the software vendors using the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::TenantId;

/// A software vendor. Everything else belongs to exactly one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name, unique across the server (1–128 printable characters).
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// A new tenant with a validated name.
    ///
    /// ```
    /// use license_core::Tenant;
    /// assert!(Tenant::new("Acme CAD", chrono::Utc::now()).is_ok());
    /// assert!(Tenant::new("", chrono::Utc::now()).is_err());
    /// ```
    pub fn new(name: &str, now: DateTime<Utc>) -> Result<Self> {
        let name = name.trim();
        let len = name.chars().count();
        if len == 0 || len > 128 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must be 1 to 128 printable characters",
            ));
        }
        Ok(Self {
            id: TenantId::new(),
            name: name.to_owned(),
            created_at: now,
        })
    }
}

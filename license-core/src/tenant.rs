//! Tenants: the software vendors using the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::TenantId;
use crate::text;

/// A software vendor. Everything else belongs to exactly one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name, unique across the server (1–128 characters, [readable](crate::text)).
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// Longest name, in characters.
    pub const MAX_NAME_LEN: usize = 128;

    /// A new tenant with a validated name.
    ///
    /// ```
    /// use license_core::Tenant;
    /// assert!(Tenant::new("Acme CAD", chrono::Utc::now()).is_ok());
    /// assert!(Tenant::new("", chrono::Utc::now()).is_err());
    /// assert!(Tenant::new("Acme\u{202E}DAC", chrono::Utc::now()).is_err());
    /// ```
    pub fn new(name: &str, now: DateTime<Utc>) -> Result<Self> {
        let name = text::parse_name("name", name, Self::MAX_NAME_LEN)?;
        Ok(Self {
            id: TenantId::new(),
            name: name.to_owned(),
            created_at: now,
        })
    }
}

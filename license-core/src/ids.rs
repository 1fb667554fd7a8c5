//! Typed identifiers. Each id is its own type so a tenant id can never be passed where a
//! license id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (as read back from a store).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid($field, "must be a UUID"))
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A software vendor: every record belongs to exactly one tenant.
    ///
    /// ```
    /// use license_core::TenantId;
    /// let id = TenantId::new();
    /// assert_eq!(id, id.to_string().parse().unwrap());
    /// ```
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// A license sold by a tenant.
    LicenseId,
    "license_id"
);
uuid_id!(
    /// One running copy of an application holding a seat (UUIDv7, so ids sort by start time).
    ///
    /// ```
    /// use license_core::SessionId;
    /// assert!("not-a-uuid".parse::<SessionId>().is_err());
    /// ```
    SessionId,
    "session_id"
);
uuid_id!(
    /// An API key record (the secret itself is never stored).
    ApiKeyId,
    "api_key_id"
);
uuid_id!(
    /// One entry of the audit log.
    AuditEventId,
    "audit_event_id"
);

impl SessionId {
    /// The id of this session's shadow seat in a rebuilt ledger (see `rebuild`): the same bits
    /// with the UUID version set to 8, which no session id (version 7) has, so no client can
    /// heartbeat or release it.
    pub(crate) fn shadow(self) -> SessionId {
        let mut bytes = *self.0.as_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        SessionId(Uuid::from_bytes(bytes))
    }
}

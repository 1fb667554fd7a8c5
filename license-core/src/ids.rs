//! Typed identifiers. Each id is its own type so a tenant id can never be passed where a
//! license id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// A typed UUID id: parsing (a 400 naming `$field`), display, conversions.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (as read back from a store).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
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

/// `new()` and `Default` for ids that sort by creation time (UUIDv7): records whose ids are
/// no secret, listed oldest first.
macro_rules! time_ordered {
    ($($name:ident),*) => {$(
        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    )*};
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
    /// One running application holding a seat. A random UUIDv4 (122 random bits from the OS
    /// generator), not time-ordered: a session id travels in every lease token, so it must not
    /// be guessable from another one (ADR 0023). Order sessions by `acquired_at`, then id.
    ///
    /// ```
    /// use license_core::SessionId;
    /// let (a, b) = (SessionId::new(), SessionId::new());
    /// assert_ne!(a, b);
    /// assert_eq!(a.as_uuid().get_version_num(), 4);
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

uuid_id!(
    /// A webhook endpoint: where a tenant's seat events are delivered (ADR 0032).
    WebhookId,
    "webhook_id"
);
uuid_id!(
    /// One attempt to deliver an event to a webhook endpoint.
    WebhookDeliveryId,
    "delivery_id"
);

time_ordered!(
    TenantId,
    LicenseId,
    ApiKeyId,
    AuditEventId,
    WebhookId,
    WebhookDeliveryId
);

impl SessionId {
    /// A new random session id (UUIDv4 from the operating system's generator, through the
    /// `uuid` crate's `getrandom`, which fails only where the OS has no generator at all — as
    /// the UUIDv7 ids of the other records do).
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionId {
    /// The id of this session's shadow seat in a rebuilt ledger (see `rebuild`): the same bits
    /// with the UUID version set to 8, which no session id has (version 4; version 7 for
    /// sessions from before ADR 0023), so no client can heartbeat or release it.
    pub(crate) fn shadow(self) -> SessionId {
        let mut bytes = *self.0.as_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        SessionId(Uuid::from_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn session_ids_are_random_v4_and_distinct() {
        let ids: HashSet<SessionId> = (0..10_000).map(|_| SessionId::new()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert_eq!(id.as_uuid().get_version_num(), 4, "{id}");
            assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        // No timestamp prefix: ids made one after another share no leading bytes beyond chance.
        let a = SessionId::new().as_uuid().as_u128() >> 96;
        let b = SessionId::new().as_uuid().as_u128() >> 96;
        let c = SessionId::new().as_uuid().as_u128() >> 96;
        assert!(a != b || b != c, "three ids with the same first 32 bits");
    }

    #[test]
    fn a_shadow_id_is_never_a_session_id() {
        let id = SessionId::new();
        let shadow = id.shadow();
        assert_eq!(shadow.as_uuid().get_version_num(), 8);
        assert_ne!(shadow, id);
        // The other bits are kept, so each session has its own shadow.
        assert_eq!(
            shadow.as_uuid().as_u128() & !(0xf << 76),
            id.as_uuid().as_u128() & !(0xf << 76)
        );
        // Sessions from before ADR 0023 (v7) shadow to v8 as well.
        let old = SessionId::from_uuid(Uuid::now_v7()).shadow();
        assert_eq!(old.as_uuid().get_version_num(), 8);
    }
}
